/*
 * basic.c — unit tests of the supervisor: restart types, the three
 * strategies, restart intensity on a virtual clock, ordered shutdown with
 * KILL after the grace period, custom reasons, start failures and memory
 * exhaustion.  The test thread is attached and observes the supervisor
 * through monitors, links, fdn_supervisor_which and fdn_supervisor_stats.
 */
#include "foundation/supervisor.h"
#include "unit/supervisor/sup_test.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static fdn_pid_t start_sup(fdn_strategy_t strategy, const fdn_child_spec_t *c,
                           size_t n, uint32_t intensity, uint64_t period_ns)
{
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.strategy = strategy;
    o.intensity = intensity;
    o.period_ns = period_ns;
    o.children = c;
    o.nchildren = n;
    fdn_pid_t sup = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_start(NULL, g_ctx, &o, false, &sup), FDN_OK);
    cr_assert_neq(sup, FDN_PID_NONE);
    return sup;
}

/* ------------------------------------------------------------------------ */
/* Options and arguments                                                    */
/* ------------------------------------------------------------------------ */

/* Checks: RT-C1, SUP-C4 */
Test(supervisor, opts_defaults_and_bad_arguments)
{
    setup_rt(false);
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    cr_assert_eq(o.size, sizeof o);
    cr_assert_eq(o.strategy, FDN_ONE_FOR_ONE);
    cr_assert_eq(o.intensity, 3);
    cr_assert_eq(o.period_ns, 5 * FDN_NS_PER_S);
    cr_assert_null(o.children);
    cr_assert_eq(o.nchildren, 0);

    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c[2] = {spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S),
                             spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, NULL, false, &sup),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_start(NULL, NULL, &o, false, &sup),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, true, &sup),
                 FDN_EINVAL, "link needs a ctx");
    o.children = c;
    o.nchildren = 2;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "duplicate ids");
    o.nchildren = 1;
    o.period_ns = 0;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "zero period");
    o.period_ns = FDN_NS_PER_S;
    o.strategy = (fdn_strategy_t)9;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "bad strategy");
    o.strategy = FDN_ONE_FOR_ONE;
    c[0].behaviour = NULL;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "no behaviour");
    c[0].behaviour = &kid_behaviour;
    c[0].id = NULL;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "no id");
    o.size = 0;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &o, false, &sup),
                 FDN_EINVAL, "no size");
    cr_assert_eq(kid_starts(&k), 0, "no child started on a bad call");

    /* which/stats need an attached ctx and valid arguments. */
    fdn_supervisor_stats_t st;
    cr_assert_eq(fdn_supervisor_stats(NULL, 1, &st), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_stats(g_ctx, FDN_PID_NONE, &st), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_which(g_ctx, 1, NULL, &sup), FDN_EINVAL);
    teardown_rt();
}

/* Checks: SUP-I1, SUP-C4 */
Test(supervisor, which_and_stats)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("bb", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 3, 5 * FDN_NS_PER_S);
    cr_assert_eq(kid_starts(&k[0]), 1, "children start inside start");
    cr_assert_eq(kid_starts(&k[1]), 1);
    fdn_pid_t a = which(sup, "a");
    fdn_pid_t b = which(sup, "bb");
    cr_assert(fdn_alive(g_rt, a) && fdn_alive(g_rt, b));
    cr_assert_neq(a, b);
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "b", &none), FDN_ENOENT);
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "", &none), FDN_ENOENT);
    fdn_supervisor_stats_t st = stats(sup);
    cr_assert_eq(st.restarts, 0);
    cr_assert_eq(st.children, 2);
    cr_assert_eq(st.active, 2);
    cr_assert_eq(fdn_runtime_process_count(g_rt), 4);
    /* A NORMAL exit signal from a non-parent is ignored (the call after it
     * is handled after it). */
    cr_assert_eq(fdn_exit(g_rt, NULL, sup, FDN_REASON_NORMAL), FDN_OK);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, FDN_REASON_NORMAL), FDN_OK);
    cr_assert_eq(stats(sup).active, 2);
    cr_assert(fdn_alive(g_rt, sup));
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    WAIT_FOR(!fdn_alive(g_rt, a) && !fdn_alive(g_rt, b));
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "a", &none), FDN_ENOPROC);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Restart types                                                            */
/* ------------------------------------------------------------------------ */

/* Checks: SUP-C1 */
Test(supervisor, permanent_restarted_after_any_exit)
{
    setup_rt(false);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("p", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, &c, 1, 10, 60 * FDN_NS_PER_S);
    const fdn_reason_t reasons[3] = {FDN_REASON_NORMAL, FDN_REASON_SHUTDOWN,
                                     FDN_REASON_USER + 3};
    for (int i = 0; i < 3; i++) {
        fdn_pid_t old = which(sup, "p");
        crash(old, reasons[i]);
        WAIT_FOR(stats_are(sup, (uint64_t)i + 1, 1));
        fdn_pid_t now = which(sup, "p");
        cr_assert_neq(now, old, "a new incarnation");
        WAIT_FOR(!fdn_alive(g_rt, old));
        cr_assert_eq(kid_starts(&k), i + 2);
        cr_assert_eq(kid_reason(&k), reasons[i]);
    }
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C1, RT-S6, SUP-S3 */
Test(supervisor, transient_restarted_only_after_abnormal_exit)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("t1", &k[0], FDN_TRANSIENT, FDN_NS_PER_S),
                             spec("t2", &k[1], FDN_TRANSIENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 10, 60 * FDN_NS_PER_S);

    /* A custom reason is abnormal: restarted. */
    fdn_pid_t t1 = which(sup, "t1");
    crash(t1, FDN_REASON_USER + 42);
    WAIT_FOR(stats_are(sup, 1, 2));
    cr_assert_neq(which(sup, "t1"), t1);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_USER + 42);
    cr_assert_eq(kid_starts(&k[0]), 2);

    /* NORMAL: not restarted. */
    crash(which(sup, "t1"), FDN_REASON_NORMAL);
    WAIT_FOR(stats_are(sup, 1, 1));
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "t1", &none), FDN_ENOENT);

    /* SHUTDOWN: not restarted. */
    crash(which(sup, "t2"), FDN_REASON_SHUTDOWN);
    WAIT_FOR(stats_are(sup, 1, 0));
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "t2", &none), FDN_ENOENT);
    cr_assert_eq(kid_starts(&k[0]), 2);
    cr_assert_eq(kid_starts(&k[1]), 1);
    cr_assert_eq(stats(sup).children, 2);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C1 */
Test(supervisor, temporary_never_restarted)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("tmp", &k[0], FDN_TEMPORARY, FDN_NS_PER_S),
                             spec("perm", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 10, 60 * FDN_NS_PER_S);
    fdn_pid_t perm = which(sup, "perm");
    crash(which(sup, "tmp"), FDN_REASON_USER + 9);
    WAIT_FOR(stats_are(sup, 0, 1));
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "tmp", &none), FDN_ENOENT);
    cr_assert_eq(kid_starts(&k[0]), 1);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_USER + 9);
    cr_assert_eq(which(sup, "perm"), perm, "the sibling is untouched");
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Strategies                                                               */
/* ------------------------------------------------------------------------ */

static void start_three(fdn_strategy_t strategy, kid_t k[3],
                        fdn_child_spec_t c[3], fdn_pid_t *sup,
                        fdn_pid_t pids[3])
{
    static const char *const ids[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        kid_reset(&k[i], i, false);
        c[i] = spec(ids[i], &k[i], FDN_PERMANENT, FDN_NS_PER_S);
    }
    *sup = start_sup(strategy, c, 3, 10, 60 * FDN_NS_PER_S);
    for (int i = 0; i < 3; i++)
        pids[i] = which(*sup, ids[i]);
}

/* Checks: SUP-C1 */
Test(supervisor, one_for_one_restarts_only_the_failed_child)
{
    setup_rt(false);
    kid_t k[3];
    fdn_child_spec_t c[3];
    fdn_pid_t sup, p[3];
    start_three(FDN_ONE_FOR_ONE, k, c, &sup, p);
    crash(p[1], FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 1, 3));
    cr_assert_eq(which(sup, "a"), p[0]);
    cr_assert_neq(which(sup, "b"), p[1]);
    cr_assert_eq(which(sup, "c"), p[2]);
    cr_assert_eq(kid_starts(&k[0]), 1);
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(kid_starts(&k[2]), 1);
    cr_assert_eq(kid_terms(&k[0]), 0);
    cr_assert_eq(kid_terms(&k[2]), 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C1 */
Test(supervisor, one_for_all_restarts_every_child)
{
    setup_rt(false);
    kid_t k[3];
    fdn_child_spec_t c[3];
    fdn_pid_t sup, p[3];
    start_three(FDN_ONE_FOR_ALL, k, c, &sup, p);
    crash(p[1], FDN_REASON_USER + 5);
    WAIT_FOR(stats_are(sup, 1, 3) && kid_starts(&k[2]) == 2);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(kid_starts(&k[i]), 2, "child %d restarted once", i);
        cr_assert_eq(kid_terms(&k[i]), 1);
        WAIT_FOR(!fdn_alive(g_rt, p[i]));
    }
    cr_assert_neq(which(sup, "a"), p[0]);
    cr_assert_neq(which(sup, "b"), p[1]);
    cr_assert_neq(which(sup, "c"), p[2]);
    /* The siblings were stopped (in reverse order: c, then a). */
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_USER + 5);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[2]), kid_seq(&k[0]));
    cr_assert_eq(stats(sup).restarts, 1, "one failure, one restart");
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C1 */
Test(supervisor, rest_for_one_restarts_the_failed_and_later_children)
{
    setup_rt(false);
    kid_t k[3];
    fdn_child_spec_t c[3];
    fdn_pid_t sup, p[3];
    start_three(FDN_REST_FOR_ONE, k, c, &sup, p);
    crash(p[1], FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 1, 3) && kid_starts(&k[2]) == 2);
    cr_assert_eq(which(sup, "a"), p[0]);
    cr_assert_neq(which(sup, "b"), p[1]);
    cr_assert_neq(which(sup, "c"), p[2]);
    cr_assert_eq(kid_starts(&k[0]), 1);
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(kid_starts(&k[2]), 2);
    cr_assert_eq(kid_terms(&k[0]), 0);
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_SHUTDOWN);

    /* The last child failing restarts only itself. */
    fdn_pid_t b = which(sup, "b");
    crash(which(sup, "c"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 2, 3) && kid_starts(&k[2]) == 3);
    cr_assert_eq(which(sup, "b"), b);
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C1 */
Test(supervisor, one_for_all_does_not_restart_temporary_siblings)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("tmp", &k[0], FDN_TEMPORARY, FDN_NS_PER_S),
                             spec("perm", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ALL, c, 2, 10, 60 * FDN_NS_PER_S);
    fdn_pid_t tmp = which(sup, "tmp");
    crash(which(sup, "perm"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 1, 1) && kid_starts(&k[1]) == 2);
    WAIT_FOR(!fdn_alive(g_rt, tmp));
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_starts(&k[0]), 1);
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "tmp", &none), FDN_ENOENT);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Restart intensity                                                        */
/* ------------------------------------------------------------------------ */

/* Checks: SUP-C2 */
Test(supervisor, intensity_exceeded_within_period_exits_max_restarts)
{
    setup_rt(true);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.children = c;
    o.nchildren = 2;
    /* Defaults: 3 restarts within 5 s.  Linked to this thread, which traps
     * exits, and monitored: both must see MAX_RESTARTS. */
    fdn_trap_exit(g_ctx, true);
    fdn_pid_t sup;
    cr_assert_eq(fdn_supervisor_start(NULL, g_ctx, &o, true, &sup), FDN_OK);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    for (uint64_t i = 1; i <= 3; i++) {
        crash(which(sup, "b"), FDN_REASON_USER);
        WAIT_FOR(stats_are(sup, i, 2));
        cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S), FDN_OK);
    }
    /* Three restarts within 3 s of each other: allowed.  A fourth within the
     * period is one too many. */
    fdn_pid_t a = which(sup, "a");
    fdn_pid_t b = which(sup, "b");
    crash(b, FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(await_exit(sup), FDN_REASON_MAX_RESTARTS);
    WAIT_FOR(!fdn_alive(g_rt, sup));
    WAIT_FOR(!fdn_alive(g_rt, a)); /* its children are stopped */
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_starts(&k[1]), 4, "the fourth failure is not restarted");
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor, restarts_spread_over_more_than_the_period_are_fine)
{
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, &c, 1, 3, 5 * FDN_NS_PER_S);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    /* Restarts at t = 0, 2, 4, 6, 8, 10 s: never more than 3 in any 5 s. */
    for (uint64_t i = 1; i <= 6; i++) {
        crash(which(sup, "a"), FDN_REASON_USER);
        WAIT_FOR(stats_are(sup, i, 1));
        if (i < 6)
            cr_assert_eq(fdn_clock_advance(g_clock, 2 * FDN_NS_PER_S), FDN_OK);
    }
    cr_assert(fdn_alive(g_rt, sup));
    /* Now restarts at 6, 8 and 10 s are within the period: one more at
     * 10 s is the fourth. */
    crash(which(sup, "a"), FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k), 7);
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor, intensity_window_is_half_open)
{
    /* The period of a restart at time t is (t - period, t], the boundary
     * specs/models/supervisor_intensity.pml checks: a restart exactly one
     * period after an earlier one does not count it; one nanosecond less
     * and it does. */
    setup_rt(true);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, &c, 1, 2, 5 * FDN_NS_PER_S);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    /* Restarts at t = 0 s and 1 s: as many as the intensity allows. */
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 1, 1));
    cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S), FDN_OK);
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 2, 1));
    /* t = 5 s: the restart at 0 s is exactly one period old and out of the
     * window, so this one is allowed. */
    cr_assert_eq(fdn_clock_advance(g_clock, 4 * FDN_NS_PER_S), FDN_OK);
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 3, 1));
    cr_assert(fdn_alive(g_rt, sup));
    /* t = 6 s - 1 ns: the restarts at 1 s and 5 s are both inside the
     * period, so a third is one too many. */
    cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S - 1), FDN_OK);
    crash(which(sup, "a"), FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k), 4, "the last failure is not restarted");
    teardown_rt();
}

/* Checks: SUP-C2 */
Test(supervisor, zero_intensity_gives_up_at_the_first_failure)
{
    setup_rt(true);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_TRANSIENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 0, 5 * FDN_NS_PER_S);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    /* An exit that needs no restart does not count. */
    crash(which(sup, "b"), FDN_REASON_NORMAL);
    WAIT_FOR(stats_are(sup, 0, 1));
    crash(which(sup, "a"), FDN_REASON_USER);
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_starts(&k[0]), 1);
    teardown_rt();
}

/* Checks: SUP-C2, SUP-F3 */
Test(supervisor, failed_restarts_count_towards_the_intensity)
{
    setup_rt(true);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 2, 5 * FDN_NS_PER_S);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    fdn_pid_t a = which(sup, "a");
    /* Release: pairs with the acquire load in kid_init. */
    atomic_store_explicit(&k[1].fail_init, true, memory_order_release);
    crash(which(sup, "b"), FDN_REASON_USER);
    /* Restart 1 fails, restart 2 fails, the third is too many. */
    cr_assert_eq(await_down(ref), FDN_REASON_MAX_RESTARTS);
    WAIT_FOR(!fdn_alive(g_rt, a));
    cr_assert_eq(kid_starts(&k[1]), 1);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                 */
/* ------------------------------------------------------------------------ */

/* Checks: SUP-C3 */
Test(supervisor, shutdown_stops_children_in_reverse_start_order)
{
    setup_rt(false);
    static const char *const ids[4] = {"a", "b", "c", "d"};
    kid_t k[4];
    fdn_child_spec_t c[4];
    for (int i = 0; i < 4; i++) {
        kid_reset(&k[i], i, false);
        c[i] = spec(ids[i], &k[i], FDN_PERMANENT, 5 * FDN_NS_PER_S);
    }
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 4, 3, 5 * FDN_NS_PER_S);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kid_terms(&k[i]), 1);
        cr_assert_eq(kid_reason(&k[i]), FDN_REASON_SHUTDOWN);
        cr_assert_eq(kid_seq(&k[i]), 4 - i, "child %d stopped in position %d",
                     i, kid_seq(&k[i]));
    }
    teardown_rt();
}

/* Checks: SUP-C3, RT-S4 */
Test(supervisor, child_ignoring_shutdown_is_killed_after_its_grace)
{
    setup_rt(false);
    kid_t k[3];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, true); /* traps exits: ignores SHUTDOWN */
    kid_reset(&k[2], 2, true);
    fdn_child_spec_t c[3] = {
        spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
        spec("stubborn", &k[1], FDN_PERMANENT, 20 * FDN_NS_PER_MS),
        spec("brutal", &k[2], FDN_PERMANENT, 0)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 3, 3, 5 * FDN_NS_PER_S);
    uint64_t t0 = real_now();
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    uint64_t elapsed = real_now() - t0;
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_KILLED, "0 = kill at once");
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_KILLED);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_seq(&k[2]), 1);
    cr_assert_eq(kid_seq(&k[1]), 2);
    cr_assert_eq(kid_seq(&k[0]), 3);
    cr_assert_geq(elapsed, 20 * FDN_NS_PER_MS, "the grace was given");
    teardown_rt();
}

/* Checks: RT-S6, SUP-S3 */
Test(supervisor, custom_exit_reason_reaches_the_supervisor_unchanged)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 3, 5 * FDN_NS_PER_S);
    cr_assert_eq(stop_sup(sup, FDN_REASON_USER + 77), FDN_REASON_USER + 77);
    /* Its children were stopped in order, with SHUTDOWN. */
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[1]), kid_seq(&k[0]));
    teardown_rt();
}

/* Parent exit: a supervisor linked to a process that dies stops too, its
 * children in reverse start order. */
/* Checks: SUP-S1 */
Test(supervisor, parent_exit_stops_the_supervisor)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.children = c;
    o.nchildren = 2;
    fdn_pid_t sup;
    cr_assert_eq(fdn_supervisor_start(NULL, g_ctx, &o, true, &sup), FDN_OK);
    fdn_pid_t a = which(sup, "a");
    /* Detaching ends this thread's process with NORMAL; the supervisor
     * hears it from its parent and shuts down. */
    fdn_detach(g_ctx);
    WAIT_FOR(!fdn_alive(g_rt, sup));
    WAIT_FOR(!fdn_alive(g_rt, a));
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[1]), kid_seq(&k[0]));
    WAIT_FOR(fdn_runtime_process_count(g_rt) == 0);
    fdn_runtime_destroy(g_rt);
    cr_assert_eq(fdn_failing_allocator_live(g_fa), 0);
    fdn_failing_allocator_destroy(g_fa);
}

/* A killed supervisor leaves no child behind, even one that traps exits. */
/* Checks: RT-S4, SUP-S1 */
Test(supervisor, killed_supervisor_leaves_no_child)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, true);
    fdn_child_spec_t c[2] = {
        spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
        spec("stubborn", &k[1], FDN_PERMANENT, 20 * FDN_NS_PER_MS)};
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ONE, c, 2, 3, 5 * FDN_NS_PER_S);
    fdn_pid_t a = which(sup, "a");
    fdn_pid_t s = which(sup, "stubborn");
    cr_assert_eq(stop_sup(sup, FDN_REASON_KILL), FDN_REASON_KILLED);
    WAIT_FOR(!fdn_alive(g_rt, a) && !fdn_alive(g_rt, s));
    cr_assert_eq(kid_terms(&k[0]), 1);
    cr_assert_eq(kid_terms(&k[1]), 1);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_KILLED);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Start failures                                                           */
/* ------------------------------------------------------------------------ */

/* A child whose init fails makes the start fail; the children started
 * before it are stopped in reverse order. */
/* Checks: SUP-F1 */
Test(supervisor, failing_child_init_fails_the_start)
{
    setup_rt(false);
    kid_t k[3];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    kid_reset(&k[2], 2, false);
    /* Release: pairs with the acquire load in kid_init. */
    atomic_store_explicit(&k[2].fail_init, true, memory_order_release);
    fdn_child_spec_t c[3] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("c", &k[2], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.children = c;
    o.nchildren = 3;
    fdn_pid_t sup = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_start(NULL, g_ctx, &o, false, &sup),
                 FDN_EINIT);
    cr_assert_eq(sup, FDN_PID_NONE);
    WAIT_FOR(kid_terms(&k[0]) == 1 && kid_terms(&k[1]) == 1);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[1]), kid_seq(&k[0]));
    cr_assert_eq(kid_starts(&k[2]), 0);
    teardown_rt();
}

/* Under memory exhaustion, start either succeeds or fails cleanly. */
/* Checks: RT-F1, SUP-F2 */
Test(supervisor, start_under_allocation_failure)
{
    setup_rt(false);
    kid_t k[2];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t c[2] = {spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
                             spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.children = c;
    o.nchildren = 2;
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 1000);
        WAIT_FOR(fdn_runtime_process_count(g_rt) == 1);
        fdn_failing_allocator_arm(g_fa, n, false);
        fdn_pid_t sup = FDN_PID_NONE;
        int rc = fdn_supervisor_start(NULL, g_ctx, &o, false, &sup);
        /* arm reset the count: it counts the calls since. */
        bool is_past_end = fdn_failing_allocator_calls(g_fa) < n;
        fdn_failing_allocator_arm(g_fa, 0, false);
        if (rc != FDN_OK) {
            cr_assert_eq(rc, FDN_ENOMEM, "n=%llu: %s", (unsigned long long)n,
                         fdn_errname(rc));
            failures++;
            continue;
        }
        cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
        if (is_past_end)
            break;
    }
    cr_log_info("start: %d of its allocations failed cleanly", failures);
    cr_assert_gt(failures, 0);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Failures while a restart is in progress                                  */
/* ------------------------------------------------------------------------ */

/*
 * Starts [a, c, stubborn] under one_for_all on a virtual clock, where
 * stubborn traps exits and has a 1 s grace, then crashes a: the supervisor
 * is left waiting for stubborn's grace to run out (virtual time stands
 * still), with a down and c not yet stopped.
 */
static fdn_pid_t start_stuck_one_for_all(kid_t k[3], fdn_child_spec_t c[3])
{
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, false);
    kid_reset(&k[2], 2, true);
    c[0] = spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S);
    c[1] = spec("c", &k[1], FDN_PERMANENT, FDN_NS_PER_S);
    c[2] = spec("stubborn", &k[2], FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t sup = start_sup(FDN_ONE_FOR_ALL, c, 3, 10, 60 * FDN_NS_PER_S);
    crash(which(sup, "a"), FDN_REASON_USER + 1);
    /* a is down, stubborn is being stopped, c still runs. */
    WAIT_FOR(stats_are(sup, 1, 2));
    return sup;
}

/* A sibling that fails while the supervisor is already stopping it for a
 * restart is restarted with the others and is not counted again. */
/* Checks: SUP-C1, SUP-C2, SUP-F3 */
Test(supervisor, failure_during_a_restart_counts_once)
{
    setup_rt(true);
    kid_t k[3];
    fdn_child_spec_t c[3];
    fdn_pid_t sup = start_stuck_one_for_all(k, c);
    crash(which(sup, "c"), FDN_REASON_USER + 2);
    WAIT_FOR(stats_are(sup, 1, 1));
    cr_assert_eq(kid_starts(&k[1]), 1, "c waits for the plan");
    cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S), FDN_OK);
    WAIT_FOR(kid_starts(&k[0]) == 2 && kid_starts(&k[1]) == 2 &&
             kid_starts(&k[2]) == 2);
    WAIT_FOR(stats_are(sup, 1, 3));
    cr_assert_eq(kid_terms(&k[2]), 1);
    cr_assert_eq(kid_reason(&k[0]), FDN_REASON_USER + 1);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_USER + 2);
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_KILLED);
    /* stubborn ignores SHUTDOWN, so stopping the supervisor needs its grace
     * to run out again. */
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, FDN_REASON_SHUTDOWN), FDN_OK);
    /* The call is handled after the exit signal (same sender, same
     * receiver: RT-S1), so stubborn's kill timer is armed before the clock
     * moves. */
    cr_assert_eq(stats(sup).active, 3);
    cr_assert_eq(kid_terms(&k[2]), 1);
    cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S), FDN_OK);
    cr_assert_eq(await_down(ref), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_terms(&k[2]), 2);
    teardown_rt();
}

/* An exit signal from outside during a restart turns it into a shutdown:
 * nothing is started again. */
/* Checks: SUP-C3, SUP-S2 */
Test(supervisor, shutdown_during_a_restart_starts_nothing)
{
    setup_rt(true);
    kid_t k[3];
    fdn_child_spec_t c[3];
    fdn_pid_t sup = start_stuck_one_for_all(k, c);
    fdn_pid_t cpid = which(sup, "c");
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, sup, &ref), FDN_OK);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, FDN_REASON_SHUTDOWN), FDN_OK);
    cr_assert_eq(fdn_clock_advance(g_clock, FDN_NS_PER_S), FDN_OK);
    cr_assert_eq(await_down(ref), FDN_REASON_SHUTDOWN);
    WAIT_FOR(!fdn_alive(g_rt, cpid));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(kid_starts(&k[i]), 1, "child %d not restarted", i);
    cr_assert_eq(kid_reason(&k[2]), FDN_REASON_KILLED);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[2]), kid_seq(&k[1]));
    teardown_rt();
}

/* Destroying the runtime under a running supervisor ends every child once
 * (the stubborn one included) and frees everything. */
/* Checks: RT-L6, RT-I3, SUP-L1 */
Test(supervisor, runtime_destroy_with_a_live_supervisor)
{
    setup_rt(false);
    kid_t k[3];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, true);
    kid_reset(&k[2], 2, false);
    fdn_child_spec_t c[3] = {
        spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
        spec("stubborn", &k[1], FDN_PERMANENT, 10 * FDN_NS_PER_S),
        spec("c", &k[2], FDN_TRANSIENT, FDN_NS_PER_S)};
    fdn_pid_t sup = start_sup(FDN_REST_FOR_ONE, c, 3, 3, 5 * FDN_NS_PER_S);
    cr_assert_eq(stats(sup).active, 3);
    fdn_detach(g_ctx);
    fdn_runtime_destroy(g_rt);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(kid_terms(&k[i]), 1, "child %d ended once", i);
        cr_assert_eq(kid_starts(&k[i]), 1, "child %d never restarted", i);
    }
    cr_assert_eq(fdn_failing_allocator_live(g_fa), 0);
    fdn_failing_allocator_destroy(g_fa);
}

/* A server that answers every CALL with a tag that is no status at all. */
static fdn_next_t odd_server(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_CALL)
        fdn_reply(ctx, m, 0x53535353u + m->tag, NULL, 0);
    return FDN_CONTINUE;
}

/* Client calls to a process that is not a supervisor return a status of
 * ours (found by the newcomer review: they returned -tag). */
/* Checks: SUP-C4, RT-C1 */
Test(supervisor, calls_to_a_non_supervisor_return_einval)
{
    setup_rt(false);
    static const fdn_behaviour_t odd = {.handle = odd_server, .name = "odd"};
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(g_rt, NULL, &odd, NULL, NULL, &p), FDN_OK);
    fdn_pid_t pid;
    fdn_supervisor_stats_t st;
    fdn_supervisor_counts_t n;
    fdn_child_info_t *list = NULL;
    size_t count = 0;
    cr_assert_eq(fdn_supervisor_which(g_ctx, p, "a", &pid), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_stats(g_ctx, p, &st), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_count_children(g_ctx, p, &n), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, p, &list, &count),
                 FDN_EINVAL);
    cr_assert_null(list);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, p, "a"), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, p, "a"), FDN_EINVAL);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, p, FDN_REASON_KILL), FDN_OK);
    WAIT_FOR(!fdn_alive(g_rt, p));
    teardown_rt();
}
