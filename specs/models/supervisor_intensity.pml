/*
 * supervisor_intensity.pml — the supervisor's restart intensity (SUP-C2,
 * specs/supervisor.md), as src/runtime/supervisor.c implements it; checked
 * exhaustively by spin (scripts/check_models.sh).
 *
 * The code it mirrors (supervisor.c).
 *   sup_note_restart   reads the runtime clock once (now); forgets, oldest
 *                      first, the recorded restart times t with
 *                      now - t >= period; refuses if `intensity` times are
 *                      still recorded; otherwise grows the ring if it is
 *                      full, records now and accepts.  The times live in a
 *                      ring buffer (stamps, stamp_head, stamp_count,
 *                      stamp_cap) that starts with min(intensity, 16)
 *                      entries and grows to min(2 * cap, intensity) (to
 *                      intensity once cap > intensity / 2).
 *   sup_child_exited   an exit of a running child is a failure: a restart
 *                      is noted; refused -> sup_begin_shutdown(MAX_RESTARTS);
 *                      accepted -> sup_plan_restart.  An exit the supervisor
 *                      asked for (STOPPING), or one during a shutdown, notes
 *                      nothing.
 *   sup_advance        waits for a stopping child; stops what the plan
 *                      stops; when shutting down, exits with exit_reason;
 *                      else starts what the plan starts.  A failed start is
 *                      one more restart (noted; refused -> shutdown; accepted
 *                      -> plan it again and retry from a CONTINUE message).
 *   sup_begin_shutdown the first reason stands; every child is to stop.
 *   sup_handle         EXIT from the child -> sup_child_exited; EXIT from the
 *                      parent -> shutdown with its reason; CONTINUE ->
 *                      sup_advance.
 *
 * The window, decided by the code: a restart at time t is forgotten at the
 * first restart at a time now with now - t >= period.  So a restart exactly
 * one period after an earlier one does not count that earlier one: the
 * window of a restart at `now` is the half-open interval (now - P, now].
 * Hence, with restart attempts at times t_0 <= t_1 <= ... (the clock never
 * goes back), attempt k is refused iff k >= N and t_k - t_(k-N) < P, i.e.
 * iff it is the (N+1)-th within a window shorter than P; and N = 0 refuses
 * the first.  That is the oracle below; it never looks at the ring.
 *
 * Abstractions.
 *   - One permanent child, one_for_one (the strategy decides which children
 *     a plan restarts; intensity counts one restart per failure either way,
 *     as sup_child_exited shows).  The child is a Promela process: it
 *     crashes (an abnormal exit) at any moment while it runs, within a
 *     budget, or exits with SHUTDOWN once asked to stop; either way the
 *     supervisor gets exactly one EXIT for it (links, proved by links.pml).
 *     The shutdown grace timer and KILL are not modelled: the child always
 *     obeys SHUTDOWN.
 *   - A start of the child fails (its init stops) nondeterministically,
 *     within a budget (SUP-F3).
 *   - The parent may send one SHUTDOWN exit signal at any moment.
 *   - The runtime clock (a virtual clock in tests) is a byte of ticks, up
 *     to TMAX.  It is read only by sup_note_restart, so instead of a clock
 *     process that ticks at any moment, each note first advances it by any
 *     amount (zero included): the same clock values reach every note, with
 *     far fewer states.  Two notes in one handler call (an exit, then a
 *     failed start) may see different times, as with a real clock.  The
 *     uint64_t differences of the code cannot wrap below TMAX.
 *   - Each handler call of the supervisor is one atomic step: it touches
 *     only its own state, the clock, and its mailbox and the child's flags
 *     (messages and spawns, whose order the step keeps).
 *   - With one child, a refusal makes the supervisor exit within the same
 *     handler call (nothing is left to stop), so "the first reason stands"
 *     of sup_begin_shutdown is exercised only by a parent SHUTDOWN followed
 *     by nothing; racing a parent SHUTDOWN with MAX_RESTARTS needs a
 *     second child, left out to keep the run short.
 *   - The 16 of min(intensity, 16) is CAPLIM, chosen among 1, 2 and 16 so
 *     that every growth path runs with small intensities.  An allocation
 *     failure while growing (refuse: the safe side) is not modelled.
 *   - Intensity N in 0..NMAX and period P in 1..PMAX ticks are chosen by
 *     init, so one run covers every pair.
 *
 * Properties.
 *   (a) At every note, the code's decision equals the oracle's: N restarts
 *       within a window of length P are accepted, the (N+1)-th is refused;
 *       never earlier, never later.
 *   (b) The ring holds exactly the accepted times still inside the window
 *       of the current note, oldest first, at most N of them, within its
 *       capacity, which never exceeds N.
 *   (c) No restart is noted and no child is started once a shutdown began
 *       (after a refusal in particular: "exactly then").
 *   (d) The supervisor exits with MAX_RESTARTS iff a restart was refused,
 *       with the parent's SHUTDOWN otherwise, and leaves no child running.
 *   (e) At the end (timeout: nothing can move) a supervisor still running
 *       has a running child and an empty mailbox: no plan is stranded.
 *
 * Bounds (one run, exhaustive): N in 0..NMAX = 3, P in 1..PMAX = 4 ticks,
 * the clock up to TMAX = 8 ticks, up to CRASHES = 4 crashes and FAILS = 2
 * failed starts (so up to 6 restart attempts, with two failed starts in a
 * row), every CAPLIM: about 3 million states (depth 250) in about 2 s.
 *
 * Broken variants (must FAIL; supervisor_intensity_broken_*.pml define one
 * of these macros and include this file):
 *   BROKEN_WINDOW_EDGE   forgets only times more than a period old
 *                        (now - t > period): a restart exactly P after the
 *                        (N)-th previous one is refused, one too early
 *                        (supervisor_intensity_broken_edge.pml).
 *   BROKEN_FIXED_WINDOW  a fixed window: forgets every recorded time once
 *                        the oldest is a period old, instead of sliding, so
 *                        2N restarts can fall within less than P across the
 *                        reset (supervisor_intensity_broken_fixed.pml).
 */

#ifndef NMAX
#define NMAX 3
#endif
#ifndef PMAX
#define PMAX 4
#endif
#ifndef TMAX
#define TMAX 8
#endif
#ifndef CRASHES
#define CRASHES 4
#endif
#ifndef FAILS
#define FAILS 2
#endif
#define HLEN (NMAX + 2)      /* attempts the oracle remembers */

/* Reasons. */
#define R_SHUTDOWN 1
#define R_USER 4
#define R_MAX_RESTARTS 6

/* Child states as the supervisor sees them. */
#define C_DOWN 0
#define C_RUNNING 1
#define C_STOPPING 2

/* Messages to the supervisor. */
#define M_EXIT_CHILD 1
#define M_EXIT_PARENT 2
#define M_CONTINUE 3

/* Where a restart is noted. */
#define N_EXIT 1            /* sup_child_exited */
#define N_START 2           /* a failed start in sup_advance */

byte now;                   /* the runtime clock, in ticks */
byte N;                     /* intensity */
byte P;                     /* period_ns, in ticks */
byte CAPLIM;                /* the 16 of min(intensity, 16) */

chan supq = [4] of { byte, byte };  /* kind, reason */

/* The child process. */
bool child_alive;
bool stop_req;              /* SHUTDOWN sent to it */
byte crashes_left = CRASHES;

/* Ghost state for the oracle. */
byte last[HLEN];            /* last[d]: time of the attempt d before */
byte nseen;                 /* attempts so far, saturating at N + 2 */
bool refused;               /* some attempt was refused */
bool sup_done;              /* the supervisor exited */
byte sup_reason;            /* with this reason */

proctype child()
{
end_child:
    do
    :: atomic { child_alive && crashes_left > 0 && !stop_req ->
                crashes_left--; child_alive = 0; supq ! M_EXIT_CHILD, R_USER }
    :: atomic { child_alive && stop_req ->
                child_alive = 0; supq ! M_EXIT_CHILD, R_SHUTDOWN }
    od
}

proctype parent()
{
    if
    :: supq ! M_EXIT_PARENT, R_SHUTDOWN
    :: skip
    fi
}

/* sup_begin_shutdown: the first reason stands. */
inline begin_shutdown(why)
{
    if
    :: !shutting ->
        shutting = 1;
        exit_reason = why;
        to_stop = 1;
        to_start = 0
    :: else -> skip
    fi
}

/* sup_note_restart; sets ok. */
inline note_restart()
{
    atomic {
        assert(!shutting);                              /* (c) */
        /* The clock moves by any amount since the last note (it is read
         * nowhere else, so moving it here is moving it at any moment). */
        do
        :: now < TMAX -> now++
        :: break
        od;
        t = now;
        /* The oracle (a), from the times of the attempts alone: refuse iff
         * N attempts came before this one and the N-th last of them is
         * less than P ago. */
        k = N + 1;                      /* the oracle needs N + 2 */
        do
        :: k > 0 -> last[k] = last[k - 1]; k--
        :: else -> break
        od;
        last[0] = t;
        if
        :: nseen < N + 2 -> nseen++
        :: else -> skip
        fi;
        expect = !(nseen > N && t - last[N] < P);
        /* Forget restarts that are a full period old or older. */
#ifdef BROKEN_FIXED_WINDOW
        if
        :: count > 0 && t - stamps[head] >= P -> head = 0; count = 0
        :: else -> skip
        fi;
#else
        do
#ifdef BROKEN_WINDOW_EDGE
        :: count > 0 && t - stamps[head] > P ->
#else
        :: count > 0 && t - stamps[head] >= P ->
#endif
            head = (head + 1) % cap;
            count--
        :: else -> break
        od;
#endif
        if
        :: count >= N -> ok = 0
        :: else ->
            if
            :: count == cap ->
                /* Grow the ring, oldest first into the new block. */
                i = 0;
                do
                :: i < count -> tmp[i] = stamps[(head + i) % cap]; i++
                :: else -> break
                od;
                cap = (cap > N / 2 -> N : cap * 2);
                i = 0;
                do
                :: i < count -> stamps[i] = tmp[i]; tmp[i] = 0; i++
                :: else -> break
                od;
                head = 0
            :: else -> skip
            fi;
            stamps[(head + count) % cap] = t;
            count++;
            ok = 1
        fi;
        assert(ok == expect);                           /* (a) */
#ifndef NO_RING_ASSERT
        /* (b) the ring holds, oldest first, the accepted attempts inside
         * the window of this one (the current one too, if accepted): all
         * attempts from the (count)-th last on, none before. */
        assert(count <= N && cap <= N && count <= cap);
        k = 0;
        do
        :: k < count ->
            assert(count - ok - k < nseen &&
                   stamps[(head + k) % cap] == last[count - ok - k]);
            assert(t - stamps[(head + k) % cap] < P);
            k++
        :: else -> break
        od;
        assert(count - ok + 1 >= nseen ||
               t - last[count - ok + 1] >= P);
#endif
        if
        :: !ok -> refused = 1
        :: else -> skip
        fi;
        k = 0;
        i = 0
    }
}

proctype supervisor()
{
    /* sup_t */
    byte stamps[NMAX];
    byte cap, head, count;
    byte cstate = C_RUNNING;    /* started by sup_init */
    bool to_stop, to_start, shutting;
    byte exit_reason;
    byte fails_left = FAILS;
    /* Locals. */
    byte kind, reason, was, t, k, i;
    byte tmp[NMAX];
    bool ok, expect, stop;
    byte need;                  /* 0, or where a failure is noted */

    cap = (N < CAPLIM -> N : CAPLIM);
    child_alive = 1;

end_loop:
    do
    :: atomic {
        /* One handler call (sup_handle) is one step: it is local to the
         * supervisor but for the clock, and note_restart lets the clock
         * move within the call as well. */
        supq ? kind, reason ->
        stop = 0;
        need = 0;
        if
        :: kind == M_EXIT_CHILD ->
            /* sup_child_exited */
            was = cstate;
            cstate = C_DOWN;
            if
            :: was == C_STOPPING -> skip        /* the exit it asked for */
            :: was != C_STOPPING && (shutting || to_stop) -> to_stop = 0
            :: was != C_STOPPING && !(shutting || to_stop) ->
                need = N_EXIT                   /* a failure: note it */
            fi
        :: kind == M_EXIT_PARENT ->
            begin_shutdown(reason)
        :: kind == M_CONTINUE -> skip
        fi;
        /* The note of a failure (sup_child_exited, or a failed start in
         * sup_advance), then sup_advance's loop. */
        do
        :: need != 0 ->
            note_restart();
            if
            :: !ok -> begin_shutdown(R_MAX_RESTARTS); need = 0
            :: ok && need == N_EXIT ->
                to_start = 1;                   /* sup_plan_restart */
                need = 0
            :: ok && need == N_START ->
                /* Planned again; retry from a fresh message. */
                to_start = 1;
                supq ! M_CONTINUE, 0;
                need = 0;
                break
            fi
        :: need == 0 && cstate == C_STOPPING -> break     /* one at a time */
        :: need == 0 && cstate != C_STOPPING && to_stop && cstate == C_RUNNING ->
            /* sup_begin_stop: SHUTDOWN to the child. */
            cstate = C_STOPPING;
            to_stop = 0;
            stop_req = 1;
            break
        :: need == 0 && cstate != C_STOPPING &&
           !(to_stop && cstate == C_RUNNING) ->
            to_stop = 0;
            if
            :: shutting -> stop = 1; break      /* fdn_stop(exit_reason) */
            :: else -> skip
            fi;
            if
            :: to_start ->
                to_start = 0;
                assert(!shutting);              /* (c) */
                if
                :: fails_left > 0 ->            /* its init fails */
                    fails_left--;
                    need = N_START              /* one more restart */
                :: cstate = C_RUNNING;          /* sup_start_child */
                   stop_req = 0;
                   child_alive = 1;
                   break
                fi
            :: else -> break
            fi
        od;
        kind = 0; reason = 0; was = 0; ok = 0; expect = 0; t = 0;
        if
        :: stop -> break
        :: else -> skip
        fi
       }
    od;
    /* fdn_stop(ctx, exit_reason): the supervisor exits. */
    assert(!child_alive);                               /* (d) */
    assert(exit_reason == (refused -> R_MAX_RESTARTS : R_SHUTDOWN));
    sup_reason = exit_reason;
    sup_done = 1
}

/* (e) the end state. */
proctype checker()
{
    timeout ->
    assert(sup_done || (child_alive && len(supq) == 0));
    assert(!sup_done || !child_alive)
}

init
{
    atomic {
        if
        :: N = 0
        :: N = 1
        :: N = 2
        :: N = 3
        fi;
        assert(N <= NMAX);
        if
        :: P = 1
        :: P = 2
        :: P = 3
        :: P = 4
        fi;
        assert(P <= PMAX);
        if
        :: N >= 2 -> CAPLIM = 1
        :: N >= 3 -> CAPLIM = 2
        :: CAPLIM = 16
        fi;
        run supervisor();
        run child();
        run parent();
        run checker()
    }
}
