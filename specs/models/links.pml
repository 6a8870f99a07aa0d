/*
 * links.pml — exit propagation through links, with trap_exit and KILL, as
 * src/runtime implements it; checked exhaustively by spin
 * (scripts/check_models.sh).  Requirements: RT-S5 and RT-S4
 * (specs/runtime.md).
 *
 * The code it mirrors.
 *   fdn_exit (signals.c)          KILL: validate the pid (fdn__table_get),
 *                                 set the kill mark (fdn__kill_mark, reason
 *                                 KILLED), notify; no message.  Any other
 *                                 reason: fdn__signal_exit, a SIGEXIT
 *                                 message (from, reason).
 *   the turn (sched.c fdn__sched_run, attach.c wait_pop)
 *                                 before each pop: a kill mark makes the
 *                                 process die with the mark's reason; else
 *                                 pop one message and dispatch it.
 *   fdn__dispatch (process.c)     a user message runs the handler, which may
 *                                 stop with a reason (fdn_stop); a SIGEXIT
 *                                 goes through fdn__signal_eval.
 *   fdn__signal_eval (signals.c)  KILL -> die KILLED; else trapping ->
 *                                 deliver as FDN_MSG_EXIT; else NORMAL from
 *                                 another process -> drop; else die with the
 *                                 signal's reason.
 *   fdn__die + fdn__signals_on_death (process.c, signals.c), in order:
 *     1. under the process's own lock: exiting = true, take the link list
 *        (and the monitor list), leave both empty;
 *     2. callback monitors (not modelled: no callbacks here);
 *     3. the pid stops being alive (atomic store pid = 0);
 *     4. DOWN messages (not modelled: no monitors here);
 *     5. per link record l, to b = l->other, in list order: under b's lock,
 *        if b's pid is still l->other, take b's record back to us; if there
 *        was one, send the preallocated SIGEXIT (from = us, reason = ours,
 *        KILL mapped to KILLED) with fdn__send_msg, which validates b's pid
 *        (fdn__table_get) and then enqueues (fdn__deliver);
 *     6. drop what is still queued; run state DEAD; release the slot.
 *   fdn_link (signals.c)          under both locks (slot order): if the
 *                                 target is live (pid matches, not exiting)
 *                                 and not yet linked, add a record to both
 *                                 lists; else FDN_ENOPROC.
 *   fdn_unlink (signals.c)        under both locks: remove our record, and
 *                                 the target's record back to us if the
 *                                 target's pid still matches.
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
 *     death's back-link take, fdn_link, fdn_unlink) is one atomic step.
 *     This is sound by reduction: inside each section every access is to
 *     lock-guarded fields (links, exiting) except at most one access to an
 *     atomic (the pid), so the section commutes with everything other
 *     threads do outside their own sections of the same lock.
 *   - The pid check of fdn__send_msg and the enqueue are separate steps: the
 *     receiver may die between them, and then the signal lands in a dead
 *     mailbox and is dropped (RT-F4), as in C.
 *   - A link list is a bit set; the death sends along its links in a
 *     nondeterministic order, covering every list order.
 *   - No slot reuse: pids are never reused (RT-I1), and the generation
 *     checks of the kill mark and of `m->to` are not needed here.
 *   - Reasons: NORMAL, SHUTDOWN, KILL, KILLED, and USER standing for any
 *     reason >= FDN_REASON_USER (all of them behave alike).
 *   - No allocation fails: a death's signals are preallocated with the link
 *     (RT-L2), and fdn_exit's FDN_ENOMEM changes nothing (RT-S10).
 *   - In the dynamic configuration a handler's fdn_link or fdn_unlink (the
 *     handler of some command message, in C) is a step the process may take
 *     whenever it is not dying.
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
 *             made to a dying process, unlinks racing a death, links racing
 *             a propagation.  Topologies chain and cycle (a 3-star is a
 *             chain), victim 0, 1 (chain) or 0 (cycle).
 *
 * Properties (the checker runs at `timeout`, when no process can move: every
 * death is complete and every live process is blocked on an empty mailbox;
 * spin reports any other stop as an invalid end state, so every run ends
 * like that, with nobody half-dead).
 *   Always (both configurations):
 *   (a) every process is either alive, with an empty mailbox, no kill mark,
 *       not exiting, and linked only to live processes, or dead with its
 *       death complete and no link record left behind;
 *   (b) links are symmetric: after each critical section, two processes
 *       that are not exiting are linked both ways or not at all, and an
 *       exiting process has no link record;
 *   (c) a link SIGEXIT is enqueued only after its sender's pid stopped
 *       being alive, and a trapping receiver that takes it as EXIT sees the
 *       sender dead (RT-S11; asserted at the enqueue and at the EXIT);
 *   (d) exactly one EXIT per link signal: a trapping process that survives
 *       received as FDN_MSG_EXIT every link signal sent to it, once each,
 *       and no EXIT from a process that sent it none; a non-trapping
 *       process receives no EXIT message;
 *   (e) nobody else dies: a process that dies is the victim, or it does not
 *       trap and received an abnormal (not NORMAL) link signal, and its
 *       reason is the reason of such a signal (RT-S5); a non-trapping
 *       survivor received no abnormal link signal.
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
 *
 * Bounds and cost (exhaustive, no partial-order reduction; the numbers of
 * scripts/check_models.sh on the build machine): the static run, NP = 4,
 * 3 topologies, 16 trap settings, 9 events, stores 0.50 million states
 * (depth 646) in under a second; the dynamic run, NP = 3 with one link or
 * unlink per process, 1.41 million (depth 427) in about 2 s.  The
 * dynamic run with NP = 4 (-DDYNAMIC -DNP=4) is out of reach without
 * reduction: it found no error in the 135 million states that fit in 8 GB
 * (with -DCOLLAPSE, 13 minutes), but did not finish.
 *
 * The tags read by scripts/check_models.sh, one run each:
 * spin-config:
 * spin-config: -DDYNAMIC
 *
 * Not a property: Erlang's unlink/1 promises that once it returns the link
 * has no effect on the caller.  Here a death that took the link just before
 * the unlink has already enqueued its signal, which still kills a
 * non-trapping caller after fdn_unlink returned FDN_OK (a trapping one gets
 * the EXIT, which Erlang allows too).  The spec does not promise more, and
 * the model does not assert it; adding that assertion to the dynamic run
 * shows the trace (chain 0-1-2; 0 stops with SHUTDOWN, takes 1's record and
 * enqueues; 1 calls fdn_unlink(0), which finds nothing; 1 pops the signal
 * and dies with SHUTDOWN).
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
 *   BROKEN_EARLY_SIGNAL  link signals are sent before the pid stops being
 *                        alive (links_broken_early_signal.pml).
 *   BROKEN_LINK_DYING    fdn_link checks only the target's pid, not
 *                        `exiting`: a link made to a process whose death has
 *                        already taken its list is never signalled and its
 *                        record is left behind (links_broken_link_dying.pml).
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
bool trap[NP];          /* p->trap_exit (constant here) */
byte kill[NP];          /* p->kill_pending: 0, or reason + 1 (atomic) */
chan mbox[NP] = [NS] of { byte, byte, byte };   /* kind, from, reason */

/* Ghost state for the properties. */
bool done[NP];          /* the death is complete */
byte dreason[NP];       /* the reason it died with */
byte cause[NP];         /* who sent the signal it died of; NS: no signal */
byte sent[NP * NP];     /* sent[x*NP+y]: link signal x -> y, reason + 1 */
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
        b = 0;
        do
        :: b < NP ->
            assert(exiting[a] || exiting[b] ||
                   BIT(links[a], b) == BIT(links[b], a));
            b++
        :: else -> break
        od;
        a++
    :: else -> break
    od;
    a = 0;
    b = 0
}

/* fdn__die / fdn__signals_on_death for process i with reason `why`. */
inline die()
{
    /* 1. Own lock: exiting, take the list. */
    atomic { exiting[i] = 1; mine = links[i]; links[i] = 0; link_inv() };
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
        /* b's lock: is b still this life, and does it still link to us? */
        atomic {
            back = alive[j] && BIT(links[j], i);
            if
            :: back -> links[j] = links[j] & ~(1 << i)
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
    byte why, mine, lr, j, a, b;
    bool back;
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
#ifdef BROKEN_TRAP_FIRST
               if
               :: trap[i] ->
                   if
                   :: from < NP -> assert(alive[from] == 0) /* (c) */
                   :: else -> skip
                   fi;
                   exits[i * NS + from]++;
                   exitr[i * NS + from] = reason
               :: !trap[i] && reason == R_KILL ->
                   why = R_KILLED;
                   cause[i] = from;
                   break
#else
               if
               :: reason == R_KILL ->
                   why = R_KILLED;
                   cause[i] = from;
                   break
               :: reason != R_KILL && trap[i] ->
                   if
                   :: from < NP -> assert(alive[from] == 0) /* (c) */
                   :: else -> skip
                   fi;
                   exits[i * NS + from]++;
                   exitr[i * NS + from] = reason
#endif
               :: reason != R_KILL && !trap[i] && reason == R_NORMAL &&
                  from != i ->
                   skip                         /* dropped */
               :: reason != R_KILL && !trap[i] &&
                  (reason != R_NORMAL || from == i) ->
                   why = reason;
                   cause[i] = from;
                   break
               fi
           fi;
           kind = 0; from = 0; reason = 0
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
               links[i] = links[i] | (1 << j);
               links[j] = links[j] | (1 << i)
#ifdef BROKEN_LINK_DYING
           :: !alive[j] -> skip                 /* FDN_ENOPROC */
#else
           :: !(alive[j] && !exiting[j]) -> skip    /* FDN_ENOPROC */
#endif
           :: /* fdn_unlink: both locks. */
              links[i] = links[i] & ~(1 << j);
              if
              :: alive[j] -> links[j] = links[j] & ~(1 << i)
              :: else -> skip
              fi
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
            if
            :: trap[y] && alive[y] ->
                assert(exits[y * NS + x] == (sent[x * NP + y] != 0));
                assert(exits[y * NS + x] == 0 ||
                       exitr[y * NS + x] + 1 == sent[x * NP + y])
            :: else ->
                assert(exits[y * NS + x] <= (sent[x * NP + y] != 0))
            fi;
            assert(trap[y] || exits[y * NS + x] == 0);
            if
            :: sent[x * NP + y] > R_NORMAL + 1 -> abnormal = 1
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
    byte i, topo;
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
