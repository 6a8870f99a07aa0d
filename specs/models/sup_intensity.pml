/*
 * sup_intensity.pml — the supervisor's restart-intensity record
 * (src/runtime/supervisor.c, sup_note_restart) checked against the
 * definition in specs/supervisor.md (SUP-C2), exhaustively by spin
 * (scripts/check_models.sh).
 *
 * The definition.  With intensity N and period P, a restart at time t is
 * allowed iff fewer than N of the restarts made before it happened at a
 * time s with t - s < P: the window is (t - P, t], so a restart exactly P
 * after an earlier one no longer counts that one.  A restart that is not
 * allowed is not made: the supervisor exits (MAX_RESTARTS), so the run
 * ends there.
 *
 * The implementation keeps the times of the restarts still in the window
 * in a ring buffer (stamps, head, count) of capacity cap, which starts at
 * min(N, INITCAP) (16 in the code; 1 or 2 here, so that small models grow
 * it) and grows to (cap > N/2 ? N : 2 * cap) when full, copying the
 * stamps oldest first to index 0.  On each restart it first forgets the
 * stamps a full period old or older, then refuses if N remain, else
 * records the time.  If the ring cannot grow (out of memory, -DALLOC_FAIL)
 * the restart is refused too: the safe side.
 *
 * What is checked, at every restart attempt of every run: the
 * implementation allows the restart iff the definition does (assertion
 * "exact"), except after a failed allocation, when it refuses although the
 * definition might allow it; it never allows one that the definition
 * refuses (assertion "safe").
 *
 * The environment.  EVENTS restart attempts (each a child failure); before
 * each, time moves forward by any amount from 0 to MAXSTEP (steps of 0
 * put several restarts at one instant; steps of exactly P hit the
 * boundary).  Times are small integers; the code's uint64 nanoseconds
 * never wrap within a runtime's life.
 *
 * Known-broken variants (must fail): sup_intensity_broken_boundary.pml
 * forgets only stamps strictly older than P (counts the boundary inside);
 * sup_intensity_broken_grow.pml copies the ring without its head offset.
 *
 * spin-config:
 * spin-config: -DN=1
 * spin-config: -DN=2 -DP=2
 * spin-config: -DN=4 -DP=4 -DEVENTS=6
 * spin-config: -DN=3 -DINITCAP=2
 * spin-config: -DN=3 -DALLOC_FAIL
 */

#ifndef N
#define N 3          /* intensity (at least 1; 0 refuses every restart) */
#endif
#ifndef P
#define P 3          /* period */
#endif
#ifndef EVENTS
#define EVENTS 7     /* restart attempts */
#endif
#ifndef MAXSTEP
#define MAXSTEP 4    /* time advance before an attempt: 0..MAXSTEP */
#endif
#ifndef INITCAP
#define INITCAP 1    /* the ring's first capacity (16 in the code) */
#endif

byte now = 0;

/* The implementation: sup_t's stamps, stamp_cap, stamp_head, stamp_count. */
byte stamps[N];
byte cap;
byte head;
byte count;

/* The definition: every restart made so far. */
byte hist[EVENTS];
byte nhist = 0;

bool ref_ok;
bool impl_ok;
bool alloc_failed;

active proctype supervisor()
{
    byte e = 0;
    byte i;
    byte inwin;
    byte step;
    byte newcap;
    byte tmp[N];

    cap = (N < INITCAP -> N : INITCAP);
    do
    :: e == EVENTS -> break
    :: else ->
        select (step : 0 .. MAXSTEP);
        now = now + step;

        /* The definition: restarts s with now - s < P.  The deterministic
         * steps are d_steps: only the choices (time, allocation) branch. */
        d_step {
            inwin = 0;
            i = 0;
            do
            :: i == nhist -> break
            :: else ->
                if
                :: now - hist[i] < P -> inwin++
                :: else -> skip
                fi;
                i++
            od;
            ref_ok = (inwin < N);

            /* sup_note_restart: forget the stamps a period old or older. */
            do
#ifdef BROKEN_BOUNDARY
            :: count > 0 && now - stamps[head] > P ->
#else
            :: count > 0 && now - stamps[head] >= P ->
#endif
                head = (head + 1) % cap;
                count--
            :: else -> break
            od;
            alloc_failed = false
        }
        /* Refuse, or grow (which may fail), then record. */
        if
        :: count >= N -> impl_ok = false
        :: else ->
            if
            :: count == cap ->
                if
                :: true ->
                    d_step {
                        newcap = (cap > N / 2 -> N : cap * 2);
                        i = 0;
                        do
                        :: i == count -> break
                        :: else ->
#ifdef BROKEN_GROW
                            tmp[i] = stamps[i];
#else
                            tmp[i] = stamps[(head + i) % cap];
#endif
                            i++
                        od;
                        i = 0;
                        do
                        :: i == count -> break
                        :: else -> stamps[i] = tmp[i]; tmp[i] = 0; i++
                        od;
                        head = 0;
                        cap = newcap
                    }
#ifdef ALLOC_FAIL
                :: true -> alloc_failed = true
#endif
                fi
            :: else -> skip
            fi;
            if
            :: alloc_failed -> impl_ok = false
            :: else ->
                d_step {
                    stamps[(head + count) % cap] = now;
                    count++;
                    impl_ok = true
                }
            fi
        fi;

        d_step {
            assert(!impl_ok || ref_ok);                 /* safe */
            assert(alloc_failed || impl_ok == ref_ok);  /* exact */
            if
            :: impl_ok -> hist[nhist] = now; nhist++
            :: else -> skip
            fi;
            /* Scratch values do not matter between attempts: clearing
             * them keeps equal states equal. */
            i = 0; inwin = 0; step = 0; newcap = 0
        };
        if
        :: !impl_ok -> break /* the supervisor exits with MAX_RESTARTS */
        :: else -> skip
        fi;
        e++
    od
}
