/*
 * telemetry/slots.c — the slot (shard index) each recording thread owns.
 *
 * Design.  Sharded counters lose nothing only if no two threads write one
 * cell with a plain load and store.  So a slot is owned: a thread claims a
 * free exclusive slot on its first recording (a CAS of its flag from 0 to
 * 1) and writes only its own slot's cells, with relaxed loads and stores;
 * readers sum all slots with relaxed loads.  When every exclusive slot is
 * taken, the thread uses the shared slot, whose cells take atomic
 * read-modify-writes.  A pthread key's destructor gives the slot back when
 * the thread exits.  A thread on the shared slot does not stay there for
 * good: its thread-local slot stays 0, so each recording comes here, and
 * every SHARED_RETRY-th one scans for an exclusive slot again (a burst of
 * threads that has ended leaves the long-lived ones on the fast path).
 * Threads with an exclusive slot never come here after their claim.
 *
 * Invariants (TEL-I1).  An exclusive slot's flag is 1 exactly while one
 * thread owns it.  Hand-over: the old owner's last cell stores precede its
 * release store of the flag (0) in program order; the new owner's claim is
 * an acquire CAS reading that 0, so those stores happen before its first
 * plain load of any cell of the slot: it continues from the old owner's
 * value, and no add is lost (specs/models/telemetry_slots.pml checks the
 * protocol).
 *
 * Progress: claiming scans at most FDN__TEL_SLOTS_MAX flags once and never
 * waits (a thread that loses every race takes the shared slot).  Nothing is
 * allocated: the thread-local words are static TLS, the key is created once
 * by fdn__tel_slots_init.
 */
#include "telemetry/internal.h"

#include <unistd.h>

unsigned fdn__tel_nslots;
_Thread_local unsigned fdn__tel_my_slot;

static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
/* 1 while a thread owns the slot.  Each flag on its own cache line: the
 * claims of threads starting together should not fight over one line. */
static struct {
    _Atomic uint32_t owned;
    char pad[60];
} slot_flag[FDN__TEL_SLOTS_MAX];

static void slot_release(void *arg)
{
    /* arg is the slot + 1 (pthread keys skip NULL values). */
    unsigned s = (unsigned)(uintptr_t)arg - 1;
    if (s < fdn__tel_nslots) {
        /* Release: pairs with the acquire CAS in fdn__tel_slot_claim of
         * the next owner, so our cell stores happen before its loads. */
        atomic_store_explicit(&slot_flag[s].owned, 0, memory_order_release);
    }
    fdn__tel_my_slot = 0;
}

static void slots_setup(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    long n = ncpu * 4;
    if (n < FDN__TEL_SLOTS_MIN)
        n = FDN__TEL_SLOTS_MIN;
    if (n > FDN__TEL_SLOTS_MAX)
        n = FDN__TEL_SLOTS_MAX;
    fdn__tel_nslots = (unsigned)n;
    if (pthread_key_create(&slot_key, slot_release) != 0)
        FDN_PANIC("telemetry: pthread_key_create failed");
}

void fdn__tel_slots_init(void)
{
    pthread_once(&slots_once, slots_setup);
}

/* Recordings on the shared slot between two scans for an exclusive one. */
enum { SHARED_RETRY = 1024 };
/* Recordings this thread makes on the shared slot before it scans again
 * (0: scan now). */
static _Thread_local unsigned shared_left;

unsigned fdn__tel_slot_claim(void)
{
    if (shared_left > 0) {
        /* On the shared slot; a scan ran, so init did. */
        shared_left--;
        return fdn__tel_nslots;
    }
    /* A hub exists before anything records, so init ran; calling it again
     * is cheap and keeps a stray early call safe. */
    fdn__tel_slots_init();
    unsigned n = fdn__tel_nslots;
    /* Start the scan at a spread-out point so that threads starting
     * together do not all race for slot 0. */
    unsigned start = (unsigned)(((uintptr_t)&fdn__tel_my_slot >> 6) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned s = (start + i) % n;
        uint32_t expect = 0;
        /* Relaxed pre-check avoids a CAS on a line someone owns. */
        if (atomic_load_explicit(&slot_flag[s].owned, memory_order_relaxed))
            continue;
        /* Acquire: pairs with the release store in slot_release of the
         * previous owner (see the file comment). */
        if (atomic_compare_exchange_strong_explicit(
                &slot_flag[s].owned, &expect, 1, memory_order_acquire,
                memory_order_relaxed)) {
            if (pthread_setspecific(slot_key, (void *)(uintptr_t)(s + 1)) !=
                0) {
                /* No destructor could give it back: do not keep it. */
                atomic_store_explicit(&slot_flag[s].owned, 0,
                                      memory_order_release);
                break;
            }
            fdn__tel_my_slot = s + 1;
            return s;
        }
    }
    /* The shared slot: no destructor needed, nothing to give back.  The
     * thread-local slot stays 0, so the next recordings come back here
     * (see the file comment). */
    shared_left = SHARED_RETRY - 1;
    return n;
}

unsigned fdn__tel_slots_in_use(void)
{
    unsigned used = 0;
    for (unsigned s = 0; s < fdn__tel_nslots; s++)
        used += atomic_load_explicit(&slot_flag[s].owned,
                                     memory_order_relaxed) != 0;
    return used;
}
