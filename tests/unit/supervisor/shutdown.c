/*
 * shutdown.c — how a child is stopped, on a virtual clock: BRUTAL kills at
 * once; a timeout sends SHUTDOWN and kills only a child still alive when
 * it expires (not a nanosecond before); INFINITY waits for as long as the
 * child takes; the default is BRUTAL for a worker and INFINITY for a
 * supervisor.
 */
#include "sup_test.h"

/* Starts one trapping kid "s" with the given shutdown (one_for_one). */
static fdn_pid_t start_stubborn(kid_t *k, uint64_t shutdown_ns)
{
    kid_reset(k, 0, true);
    fdn_child_spec_t c = spec("s", k, FDN_PERMANENT, shutdown_ns);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 3, 5 * FDN_NS_PER_S);
    return start_opts(&o);
}

/* Checks: SUP-C6 */
Test(supervisor_shutdown, brutal_kills_at_once)
{
    setup_rt(true);
    kid_t k;
    fdn_pid_t sup = start_stubborn(&k, FDN_SHUTDOWN_BRUTAL);
    /* terminate_child returns with the child dead, no time passing. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "s"), FDN_OK);
    cr_assert_eq(kid_terms(&k), 1);
    cr_assert_eq(kid_reason(&k), FDN_REASON_KILLED);
    cr_assert_eq(kid_exits(&k), 0, "no SHUTDOWN was sent first");
    cr_assert_eq(fdn_clock_now(g_clock), 0);
    /* The same when the supervisor shuts down. */
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "s", NULL), FDN_OK);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_terms(&k), 2);
    cr_assert_eq(kid_reason(&k), FDN_REASON_KILLED);
    teardown_rt();
}

/* Checks: SUP-C6, SUP-C3 */
Test(supervisor_shutdown, timeout_kills_only_when_it_expires)
{
    setup_rt(true);
    kid_t k;
    fdn_pid_t sup = start_stubborn(&k, FDN_NS_PER_S);
    fdn_pid_t child = which(sup, "s");
    fdn_ref_t ref = watch(sup);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, FDN_REASON_SHUTDOWN), FDN_OK);
    WAIT_FOR(kid_exits(&k) == 1); /* it got SHUTDOWN and ignores it */
    /* Handled after the stop began, so the kill timer is set by now. */
    cr_assert_eq(stats(sup).active, 1);
    advance(FDN_NS_PER_S - 1);
    cr_assert(answers_ping(child), "not killed a nanosecond early");
    cr_assert(fdn_alive(g_rt, sup));
    advance(1);
    cr_assert_eq(await_down(ref), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k), FDN_REASON_KILLED);
    cr_assert_eq(kid_terms(&k), 1);
    teardown_rt();
}

/* Checks: SUP-C6 */
Test(supervisor_shutdown, timeout_child_that_stops_in_time_is_not_killed)
{
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false); /* does not trap: SHUTDOWN ends it */
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, 10 * FDN_NS_PER_S);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 3, 5 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "a"), FDN_OK);
    cr_assert_eq(kid_reason(&k), FDN_REASON_SHUTDOWN);
    cr_assert_eq(fdn_clock_now(g_clock), 0, "no time had to pass");
    /* Its kill timer was cancelled: nothing fires later. */
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "a", NULL), FDN_OK);
    fdn_pid_t again = which(sup, "a");
    advance(20 * FDN_NS_PER_S);
    cr_assert(answers_ping(again));
    cr_assert_eq(kid_terms(&k), 1);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C6 */
Test(supervisor_shutdown, infinity_waits_for_as_long_as_it_takes)
{
    setup_rt(true);
    kid_t k;
    fdn_pid_t sup = start_stubborn(&k, FDN_SHUTDOWN_INFINITY);
    fdn_pid_t child = which(sup, "s");
    fdn_ref_t ref = watch(sup);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, FDN_REASON_SHUTDOWN), FDN_OK);
    WAIT_FOR(kid_exits(&k) == 1);
    cr_assert_eq(stats(sup).active, 1);
    advance(3600 * FDN_NS_PER_S);
    cr_assert(answers_ping(child), "an hour later, still not killed");
    cr_assert(fdn_alive(g_rt, sup));
    cr_assert_eq(kid_terms(&k), 0);
    /* It finishes in its own time; the supervisor then exits. */
    crash(child, FDN_REASON_SHUTDOWN);
    cr_assert_eq(await_down(ref), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_starts(&k), 1, "not restarted during shutdown");
    teardown_rt();
}

/* Checks: SUP-C6 */
Test(supervisor_shutdown, default_is_brutal_for_a_worker)
{
    setup_rt(true);
    kid_t k;
    fdn_pid_t sup = start_stubborn(&k, FDN_SHUTDOWN_DEFAULT);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k), FDN_REASON_KILLED);
    cr_assert_eq(kid_exits(&k), 0);
    teardown_rt();
}

/*
 * A supervisor child with the default shutdown is given as long as it
 * takes: its own stubborn child has a 10 s grace, and the sub-supervisor
 * is not killed meanwhile; it ends with SHUTDOWN once its child is dead.
 */
/* Checks: SUP-C6, SUP-C7 */
Test(supervisor_shutdown, default_is_infinity_for_a_supervisor)
{
    setup_rt(true);
    kid_t k[2];
    kid_reset(&k[0], 0, true);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t inner = spec("g", &k[0], FDN_PERMANENT,
                                  10 * FDN_NS_PER_S);
    fdn_supervisor_opts_t so =
        sup_opts(FDN_ONE_FOR_ONE, &inner, 1, 3, 5 * FDN_NS_PER_S);
    fdn_child_spec_t c[2] = {spec("w", &k[1], FDN_PERMANENT, FDN_NS_PER_S),
                             sup_spec("sub", &so, FDN_PERMANENT)};
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, c, 2, 3, 5 * FDN_NS_PER_S);
    fdn_pid_t top = start_opts(&o);
    fdn_pid_t sub = which(top, "sub");
    fdn_pid_t g = which(sub, "g");
    fdn_ref_t rtop = watch(top);
    fdn_ref_t rsub = watch(sub);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, top, FDN_REASON_SHUTDOWN), FDN_OK);
    WAIT_FOR(kid_exits(&k[0]) == 1); /* the sub-supervisor stops g */
    cr_assert_eq(stats(sub).active, 1);
    advance(10 * FDN_NS_PER_S - 1);
    cr_assert(answers_ping(g));
    cr_assert(fdn_alive(g_rt, sub), "not killed by its parent");
    cr_assert_eq(kid_terms(&k[1]), 0, "w waits for sub");
    advance(1);
    cr_assert_eq(await_down(rsub), FDN_REASON_SHUTDOWN);
    cr_assert_eq(await_down(rtop), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_KILLED);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[0]), kid_seq(&k[1]));
    teardown_rt();
}
