/*
 * links.pml — exit propagation through links, with trap_exit and KILL, and
 * unlink's guarantee, as src/runtime implements them; checked exhaustively
 * by spin (scripts/check_models.sh).  Requirements: RT-S5 (with its last
 * sentence, the unlink guarantee), RT-S4 and RT-S11 (specs/runtime.md).
 *
 * The code it mirrors (signals.c unless named).
 *   fdn_exit                      KILL: validate the pid (fdn__table_get),
 *                                 set the kill mark (fdn__kill_mark, reason
 *                                 KILLED), notify; no message.  Any other
 *                                 reason: fdn__signal_exit, a SIGEXIT
 *                                 message (from, reason) without
 *                                 FDN__MF_LINK.
 *   the turn (sched.c fdn__sched_run, attach.c wait_pop)
 *                                 before each pop: a kill mark makes the
 *                                 process die with the mark's reason; else
 *                                 pop one message and dispatch it.
 *   fdn__dispatch (process.c)     a user message runs the handler, which may
 *                                 stop with a reason (fdn_stop); a SIGEXIT
 *                                 goes through fdn__signal_eval.
 *   fdn__signal_eval              a link signal (FDN__MF_LINK) first takes,
 *                                 under the process's own lock
 *                                 (link_take_locked), its record to the
 *                                 signal's sender: none -> drop the signal
 *                                 (an fdn_unlink voided it); else free the
 *                                 record and go on.  Then KILL -> die
 *                                 KILLED; else trapping -> deliver as
 *                                 FDN_MSG_EXIT; else NORMAL from another
 *                                 process -> drop; else die with the
 *                                 signal's reason.
 *   link_take_locked              unlinks the record to a pid, down or not;
 *                                 nlinks counts it off unless it is down
 *                                 (a down record was counted off when it
 *                                 was marked).
 *   fdn__die + fdn__signals_on_death (process.c, signals.c), in order:
 *     1. under the process's own lock: exiting = true, take the link list
 *        (down records too) and the monitor list, leave both empty, nlinks
 *        and nmons 0;
 *     2. callback monitors (not modelled: no callbacks here);
 *     3. the pid stops being alive (atomic store pid = 0);
 *     4. held monitors released, DOWN messages (not modelled: no monitors
 *        here);
 *     5. per link record l, to b = l->other, in list order: under b's lock,
 *        if b's pid is still l->other and b holds a record back to us that
 *        is not down, mark it is_down and count it off b's nlinks (the
 *        record stays on b's list); if it did, send the preallocated
 *        SIGEXIT (from = us, reason = ours, KILL mapped to KILLED,
 *        FDN__MF_LINK) with fdn__send_msg, which validates b's pid
 *        (fdn__table_get) and then enqueues (fdn__deliver);
 *     6. drop what is still queued; run state DEAD; release the slot.
 *   fdn_link                      under both locks (slot order): if the
 *                                 target is live (pid matches, not exiting)
 *                                 and we hold no record to it, add a record
 *                                 to both lists and count both; else
 *                                 FDN_ENOPROC, or nothing if linked.
 *   fdn_unlink                    under both locks: link_take_locked of our
 *                                 record (down or not), and of the target's
 *                                 record back to us if the target's pid
 *                                 still matches.
 *
 * Abstractions.
 *   - NP processes (pids 0..NP-1) and an environment, pid ENV (the test's
 *     attached thread), which makes the one initial event.  A process is a
 *     Promela process running its turns; its mailbox is a channel.  Turns
 *     and the run-state hand-off are abstracted away: a process with a
 *     message or a kill mark eventually looks at it (RT-L1, proved by
 *     mailbox.pml), which here is simply an enabled Promela step.  One
 *     process runs on one thread at a time (RT-I2, mailbox.pml).
 *   - The kill-mark check and the pop are two guards of one choice: a
 *     process with a mark and a message may take either first.  In C the
 *     mark is checked first but may be set just after the check, so both
 *     orders happen; the model allows both in every state, a superset.  A
 *     mark that lands on a process already dying is never looked at, as in
 *     C (fdn__die clears it; generations keep it off the next life).
 *   - Each critical section of a spinlock (the death's list detach, the
 *     death's mark of a survivor's record, the pop's take of its record,
 *     fdn_link, fdn_unlink) is one atomic step.  This is sound by
 *     reduction: inside each section every access is to lock-guarded
 *     fields (links, is_down, nlinks, exiting) except at most one access to
 *     an atomic (the pid), so the section commutes with everything other
 *     threads do outside their own sections of the same lock.
 *   - The pop and the take of fdn__signal_eval share one step, too.  Only
 *     the owner pops, and others only append to the mailbox, so the pop
 *     commutes with everything they do until the take; and nobody else
 *     changes our record to a dead sender (only we unlink it; the sender,
 *     the only other party, is dead), so the take's outcome is fixed at
 *     the pop.
 *   - The pid check of fdn__send_msg and the enqueue are separate steps: the
 *     receiver may die between them, and then the signal lands in a dead
 *     mailbox and is dropped (RT-F4), as in C.
 *   - A link list is a bit set (links), its records marked is_down another
 *     (down), and nlinks a counter (nl); the death sends along its links in
 *     a nondeterministic order, covering every list order.  The only link
 *     signals are deaths' (no code calls fdn__signal_exit with via_link),
 *     so here a signal from a process is a link signal and one from ENV is
 *     not.
 *   - No slot reuse: pids are never reused (RT-I1), and the generation
 *     checks of the kill mark and of `m->to` are not needed here.
 *   - Reasons: NORMAL, SHUTDOWN, KILL, KILLED, and USER standing for any
 *     reason >= FDN_REASON_USER (all of them behave alike).
 *   - No allocation fails: a death's signals are preallocated with the link
 *     (RT-L2), and fdn_exit's FDN_ENOMEM changes nothing (RT-S10).
 *   - In the dynamic configuration a handler's fdn_link or fdn_unlink (the
 *     handler of some command message, in C) is a step the process may take
 *     whenever it is not dying.  A process takes a popped signal's EXIT in
 *     the same step (a handler runs on it); the save queue of an attached
 *     thread's fdn_call, which parks an EXIT already taken for a later
 *     fdn_receive, is not modelled.
 *   - The initial event is one of: a user message after which the handler
 *     stops with NORMAL, SHUTDOWN, KILL or USER (fdn_stop), fdn_exit with
 *     NORMAL, SHUTDOWN, USER (a SIGEXIT from ENV), fdn_exit with KILL (the
 *     kill mark), or a SIGEXIT carrying KILL.  No code sends the last one
 *     today (fdn_exit marks instead, deaths map KILL to KILLED); it is
 *     modelled so that fdn__signal_eval's KILL branch is checked as well.
 *
 * Configurations (the spin-config tags below, read by the script).
 *   default   NP = 4, static links.  init chooses, nondeterministically, the
 *             topology (chain 0-1-2-3, star around 0, cycle 0-1-2-3-0), the
 *             victim up to symmetry (chain: an end or an inner process;
 *             star: the centre or a leaf; cycle: any), trap_exit for each
 *             of the 4 processes, and the initial event (9 kinds).
 *   -DDYNAMIC NP = 3, and every process may also, once, link to or unlink
 *             from any other process at any moment before it dies: links
 *             made to a dying process, unlinks racing a death (before its
 *             mark, between the mark and the enqueue, with the signal
 *             queued), links racing a propagation.  Topologies chain and
 *             cycle (a 3-star is a chain), victim 0, 1 (chain) or 0
 *             (cycle).
 *
 * Properties (the checker runs at `timeout`, when no process can move: every
 * death is complete and every live process is blocked on an empty mailbox;
 * spin reports any other stop as an invalid end state, so every run ends
 * like that, with nobody half-dead).  A link signal is "voided" when its
 * receiver popped it and found no record to its sender.
 *   Always (both configurations):
 *   (a) every process is either alive, with an empty mailbox, no kill mark,
 *       not exiting, no down record, and linked only to live processes, or
 *       dead with its death complete and no link record left behind;
 *   (b) link records: after each critical section, two processes that are
 *       not exiting are linked both ways or not at all, an exiting process
 *       has no record, a down record points to an exiting process, and
 *       nlinks counts exactly the records that are not down; a popped link
 *       signal finds its record marked down, or gone (the locking argument
 *       of 01c942c);
 *   (c) a link SIGEXIT is enqueued only after its sender's pid stopped
 *       being alive, and a trapping receiver that takes it as EXIT sees the
 *       sender dead (RT-S11; asserted at the enqueue and at the EXIT);
 *   (d) exactly one EXIT per link signal not voided: a trapping process
 *       that survives received as FDN_MSG_EXIT every such signal sent to
 *       it, once each, with its reason, and no EXIT from a process that
 *       sent it none; a non-trapping process receives no EXIT message;
 *   (e) nobody else dies: a process that dies is the victim, or it does not
 *       trap and received an abnormal (not NORMAL) link signal not voided,
 *       and its reason is the reason of such a signal (RT-S5); a
 *       non-trapping survivor received no abnormal link signal not voided.
 *   Static configuration, against an oracle computed from the topology:
 *   (f) the victim's fate: a handler stop with reason r dies with r; a KILL
 *       (mark or signal) kills it with KILLED, trapping or not (RT-S4); an
 *       exit signal with another reason is delivered as EXIT if it traps,
 *       dropped if NORMAL, and kills it with that reason otherwise;
 *   (g) if the victim died with reason r, the processes that die are
 *       exactly the victim and the non-trapping processes reachable from it
 *       without crossing a trapping process, each with reason r (KILL read
 *       as KILLED), and none if r is NORMAL (RT-S5, revised); every
 *       trapping survivor has exactly one EXIT, with that reason, from each
 *       dead neighbour and no other; the survivors' links are the initial
 *       ones minus the dead.
 *   Dynamic configuration (asserted in both; with no unlink they hold
 *   trivially):
 *   (h) the unlink guarantee (RT-S5, last sentence): once a process's
 *       fdn_unlink(x) has returned, and until a new link between the two is
 *       made, no signal from x affects it: it neither dies of x's signal
 *       nor takes an EXIT from x; asserted where a process acts on a link
 *       signal, whether x died before the unlink (its signal queued, or
 *       between the mark and the enqueue) or after;
 *   (i) only an unlink voids: a link signal is dropped for want of its
 *       record only if its receiver unlinked the sender since their last
 *       link (so no signal is lost otherwise; with (d) and (e) this is what
 *       makes (h) more than "drop everything").
 *
 * Bounds and cost (exhaustive, no partial-order reduction; the numbers of
 * scripts/check_models.sh on the build machine, 2 cores): the static run,
 * NP = 4, 3 topologies, 16 trap settings, 9 events, stores 0.53 million
 * states (depth 802) in 0.7 s; the dynamic run, NP = 3 with one link or
 * unlink per process, 4.01 million states (depth 513) in about 4.6 s and
 * 0.95 GB.  (Before 01c942c's protocol the two runs stored 0.50 and 1.41
 * million: a down record now stays until its signal is popped, and unlinks
 * of a down record are new interleavings.)  The dynamic run with NP = 4
 * (-DDYNAMIC -DNP=4) is out of reach without reduction; a bitstate run of
 * it (-DBITSTATE -w32, not part of the gate) found no error in the 599
 * million states it visited in 15 minutes, and did not finish.
 *
 * The tags read by scripts/check_models.sh, one run each:
 * spin-config:
 * spin-config: -DDYNAMIC
 *
 * Broken variants (must FAIL; links_broken_*.pml define one of these macros
 * and include this file):
 *   BROKEN_TRAP_FIRST    fdn__signal_eval tests trap_exit before KILL: a
 *                        trapping process survives a KILL signal
 *                        (links_broken_trap_first.pml).
 *   BROKEN_KILL_SPREADS  the death sends its reason to links unmapped, so a
 *                        process that stops itself with KILL sends KILL
 *                        through its links and kills trapping neighbours
 *                        (links_broken_kill_spreads.pml).
 *   BROKEN_EARLY_SIGNAL  link signals are marked and sent before the pid
 *                        stops being alive (links_broken_early_signal.pml).
 *   BROKEN_LINK_DYING    fdn_link checks only the target's pid, not
 *                        `exiting`: a link made to a process whose death has
 *                        already taken its list is never signalled and its
 *                        record is left behind (links_broken_link_dying.pml).
 *   BROKEN_TAKE_AT_DEATH the code before 01c942c: the death takes the
 *                        survivor's record instead of marking it, and the
 *                        pop acts on a link signal without taking it; an
 *                        unlink between the two finds nothing and the
 *                        signal still kills the caller, violating (h)
 *                        (links_broken_take_at_death.pml).
 */

#ifdef DYNAMIC
#ifndef NP
#define NP 3
#endif
#else
#ifndef NP
#define NP 4
#endif
#endif

#define ENV NP          /* the environment's pid (the test thread) */
#define NS (NP + 1)     /* senders: the processes and ENV */

/* Reasons (FDN_REASON_*; R_USER stands for any reason >= FDN_REASON_USER). */
#define R_NORMAL 0
#define R_SHUTDOWN 1
#define R_KILL 2
#define R_KILLED 3
#define R_USER 4

/* Message kinds. */
#define M_STOP 1        /* a user message whose handler stops (fdn_stop) */
#define M_SIGEXIT 2     /* FDN__MSG_SIGEXIT */

/* Initial events. */
#define E_STOP 1        /* handler stops with ev_reason */
#define E_EXIT 2        /* fdn_exit(ev_reason), ev_reason != KILL */
#define E_KILLMARK 3    /* fdn_exit(KILL): the kill mark */
#define E_SIGKILL 4     /* a SIGEXIT carrying KILL */

#define BIT(s, k) (((s) >> (k)) & 1)

/* Shared state of the runtime. */
bool alive[NP];         /* p->pid == this life's pid (atomic) */
bool exiting[NP];       /* p->exiting ([lock]) */
byte links[NP];         /* p->links as a set of pids ([lock]) */
byte down[NP];          /* the records of links[p] marked is_down ([lock]) */
byte nl[NP];            /* p->nlinks (written under the lock) */
bool trap[NP];          /* p->trap_exit (constant here) */
byte kill[NP];          /* p->kill_pending: 0, or reason + 1 (atomic) */
chan mbox[NP] = [NS] of { byte, byte, byte };   /* kind, from, reason */

/* Ghost state for the properties. */
bool done[NP];          /* the death is complete */
byte dreason[NP];       /* the reason it died with */
byte cause[NP];         /* who sent the signal it died of; NS: no signal */
byte sent[NP * NP];     /* sent[x*NP+y]: link signal x -> y, reason + 1 */
byte voided[NP];        /* bit x of voided[y]: y dropped x's link signal */
byte unl[NP];           /* bit x of unl[y]: y's fdn_unlink(x) has returned
                         * and no link between x and y was made since */
byte exits[NP * NS];    /* exits[y*NS+x]: EXIT messages y took from x */
byte exitr[NP * NS];    /* the reason of the last of them */
byte adj[NP];           /* the initial links */
byte victim;
byte ev_kind;
byte ev_reason;

/* (b): checked at the end of every critical section that changes links. */
inline link_inv()
{
    a = 0;
    do
    :: a < NP ->
        assert(BIT(links[a], a) == 0);
        assert(exiting[a] == 0 || links[a] == 0);
        assert((down[a] & ~links[a]) == 0);
        b = 0;
        c = 0;
        do
        :: b < NP ->
            assert(exiting[a] || exiting[b] ||
                   BIT(links[a], b) == BIT(links[b], a));
            assert(BIT(down[a], b) == 0 || exiting[b]);
            c = c + (BIT(links[a], b) && !BIT(down[a], b));
            b++
        :: else -> break
        od;
        assert(nl[a] == c);
        a++
    :: else -> break
    od;
    a = 0;
    b = 0;
    c = 0
}

/* link_take_locked (signals.c): p's record to q, down or not, leaves p's
 * list; nlinks counts it off unless it was down (uncounted at the mark). */
inline link_take(p, q)
{
    if
    :: BIT(links[p], q) && !BIT(down[p], q) -> nl[p]--
    :: else -> skip
    fi;
    links[p] = links[p] & ~(1 << q);
    down[p] = down[p] & ~(1 << q)
}

/* (h), the unlink guarantee: a link signal from `from` that process i acts
 * on (it dies of it or takes it as EXIT) is not from a process i has
 * unlinked since their last link. */
inline acts_on_signal()
{
    if
    :: from < NP -> assert(BIT(unl[i], from) == 0)
    :: else -> skip
    fi
}

/* fdn__die / fdn__signals_on_death for process i with reason `why`. */
inline die()
{
    /* 1. Own lock: exiting, take the list (down records too), nlinks 0. */
    atomic {
        exiting[i] = 1;
        mine = links[i];
        links[i] = 0;
        down[i] = 0;
        nl[i] = 0;
        link_inv()
    };
#ifndef BROKEN_EARLY_SIGNAL
    /* 3. The pid stops being alive. */
    atomic { alive[i] = 0; dreason[i] = why };
#endif
    /* 5. Link exit signals; KILL reaches links as KILLED. */
#ifdef BROKEN_KILL_SPREADS
    lr = why;
#else
    lr = (why == R_KILL -> R_KILLED : why);
#endif
    do
    :: mine != 0 ->
        /* The next record, in any order. */
        atomic {
            j = 0;
            do
            :: BIT(mine, j) -> break
            :: j < NP - 1 && (mine >> (j + 1)) != 0 -> j++
            od;
            mine = mine & ~(1 << j)
        };
        /* b's lock: is b still this life, and does it still hold a record
         * back to us that is not down?  Then mark it down and uncount it;
         * b takes it when it pops the signal. */
        atomic {
            back = alive[j] && BIT(links[j], i) && !BIT(down[j], i);
            if
            :: back ->
#ifdef BROKEN_TAKE_AT_DEATH
                link_take(j, i)
#else
                down[j] = down[j] | (1 << i);
                nl[j]--
#endif
            :: else -> skip
            fi;
            link_inv()
        };
        if
        :: back ->
            /* fdn__send_msg: fdn__table_get, then fdn__deliver. */
            if
            :: alive[j] ->
                atomic {
                    assert(alive[i] == 0);      /* (c), RT-S11 */
                    mbox[j] ! M_SIGEXIT, i, lr;
                    sent[i * NP + j] = lr + 1
                }
            :: else -> skip                     /* FDN_ENOPROC: freed */
            fi
        :: else -> skip                         /* unlinked meanwhile */
        fi;
        back = 0;
        j = 0
    :: else -> break
    od;
#ifdef BROKEN_EARLY_SIGNAL
    atomic { alive[i] = 0; dreason[i] = why };
#endif
    /* 6. Queued messages are dropped; the death is complete. */
    done[i] = 1
}

proctype proc(byte i)
{
    byte kind, from, reason;
    byte why, mine, lr, j, a, b, c;
    bool back, is_void;
#ifdef DYNAMIC
    bool op_left = 1;
#endif

end_turns:
    do
    :: kill[i] != 0 ->
        /* fdn__kill_pending before a pop. */
        why = kill[i] - 1;
        cause[i] = NS;
        break
    :: atomic {
           mbox[i] ? kind, from, reason ->
           if
           :: kind == M_STOP ->
               why = reason;                    /* fdn_stop(ctx, reason) */
               cause[i] = NS;
               break
           :: else ->
               /* fdn__signal_eval */
#ifndef BROKEN_TAKE_AT_DEATH
               /* A link signal (FDN__MF_LINK; here every signal from a
                * process) first takes, under our lock, our record to its
                * sender.  The death marked it down; if it is gone, an
                * fdn_unlink took it and the signal is void. */
               if
               :: from < NP && BIT(links[i], from) ->
                   assert(BIT(down[i], from));  /* (b) */
                   link_take(i, from);
                   link_inv()
               :: from < NP && !BIT(links[i], from) ->
                   assert(BIT(unl[i], from));   /* (i) */
                   voided[i] = voided[i] | (1 << from);
                   is_void = 1
               :: from >= NP -> skip
               fi;
#endif
               if
               :: is_void -> skip               /* dropped */
#ifdef BROKEN_TRAP_FIRST
               :: !is_void && trap[i] ->
                   acts_on_signal();
                   if
                   :: from < NP -> assert(alive[from] == 0) /* (c) */
                   :: else -> skip
                   fi;
                   exits[i * NS + from]++;
                   exitr[i * NS + from] = reason
               :: !is_void && !trap[i] && reason == R_KILL ->
                   acts_on_signal();
                   why = R_KILLED;
                   cause[i] = from;
                   break
#else
               :: !is_void && reason == R_KILL ->
                   acts_on_signal();
                   why = R_KILLED;
                   cause[i] = from;
                   break
               :: !is_void && reason != R_KILL && trap[i] ->
                   acts_on_signal();
                   if
                   :: from < NP -> assert(alive[from] == 0) /* (c) */
                   :: else -> skip
                   fi;
                   exits[i * NS + from]++;
                   exitr[i * NS + from] = reason
#endif
               :: !is_void && reason != R_KILL && !trap[i] &&
                  reason == R_NORMAL && from != i ->
                   skip                         /* ignored */
               :: !is_void && reason != R_KILL && !trap[i] &&
                  (reason != R_NORMAL || from == i) ->
                   acts_on_signal();
                   why = reason;
                   cause[i] = from;
                   break
               fi
           fi;
           kind = 0; from = 0; reason = 0; is_void = 0
       }
#ifdef DYNAMIC
    :: atomic {
           op_left ->
           /* A handler calls fdn_link or fdn_unlink, once, on another
            * process j (the choice is local, so it shares the step). */
           op_left = 0;
           j = 1;
           do
           :: j < NP - 1 -> j++
           :: break
           od;
           j = (i + j) % NP;
           if
           :: /* fdn_link: both locks. */
#ifdef BROKEN_LINK_DYING
              alive[j] ->
#else
              alive[j] && !exiting[j] ->
#endif
               if
               :: BIT(links[i], j) -> skip      /* already linked */
               :: else ->
                   links[i] = links[i] | (1 << j);
                   links[j] = links[j] | (1 << i);
                   nl[i]++;
                   nl[j]++;
                   unl[i] = unl[i] & ~(1 << j);
                   unl[j] = unl[j] & ~(1 << i)
               fi
#ifdef BROKEN_LINK_DYING
           :: !alive[j] -> skip                 /* FDN_ENOPROC */
#else
           :: !(alive[j] && !exiting[j]) -> skip    /* FDN_ENOPROC */
#endif
           :: /* fdn_unlink: both locks.  Our record goes, down or not;
               * the target's goes if its pid still matches.  (The guard
               * keeps link_take's `else` from reading as this selection's
               * else.) */
              true ->
              link_take(i, j);
              if
              :: alive[j] -> link_take(j, i)
              :: else -> skip
              fi;
              unl[i] = unl[i] | (1 << j)
           fi;
           link_inv();
           j = 0
       }
#endif
    od;
    die()
}

/* The test thread: the one initial event. */
proctype env()
{
    if
    :: ev_kind == E_STOP ->
        mbox[victim] ! M_STOP, ENV, ev_reason
    :: ev_kind == E_EXIT || ev_kind == E_SIGKILL ->
        /* fdn__signal_exit -> fdn__send_msg: validate, then enqueue. */
        if
        :: alive[victim] -> mbox[victim] ! M_SIGEXIT, ENV, ev_reason
        :: else -> skip
        fi
    :: ev_kind == E_KILLMARK ->
        /* fdn__table_get, fdn__kill_mark (an older mark is kept),
         * fdn__notify. */
        if
        :: alive[victim] ->
            if
            :: kill[victim] == 0 -> kill[victim] = R_KILLED + 1
            :: else -> skip
            fi
        :: else -> skip
        fi
    fi
}

/* The end-state properties (see the file comment). */
proctype checker()
{
    byte x, y;
    bool vdies;
    byte vr;
    byte dead;          /* the oracle's set of processes that die */
    byte grow;
    byte sr;
    bool abnormal;

    timeout ->
    /* (a), (d), (e): for every configuration. */
    y = 0;
    do
    :: y < NP ->
        assert(alive[y] != done[y]);
        if
        :: alive[y] ->
            assert(len(mbox[y]) == 0);
            assert(kill[y] == 0);
            assert(!exiting[y]);
            assert(down[y] == 0);
            x = 0;
            do
            :: x < NP ->
                assert(!BIT(links[y], x) || alive[x]);
                x++
            :: else -> break
            od
        :: else ->
            assert(links[y] == 0)
        fi;
        x = 0;
        abnormal = 0;
        do
        :: x < NP ->
            /* Only the link signals an unlink did not void count. */
            sr = (BIT(voided[y], x) -> 0 : sent[x * NP + y]);
            if
            :: trap[y] && alive[y] ->
                assert(exits[y * NS + x] == (sr != 0));
                assert(exits[y * NS + x] == 0 ||
                       exitr[y * NS + x] + 1 == sr)
            :: else ->
                assert(exits[y * NS + x] <= (sr != 0))
            fi;
            assert(trap[y] || exits[y * NS + x] == 0);
            if
            :: sr > R_NORMAL + 1 -> abnormal = 1
            :: else -> skip
            fi;
            x++
        :: else -> break
        od;
        /* (e) */
        if
        :: !alive[y] && y != victim ->
            /* It does not trap and died of an abnormal link signal, with
             * that signal's reason (a KILL signal: KILLED). */
            assert(cause[y] < NP);
            assert(trap[y] == 0);
            assert(abnormal == 1);
            assert(BIT(voided[y], cause[y]) == 0);
            sr = sent[cause[y] * NP + y] - 1;
            assert(dreason[y] == (sr == R_KILL -> R_KILLED : sr))
        :: else -> skip
        fi;
        assert(!alive[y] || trap[y] || abnormal == 0);
        y++
    :: else -> break
    od;

#ifndef DYNAMIC
    /* (f) the victim's fate. */
    if
    :: ev_kind == E_STOP -> vdies = 1; vr = ev_reason
    :: ev_kind == E_KILLMARK || ev_kind == E_SIGKILL -> vdies = 1; vr = R_KILLED
    :: ev_kind == E_EXIT && trap[victim] -> vdies = 0
    :: ev_kind == E_EXIT && !trap[victim] && ev_reason == R_NORMAL -> vdies = 0
    :: ev_kind == E_EXIT && !trap[victim] && ev_reason != R_NORMAL ->
        vdies = 1; vr = ev_reason
    fi;
    assert(alive[victim] != vdies);
    assert(!vdies || dreason[victim] == vr);
    x = 0;
    do
    :: x < NP ->
        assert(exits[x * NS + ENV] ==
               (x == victim && ev_kind == E_EXIT && trap[victim]));
        x++
    :: else -> break
    od;
    /* (g) the closure: from the victim through non-trapping processes. */
    dead = 0;
    if
    :: vdies ->
        dead = 1 << victim;
        if
        :: vr == R_KILL -> vr = R_KILLED
        :: else -> skip
        fi;
        grow = 1;
        do
        :: grow && vr != R_NORMAL ->
            grow = 0;
            y = 0;
            do
            :: y < NP ->
                if
                :: !BIT(dead, y) && !trap[y] && (adj[y] & dead) != 0 ->
                    dead = dead | (1 << y);
                    grow = 1
                :: else -> skip
                fi;
                y++
            :: else -> break
            od
        :: else -> break
        od
    :: else -> skip
    fi;
    y = 0;
    do
    :: y < NP ->
        assert(alive[y] == !BIT(dead, y));
        assert(alive[y] || y == victim || dreason[y] == vr);
        if
        :: alive[y] ->
            assert(links[y] == (adj[y] & ~dead));
            x = 0;
            do
            :: x < NP ->
                assert(!trap[y] ||
                       exits[y * NS + x] == (BIT(dead, x) && BIT(adj[y], x)));
                assert(exits[y * NS + x] == 0 || exitr[y * NS + x] == vr);
                x++
            :: else -> break
            od
        :: else -> skip
        fi;
        y++
    :: else -> break
    od
#endif
}

init
{
    byte i, k, topo;
    atomic {
        /* The topology: 0 chain, 1 star (around 0), 2 cycle. */
#ifdef DYNAMIC
        if
        :: topo = 0
        :: topo = 2
        fi;
#else
        if
        :: topo = 0
        :: topo = 1
        :: topo = 2
        fi;
#endif
        i = 0;
        do
        :: i < NP ->
            if
            :: topo == 1 && i == 0 -> adj[i] = ((1 << NP) - 1) & ~1
            :: topo == 1 && i != 0 -> adj[i] = 1
            :: topo != 1 ->
                adj[i] = (i > 0 -> 1 << (i - 1) : 0) |
                         (i < NP - 1 -> 1 << (i + 1) : 0);
                if
                :: topo == 2 && i == 0 -> adj[i] = adj[i] | (1 << (NP - 1))
                :: topo == 2 && i == NP - 1 -> adj[i] = adj[i] | 1
                :: else -> skip
                fi
            fi;
            links[i] = adj[i];
            k = 0;
            do
            :: k < NP -> nl[i] = nl[i] + BIT(adj[i], k); k++
            :: else -> break
            od;
            k = 0;
            alive[i] = 1;
            if
            :: trap[i] = 0
            :: trap[i] = 1
            fi;
            i++
        :: else -> break
        od;
        /* The victim, up to symmetry: an end or an inner process of the
         * chain, the centre or a leaf of the star, any process of the
         * cycle. */
        if
        :: victim = 0
        :: topo != 2 -> victim = 1
        fi;
        /* The initial event. */
        if
        :: ev_kind = E_STOP; ev_reason = R_NORMAL
        :: ev_kind = E_STOP; ev_reason = R_SHUTDOWN
        :: ev_kind = E_STOP; ev_reason = R_KILL
        :: ev_kind = E_STOP; ev_reason = R_USER
        :: ev_kind = E_EXIT; ev_reason = R_NORMAL
        :: ev_kind = E_EXIT; ev_reason = R_SHUTDOWN
        :: ev_kind = E_EXIT; ev_reason = R_USER
        :: ev_kind = E_KILLMARK; ev_reason = R_KILL
        :: ev_kind = E_SIGKILL; ev_reason = R_KILL
        fi;
        i = 0;
        do
        :: i < NP -> run proc(i); i++
        :: else -> break
        od;
        run env();
        run checker()
    }
}
