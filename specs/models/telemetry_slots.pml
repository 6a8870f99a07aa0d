/*
 * telemetry_slots.pml — the slot protocol of src/telemetry/slots.c and the
 * owner-only add of src/telemetry/record.c (TEL-I1, TEL-S1, TEL-F3).
 *
 * NSLOTS exclusive slots and one shared slot; NTHREADS threads, each of
 * which claims a slot (an exclusive one by CAS on its flag, else the
 * shared one), adds 1 to its slot's cell ADDS times — owners with a
 * separate load and store, shared-slot users with an atomic add — and
 * exits, giving an exclusive slot back (store 0 to the flag).  Threads run
 * in ROUNDS waves, so a slot passes from an exited thread to a new one.  A
 * reader sums the cells twice while all this runs.
 *
 * Properties:
 *   - at most one owner per exclusive slot at any time (owners[s] <= 1);
 *   - two sums by the reader never go down;
 *   - when every thread is done, the cells sum to NTHREADS * ROUNDS * ADDS
 *     (no add lost, including over a hand-over).
 * Spin's interleaving semantics are sequentially consistent; the C code's
 * release store (give back) and acquire CAS (claim) are what make the
 * hand-over behave so on weaker hardware (see slots.c).
 *
 * spin-config:
 * spin-config: -DNSLOTS=2 -DNTHREADS=3 -DADDS=1 -DROUNDS=1
 */
#ifndef NSLOTS
#define NSLOTS 1
#endif
#ifndef NTHREADS
#define NTHREADS 2
#endif
#ifndef ADDS
#define ADDS 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif

byte flag[NSLOTS];
byte owners[NSLOTS];
byte cell[NSLOTS + 1];
byte done = 0;

proctype worker()
{
    byte r = 0;
    byte s, i, v;
    do
    :: r < ROUNDS ->
        /* Claim: scan the flags; CAS 0 -> 1 wins the slot. */
        s = 0;
        do
        :: s < NSLOTS ->
#ifdef BROKEN_PLAIN_CLAIM
            /* Broken: test, then set, as two steps. */
            if
            :: flag[s] == 0 -> flag[s] = 1; break
            :: else -> s++
            fi
#else
            atomic {
                if
                :: flag[s] == 0 -> flag[s] = 1; break
                :: else -> s++
                fi
            }
#endif
        :: else -> break
        od;
        if
        :: s < NSLOTS ->
            owners[s]++;
            assert(owners[s] <= 1)
        :: else -> skip
        fi;
        i = 0;
        do
        :: i < ADDS ->
            if
            :: s < NSLOTS ->
                /* Owner: plain load, then store. */
                v = cell[s];
                cell[s] = v + 1
            :: else ->
                /* Shared slot: an atomic read-modify-write. */
                atomic { cell[NSLOTS] = cell[NSLOTS] + 1 }
            fi;
            i++
        :: else -> break
        od;
        /* Thread exit: give the slot back. */
        if
        :: s < NSLOTS -> owners[s]--; flag[s] = 0
        :: else -> skip
        fi;
        r++
    :: else -> break
    od;
    atomic { done++ }
}

proctype reader()
{
    byte k, a = 0, b = 0;
    k = 0;
    do
    :: k <= NSLOTS -> a = a + cell[k]; k++
    :: else -> break
    od;
    k = 0;
    do
    :: k <= NSLOTS -> b = b + cell[k]; k++
    :: else -> break
    od;
    assert(b >= a)
}

init
{
    byte n = 0;
    atomic {
        do
        :: n < NTHREADS -> run worker(); n++
        :: else -> break
        od;
        run reader()
    }
    done == NTHREADS;
    byte k = 0, total = 0;
    do
    :: k <= NSLOTS -> total = total + cell[k]; k++
    :: else -> break
    od;
    assert(total == NTHREADS * ROUNDS * ADDS)
}
