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
 * Assumptions, stated because the C code must honour them.
 *   - Each Promela statement is one atomic step and steps interleave
 *     (sequential consistency).  The sender's "link; load state" and the
 *     scheduler's "store RUNNING; load head->next" form a store-buffering
 *     pair: on a weak memory model (ARM) the C code needs seq_cst on those
 *     four accesses, or a seq_cst fence between each pair, for this model
 *     to describe it.  Without that, a sender can read a stale QUEUED while
 *     the scheduler reads a stale empty mailbox and goes IDLE.
 *   - Process death, exit signals and the stub re-push of the intrusive
 *     variant are not modelled.
 *
 * Configurations checked by scripts/check_models.sh (exhaustive, no
 * bitstate, no partial-order reduction; defaults: NSEND 2, NSCHED 2, MSGS 2,
 * BATCH 1).  The tag below is read by the script, one line per run:
 * spin-config:
 * spin-config: -DBATCH=2
 * spin-config: -DNSCHED=3 -DBATCH=2
 * spin-config: -DMSGS=3 -DBATCH=2
 * Three senders (NSEND=3) exceed 10^8 states and 8 GB without reduction,
 * too much for a quick test.
 *
 * Broken variants (must FAIL; mailbox_broken*.pml define one macro each and
 * include this file):
 *   BROKEN_IDLE_STORE   the scheduler stores IDLE instead of CAS(RUNNING ->
 *                       IDLE), losing a DIRTY notification: stranded message.
 *   BROKEN_SENDER_STORE a sender stores QUEUED after seeing IDLE instead of
 *                       CAS: two senders both push, two schedulers run it.
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
        atomic { prev = tail; tail = node };
        next[prev] = node;
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
               if
               :: atomic { state == IDLE -> state = QUEUED };
                  runq ! 0;
                  break
               :: atomic { state != IDLE -> skip }  /* CAS failed: retry */
               fi
#endif
           :: s == QUEUED || s == DIRTY -> break
           :: s == RUNNING ->
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

proctype scheduler()
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
        state = RUNNING;
turn:
        n = 0;
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
            /* Batch exhausted: yield, more may remain. */
            atomic { running--; state = QUEUED };
            runq ! p
        :: n < BATCH ->
#ifdef BROKEN_IDLE_STORE
            atomic { running--; state = IDLE }
#else
            if
            :: atomic { state == RUNNING -> running--; state = IDLE }
            :: atomic { state != RUNNING -> skip };  /* DIRTY */
               state = RUNNING;
               goto turn
            fi
#endif
        fi;
        n = 0;
        p = 0
    od
}

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
        :: i < NSEND -> run sender(i); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NSCHED -> run scheduler(); i++
        :: else -> break
        od;
        run checker()
    }
}
