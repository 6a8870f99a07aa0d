/*
 * mailbox.pml — the mailbox enqueue / scheduling hand-off of src/runtime,
 * checked exhaustively by spin (scripts/check_models.sh).
 *
 * What is modelled.
 *   - One process with a Vyukov MPSC mailbox.  Nodes are numbered; node 0 is
 *     the initial dummy.  A producer stores next[node] = 0, exchanges the
 *     tail with its node, then links prev->next = node.  The consumer reads
 *     next[head]; between a producer's exchange and its link the queue looks
 *     empty to the consumer (the "in-between" state), and the model's pop
 *     treats it exactly as empty.
 *   - The process's run state: IDLE, QUEUED, RUNNING, DIRTY (running and
 *     notified since the turn started).
 *   - NSEND sender processes, each enqueueing MSGS messages and then
 *     notifying with the state protocol below.
 *   - NSCHED scheduler processes sharing one run queue (a channel).  One
 *     shared queue over-approximates work stealing: any scheduler may take
 *     the process at any time.
 *
 * Sender, after enqueueing:
 *   loop { s = load(state);
 *          IDLE:           CAS(IDLE -> QUEUED) ? push on run queue, done : retry
 *          QUEUED, DIRTY:  done
 *          RUNNING:        CAS(RUNNING -> DIRTY) ? done : retry }
 * Scheduler, for a process popped from the run queue (state QUEUED):
 *   store RUNNING; handle up to BATCH messages; then
 *     stopped by BATCH       -> store QUEUED, push back on the run queue;
 *     CAS(RUNNING -> IDLE)   -> done;
 *     otherwise (DIRTY)      -> store RUNNING, handle again.
 *   The count of messages handled runs over the whole turn: it is not reset
 *   when the scheduler handles again after DIRTY (as in sched.c).
 *
 * Properties checked (spec ids in specs/runtime.md).
 *   RT-I2  safety: the process never runs on two schedulers at once.  The
 *          counter `running` counts schedulers holding the process; it is
 *          asserted to be 1 whenever one takes it.  A scheduler stops
 *          counting in the same atomic step as the store or CAS that releases
 *          the process, because that step is where another scheduler may
 *          take it (the C code must not touch the process after it).
 *   RT-S1  messages of one sender are handled in the order sent (asserted
 *          at every pop).
 *   RT-L1  no stranded message: an end-state assertion.  The process
 *          `checker` waits for `timeout` (no other process can move: every
 *          sender has finished and every scheduler is blocked on the empty
 *          run queue, so none holds the process) and then asserts that the
 *          mailbox is empty, every message was handled and the state is
 *          IDLE.  Every execution of this model is finite (each state change
 *          is paid for by a message or a sender step), so every maximal run
 *          reaches that state; spin also reports any other end state as an
 *          invalid end state (a deadlock).
 *
 * Memory model.  By default each Promela statement is one atomic step and
 * steps interleave (sequential consistency).  With -DTSO the model adds
 * x86-TSO store buffers for the two plain stores that matter: a sender's
 * link store (prev->next = node) and a scheduler's store of RUNNING.  A
 * flusher process per buffer publishes the store at any later moment;
 * locked operations (exchange, CAS) wait for their thread's buffer to drain.
 * TSO is stronger than C11 release/acquire, so an error found under TSO is
 * an error of the C11 code too.  The sender's "link; load state" and the
 * scheduler's "store RUNNING; load head->next" form a store-buffering
 * (Dekker) pair: without a seq_cst fence between each store and the
 * following load a sender reads a stale QUEUED (or DIRTY) and leaves while
 * the scheduler reads a stale empty mailbox and goes IDLE, stranding the
 * message (mailbox_broken_tso.pml).  -DFENCE adds both fences and passes;
 * either fence alone (-DFENCE_SENDER, -DFENCE_SCHED) still fails.  So the C
 * code needs atomic_thread_fence(memory_order_seq_cst) after the link and
 * before the sender's first load of the run state, and after each store of
 * RUNNING and before the scheduler's next pop.
 *
 * Not modelled: process death and exit signals, attached threads, and the
 * stub re-push of the intrusive queue's pop (the model's consumer uses the
 * dummy-node form; both report the in-between state as empty).
 *
 * Configurations checked by scripts/check_models.sh (exhaustive, no
 * bitstate, no partial-order reduction; defaults: NSEND 2, NSCHED 2, MSGS 2,
 * BATCH 1).  The tag below is read by the script, one line per run:
 * spin-config:
 * spin-config: -DBATCH=2
 * spin-config: -DNSCHED=3 -DBATCH=2
 * spin-config: -DMSGS=3 -DBATCH=2
 * spin-config: -DTSO -DFENCE
 * spin-config: -DTSO -DFENCE -DBATCH=2
 * Three senders (NSEND=3) exceed 10^8 states and 8 GB without reduction,
 * too much for a quick test.
 *
 * Broken variants (must FAIL; mailbox_broken*.pml define these macros and
 * include this file):
 *   BROKEN_IDLE_STORE   the scheduler stores IDLE instead of CAS(RUNNING ->
 *                       IDLE), losing a DIRTY notification: stranded message.
 *   BROKEN_SENDER_STORE a sender stores QUEUED after seeing IDLE instead of
 *                       CAS: two senders both push, two schedulers run it.
 *   TSO without FENCE   store buffers without the two seq_cst fences: a
 *                       stranded message (mailbox_broken_tso.pml).
 *   NO_QUEUED_ASSERT    drops the "popped process is QUEUED" assertion, so
 *                       that the broken sender variant shows the `running`
 *                       counter alone catches a double run.
 */

#ifndef NSEND
#define NSEND 2
#endif
#ifndef NSCHED
#define NSCHED 2
#endif
#ifndef MSGS
#define MSGS 2          /* messages per sender */
#endif
#ifndef BATCH
#define BATCH 1
#endif

#define NNODES (NSEND * MSGS + 1)

mtype = { IDLE, QUEUED, RUNNING, DIRTY };

mtype state = IDLE;       /* the process's run state (atomic in C) */
byte next[NNODES];        /* next[n]: the node after n; 0 = none (atomic) */
byte tail = 0;            /* producers' end (atomic, exchanged) */
byte head = 0;            /* consumer's dummy node (owner scheduler only) */
byte handled = 0;         /* messages handled so far */
byte expect[NSEND];       /* next message index expected from each sender */
byte running = 0;         /* schedulers currently holding the process */

#ifdef FENCE
#define FENCE_SENDER 1
#define FENCE_SCHED 1
#endif

#ifdef TSO
/* Store buffers (x86-TSO, which C11 release/acquire is weaker than): a
 * sender's pending link store (sbuf: the node, sat: the node it links
 * from) and a scheduler's pending RUNNING store (rbuf).  A flusher process
 * per buffer makes the store visible at an arbitrary later moment; locked
 * instructions (exchange, CAS) and seq_cst fences wait until it has. */
byte sbuf[NSEND];
byte sat[NSEND];
bool rbuf[NSCHED];
#define DRAIN_SENDER(i) (sbuf[i] == 0)
#define DRAIN_SCHED(i) (rbuf[i] == 0)
#ifdef FENCE_SCHED
#define STORE_RUNNING(i) rbuf[i] = 1; DRAIN_SCHED(i)
#else
#define STORE_RUNNING(i) rbuf[i] = 1
#endif
#else
#define DRAIN_SENDER(i) skip
#define DRAIN_SCHED(i) skip
#define STORE_RUNNING(i) state = RUNNING
#endif

/* The run queue.  Room for two entries so that a broken protocol that
 * pushes the process twice is observable rather than blocking. */
chan runq = [2] of { byte };

proctype sender(byte id)
{
    byte k = 0;
    byte node;
    byte prev;
    mtype s;

    do
    :: k < MSGS ->
        node = id * MSGS + k + 1;
        /* Enqueue: clear the link, exchange the tail, link the old tail. */
        next[node] = 0;
        DRAIN_SENDER(id);                   /* the exchange is locked */
        atomic { prev = tail; tail = node };
#ifdef TSO
        /* The link store enters this sender's store buffer. */
        atomic { sbuf[id] = node; sat[id] = prev };
#ifdef FENCE_SENDER
        DRAIN_SENDER(id);                   /* seq_cst fence */
#endif
#else
        next[prev] = node;
#endif
        prev = 0;
        /* Notify. */
        do
        :: s = state;
           if
           :: s == IDLE ->
#ifdef BROKEN_SENDER_STORE
               state = QUEUED;
               runq ! 0;
               break
#else
               DRAIN_SENDER(id);            /* CAS is locked */
               if
               :: atomic { state == IDLE -> state = QUEUED };
                  runq ! 0;
                  break
               :: atomic { state != IDLE -> skip }  /* CAS failed: retry */
               fi
#endif
           :: s == QUEUED || s == DIRTY -> break
           :: s == RUNNING ->
               DRAIN_SENDER(id);            /* CAS is locked */
               if
               :: atomic { state == RUNNING -> state = DIRTY };
                  break
               :: atomic { state != RUNNING -> skip }  /* CAS failed: retry */
               fi
           fi
        od;
        s = 0;
        k++
    :: else -> break
    od
}

proctype scheduler(byte sid)
{
    byte p;
    byte n;
    byte node;

end_idle:
    do
    :: runq ? p ->
        atomic {
            running++;
            assert(running == 1)    /* RT-I2 */
#ifndef NO_QUEUED_ASSERT
            ; assert(state == QUEUED)
#endif
        };
        STORE_RUNNING(sid);
        n = 0;
turn:
        do
        :: n < BATCH ->
            /* Pop: an empty or in-between queue reads next[head] == 0. */
            if
            :: atomic {
                   next[head] != 0 ->
                   node = next[head];
                   head = node;
                   /* RT-S1: per-sender FIFO. */
                   assert((node - 1) % MSGS == expect[(node - 1) / MSGS]);
                   expect[(node - 1) / MSGS]++;
                   handled++;
                   node = 0
               };
               n++
            :: atomic { next[head] == 0 -> skip };
               break
            fi
        :: else -> break
        od;
        if
        :: n == BATCH ->
            /* Batch exhausted: yield, more may remain.  (Under TSO the
             * buffered RUNNING store drains first: stores stay in order.) */
            DRAIN_SCHED(sid);
            atomic { running--; state = QUEUED };
            runq ! p
        :: n < BATCH ->
            DRAIN_SCHED(sid);               /* the CAS is locked */
#ifdef BROKEN_IDLE_STORE
            atomic { running--; state = IDLE }
#else
            if
            :: atomic { state == RUNNING -> running--; state = IDLE }
            :: atomic { state != RUNNING -> skip };  /* DIRTY */
               STORE_RUNNING(sid);
               goto turn
            fi
#endif
        fi;
        n = 0;
        p = 0
    od
}

#ifdef TSO
proctype sender_flush(byte id)
{
end_flush:
    do
    :: atomic { sbuf[id] != 0 -> next[sat[id]] = sbuf[id]; sbuf[id] = 0; sat[id] = 0 }
    od
}

proctype sched_flush(byte sid)
{
end_flush:
    do
    :: atomic { rbuf[sid] -> state = RUNNING; rbuf[sid] = 0 }
    od
}
#endif

/* End-state assertion for RT-L1 (see the file comment). */
proctype checker()
{
    timeout ->
    assert(running == 0);
    assert(next[head] == 0);
    assert(head == tail);
    assert(handled == NSEND * MSGS);
    assert(state == IDLE)
}

init
{
    byte i;
    atomic {
        i = 0;
        do
        :: i < NSEND ->
            run sender(i);
#ifdef TSO
            run sender_flush(i);
#endif
            i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NSCHED ->
            run scheduler(i);
#ifdef TSO
            run sched_flush(i);
#endif
            i++
        :: else -> break
        od;
        run checker()
    }
}
