/*
 * nested.c — supervision trees: a child spec that describes a supervisor;
 * start in order and stop in reverse order through the levels; a
 * sub-supervisor that gives up is a failed child of its parent, which
 * restarts it or, past its own intensity, gives up too (escalation); start
 * failures and allocation failures deep in a tree; bad trees refused.
 */
#include "sup_test.h"

/*
 * The tree  top (one_for_one) = [a, sub (one_for_one) = [b, c], d]  with
 * the given intensities (each within 60 s).
 */
typedef struct tree {
    kid_t k[4]; /* a, b, c, d */
    fdn_child_spec_t inner[2];
    fdn_supervisor_opts_t sub;
    fdn_child_spec_t outer[3];
    fdn_supervisor_opts_t top;
} tree_t;

static void tree_init(tree_t *t, uint32_t top_intensity,
                      uint32_t sub_intensity)
{
    for (int i = 0; i < 4; i++)
        kid_reset(&t->k[i], i, false);
    t->inner[0] = spec("b", &t->k[1], FDN_PERMANENT, FDN_NS_PER_S);
    t->inner[1] = spec("c", &t->k[2], FDN_PERMANENT, FDN_NS_PER_S);
    t->sub = sup_opts(FDN_ONE_FOR_ONE, t->inner, 2, sub_intensity,
                      60 * FDN_NS_PER_S);
    t->outer[0] = spec("a", &t->k[0], FDN_PERMANENT, FDN_NS_PER_S);
    t->outer[1] = sup_spec("sub", &t->sub, FDN_PERMANENT);
    t->outer[2] = spec("d", &t->k[3], FDN_PERMANENT, FDN_NS_PER_S);
    t->top = sup_opts(FDN_ONE_FOR_ONE, t->outer, 3, top_intensity,
                      60 * FDN_NS_PER_S);
}

/* Checks: SUP-C7, SUP-I1 */
Test(supervisor_nested, tree_starts_in_order_and_lists_supervisors)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    fdn_pid_t top = start_opts(&t.top);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kid_starts(&t.k[i]), 1);
        cr_assert_eq(kid_start_seq(&t.k[i]), i + 1, "kid %d started %d-th",
                     i, kid_start_seq(&t.k[i]));
    }
    fdn_pid_t sub = which(top, "sub");
    cr_assert(fdn_alive(g_rt, sub));
    fdn_child_info_t *list;
    size_t n;
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, top, &list, &n), FDN_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(list[1].id, "sub");
    cr_assert_eq(list[1].type, FDN_SUPERVISOR);
    cr_assert_eq(list[1].pid, sub);
    cr_assert_eq(list[0].type, FDN_WORKER);
    fdn_supervisor_children_free(g_rt, list);
    fdn_supervisor_counts_t cnt = counts(top);
    cr_assert_eq(cnt.specs, 3);
    cr_assert_eq(cnt.active, 3);
    cr_assert_eq(cnt.supervisors, 1);
    cr_assert_eq(cnt.workers, 2);
    /* The sub-supervisor is a supervisor like any other. */
    cr_assert_eq(listed_pid(sub, "b", 0), kid_pid(&t.k[1]));
    cr_assert_eq(listed_pid(sub, "c", 1), kid_pid(&t.k[2]));
    cnt = counts(sub);
    cr_assert_eq(cnt.specs, 2);
    cr_assert_eq(cnt.workers, 2);
    cr_assert_eq(fdn_runtime_process_count(g_rt), 7);
    cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C7, SUP-C3 */
Test(supervisor_nested, tree_stops_in_reverse_order)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    fdn_pid_t top = start_opts(&t.top);
    fdn_ref_t rsub = watch(which(top, "sub"));
    cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(await_down(rsub), FDN_REASON_SHUTDOWN);
    /* d, then the subtree (c, b), then a. */
    static const int order[4] = {4, 3, 2, 1}; /* term_seq of a, b, c, d */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kid_terms(&t.k[i]), 1);
        cr_assert_eq(kid_reason(&t.k[i]), FDN_REASON_SHUTDOWN);
        cr_assert_eq(kid_seq(&t.k[i]), order[i], "kid %d stopped %d-th", i,
                     kid_seq(&t.k[i]));
    }
    teardown_rt();
}

/* Checks: SUP-C7, SUP-C2 */
Test(supervisor_nested, sub_supervisor_giving_up_is_restarted_by_its_parent)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 1);
    fdn_pid_t top = start_opts(&t.top);
    fdn_pid_t sub = which(top, "sub");
    fdn_pid_t a = which(top, "a");
    fdn_ref_t rsub = watch(sub);
    /* The first failure of b is within the sub-supervisor's intensity. */
    crash(which(sub, "b"), FDN_REASON_USER);
    WAIT_FOR(stats_are(sub, 1, 2));
    cr_assert_eq(stats(top).restarts, 0);
    /* The second is one too many: sub gives up... */
    crash(which(sub, "b"), FDN_REASON_USER);
    cr_assert_eq(await_down(rsub), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_reason(&t.k[2]), FDN_REASON_SHUTDOWN, "c stopped");
    /* ...and top restarts it, one restart of its own, with fresh b, c. */
    WAIT_FOR(stats_are(top, 1, 3));
    fdn_pid_t sub2 = which(top, "sub");
    cr_assert_neq(sub2, sub);
    WAIT_FOR(kid_starts(&t.k[1]) == 3 && kid_starts(&t.k[2]) == 2);
    cr_assert_eq(stats(sub2).restarts, 0, "a new supervisor, a new count");
    cr_assert_eq(which(top, "a"), a, "one_for_one: a untouched");
    cr_assert_eq(kid_starts(&t.k[3]), 1);
    cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C7, SUP-C2 */
Test(supervisor_nested, failures_escalate_to_the_top)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 0, 0);
    fdn_pid_t top = start_opts(&t.top);
    fdn_pid_t sub = which(top, "sub");
    fdn_ref_t rtop = watch(top);
    fdn_ref_t rsub = watch(sub);
    crash(which(sub, "c"), FDN_REASON_USER + 8);
    cr_assert_eq(await_down(rsub), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(await_down(rtop), FDN_REASON_MAX_RESTARTS);
    cr_assert_eq(kid_reason(&t.k[2]), FDN_REASON_USER + 8);
    cr_assert_eq(kid_reason(&t.k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&t.k[0]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&t.k[3]), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&t.k[3]), kid_seq(&t.k[0]), "d before a");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(kid_starts(&t.k[i]), 1, "kid %d not restarted", i);
    teardown_rt();
}

/* A child supervisor is restarted by its parent's strategy too. */
/* Checks: SUP-C7, SUP-C1 */
Test(supervisor_nested, rest_for_one_restarts_a_subtree_after_a_failure)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    t.top.strategy = FDN_REST_FOR_ONE;
    fdn_pid_t top = start_opts(&t.top);
    fdn_pid_t sub = which(top, "sub");
    crash(which(top, "a"), FDN_REASON_USER);
    WAIT_FOR(stats_are(top, 1, 3) && kid_starts(&t.k[3]) == 2);
    cr_assert_neq(which(top, "sub"), sub);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(kid_starts(&t.k[i]), 2, "kid %d restarted", i);
    /* The old subtree was stopped in order: d, c, b (a had failed). */
    cr_assert_lt(kid_seq(&t.k[3]), kid_seq(&t.k[2]));
    cr_assert_lt(kid_seq(&t.k[2]), kid_seq(&t.k[1]));
    cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C7, SUP-F1 */
Test(supervisor_nested, failure_deep_in_a_tree_fails_the_start)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    kid_fail_init(&t.k[2], true); /* c */
    fdn_pid_t top = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_start(NULL, g_ctx, &t.top, false, &top),
                 FDN_EINIT);
    cr_assert_eq(top, FDN_PID_NONE);
    WAIT_FOR(kid_terms(&t.k[0]) == 1 && kid_terms(&t.k[1]) == 1);
    cr_assert_lt(kid_seq(&t.k[1]), kid_seq(&t.k[0]), "b before a");
    cr_assert_eq(kid_starts(&t.k[3]), 0, "d never started");
    teardown_rt();
}

/* Checks: SUP-C7, SUP-C5 */
Test(supervisor_nested, start_child_adds_a_supervisor)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    fdn_supervisor_opts_t o = sup_opts(FDN_ONE_FOR_ONE, NULL, 0, 3,
                                       5 * FDN_NS_PER_S);
    fdn_pid_t top = start_opts(&o);
    fdn_child_spec_t s = sup_spec("sub", &t.sub, FDN_TRANSIENT);
    fdn_pid_t sub;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, top, &s, &sub), FDN_OK);
    cr_assert_eq(listed_pid(sub, "c", 1), kid_pid(&t.k[2]));
    fdn_supervisor_counts_t cnt = counts(top);
    cr_assert_eq(cnt.supervisors, 1);
    cr_assert_eq(cnt.workers, 0);
    /* Terminated by the default (INFINITY): it stops its children. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, top, "sub"), FDN_OK);
    cr_assert_eq(kid_reason(&t.k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&t.k[2]), FDN_REASON_SHUTDOWN);
    cr_assert_not(fdn_alive(g_rt, sub));
    cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C7, SUP-C4 */
Test(supervisor_nested, bad_trees_are_refused)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    fdn_pid_t sup;
    /* A supervisor child needs options and no behaviour. */
    t.outer[1].supervisor = NULL;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &t.top, false, &sup),
                 FDN_EINVAL);
    t.outer[1].supervisor = &t.sub;
    t.outer[1].behaviour = &kid_behaviour;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &t.top, false, &sup),
                 FDN_EINVAL);
    t.outer[1].behaviour = NULL;
    /* Bad options deep down. */
    t.sub.period_ns = 0;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &t.top, false, &sup),
                 FDN_EINVAL);
    t.sub.period_ns = FDN_NS_PER_S;
    t.inner[1].id = "b";
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &t.top, false, &sup),
                 FDN_EINVAL, "duplicate id in the subtree");
    t.inner[1].id = "a"; /* the same id as a child of top is fine */
    /* A cycle: the subtree contains itself. */
    fdn_child_spec_t loop = sup_spec("loop", &t.sub, FDN_PERMANENT);
    fdn_child_spec_t inner3[3] = {t.inner[0], t.inner[1], loop};
    t.sub.children = inner3;
    t.sub.nchildren = 3;
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &t.top, false, &sup),
                 FDN_EINVAL);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(kid_starts(&t.k[i]), 0);
    cr_assert_eq(fdn_runtime_process_count(g_rt), 1);

    /* 32 levels of supervisors below the top are fine, 33 are not. */
    enum { LEVELS = 34 };
    fdn_supervisor_opts_t lv[LEVELS];
    fdn_child_spec_t ch[LEVELS];
    kid_t leaf;
    kid_reset(&leaf, 9, false);
    for (int i = 0; i < LEVELS; i++)
        lv[i] = sup_opts(FDN_ONE_FOR_ONE, &ch[i], 1, 3, FDN_NS_PER_S);
    for (int i = 0; i + 1 < LEVELS; i++)
        ch[i] = sup_spec("down", &lv[i + 1], FDN_PERMANENT);
    ch[LEVELS - 1] = spec("leaf", &leaf, FDN_PERMANENT, FDN_NS_PER_S);
    /* lv[1] has 32 supervisors below it (lv[2] .. lv[33]). */
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &lv[0], false, &sup),
                 FDN_EINVAL, "33 levels below the top");
    cr_assert_eq(fdn_supervisor_start(g_rt, NULL, &lv[1], false, &sup),
                 FDN_OK, "32 levels below the top");
    cr_assert_eq(kid_starts(&leaf), 1);
    cr_assert_eq(fdn_runtime_process_count(g_rt), 1 + 33 + 1);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(kid_reason(&leaf), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-F2, SUP-C7, RT-F1 */
Test(supervisor_nested, tree_start_under_allocation_failure)
{
    setup_rt(false);
    tree_t t;
    tree_init(&t, 3, 3);
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 1000);
        WAIT_FOR(fdn_runtime_process_count(g_rt) == 1);
        /* Arming restarts the allocator's count at 0. */
        fdn_failing_allocator_arm(g_fa, n, false);
        fdn_pid_t top = FDN_PID_NONE;
        int rc = fdn_supervisor_start(NULL, g_ctx, &t.top, false, &top);
        bool is_past_end = fdn_failing_allocator_calls(g_fa) < n;
        fdn_failing_allocator_arm(g_fa, 0, false);
        if (rc != FDN_OK) {
            cr_assert_eq(rc, FDN_ENOMEM, "n=%llu: %s", (unsigned long long)n,
                         fdn_errname(rc));
            cr_assert_eq(top, FDN_PID_NONE);
            failures++;
            continue;
        }
        cr_assert_eq(fdn_runtime_process_count(g_rt), 7);
        cr_assert_eq(stop_sup(top, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
        if (is_past_end)
            break;
    }
    cr_log_info("tree start: %d of its allocations failed cleanly", failures);
    cr_assert_gt(failures, 10);
    teardown_rt();
}
