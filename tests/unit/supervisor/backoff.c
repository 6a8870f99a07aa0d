/*
 * backoff.c — restart backoff on a virtual clock: off by default; the k-th
 * consecutive restart waits min(max, min * 2^(k-1)) scaled by the jitter
 * into [1/2, 1) (the header's formula, computed here independently), not
 * a nanosecond less; the streak goes back to 1 once the child stayed up
 * for the cap; the restart counts towards the intensity when it happens;
 * a waiting child has no pid and holds back later children under
 * rest_for_one; terminate_child cancels a waiting restart.
 */
#include "sup_test.h"

/* A jitter source that plays back a script. */
typedef struct script {
    uint32_t r[8];
    atomic_int calls; /* how many numbers were drawn */
} script_t;

static uint32_t scripted(void *arg)
{
    script_t *s = arg;
    /* Relaxed: the count is read by the test only after a synchronous
     * call to the supervisor that draws, which orders it. */
    int i = atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    return s->r[i % 8];
}

static void script_init(script_t *s, const uint32_t r[8])
{
    memcpy(s->r, r, sizeof s->r);
    atomic_store_explicit(&s->calls, 0, memory_order_relaxed);
}

/* The delay of the k-th consecutive restart for jitter r, straight from
 * the header's formula (a 128-bit product, unlike the library). */
static uint64_t expected_delay(uint64_t lo, uint64_t hi, uint32_t k,
                               uint32_t r)
{
    uint64_t d = lo;
    for (uint32_t i = 1; i < k && d < hi; i++)
        d *= 2;
    if (d > hi)
        d = hi;
    uint64_t half = d / 2;
    return d - half + (uint64_t)(((unsigned __int128)half * r) >> 32);
}

static fdn_supervisor_opts_t backoff_opts(fdn_strategy_t strategy,
                                          const fdn_child_spec_t *c, size_t n,
                                          uint64_t lo, uint64_t hi,
                                          script_t *s)
{
    fdn_supervisor_opts_t o =
        sup_opts(strategy, c, n, 100, 3600 * FDN_NS_PER_S);
    o.backoff_min_ns = lo;
    o.backoff_max_ns = hi;
    o.backoff_jitter = s != NULL ? scripted : NULL;
    o.backoff_jitter_arg = s;
    return o;
}

/*
 * Crashes child id (kid k) and checks that its restart waits exactly
 * delay: not restarted at delay - 1 (no pid, `restarts` unchanged), then
 * restarted at delay.
 */
static void crash_and_wait(fdn_pid_t sup, const char *id, kid_t *k,
                           uint64_t delay, uint64_t restarts)
{
    int starts = kid_starts(k);
    uint32_t active = counts(sup).active;
    crash(which(sup, id), FDN_REASON_USER);
    /* Once it is down the supervisor has set the delay's timer. */
    WAIT_FOR(counts(sup).active == active - 1);
    cr_assert_eq(listed_pid(sup, id, -1), FDN_PID_NONE);
    advance(delay - 1);
    fdn_supervisor_stats_t st = stats(sup);
    cr_assert_eq(st.restarts, restarts, "not yet counted");
    cr_assert_eq(st.active, active - 1, "not restarted 1 ns early");
    cr_assert_eq(kid_starts(k), starts);
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, id, &none), FDN_ENOENT);
    advance(1);
    WAIT_FOR(kid_starts(k) == starts + 1);
    WAIT_FOR(stats_are(sup, restarts + 1, active));
    cr_assert_eq(listed_pid(sup, id, -1), kid_pid(k));
}

/* Checks: SUP-C8 */
Test(supervisor_backoff, off_by_default)
{
    setup_rt(true);
    fdn_supervisor_opts_t d;
    fdn_supervisor_opts_init(&d);
    cr_assert_eq(d.backoff_min_ns, 0);
    cr_assert_eq(d.backoff_max_ns, 0);
    cr_assert_null(d.backoff_jitter);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = sup_opts(FDN_ONE_FOR_ONE, &c, 1, 10,
                                       60 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    for (int i = 1; i <= 3; i++) {
        crash(which(sup, "a"), FDN_REASON_USER);
        WAIT_FOR(kid_starts(&k) == i + 1); /* the clock never moves */
    }
    cr_assert_eq(fdn_clock_now(g_clock), 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8 */
Test(supervisor_backoff, delays_double_up_to_the_cap_with_jitter)
{
    setup_rt(true);
    const uint64_t lo = 100 * FDN_NS_PER_MS, hi = FDN_NS_PER_S;
    static const uint32_t r[8] = {0,          UINT32_C(1) << 31,
                                  UINT32_MAX, 12345,
                                  0,          UINT32_MAX,
                                  7,          UINT32_C(3000000000)};
    script_t s;
    script_init(&s, r);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1, lo, hi, &s);
    fdn_pid_t sup = start_opts(&o);
    /* k = 1..7: 100, 200, 400, 800, then the 1 s cap, each scaled. */
    for (uint32_t i = 0; i < 7; i++) {
        uint64_t delay = expected_delay(lo, hi, i + 1, r[i]);
        cr_log_info("restart %u: delay %llu ns", i + 1,
                    (unsigned long long)delay);
        crash_and_wait(sup, "a", &k, delay, i);
    }
    cr_assert_eq(atomic_load_explicit(&s.calls, memory_order_relaxed), 7,
                 "one number per restart");
    cr_assert_eq(expected_delay(lo, hi, 1, 0), 50 * FDN_NS_PER_MS);
    cr_assert_eq(expected_delay(lo, hi, 2, UINT32_C(1) << 31),
                 150 * FDN_NS_PER_MS);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8 */
Test(supervisor_backoff, streak_resets_after_staying_up_for_the_cap)
{
    setup_rt(true);
    const uint64_t lo = 100 * FDN_NS_PER_MS, hi = FDN_NS_PER_S;
    static const uint32_t zero[8] = {0};
    script_t s;
    script_init(&s, zero);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1, lo, hi, &s);
    fdn_pid_t sup = start_opts(&o);
    /* It was started at 0 and crashes at 0: k = 1. */
    crash_and_wait(sup, "a", &k, 50 * FDN_NS_PER_MS, 0);
    crash_and_wait(sup, "a", &k, 100 * FDN_NS_PER_MS, 1);
    /* Up for 1 ns less than the cap: the streak goes on (k = 3). */
    advance(hi - 1);
    crash_and_wait(sup, "a", &k, 200 * FDN_NS_PER_MS, 2);
    /* Up for the whole cap: back to k = 1. */
    advance(hi);
    crash_and_wait(sup, "a", &k, 50 * FDN_NS_PER_MS, 3);
    crash_and_wait(sup, "a", &k, 100 * FDN_NS_PER_MS, 4);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8, SUP-C2 */
Test(supervisor_backoff, intensity_counts_the_restart_when_it_happens)
{
    setup_rt(true);
    static const uint32_t zero[8] = {0};
    script_t s;
    script_init(&s, zero);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1,
                                           FDN_NS_PER_S, FDN_NS_PER_S, &s);
    o.intensity = 1;
    o.period_ns = 10 * FDN_NS_PER_S;
    fdn_pid_t sup = start_opts(&o);
    fdn_ref_t ref = watch(sup);
    /* Delays: 0.5 s each (d = 1 s, jitter 1/2). */
    crash_and_wait(sup, "a", &k, FDN_NS_PER_S / 2, 0);
    /* The second failure is not refused when it happens... */
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(counts(sup).active == 0);
    advance(FDN_NS_PER_S / 2 - 1);
    cr_assert(fdn_alive(g_rt, sup));
    cr_assert_eq(stats(sup).restarts, 1);
    /* ...but when its restart would be made, the second within 10 s. */
    advance(1);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k), 2);
    teardown_rt();
}

/* Checks: SUP-C8, SUP-C1 */
Test(supervisor_backoff, waiting_child_holds_back_later_children)
{
    setup_rt(true);
    static const uint32_t zero[8] = {0};
    script_t s;
    script_init(&s, zero);
    kid_t k[3];
    fdn_child_spec_t c[3];
    static const char *const ids[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        kid_reset(&k[i], i, false);
        c[i] = spec(ids[i], &k[i], FDN_PERMANENT, FDN_NS_PER_S);
    }
    fdn_supervisor_opts_t o = backoff_opts(FDN_REST_FOR_ONE, c, 3,
                                           10 * FDN_NS_PER_MS, FDN_NS_PER_S,
                                           &s);
    fdn_pid_t sup = start_opts(&o);
    fdn_pid_t a = which(sup, "a");
    crash(which(sup, "b"), FDN_REASON_USER);
    /* b waits 5 ms; c was stopped and waits behind it. */
    WAIT_FOR(counts(sup).active == 1);
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(listed_pid(sup, "b", 1), FDN_PID_NONE);
    cr_assert_eq(listed_pid(sup, "c", 2), FDN_PID_NONE);
    advance(5 * FDN_NS_PER_MS - 1);
    cr_assert_eq(counts(sup).active, 1);
    cr_assert_eq(kid_starts(&k[2]), 1);
    advance(1);
    WAIT_FOR(stats_are(sup, 1, 3));
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(kid_starts(&k[2]), 2);
    cr_assert_gt(kid_start_seq(&k[2]), kid_start_seq(&k[1]), "c after b");
    cr_assert_eq(which(sup, "a"), a, "a untouched");
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8 */
Test(supervisor_backoff, one_for_one_children_wait_independently)
{
    setup_rt(true);
    static const uint32_t zero[8] = {0};
    script_t s;
    script_init(&s, zero);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, c, 2,
                                           10 * FDN_NS_PER_MS, FDN_NS_PER_S,
                                           &s);
    fdn_pid_t sup = start_opts(&o);
    crash_and_wait(sup, "a", &k[0], 5 * FDN_NS_PER_MS, 0);
    crash_and_wait(sup, "a", &k[0], 10 * FDN_NS_PER_MS, 1);
    /* a's third restart waits 20 ms; b's first, 5 ms. */
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(counts(sup).active == 1);
    crash_and_wait(sup, "b", &k[1], 5 * FDN_NS_PER_MS, 2);
    cr_assert_eq(kid_starts(&k[0]), 3, "a still waits");
    advance(15 * FDN_NS_PER_MS - 1);
    cr_assert_eq(counts(sup).active, 1);
    advance(1);
    WAIT_FOR(kid_starts(&k[0]) == 4);
    WAIT_FOR(stats_are(sup, 4, 2));
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8, SUP-C5 */
Test(supervisor_backoff, terminate_child_cancels_a_waiting_restart)
{
    setup_rt(true);
    static const uint32_t zero[8] = {0};
    script_t s;
    script_init(&s, zero);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1,
                                           FDN_NS_PER_S, FDN_NS_PER_S, &s);
    fdn_pid_t sup = start_opts(&o);
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(counts(sup).active == 0);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "a", NULL),
                 FDN_EBUSY, "a restart is pending");
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "a"), FDN_EBUSY);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "a"), FDN_OK);
    advance(2 * FDN_NS_PER_S);
    fdn_supervisor_stats_t st = stats(sup);
    cr_assert_eq(st.active, 0, "the restart was cancelled");
    cr_assert_eq(st.restarts, 0);
    cr_assert_eq(kid_starts(&k), 1);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "a", NULL), FDN_OK);
    cr_assert_eq(kid_starts(&k), 2);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8 */
Test(supervisor_backoff, built_in_jitter_stays_in_half_to_full)
{
    setup_rt(true);
    const uint64_t d = 100 * FDN_NS_PER_MS;
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1, d, d, NULL);
    fdn_pid_t sup = start_opts(&o);
    for (int i = 1; i <= 5; i++) {
        crash(which(sup, "a"), FDN_REASON_USER);
        WAIT_FOR(counts(sup).active == 0);
        advance(d / 2 - 1);
        cr_assert_eq(counts(sup).active, 0, "never under d/2");
        advance(d / 2); /* now d - 1 after the failure */
        WAIT_FOR(kid_starts(&k) == i + 1);
    }
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C8, SUP-C4 */
Test(supervisor_backoff, bad_backoff_options_are_refused)
{
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o = backoff_opts(FDN_ONE_FOR_ONE, &c, 1,
                                           FDN_NS_PER_S, FDN_NS_PER_S - 1,
                                           NULL);
    fdn_pid_t sup;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "max < min");
    o.backoff_max_ns = 0;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "no max");
    cr_assert_eq(kid_starts(&k), 0);
    /* Off: max is ignored.  A 0.1 caller (smaller size) gets it off. */
    o.backoff_min_ns = 0;
    o.backoff_max_ns = 5;
    sup = start_opts(&o);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    o.backoff_min_ns = FDN_NS_PER_S;
    o.backoff_max_ns = 0;
    o.size = offsetof(fdn_supervisor_opts_t, backoff_min_ns);
    sup = start_opts(&o);
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(kid_starts(&k) == 3); /* no delay */
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    o.size = offsetof(fdn_supervisor_opts_t, backoff_min_ns) - 1;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "smaller than 0.1's");
    o.size = sizeof o + 8;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "larger than this version's");
    teardown_rt();
}
