/*
 * intensity.c — restart intensity at its boundaries, on a virtual clock:
 * N restarts within the period are allowed and the (N+1)-th trips; a
 * restart exactly one period after an earlier one no longer counts it,
 * one nanosecond less still does; the restart record grows past its
 * initial size without losing count.
 */
#include "sup_test.h"

/* Restarts child "a" of sup (one_for_one) once, at the current time. */
static void restart_once(fdn_pid_t sup, uint64_t restarts_after)
{
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, restarts_after, 1));
}

/*
 * Intensity 2 in 1 s: restarts at t = 0 and t = 0.5 s, then a third at
 * t = at_ns.  Returns true if the supervisor gave up.
 */
static bool third_restart_trips(uint64_t at_ns, kid_t *k)
{
    kid_reset(k, 0, false);
    fdn_child_spec_t c = spec("a", k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 2, FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    fdn_ref_t ref = watch(sup);
    restart_once(sup, 1);
    advance(FDN_NS_PER_S / 2);
    restart_once(sup, 2);
    advance(at_ns - FDN_NS_PER_S / 2);
    crash(which(sup, "a"), FDN_REASON_USER);
    /* Either it restarts (3 restarts, 1 child) or it exits. */
    WAIT_FOR(!fdn_alive(g_rt, sup) || stats_are_or_gone(sup, 3, 1));
    if (!fdn_alive(g_rt, sup)) {
        cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
        cr_assert_eq(kid_starts(k), 3, "the third failure is not restarted");
        return true;
    }
    cr_assert_eq(kid_starts(k), 4);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(await_down(ref), FDN_REASON_SHUTDOWN);
    return false;
}

/* Checks: SUP-C2 */
Test(supervisor_intensity, restart_one_ns_inside_the_period_trips)
{
    setup_rt(true);
    kid_t k;
    /* The first restart was 1 s - 1 ns ago: still inside the period, so
     * this would be the third within it. */
    cr_assert(third_restart_trips(FDN_NS_PER_S - 1, &k));
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor_intensity, restart_exactly_one_period_later_is_allowed)
{
    setup_rt(true);
    kid_t k;
    /* The first restart was exactly 1 s ago: out of the window (t - s <
     * period counts), so only the one at 0.5 s counts. */
    cr_assert_not(third_restart_trips(FDN_NS_PER_S, &k));
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor_intensity, all_restarts_at_one_instant_count)
{
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    /* 40 is past the restart record's initial 16 entries: it grows. */
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 40, 60 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    fdn_ref_t ref = watch(sup);
    for (uint64_t i = 1; i <= 40; i++)
        restart_once(sup, i);
    cr_assert(fdn_alive(g_rt, sup));
    crash(which(sup, "a"), FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k), 41);
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor_intensity, window_slides_restart_by_restart)
{
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 3, 10 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    fdn_ref_t ref = watch(sup);
    /* Restarts at 0, 4, 8 s; at 10 s the one at 0 has just left the
     * window ((10 - 10, 10] excludes 0), so 10 s is allowed; at
     * 14 s - 1 ns the one at 4 s is still in: 4, 8, 10 and this = 4. */
    restart_once(sup, 1);
    advance(4 * FDN_NS_PER_S);
    restart_once(sup, 2);
    advance(4 * FDN_NS_PER_S);
    restart_once(sup, 3);
    advance(2 * FDN_NS_PER_S);
    restart_once(sup, 4);
    advance(4 * FDN_NS_PER_S - 1);
    crash(which(sup, "a"), FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k), 5);
    teardown_rt();
}
