/*
 * dynamic.c — dynamic children: start_child, terminate_child,
 * restart_child, delete_child, which_children and count_children; their
 * errors (wrong thread, dead supervisor, bad specs); changes waiting for a
 * plan in progress; and every call and a restart under allocation
 * failure (each failure is FDN_ENOMEM and changes nothing).
 */
#include "sup_test.h"

#include <pthread.h>

/* Starts [a (permanent)] under one_for_one, 10 restarts in 60 s. */
static fdn_pid_t start_one(kid_t *k, fdn_child_spec_t *c)
{
    kid_reset(k, 0, false);
    *c = spec("a", k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, c, 1, 10, 60 * FDN_NS_PER_S);
    return start_opts(&o);
}

/* Checks: SUP-C5, SUP-I1 */
Test(supervisor_dynamic, start_child_adds_and_starts_at_the_end)
{
    setup_rt(false);
    kid_t k[3];
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k[0], &c);
    kid_reset(&k[1], 1, false);
    kid_reset(&k[2], 2, false);

    fdn_child_spec_t b = spec("b", &k[1], FDN_TRANSIENT, FDN_NS_PER_S);
    fdn_pid_t pb = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &b, &pb), FDN_OK);
    cr_assert(fdn_alive(g_rt, pb));
    cr_assert_eq(kid_pid(&k[1]), pb);
    cr_assert_eq(kid_starts(&k[1]), 1, "started inside the call");
    cr_assert_eq(which(sup, "b"), pb);

    /* Listed after "a", in start order, with pid, type and restart. */
    fdn_child_info_t *list = NULL;
    size_t n = 0;
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, sup, &list, &n), FDN_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].id, "a");
    cr_assert_eq(list[0].pid, which(sup, "a"));
    cr_assert_eq(list[0].type, FDN_WORKER);
    cr_assert_eq(list[0].restart, FDN_PERMANENT);
    cr_assert_str_eq(list[1].id, "b");
    cr_assert_eq(list[1].pid, pb);
    cr_assert_eq(list[1].type, FDN_WORKER);
    cr_assert_eq(list[1].restart, FDN_TRANSIENT);
    fdn_supervisor_children_free(g_rt, list);
    fdn_supervisor_counts_t cnt = counts(sup);
    cr_assert_eq(cnt.specs, 2);
    cr_assert_eq(cnt.active, 2);
    cr_assert_eq(cnt.workers, 2);
    cr_assert_eq(cnt.supervisors, 0);

    /* A duplicate id is refused and nothing is started. */
    fdn_child_spec_t dup = spec("b", &k[2], FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t none = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &dup, &none),
                 FDN_EEXIST);
    cr_assert_eq(none, FDN_PID_NONE);
    cr_assert_eq(kid_starts(&k[2]), 0);

    /* A child whose init fails: FDN_EINIT, and its spec is not kept. */
    kid_fail_init(&k[2], true);
    fdn_child_spec_t bad = spec("c", &k[2], FDN_PERMANENT, FDN_NS_PER_S);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &bad, NULL),
                 FDN_EINIT);
    cr_assert_eq(counts(sup).specs, 2);
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "c", &none), FDN_ENOENT);

    /* Bad specs. */
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, NULL, NULL),
                 FDN_EINVAL);
    fdn_child_spec_t s = spec(NULL, &k[2], FDN_PERMANENT, 0);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, NULL),
                 FDN_EINVAL, "no id");
    s = spec("x", &k[2], FDN_PERMANENT, 0);
    s.behaviour = NULL;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, NULL),
                 FDN_EINVAL, "worker without a behaviour");
    s = spec("x", &k[2], (fdn_restart_t)7, 0);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, NULL),
                 FDN_EINVAL, "unknown restart");
    s = spec("x", &k[2], FDN_PERMANENT, 0);
    s.type = (fdn_child_type_t)5;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, NULL),
                 FDN_EINVAL, "unknown type");
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    s = spec("x", &k[2], FDN_PERMANENT, 0);
    s.supervisor = &o;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, NULL),
                 FDN_EINVAL, "worker with options");
    cr_assert_eq(counts(sup).specs, 2);

    /* The added child is supervised like the others. */
    crash(pb, FDN_REASON_USER);
    WAIT_FOR(stats_are(sup, 1, 2));
    cr_assert_neq(which(sup, "b"), pb);
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_lt(kid_seq(&k[1]), kid_seq(&k[0]), "b stops before a");
    teardown_rt();
}

/* Checks: SUP-C5 */
Test(supervisor_dynamic, terminate_restart_delete)
{
    setup_rt(false);
    kid_t k[2];
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k[0], &c);
    kid_reset(&k[1], 1, false);
    fdn_child_spec_t b = spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S);
    fdn_pid_t pb;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &b, &pb), FDN_OK);

    /* terminate: stopped as a shutdown would, spec kept, not restarted. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
    cr_assert_eq(kid_terms(&k[1]), 1, "dead when the call returns");
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_SHUTDOWN);
    cr_assert_not(fdn_alive(g_rt, pb));
    cr_assert_eq(listed_pid(sup, "b", 1), FDN_PID_NONE);
    fdn_supervisor_counts_t cnt = counts(sup);
    cr_assert_eq(cnt.specs, 2);
    cr_assert_eq(cnt.active, 1);
    cr_assert_eq(stats(sup).restarts, 0);
    cr_assert_eq(kid_starts(&k[1]), 1);
    fdn_pid_t none;
    cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "b", &none), FDN_ENOENT);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK,
                 "terminating a stopped child is fine");

    /* restart: a new incarnation, not counted as a restart. */
    fdn_pid_t pb2 = FDN_PID_NONE;
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "b", &pb2), FDN_OK);
    cr_assert_neq(pb2, pb);
    cr_assert(fdn_alive(g_rt, pb2));
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(listed_pid(sup, "b", 1), pb2);
    cr_assert_eq(stats(sup).restarts, 0);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "b", NULL),
                 FDN_EBUSY, "it runs");
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "b"), FDN_EBUSY);
    cr_assert_eq(counts(sup).specs, 2);

    /* A restart whose init fails leaves it stopped, spec kept. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
    kid_fail_init(&k[1], true);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "b", NULL),
                 FDN_EINIT);
    cr_assert_eq(listed_pid(sup, "b", 1), FDN_PID_NONE);
    cr_assert_eq(counts(sup).specs, 2);
    kid_fail_init(&k[1], false);

    /* delete: the spec goes. */
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "b"), FDN_OK);
    cnt = counts(sup);
    cr_assert_eq(cnt.specs, 1);
    cr_assert_eq(cnt.workers, 1);
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "b"), FDN_ENOENT);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "b", NULL),
                 FDN_ENOENT);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"),
                 FDN_ENOENT);
    /* The id is free again. */
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &b, &pb), FDN_OK);
    cr_assert_eq(listed_pid(sup, "b", 1), pb);
    cr_assert_eq(kid_starts(&k[1]), 3);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C5, SUP-C1 */
Test(supervisor_dynamic, temporary_spec_is_deleted_when_it_ends)
{
    setup_rt(false);
    kid_t k[3];
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k[0], &c);
    kid_reset(&k[1], 1, false);
    kid_reset(&k[2], 2, false);
    fdn_child_spec_t t1 = spec("t1", &k[1], FDN_TEMPORARY, FDN_NS_PER_S);
    fdn_child_spec_t t2 = spec("t2", &k[2], FDN_TEMPORARY, FDN_NS_PER_S);
    fdn_pid_t p1;
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &t1, &p1), FDN_OK);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &t2, NULL), FDN_OK);
    cr_assert_eq(counts(sup).specs, 3);
    crash(p1, FDN_REASON_USER + 4);
    WAIT_FOR(counts(sup).specs == 2);
    cr_assert_eq(kid_starts(&k[1]), 1, "never restarted");
    cr_assert_eq(listed_pid(sup, "t2", 1), kid_pid(&k[2]));
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "t1", NULL),
                 FDN_ENOENT);
    /* Terminated: deleted as well. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "t2"), FDN_OK);
    fdn_supervisor_counts_t cnt = counts(sup);
    cr_assert_eq(cnt.specs, 1);
    cr_assert_eq(cnt.active, 1);
    cr_assert_eq(stats(sup).restarts, 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Wrong thread, dead supervisor, bad arguments                             */
/* ------------------------------------------------------------------------ */

#define NCALLS 8
static _Atomic int g_rcs[NCALLS];
static atomic_bool g_called;
static kid_t g_extra;

/* A process that, on any message, makes every client call from its
 * handler: each must refuse with FDN_ETHREAD. */
static fdn_next_t caller_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    (void)state;
    fdn_pid_t sup;
    memcpy(&sup, msg->data, sizeof sup);
    fdn_pid_t pid;
    fdn_supervisor_stats_t st;
    fdn_supervisor_counts_t n;
    fdn_child_info_t *list;
    size_t count;
    fdn_child_spec_t s = spec("new", &g_extra, FDN_PERMANENT, 0);
    int rcs[NCALLS] = {
        fdn_supervisor_which(ctx, sup, "a", &pid),
        fdn_supervisor_stats(ctx, sup, &st),
        fdn_supervisor_which_children(ctx, sup, &list, &count),
        fdn_supervisor_count_children(ctx, sup, &n),
        fdn_supervisor_start_child(ctx, sup, &s, &pid),
        fdn_supervisor_terminate_child(ctx, sup, "a"),
        fdn_supervisor_restart_child(ctx, sup, "a", &pid),
        fdn_supervisor_delete_child(ctx, sup, "a"),
    };
    for (int i = 0; i < NCALLS; i++)
        /* Relaxed: published by the release store of g_called. */
        atomic_store_explicit(&g_rcs[i], rcs[i], memory_order_relaxed);
    /* Release: pairs with the acquire load in the test. */
    atomic_store_explicit(&g_called, true, memory_order_release);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

static const fdn_behaviour_t caller_behaviour = {.handle = caller_handle,
                                                 .name = "caller"};

/* Checks: SUP-C5, SUP-C4 */
Test(supervisor_dynamic, calls_from_a_process_callback_return_ethread)
{
    setup_rt(false);
    kid_t k;
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k, &c);
    kid_reset(&g_extra, 9, false);
    atomic_store_explicit(&g_called, false, memory_order_relaxed);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(g_rt, g_ctx, &caller_behaviour, NULL, NULL, &p),
                 FDN_OK);
    cr_assert_eq(fdn_send(g_ctx, p, 1, &sup, sizeof sup), FDN_OK);
    /* Acquire: pairs with the release store in caller_handle. */
    WAIT_FOR(atomic_load_explicit(&g_called, memory_order_acquire));
    for (int i = 0; i < NCALLS; i++)
        cr_assert_eq(atomic_load_explicit(&g_rcs[i], memory_order_relaxed),
                     FDN_ETHREAD, "call %d", i);
    /* Nothing changed. */
    fdn_supervisor_counts_t cnt = counts(sup);
    cr_assert_eq(cnt.specs, 1);
    cr_assert_eq(cnt.active, 1);
    cr_assert_eq(kid_starts(&g_extra), 0);
    cr_assert_eq(kid_terms(&k), 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* Checks: SUP-C5, SUP-C4 */
Test(supervisor_dynamic, calls_to_a_dead_supervisor_and_bad_arguments)
{
    setup_rt(false);
    kid_t k, k2;
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k, &c);
    kid_reset(&k2, 1, false);
    fdn_child_spec_t s = spec("new", &k2, FDN_PERMANENT, 0);
    fdn_pid_t pid = FDN_PID_NONE;
    fdn_child_info_t *list = NULL;
    size_t n = 7;
    fdn_supervisor_counts_t cnt;

    /* Bad arguments: FDN_EINVAL, before anything is sent. */
    cr_assert_eq(fdn_supervisor_start_child(NULL, sup, &s, &pid), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, FDN_PID_NONE, &s, &pid),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, NULL, &pid),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, sup, NULL, &n),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, sup, &list, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_count_children(g_ctx, sup, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_supervisor_count_children(NULL, sup, &cnt), FDN_EINVAL);
    cr_assert_eq(kid_starts(&k2), 0);
    fdn_supervisor_children_free(g_rt, NULL); /* does nothing */

    /* Not a supervisor: a query times out rather than hang, a reply of
     * the wrong shape is refused.  (Changes have no time limit: they are
     * not sent to non-supervisors here.) */
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &s, &pid),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "a"),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "a", &pid),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "a"), FDN_ENOPROC);
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, sup, &list, &n),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_supervisor_count_children(g_ctx, sup, &cnt),
                 FDN_ENOPROC);
    cr_assert_null(list, "untouched on error");
    cr_assert_eq(n, 7);
    cr_assert_eq(pid, FDN_PID_NONE);
    cr_assert_eq(kid_starts(&k2), 0);
    teardown_rt();
}

/* Checks: SUP-C5 */
Test(supervisor_dynamic, which_children_of_an_empty_supervisor)
{
    setup_rt(false);
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    fdn_pid_t sup = start_opts(&o);
    fdn_child_info_t *list = (fdn_child_info_t *)&o; /* must be replaced */
    size_t n = 5;
    cr_assert_eq(fdn_supervisor_which_children(g_ctx, sup, &list, &n), FDN_OK);
    cr_assert_null(list);
    cr_assert_eq(n, 0);
    fdn_supervisor_counts_t cnt = counts(sup);
    cr_assert_eq(cnt.specs + cnt.active + cnt.workers + cnt.supervisors, 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Changes wait for a plan in progress                                      */
/* ------------------------------------------------------------------------ */

/* A second attached thread that makes one change call. */
typedef struct helper {
    pthread_t thread;
    fdn_pid_t sup;
    int op;                    /* 0 start_child, 1 terminate_child */
    const fdn_child_spec_t *spec;
    const char *id;
    atomic_bool is_done;
    _Atomic int rc;
} helper_t;

static void *helper_main(void *arg)
{
    helper_t *h = arg;
    fdn_ctx_t *ctx;
    int rc = fdn_attach(g_rt, &ctx);
    if (rc == FDN_OK) {
        rc = h->op == 0
                 ? fdn_supervisor_start_child(ctx, h->sup, h->spec, NULL)
                 : fdn_supervisor_terminate_child(ctx, h->sup, h->id);
        fdn_detach(ctx);
    }
    /* Relaxed: published by the release store of is_done. */
    atomic_store_explicit(&h->rc, rc, memory_order_relaxed);
    /* Release: pairs with the acquire load in helper_done. */
    atomic_store_explicit(&h->is_done, true, memory_order_release);
    return NULL;
}

static void helper_start(helper_t *h)
{
    atomic_store_explicit(&h->is_done, false, memory_order_relaxed);
    cr_assert_eq(pthread_create(&h->thread, NULL, helper_main, h), 0);
}

static bool helper_done(helper_t *h)
{
    return atomic_load_explicit(&h->is_done, memory_order_acquire);
}

static int helper_join(helper_t *h)
{
    cr_assert_eq(pthread_join(h->thread, NULL), 0);
    return atomic_load_explicit(&h->rc, memory_order_relaxed);
}

/* Checks: SUP-C5 */
Test(supervisor_dynamic, changes_wait_for_a_plan_in_progress)
{
    setup_rt(true);
    kid_t k[3];
    kid_reset(&k[0], 0, false);
    kid_reset(&k[1], 1, true); /* traps exits: ignores SHUTDOWN */
    kid_reset(&k[2], 2, false);
    fdn_child_spec_t c[2] = {
        spec("a", &k[0], FDN_PERMANENT, FDN_NS_PER_S),
        spec("stubborn", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ALL, c, 2, 10, 60 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    /* a fails: the plan stops stubborn, which waits for its grace. */
    crash(which(sup, "a"), FDN_REASON_USER);
    WAIT_FOR(kid_exits(&k[1]) == 1);
    fdn_child_spec_t late = spec("late", &k[2], FDN_PERMANENT, FDN_NS_PER_S);
    helper_t h = {.sup = sup, .op = 0, .spec = &late};
    helper_start(&h);
    /* The change waits; queries are answered meanwhile. */
    WAIT_FOR(fdn_runtime_process_count(g_rt) == 4); /* + helper */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(counts(sup).specs, 2);
    cr_assert_not(helper_done(&h));
    cr_assert_eq(kid_starts(&k[2]), 0);
    advance(FDN_NS_PER_S); /* stubborn is killed; the plan completes */
    cr_assert_eq(helper_join(&h), FDN_OK);
    cr_assert_eq(kid_starts(&k[0]), 2);
    cr_assert_eq(kid_starts(&k[1]), 2);
    cr_assert_eq(kid_starts(&k[2]), 1);
    cr_assert_gt(kid_start_seq(&k[2]), kid_start_seq(&k[1]),
                 "after the plan's starts");
    cr_assert_eq(listed_pid(sup, "late", 2), kid_pid(&k[2]));

    /* terminate_child returns only once the child is dead. */
    helper_t t = {.sup = sup, .op = 1, .id = "stubborn"};
    helper_start(&t);
    WAIT_FOR(kid_exits(&k[1]) == 2);
    cr_assert_eq(counts(sup).active, 3, "still being stopped");
    cr_assert_not(helper_done(&t));
    advance(FDN_NS_PER_S);
    cr_assert_eq(helper_join(&t), FDN_OK);
    cr_assert_eq(kid_reason(&k[1]), FDN_REASON_KILLED);
    cr_assert_eq(listed_pid(sup, "stubborn", 1), FDN_PID_NONE);
    cr_assert_eq(stats(sup).restarts, 1);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                      */
/* ------------------------------------------------------------------------ */

/* Sweeps the n-th allocation of one call; the call either succeeds or
 * returns FDN_ENOMEM with nothing changed (checked by `check`).  Returns
 * the number of failures seen; stops when n passes the call's last
 * allocation. */
typedef int (*call_fn)(fdn_pid_t sup, void *arg);
typedef void (*check_fn)(fdn_pid_t sup, void *arg, bool is_ok);

static int sweep(fdn_pid_t sup, call_fn call, check_fn check, void *arg)
{
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 1000);
        /* Arming restarts the allocator's count at 0. */
        fdn_failing_allocator_arm(g_fa, n, false);
        int rc = call(sup, arg);
        bool is_past_end = fdn_failing_allocator_calls(g_fa) < n;
        fdn_failing_allocator_arm(g_fa, 0, false);
        cr_assert(rc == FDN_OK || rc == FDN_ENOMEM, "n=%llu: %s",
                  (unsigned long long)n, fdn_errname(rc));
        if (rc != FDN_OK)
            failures++;
        check(sup, arg, rc == FDN_OK);
        if (is_past_end) {
            cr_assert_eq(rc, FDN_OK);
            break;
        }
    }
    return failures;
}

typedef struct sweep_arg {
    kid_t *k;
    fdn_child_spec_t spec;
    int starts;        /* the kid's starts before the call */
    fdn_pid_t pid;     /* its pid before the call */
} sweep_arg_t;

static int call_start(fdn_pid_t sup, void *arg)
{
    sweep_arg_t *a = arg;
    a->starts = kid_starts(a->k);
    return fdn_supervisor_start_child(g_ctx, sup, &a->spec, NULL);
}
static void check_start(fdn_pid_t sup, void *arg, bool is_ok)
{
    sweep_arg_t *a = arg;
    if (!is_ok) {
        cr_assert_eq(counts(sup).specs, 1, "not added");
        fdn_pid_t none;
        cr_assert_eq(fdn_supervisor_which(g_ctx, sup, "b", &none),
                     FDN_ENOENT);
        WAIT_FOR(fdn_runtime_process_count(g_rt) == 3);
        return;
    }
    cr_assert_eq(kid_starts(a->k), a->starts + 1);
    cr_assert_eq(listed_pid(sup, "b", 1), kid_pid(a->k));
    /* Back to one child for the next round. */
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
    cr_assert_eq(fdn_supervisor_delete_child(g_ctx, sup, "b"), FDN_OK);
}

static int call_terminate(fdn_pid_t sup, void *arg)
{
    (void)arg;
    return fdn_supervisor_terminate_child(g_ctx, sup, "b");
}
static void check_terminate(fdn_pid_t sup, void *arg, bool is_ok)
{
    sweep_arg_t *a = arg;
    if (!is_ok) {
        cr_assert_eq(listed_pid(sup, "b", 1), a->pid, "still running");
        return;
    }
    cr_assert_eq(listed_pid(sup, "b", 1), FDN_PID_NONE);
    cr_assert_eq(fdn_supervisor_restart_child(g_ctx, sup, "b", &a->pid),
                 FDN_OK);
}

static int call_restart(fdn_pid_t sup, void *arg)
{
    sweep_arg_t *a = arg;
    a->starts = kid_starts(a->k);
    return fdn_supervisor_restart_child(g_ctx, sup, "b", NULL);
}
static void check_restart(fdn_pid_t sup, void *arg, bool is_ok)
{
    sweep_arg_t *a = arg;
    if (!is_ok) {
        cr_assert_eq(listed_pid(sup, "b", 1), FDN_PID_NONE, "still stopped");
        WAIT_FOR(fdn_runtime_process_count(g_rt) == 3);
        return;
    }
    cr_assert_eq(kid_starts(a->k), a->starts + 1);
    cr_assert_eq(listed_pid(sup, "b", 1), kid_pid(a->k));
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
}

static int call_delete(fdn_pid_t sup, void *arg)
{
    (void)arg;
    return fdn_supervisor_delete_child(g_ctx, sup, "b");
}
static void check_delete(fdn_pid_t sup, void *arg, bool is_ok)
{
    sweep_arg_t *a = arg;
    if (!is_ok) {
        cr_assert_eq(counts(sup).specs, 2, "still there");
        return;
    }
    cr_assert_eq(counts(sup).specs, 1);
    /* Put it back, stopped, for the next round. */
    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &a->spec, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
}

static int call_queries(fdn_pid_t sup, void *arg)
{
    (void)arg;
    fdn_child_info_t *list = NULL;
    size_t n = 0;
    int rc = fdn_supervisor_which_children(g_ctx, sup, &list, &n);
    if (rc != FDN_OK)
        return rc;
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[1].id, "b");
    fdn_supervisor_children_free(g_rt, list);
    fdn_supervisor_counts_t cnt;
    rc = fdn_supervisor_count_children(g_ctx, sup, &cnt);
    if (rc != FDN_OK)
        return rc;
    cr_assert_eq(cnt.specs, 2);
    fdn_supervisor_stats_t st;
    rc = fdn_supervisor_stats(g_ctx, sup, &st);
    if (rc != FDN_OK)
        return rc;
    fdn_pid_t pid;
    return fdn_supervisor_which(g_ctx, sup, "a", &pid);
}
static void check_nothing(fdn_pid_t sup, void *arg, bool is_ok)
{
    (void)arg;
    (void)is_ok;
    cr_assert_eq(counts(sup).specs, 2);
}

/* Checks: SUP-F4, SUP-C5, RT-F1 */
Test(supervisor_dynamic, calls_under_allocation_failure)
{
    setup_rt(false);
    kid_t k[2];
    fdn_child_spec_t c;
    fdn_pid_t sup = start_one(&k[0], &c);
    kid_reset(&k[1], 1, false);
    sweep_arg_t a = {.k = &k[1],
                     .spec = spec("b", &k[1], FDN_PERMANENT, FDN_NS_PER_S)};
    int f = sweep(sup, call_start, check_start, &a);
    cr_log_info("start_child: %d allocations failed cleanly", f);
    cr_assert_gt(f, 0);

    cr_assert_eq(fdn_supervisor_start_child(g_ctx, sup, &a.spec, &a.pid),
                 FDN_OK);
    f = sweep(sup, call_terminate, check_terminate, &a);
    cr_assert_gt(f, 0);
    cr_assert_eq(fdn_supervisor_terminate_child(g_ctx, sup, "b"), FDN_OK);
    f = sweep(sup, call_restart, check_restart, &a);
    cr_assert_gt(f, 0);
    f = sweep(sup, call_delete, check_delete, &a);
    cr_assert_gt(f, 0);
    f = sweep(sup, call_queries, check_nothing, &a);
    cr_log_info("queries: %d allocations failed cleanly", f);
    cr_assert_gt(f, 0);
    cr_assert_eq(stats(sup).restarts, 0, "no call caused a restart");
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}

/*
 * Polls count_children until the supervisor has one active child; a poll
 * that itself draws the injected failure (FDN_ENOMEM) is simply repeated.
 */
static void await_one_active(fdn_pid_t sup)
{
    uint64_t t0 = real_now();
    for (;;) {
        cr_assert(real_now() - t0 < WAIT_NS, "child not restarted");
        fdn_supervisor_counts_t cnt;
        int rc = fdn_supervisor_count_children(g_ctx, sup, &cnt);
        cr_assert(rc == FDN_OK || rc == FDN_ENOMEM, "%s", fdn_errname(rc));
        if (rc == FDN_OK && cnt.active == 1)
            return;
        pause_1ms();
    }
}

/* Checks: SUP-F4, SUP-F3 */
Test(supervisor_dynamic, restart_under_allocation_failure)
{
    setup_rt(false);
    kid_t k;
    kid_reset(&k, 0, false);
    fdn_child_spec_t c = spec("a", &k, FDN_PERMANENT, FDN_NS_PER_S);
    fdn_supervisor_opts_t o =
        sup_opts(FDN_ONE_FOR_ONE, &c, 1, 1000, 60 * FDN_NS_PER_S);
    fdn_pid_t sup = start_opts(&o);
    uint64_t restarts = 0;
    int failed_restarts = 0;
    /* The restart path makes well under 40 allocations; beyond them the
     * failure lands in this thread's own polls. */
    for (uint64_t n = 1; n <= 40; n++) {
        fdn_pid_t old = kid_pid(&k);
        int starts = kid_starts(&k);
        fdn_failing_allocator_arm(g_fa, n, false);
        /* KILL never allocates, so the n-th allocation from here on is
         * the supervisor's (or, past its last one, a poll's). */
        cr_assert_eq(fdn_exit(g_rt, g_ctx, old, FDN_REASON_KILL), FDN_OK);
        WAIT_FOR(kid_starts(&k) == starts + 1);
        await_one_active(sup);
        fdn_failing_allocator_arm(g_fa, 0, false);
        fdn_supervisor_stats_t st = stats(sup);
        /* A failed spawn is a failed restart: one more, then it works. */
        cr_assert(st.restarts == restarts + 1 || st.restarts == restarts + 2,
                  "n=%llu: restarts %llu -> %llu", (unsigned long long)n,
                  (unsigned long long)restarts,
                  (unsigned long long)st.restarts);
        if (st.restarts == restarts + 2)
            failed_restarts++;
        restarts = st.restarts;
        cr_assert_eq(st.active, 1);
        cr_assert_neq(kid_pid(&k), old);
        cr_assert(fdn_alive(g_rt, kid_pid(&k)));
        cr_assert_eq(which(sup, "a"), kid_pid(&k));
        WAIT_FOR(fdn_runtime_process_count(g_rt) == 3);
    }
    cr_log_info("restart: %d of 40 injected failures failed a restart",
                failed_restarts);
    cr_assert_gt(failed_restarts, 0);
    cr_assert_eq(stop_sup(sup, FDN_REASON_SHUTDOWN), FDN_REASON_SHUTDOWN);
    teardown_rt();
}
