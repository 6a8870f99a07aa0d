/*
 * death.h — a white-box wait for runtime tests: until a process's death is
 * complete, not only begun.
 *
 * fdn_alive turns false in the middle of a death, before its DOWN messages
 * and link exit signals are sent (RT-S11).  fdn__die exchanges the slot's
 * run state to DEAD after every one of them was enqueued, so once it reads
 * DEAD those signals sit in their receivers' mailboxes, ahead of anything
 * the test sends afterwards.  The caller must not spawn while it waits, so
 * the slot is not reused meanwhile.
 */
#ifndef FDN_TEST_DEATH_H
#define FDN_TEST_DEATH_H

#include "runtime/internal.h"

#include <criterion/criterion.h>
#include <time.h>

static inline void fdn_test_wait_death_complete(fdn_runtime_t *rt,
                                                fdn_pid_t pid)
{
    struct fdn__proc *p = fdn__table_slot(rt, pid);
    cr_assert_not_null(p);
    int run = FDN__RUNNING;
    for (int i = 0; i < 10000; i++) {
        /* Acquire: pairs with the acq_rel exchange to DEAD in fdn__die,
         * which follows the enqueues of the death's signals. */
        run = atomic_load_explicit(&p->run, memory_order_acquire);
        if ((run & ~FDN__STALE) == FDN__DEAD)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(run & ~FDN__STALE, FDN__DEAD, "death of %llx did not complete",
                 (unsigned long long)pid);
    cr_assert(!fdn_alive(rt, pid));
}

#endif /* FDN_TEST_DEATH_H */
