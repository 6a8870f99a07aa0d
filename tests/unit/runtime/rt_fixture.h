/*
 * rt_fixture.h — the common fixture of runtime unit tests: a runtime with
 * 2 schedulers on a failing allocator (to count what is left), optionally
 * a virtual clock, the test thread attached; bounded polling; process
 * info.  Include once per test file; the file's suite calls rt_up from its
 * .init and rt_down from its .fini.
 */
#ifndef FDN_TEST_RT_FIXTURE_H
#define FDN_TEST_RT_FIXTURE_H

#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <sched.h>
#include <string.h>

static fdn_failing_allocator_t *fa;
static fdn_clock_t *clk; /* NULL: the monotonic clock */
static fdn_runtime_t *rt;
static fdn_ctx_t *me;    /* the attached test thread; NULL once detached */

static void rt_up(bool is_virtual)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    clk = NULL;
    if (is_virtual)
        cr_assert_eq(fdn_clock_virtual_create(1000 * FDN_NS_PER_S, &clk),
                     FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
}

/* Detaches (if still attached), destroys, and checks nothing is left. */
static void rt_down(void)
{
    if (me != NULL)
        fdn_detach(me);
    me = NULL;
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

static inline uint64_t now_ns(void)
{
    return fdn_clock_now(fdn_clock_monotonic());
}

/* Bounded polling: fails the test after 10 s. */
#define WAIT_FOR(cond)                                                       \
    do {                                                                     \
        uint64_t wf_deadline = now_ns() + 10 * FDN_NS_PER_S;                 \
        while (!(cond)) {                                                    \
            cr_assert_lt(now_ns(), wf_deadline, "timed out: %s", #cond);     \
            sched_yield();                                                   \
        }                                                                    \
    } while (0)

static inline fdn_process_info_t info(fdn_pid_t pid)
{
    fdn_process_info_t i;
    memset(&i, 0, sizeof i);
    i.size = sizeof i;
    cr_assert_eq(fdn_process_info(rt, pid, &i), FDN_OK);
    return i;
}

#endif /* FDN_TEST_RT_FIXTURE_H */
