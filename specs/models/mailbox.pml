/*
 * mailbox.pml — the mailbox enqueue / run-state hand-off of src/runtime,
 * checked exhaustively by spin (scripts/check_models.sh).
 *
 * The protocol (the default, "RMW" mode: every write to the run state is a
 * read-modify-write).
 *   Sender (process.c fdn__deliver):
 *     link the message (mailbox.c push_node: exchange tail, then store
 *     prev->next, release);
 *     s = load(run), relaxed;
 *     loop { want = IDLE -> QUEUED, RUNNING -> DIRTY, QUEUED -> QUEUED,
 *                   DIRTY -> DIRTY;
 *            if CAS(run, s, want) succeeds { if s was IDLE, schedule the
 *                process (sched.c fdn__sched_push); return }
 *            else s = the value the CAS read }
 *     So every exit performs one successful RMW, including the no-op CAS of
 *     QUEUED and DIRTY onto themselves.
 *   Owner (sched.c fdn__sched_run, for a process taken from a run queue):
 *     exchange(run, RUNNING);
 *     turn: pop and handle messages (mailbox.c fdn__mq_pop) until the mailbox
 *       reads empty or BATCH messages were handled in this call;
 *     if BATCH were handled: exchange(run, QUEUED), requeue the process
 *       (sched.c fdn__sched_push_tail), done;
 *     if CAS(run, RUNNING -> IDLE) succeeds: done;
 *     else (DIRTY): exchange(run, RUNNING), go to turn.  The count of
 *       messages handled is not reset (as in fdn__sched_run).
 *   Why it works: `run` is written only by RMWs, so its modification order
 *   is one release sequence.  The owner's exchange to RUNNING either comes
 *   after a sender's RMW in that order, and then reads from that RMW's
 *   release sequence, so the sender's link is visible to the pops that
 *   follow; or it comes before it, and then the sender's CAS reads RUNNING
 *   (or a later DIRTY) and marks DIRTY, so the owner's CAS to IDLE fails
 *   and it pops again.
 *
 * Model steps and the code they stand for.
 *   proctype sender   — fdn__deliver (process.c): "next[node] = 0" and the
 *                       tail exchange and link are push_node (mailbox.c);
 *                       "s = state" is the relaxed load; each CAS option is
 *                       one compare_exchange_weak (acq_rel); "runq ! 0" is
 *                       fdn__sched_push.
 *   proctype scheduler — fdn__sched_run (sched.c): "runq ? p" is the
 *                       scheduler loop taking a process (its next slot, its
 *                       queue or a steal); WRITE_RUNNING is the opening
 *                       exchange and the one after a failed CAS; the pop is
 *                       fdn__mq_pop (mailbox.c) inside the `handled <
 *                       rt->batch` loop; the batch-exhausted branch is the
 *                       exchange to QUEUED plus fdn__sched_push_tail; the
 *                       CAS to IDLE is the end of the turn.
 *   runq (a channel)  — all run queues and next slots together.  One shared
 *                       queue over-approximates work stealing: any
 *                       scheduler may take the process at any time.
 *   sender_flush, sched_flush — the hardware's store buffers (-DTSO only;
 *                       sched_flush only when the owner stores plainly).
 *   checker           — the RT-L1 end-state check (below).
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
 *   - NSEND sender processes, each enqueueing MSGS messages and notifying
 *     after each; NSCHED scheduler processes sharing one run queue.
 *
 * Properties checked (spec ids in specs/runtime.md).
 *   RT-I2  safety: the process never runs on two schedulers at once.  The
 *          counter `running` counts schedulers holding the process; it is
 *          asserted to be 1 whenever one takes it, and the state is
 *          asserted to be QUEUED then.  A scheduler stops counting in the
 *          same atomic step as the exchange or CAS that releases the
 *          process, because that step is where another scheduler may take
 *          it (the C code must not touch the process after it).
 *   RT-S1  messages of one sender are handled in the order sent (asserted
 *          at every pop).
 *   RT-L1  no stranded message: an end-state assertion.  The process
 *          `checker` waits for `timeout` (no other process can move: every
 *          sender has finished, every store buffer is empty and every
 *          scheduler is blocked on the empty run queue, so none holds the
 *          process) and then asserts that the mailbox is empty, every
 *          message was handled and the state is IDLE.  Every execution of
 *          this model is finite (each state change is paid for by a message
 *          or a sender step), so every maximal run reaches that state; spin
 *          also reports any other end state as an invalid end state (a
 *          deadlock).
 *
 * Memory model.  By default each Promela statement is one atomic step and
 * steps interleave (sequential consistency).  With -DTSO the model adds
 * x86-TSO store buffers for the plain stores that matter: a sender's link
 * store (prev->next = node) and, in the -DPLAIN protocol only, a
 * scheduler's store of RUNNING.  A flusher process per buffer publishes the
 * store at any later moment; a locked operation (exchange, CAS) first waits
 * for its thread's buffer to drain and then executes atomically, and so
 * does a seq_cst fence (without the atomic operation).  Loads read memory
 * and do not wait.  In the RMW protocol a scheduler makes no plain store to
 * the shared variables, so its buffer stays empty (no sched_flush runs);
 * its exchanges still carry the drain, for fidelity.  The store-buffering
 * (Dekker) pair is the sender's "link; load/CAS run" against the owner's
 * "write RUNNING; load head->next": under TSO the RMW protocol passes
 * because the sender's CAS drains its link before it reads the state, and
 * the owner's exchange makes RUNNING visible before its pops.
 * TSO is stronger than C11 release/acquire, so an error found under TSO is
 * an error of the C11 code too; a pass under TSO is not a C11 proof (the
 * release-sequence argument above is).  Weak-CAS spurious failures are not
 * modelled: one only repeats the loop with the same s.
 *
 * Protocol variants (macros).
 *   (default)   RMW, as above: the code since the commit "runtime: next
 *               slot, RMW-only run state".
 *   PLAIN       the previous protocol: the owner stores RUNNING and QUEUED
 *               with plain stores, and a sender that loads QUEUED or DIRTY
 *               returns without an RMW.  Correct under sequential
 *               consistency, broken under TSO (mailbox_broken_tso.pml).
 *   FENCE       PLAIN plus the two seq_cst fences of the commit "runtime:
 *               seq_cst fences close a store-buffering race": the sender's
 *               after its link, the owner's after each store of RUNNING.
 *               Passes under TSO; either fence alone (FENCE_SENDER,
 *               FENCE_SCHED, each implying PLAIN) still fails.
 *
 * Not modelled: process death (DEAD: a sender returns without an RMW) and
 * exit signals (links.pml models those); attached threads (attach.c uses
 * the same end-of-turn CAS and exchange); the spawner's first turn,
 * fdn__finish_turn (process.c),
 * whose life starts RUNNING before its pid is published and whose DIRTY
 * path exchanges QUEUED and requeues, the same transition as the model's
 * batch-exhausted branch; the stub re-push of the intrusive queue's pop
 * (the model's consumer uses the dummy-node form; both report the
 * in-between state as empty).
 *
 * Configurations checked by scripts/check_models.sh (exhaustive, no
 * bitstate, no partial-order reduction; defaults: NSEND 2, NSCHED 2, MSGS 2,
 * BATCH 1).  The tag below is read by the script, one line per run; all but
 * the last check the RMW protocol, the last keeps the fenced alternative
 * honest:
 * spin-config:
 * spin-config: -DBATCH=2
 * spin-config: -DNSCHED=3 -DBATCH=2
 * spin-config: -DMSGS=3 -DBATCH=2
 * spin-config: -DTSO
 * spin-config: -DTSO -DBATCH=2
 * spin-config: -DTSO -DFENCE
 * Three senders (NSEND=3) exceed 10^8 states and 8 GB without reduction,
 * too much for a quick test.
 *
 * Broken variants (must FAIL; mailbox_broken*.pml define these macros and
 * include this file):
 *   BROKEN_IDLE_STORE   the scheduler stores IDLE instead of CAS(RUNNING ->
 *                       IDLE), losing a DIRTY notification: stranded message
 *                       (mailbox_broken_idle.pml).
 *   BROKEN_SENDER_STORE a sender stores QUEUED after seeing IDLE instead of
 *                       CAS: two senders both push, two schedulers run it
 *                       (mailbox_broken_sender.pml).
 *   BROKEN_SENDER_LOAD  under TSO, a sender that loads QUEUED or DIRTY
 *                       returns without the no-op CAS (the code before
 *                       either fix), while the owner uses exchanges: its
 *                       link may still be buffered when the owner's pops
 *                       read empty and its CAS to IDLE succeeds, so the
 *                       message is stranded (mailbox_broken_noop_cas.pml).
 *   BROKEN_OWNER_STORE  under TSO, the owner stores RUNNING plainly
 *                       instead of exchanging, while senders always CAS:
 *                       the sender's CAS reads the stale QUEUED while the
 *                       owner's pop reads the empty mailbox, stranding the
 *                       message (mailbox_broken_owner_store.pml).
 *   PLAIN with TSO      the previous protocol without fences: stranded
 *                       message (mailbox_broken_tso.pml).
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

/* Protocol selection (see the file comment). */
#ifdef FENCE
#define FENCE_SENDER 1
#define FENCE_SCHED 1
#endif
#if defined(FENCE_SENDER) || defined(FENCE_SCHED)
#ifndef PLAIN
#define PLAIN 1
#endif
#endif
#if defined(PLAIN) || defined(BROKEN_SENDER_LOAD)
#define SENDER_LOAD_ONLY 1    /* QUEUED, DIRTY: return without an RMW */
#endif
#if defined(PLAIN) || defined(BROKEN_OWNER_STORE)
#define OWNER_PLAIN_STORE 1   /* the owner stores RUNNING, QUEUED plainly */
#endif

mtype = { IDLE, QUEUED, RUNNING, DIRTY };

mtype state = IDLE;       /* the process's run state (atomic in C) */
byte next[NNODES];        /* next[n]: the node after n; 0 = none (atomic) */
byte tail = 0;            /* producers' end (atomic, exchanged) */
byte head = 0;            /* consumer's dummy node (owner scheduler only) */
byte handled = 0;         /* messages handled so far */
byte expect[NSEND];       /* next message index expected from each sender */
byte running = 0;         /* schedulers currently holding the process */

#ifdef TSO
/* Store buffers (x86-TSO, which C11 release/acquire is weaker than): a
 * sender's pending link store (sbuf: the node, sat: the node it links
 * from) and a scheduler's pending RUNNING store (rbuf, used only when the
 * owner stores plainly).  A flusher process per buffer makes the store
 * visible at an arbitrary later moment; locked instructions (exchange,
 * CAS) and seq_cst fences wait until it has. */
byte sbuf[NSEND];
byte sat[NSEND];
#ifdef OWNER_PLAIN_STORE
bool rbuf[NSCHED];
#define DRAINED_SCHED(i) (rbuf[i] == 0)
#else
#define DRAINED_SCHED(i) 1
#endif
#define DRAINED_SENDER(i) (sbuf[i] == 0)
#else
#define DRAINED_SENDER(i) 1
#define DRAINED_SCHED(i) 1
#endif

/* The owner's write of RUNNING: an exchange (drains the buffer, then
 * writes at once) in the RMW protocol; a plain store, buffered under TSO
 * and optionally followed by a seq_cst fence, in the PLAIN protocol. */
#ifdef OWNER_PLAIN_STORE
#ifdef TSO
#ifdef FENCE_SCHED
#define WRITE_RUNNING(i) rbuf[i] = 1; (DRAINED_SCHED(i))
#else
#define WRITE_RUNNING(i) rbuf[i] = 1
#endif
#else
#define WRITE_RUNNING(i) state = RUNNING
#endif
#else
#define WRITE_RUNNING(i) atomic { DRAINED_SCHED(i) -> state = RUNNING }
#endif

/* The value a sender's CAS writes for the state s it expects. */
#define WANT(s) (s == IDLE -> QUEUED : (s == RUNNING -> DIRTY : s))

/* Whether a sender must CAS when it has read s. */
#ifdef BROKEN_SENDER_STORE
#define CAS_FOR(s) (s != IDLE && !(SKIP_FOR(s)))
#else
#define CAS_FOR(s) (!(SKIP_FOR(s)))
#endif
#ifdef SENDER_LOAD_ONLY
#define SKIP_FOR(s) (s == QUEUED || s == DIRTY)
#else
#define SKIP_FOR(s) 0
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
        /* Enqueue (push_node): clear the link, exchange the tail (locked:
         * drains this sender's buffer first), link the old tail. */
        next[node] = 0;
        atomic { DRAINED_SENDER(id) -> prev = tail; tail = node };
#ifdef TSO
        /* The link store enters this sender's store buffer. */
        atomic { sbuf[id] = node; sat[id] = prev };
#ifdef FENCE_SENDER
        (DRAINED_SENDER(id));               /* seq_cst fence */
#endif
#else
        next[prev] = node;
#endif
        prev = 0;
        /* Notify (fdn__deliver): a relaxed load, then CAS until one
         * succeeds; a failed CAS reloads s in the same step. */
        s = state;
        do
#ifdef SENDER_LOAD_ONLY
        :: SKIP_FOR(s) -> break             /* no RMW */
#endif
#ifdef BROKEN_SENDER_STORE
        :: s == IDLE -> state = QUEUED; runq ! 0; break
#endif
        :: atomic { CAS_FOR(s) && DRAINED_SENDER(id) && state == s ->
                    state = WANT(s) };
           if
           :: s == IDLE -> runq ! 0         /* fdn__sched_push */
           :: else -> skip
           fi;
           break
        :: atomic { CAS_FOR(s) && DRAINED_SENDER(id) && state != s ->
                    s = state }             /* CAS failed: retry */
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
        WRITE_RUNNING(sid);
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
            /* Batch exhausted: write QUEUED and requeue.  The exchange
             * drains the buffer; so does the plain store's successor, the
             * locked queue push (stores stay in order under TSO). */
            atomic { DRAINED_SCHED(sid) -> running--; state = QUEUED };
            runq ! p
        :: n < BATCH ->
#ifdef BROKEN_IDLE_STORE
            atomic { DRAINED_SCHED(sid) -> running--; state = IDLE }
#else
            /* CAS(RUNNING -> IDLE), locked. */
            if
            :: atomic { DRAINED_SCHED(sid) && state == RUNNING ->
                        running--; state = IDLE }
            :: atomic { DRAINED_SCHED(sid) && state != RUNNING -> skip };
               /* DIRTY: write RUNNING and handle again. */
               WRITE_RUNNING(sid);
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

#ifdef OWNER_PLAIN_STORE
proctype sched_flush(byte sid)
{
end_flush:
    do
    :: atomic { rbuf[sid] -> state = RUNNING; rbuf[sid] = 0 }
    od
}
#endif
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
#if defined(TSO) && defined(OWNER_PLAIN_STORE)
            run sched_flush(i);
#endif
            i++
        :: else -> break
        od;
        run checker()
    }
}
