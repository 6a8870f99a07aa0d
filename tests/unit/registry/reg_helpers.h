/*
 * reg_helpers.h — shared fixtures for the registry tests: a runtime on a
 * counting allocator, idle owner processes, and bounded polling.
 */
#ifndef FDN_TESTS_REG_HELPERS_H
#define FDN_TESTS_REG_HELPERS_H

#include <foundation/registry.h>
#include <foundation/runtime.h>

#include <criterion/criterion.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Polls cond every millisecond for up to 10 seconds; true if it held. */
#define REG_POLL_UNTIL(cond)                                                 \
    ({                                                                       \
        bool reg_ok_ = false;                                                \
        for (int reg_i_ = 0; reg_i_ < 10000; reg_i_++) {                     \
            if (cond) {                                                      \
                reg_ok_ = true;                                              \
                break;                                                       \
            }                                                                \
            struct timespec reg_ts_ = {0, 1000000};                          \
            nanosleep(&reg_ts_, NULL);                                       \
        }                                                                    \
        reg_ok_;                                                             \
    })

/* An owner that ignores every message. */
static inline fdn_next_t reg_idle_handle(fdn_ctx_t *ctx, void *state,
                                         const fdn_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return FDN_CONTINUE;
}

static const fdn_behaviour_t reg_idle_behaviour = {
    .init = NULL,
    .handle = reg_idle_handle,
    .terminate = NULL,
    .name = "reg-idle",
};

typedef struct reg_fixture {
    fdn_failing_allocator_t *fa; /* counts live allocations */
    fdn_runtime_t *rt;
    fdn_registry_t *reg;
} reg_fixture_t;

static inline void reg_fixture_up(reg_fixture_t *fx, unsigned schedulers)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fx->fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = schedulers;
    o.allocator = fdn_failing_allocator_get(fx->fa);
    cr_assert_eq(fdn_runtime_create(&o, &fx->rt), FDN_OK);
    cr_assert_eq(fdn_registry_create(fx->rt, NULL, &fx->reg), FDN_OK);
}

/* Destroys everything and checks nothing is left. */
static inline void reg_fixture_down(reg_fixture_t *fx)
{
    fdn_registry_destroy(fx->reg);
    fx->reg = NULL;
    fdn_runtime_destroy(fx->rt);
    fx->rt = NULL;
    cr_expect_eq(fdn_failing_allocator_live(fx->fa), 0,
                 "live allocations after destroy: %lld",
                 (long long)fdn_failing_allocator_live(fx->fa));
    fdn_failing_allocator_destroy(fx->fa);
    fx->fa = NULL;
}

static inline fdn_pid_t reg_spawn_idle(fdn_runtime_t *rt)
{
    fdn_pid_t pid = FDN_PID_NONE;
    cr_assert_eq(fdn_spawn(rt, NULL, &reg_idle_behaviour, NULL, NULL, &pid),
                 FDN_OK);
    cr_assert_neq(pid, FDN_PID_NONE);
    return pid;
}

/* Kills pid and waits (bounded) until its death has completed. */
static inline void reg_kill(fdn_runtime_t *rt, fdn_pid_t pid)
{
    cr_assert_eq(fdn_exit(rt, NULL, pid, FDN_REASON_KILL), FDN_OK);
    cr_assert(REG_POLL_UNTIL(!fdn_alive(rt, pid)), "pid did not die");
}

/* A seed from FDN_SEED, or from the clock; printed so a run can replay. */
static inline unsigned long long reg_seed(const char *test)
{
    const char *env = getenv("FDN_SEED");
    unsigned long long seed;
    if (env != NULL && env[0] != '\0') {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (unsigned long long)ts.tv_nsec ^
               ((unsigned long long)ts.tv_sec << 20);
    }
    fprintf(stderr, "%s: FDN_SEED=%llu\n", test, seed);
    return seed;
}

/*
 * For a reader racing a writer thread: true while the reader should go on,
 * i.e. until it has done min_rounds and the writer has made min_writes
 * (or 60 s have passed since *t0, set on the first call).  Yields while the
 * writer lags, so that under valgrind, which runs one thread at a time,
 * the writer gets its turns.  Relaxed: a progress count only.
 */
static inline bool reg_race_goes_on(int rounds, int min_rounds,
                                    const _Atomic uint64_t *writes,
                                    uint64_t min_writes,
                                    struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (t0->tv_sec == 0 && t0->tv_nsec == 0)
        *t0 = now;
    bool lagging =
        atomic_load_explicit(writes, memory_order_relaxed) < min_writes;
    if (lagging)
        sched_yield();
    if (rounds < min_rounds)
        return true;
    return lagging && now.tv_sec - t0->tv_sec < 60;
}

/* xorshift64*: a small deterministic generator for replayable tests. */
static inline unsigned long long reg_rand(unsigned long long *s)
{
    unsigned long long x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

#endif /* FDN_TESTS_REG_HELPERS_H */
