/*
 * query_plan.c — the rest of the query contract: bad terms, the work an
 * indexed query does (counted through the fdn__rq_examined hook, never
 * timed), expiry, shared terms that must not blow up, and one consistent
 * state under concurrent writes.
 *
 * The requirement ids are the drafts in specs/drafts/registry-query.md,
 * written REG_Qn in test names until they move into specs/registry.md.
 */
#include "unit/registry/rq_helpers.h"

#include "registry/registry_internal.h"

#include <pthread.h>

/* ---- bad queries --------------------------------------------------------- */

/* Checks: REG-C14 REG-F1 */
Test(query, bad_terms_are_einval_and_change_nothing)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "x", FDN_META_INT, false,
                                            true),
                 FDN_OK);
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "q", &o, &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "x", 1), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "a", p, &m, NULL), FDN_OK);

    fdn_registry_match_t out[4];
    memset(out, 0x5a, sizeof out);
    fdn_registry_match_t before[4];
    memcpy(before, out, sizeof out);
    size_t n = 77;
    bool more = true;
    fdn_meta_value_t one = vint(1);
    fdn_rq_t eq = {.op = FDN_RQ_EQ, .field = "x", .value = one};
    /* Each case: a query that must be refused. */
    fdn_rq_t bad[][2] = {
        {{.op = (fdn_rq_op_t)11, .field = "x"}, {.op = FDN_RQ_ALL}},
        {{.op = (fdn_rq_op_t)-1, .field = "x"}, {.op = FDN_RQ_ALL}},
        {{.op = FDN_RQ_EQ, .field = NULL}, {.op = FDN_RQ_ALL}},
        {{.op = FDN_RQ_RANGE, .field = NULL}, {.op = FDN_RQ_ALL}},
        {{.op = FDN_RQ_EXISTS, .field = NULL}, {.op = FDN_RQ_ALL}},
        {{.op = FDN_RQ_IN, .field = NULL}, {.op = FDN_RQ_ALL}},
        {{.op = FDN_RQ_IN, .field = "x", .nset = 2, .set = NULL},
         {.op = FDN_RQ_ALL}},
        {eq, {.op = FDN_RQ_AND, .a = 0, .b = 1}},
        {eq, {.op = FDN_RQ_OR, .a = 2, .b = 0}},
        {{.op = FDN_RQ_AND, .a = 0, .b = 0}, eq},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(fdn_registry_query(ns, bad[i], 2, NULL, out, 4, &n,
                                        &more),
                     FDN_EINVAL, "case %zu", i);
        cr_assert(n == 77 && more, "case %zu wrote results", i);
        cr_assert(memcmp(out, before, sizeof out) == 0);
    }
    fdn_rq_t many[FDN_RQ_MAX + 1];
    for (size_t i = 0; i <= FDN_RQ_MAX; i++)
        many[i] = (fdn_rq_t){.op = FDN_RQ_ALL};
    cr_assert_eq(fdn_registry_query(ns, many, FDN_RQ_MAX + 1, NULL, out, 4,
                                    &n, &more),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_query(ns, many, 0, NULL, out, 4, &n, &more),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_query(ns, NULL, 1, NULL, out, 4, &n, &more),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_query(NULL, &eq, 1, NULL, out, 4, &n, &more),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_query(ns, &eq, 1, NULL, NULL, 4, &n, &more),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_query(ns, &eq, 1, NULL, out, 4, NULL, &more),
                 FDN_EINVAL);
    cr_assert(n == 77 && more);
    fdn_pid_t pids[2];
    size_t found = 55;
    cr_assert_eq(fdn_registry_find(NULL, "x", &one, pids, 2, &found),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_find(ns, NULL, &one, pids, 2, &found),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_find(ns, "x", NULL, pids, 2, &found),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_find(ns, "x", &one, NULL, 2, &found),
                 FDN_EINVAL);
    cr_assert_eq(found, 55);
    cr_assert_eq(fdn_registry_count(ns), 1);

    /* Well formed if odd: every term is checked, also unreachable ones,
     * but AND, OR and ALL ignore field; an empty IN matches nothing. */
    fdn_rq_t odd[3] = {{.op = FDN_RQ_IN, .field = "x", .nset = 0},
                       {.op = FDN_RQ_ALL, .field = NULL},
                       {.op = FDN_RQ_OR, .a = 0, .b = 0}};
    cr_assert_eq(fdn_registry_query(ns, odd, 3, NULL, out, 4, &n, &more),
                 FDN_OK);
    cr_assert(n == 0 && !more);
    cr_assert_eq(fdn_registry_query(ns, odd, 2, NULL, NULL, 0, &n, NULL),
                 FDN_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(fdn_registry_query(ns, &eq, 1, NULL, out, 4, &n, &more),
                 FDN_OK);
    cr_assert(n == 1 && !more && out[0].pid == p);
    cr_assert_str_eq(out[0].key, "a");
    reg_fixture_down(&fx);
}

/* ---- the work an indexed query does -------------------------------------- */

static uint64_t examined(void)
{
    /* Relaxed: the test hook is a tally; this thread made the queries. */
    return atomic_load_explicit(&fdn__rq_examined, memory_order_relaxed);
}

/* Runs q and returns how many candidates it examined; *nres the matches. */
static uint64_t work_of(fdn_registry_ns_t *ns, const fdn_rq_t *q, size_t nq,
                        size_t *nres)
{
    fdn_registry_match_t out[64];
    bool more = false;
    uint64_t before = examined();
    cr_assert_eq(fdn_registry_query(ns, q, nq, NULL, out, 64, nres, &more),
                 FDN_OK);
    cr_assert(!more);
    return examined() - before;
}

/* Checks: REG-P8 */
Test(query, indexed_terms_examine_only_their_candidates,
     .timeout = 120)
{
    enum { N = 100000, GROUPS = N / 10 };
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "g", FDN_META_INT, true,
                                            true),
                 FDN_OK);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "h", FDN_META_INT, true,
                                            false),
                 FDN_OK);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "big", &o, &ns),
                 FDN_OK);
    fdn_pid_t owners[16];
    for (int i = 0; i < 16; i++)
        owners[i] = reg_spawn_idle(fx.rt);
    /* g and h carry the same value, i % GROUPS: ten entries each; only g
     * is indexed. */
    for (int i = 0; i < N; i++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "g", i % GROUPS), FDN_OK);
        cr_assert_eq(fdn_meta_set_int(&m, "h", i % GROUPS), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "k%06d", i);
        cr_assert_eq(fdn_registry_register(ns, key, owners[i % 16], &m,
                                           NULL),
                     FDN_OK);
    }
    fdn_meta_value_t v42 = vint(42), v43 = vint(43), v0 = vint(0);
    size_t n;
    fdn_rq_t g_eq = {.op = FDN_RQ_EQ, .field = "g", .value = v42};
    fdn_rq_t h_eq = {.op = FDN_RQ_EQ, .field = "h", .value = v42};
    uint64_t w = work_of(ns, &g_eq, 1, &n);
    cr_assert_eq(n, 10);
    cr_assert_leq(w, 20, "indexed EQ examined %llu", (unsigned long long)w);
    w = work_of(ns, &h_eq, 1, &n);
    cr_assert_eq(n, 10);
    cr_assert_eq(w, N, "a plain field scans: %llu", (unsigned long long)w);
    /* AND with an indexed side examines that side's candidates only, also
     * when the other side is an indexed range over everything. */
    fdn_rq_t and_q[3] = {h_eq, g_eq, {.op = FDN_RQ_AND, .a = 0, .b = 1}};
    w = work_of(ns, and_q, 3, &n);
    cr_assert(n == 10 && w <= 20, "AND: %zu matches, %llu examined", n,
              (unsigned long long)w);
    fdn_rq_t range_q[3] = {{.op = FDN_RQ_GE, .field = "g", .value = v0},
                           g_eq,
                           {.op = FDN_RQ_AND, .a = 0, .b = 1}};
    w = work_of(ns, range_q, 3, &n);
    cr_assert(n == 10 && w <= 20, "range AND: %zu, %llu", n,
              (unsigned long long)w);
    /* Two ranges: the narrow one is the source, whichever side it is. */
    fdn_rq_t narrow = {.op = FDN_RQ_RANGE, .field = "g", .value = v42,
                       .high = v43};
    fdn_rq_t ranges[2][3] = {
        {range_q[0], narrow, {.op = FDN_RQ_AND, .a = 0, .b = 1}},
        {narrow, range_q[0], {.op = FDN_RQ_AND, .a = 0, .b = 1}}};
    for (int i = 0; i < 2; i++) {
        w = work_of(ns, ranges[i], 3, &n);
        cr_assert(n == 20 && w <= 40, "two ranges (%d): %zu, %llu", i, n,
                  (unsigned long long)w);
    }
    fdn_rq_t or_q[3] = {g_eq,
                        {.op = FDN_RQ_EQ, .field = "g", .value = v43},
                        {.op = FDN_RQ_OR, .a = 0, .b = 1}};
    w = work_of(ns, or_q, 3, &n);
    cr_assert(n == 20 && w <= 40, "OR: %zu, %llu", n, (unsigned long long)w);
    fdn_meta_value_t set[3] = {v42, v43, v42};
    fdn_rq_t in_q = {.op = FDN_RQ_IN, .field = "g", .set = set, .nset = 3};
    w = work_of(ns, &in_q, 1, &n);
    cr_assert(n == 20 && w <= 40, "IN: %zu, %llu", n, (unsigned long long)w);
    /* A small range is answered from the index too. */
    fdn_rq_t rng = {.op = FDN_RQ_RANGE, .field = "g", .value = v42,
                    .high = vint(44)};
    w = work_of(ns, &rng, 1, &n);
    cr_assert(n == 30 && w <= 60, "RANGE: %zu, %llu", n,
              (unsigned long long)w);
    /* find: the index for g, a scan for h; both report the total. */
    fdn_pid_t pids[4];
    size_t found = 0;
    uint64_t before = examined();
    cr_assert_eq(fdn_registry_find(ns, "g", &v42, pids, 4, &found), FDN_OK);
    cr_assert_eq(found, 10);
    cr_assert_leq(examined() - before, 20);
    before = examined();
    cr_assert_eq(fdn_registry_find(ns, "h", &v42, pids, 4, &found), FDN_OK);
    cr_assert_eq(found, 10);
    cr_assert_eq(examined() - before, N);
    reg_fixture_down(&fx);
}

/* ---- expiry -------------------------------------------------------------- */

/* Checks: REG-C14 */
Test(query, expired_entries_never_match)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_clock_t *clock;
    cr_assert_eq(fdn_clock_virtual_create(0, &clock), FDN_OK);
    fdn_runtime_opts_t ro;
    fdn_runtime_opts_init(&ro);
    ro.schedulers = 1;
    ro.allocator = fdn_failing_allocator_get(fa);
    ro.clock = clock;
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&ro, &rt), FDN_OK);
    fdn_registry_opts_t go;
    fdn_registry_opts_init(&go);
    go.sweep_interval_ns = FDN_INFINITY; /* expiry without removal */
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, &go, &reg), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(rt);
    for (int indexed = 0; indexed < 2; indexed++) {
        fdn_registry_ns_opts_t o;
        fdn_registry_ns_opts_init(&o);
        o.ttl_ns = 1000;
        cr_assert_eq(fdn_registry_ns_opts_field(&o, "x", FDN_META_INT, false,
                                                indexed),
                     FDN_OK);
        fdn_registry_ns_t *ns;
        cr_assert_eq(fdn_registry_namespace_opts(reg, indexed ? "t1" : "t0",
                                                 &o, &ns),
                     FDN_OK);
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "x", 1), FDN_OK);
        cr_assert_eq(fdn_registry_register(ns, "old", p, &m, NULL), FDN_OK);
        cr_assert_eq(fdn_clock_advance(clock, 600), FDN_OK);
        cr_assert_eq(fdn_registry_register(ns, "new", p, &m, NULL), FDN_OK);
        cr_assert_eq(fdn_clock_advance(clock, 500), FDN_OK);
        fdn_rq_t q = {.op = FDN_RQ_EQ, .field = "x", .value = vint(1)};
        fdn_registry_match_t out[4];
        size_t n = 0;
        bool more = true;
        cr_assert_eq(fdn_registry_query(ns, &q, 1, NULL, out, 4, &n, &more),
                     FDN_OK);
        cr_assert(n == 1 && !more, "indexed %d: %zu matches", indexed, n);
        cr_assert_str_eq(out[0].key, "new");
        size_t found = 9;
        cr_assert_eq(fdn_registry_find(ns, "x", &q.value, NULL, 0, &found),
                     FDN_OK);
        cr_assert_eq(found, 1);
    }
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
    fdn_clock_destroy(clock);
}

/* ---- one consistent state ------------------------------------------------ */

enum { FLIP_N = 200 };

struct flipper {
    fdn_registry_ns_t *ns;
    fdn_pid_t pid;
    pthread_barrier_t *start;
    atomic_bool stop;
    _Atomic uint64_t updates;
};

/* Flips entries' x between 0 and 1, one atomic update at a time. */
static void *flip_main(void *arg)
{
    struct flipper *f = arg;
    unsigned long long s = 12345;
    int x[FLIP_N] = {0};
    pthread_barrier_wait(f->start);
    /* Relaxed: stop is a flag polled in a loop; the join orders the end. */
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        int i = (int)(reg_rand(&s) % FLIP_N);
        x[i] ^= 1;
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        fdn_meta_set_int(&m, "x", x[i]);
        char key[16];
        snprintf(key, sizeof key, "f%03d", i);
        if (fdn_registry_update(f->ns, key, f->pid, &m,
                                FDN_REGISTRY_REPLACE) != FDN_OK)
            break;
        /* Relaxed: a tally the reader polls; nothing is ordered by it. */
        atomic_fetch_add_explicit(&f->updates, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Checks: REG-S13 */
Test(query, indexed_query_sees_one_state_under_writes,
     .timeout = 120)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "x", FDN_META_INT, true,
                                            true),
                 FDN_OK);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "flip", &o, &ns),
                 FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    for (int i = 0; i < FLIP_N; i++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "x", 0), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "f%03d", i);
        cr_assert_eq(fdn_registry_register(ns, key, p, &m, NULL), FDN_OK);
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    struct flipper f = {.ns = ns, .pid = p, .start = &start};
    atomic_init(&f.stop, false);
    atomic_init(&f.updates, 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, flip_main, &f), 0);
    pthread_barrier_wait(&start);
    /* Every entry has x = 0 or x = 1 in every state: a query that saw an
     * entry twice (old and new) or not at all would miscount. */
    fdn_rq_t q[3] = {{.op = FDN_RQ_EQ, .field = "x", .value = vint(0)},
                     {.op = FDN_RQ_EQ, .field = "x", .value = vint(1)},
                     {.op = FDN_RQ_OR, .a = 0, .b = 1}};
    static fdn_registry_match_t out[FLIP_N + 1];
    int rounds = 0;
    struct timespec t0 = {0, 0};
    while (reg_race_goes_on(rounds, 200, &f.updates, 2000, &t0)) {
        size_t n = 0, n0 = 0, n1 = 0;
        bool more = true;
        cr_assert_eq(fdn_registry_query(ns, q, 3, NULL, out, FLIP_N + 1, &n,
                                        &more),
                     FDN_OK);
        cr_assert(n == FLIP_N && !more, "round %d saw %zu entries", rounds,
                  n);
        for (size_t i = 1; i < n; i++)
            cr_assert_lt(match_cmp(&out[i - 1], &out[i]), 0);
        cr_assert_eq(fdn_registry_query(ns, q, 1, NULL, out, FLIP_N + 1, &n0,
                                        NULL),
                     FDN_OK);
        cr_assert_eq(fdn_registry_query(ns, q, 2, NULL, out, FLIP_N + 1, &n1,
                                        NULL),
                     FDN_OK);
        cr_assert_leq(n0, FLIP_N);
        cr_assert_leq(n1, FLIP_N);
        rounds++;
    }
    atomic_store_explicit(&f.stop, true, memory_order_relaxed);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&start);
    cr_assert_geq(atomic_load(&f.updates), 2000, "the writer barely ran");
    reg_fixture_down(&fx);
}

/* ---- shared terms -------------------------------------------------------- */

/* A namespace "dag" with n entries: x = i % 10 (indexed if is_indexed). */
static fdn_registry_ns_t *ten_values(reg_fixture_t *fx, bool is_indexed,
                                     int n)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "x", FDN_META_INT, true,
                                            is_indexed),
                 FDN_OK);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(fx->reg,
                                             is_indexed ? "dag1" : "dag0", &o,
                                             &ns),
                 FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx->rt);
    for (int i = 0; i < n; i++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "x", i % 10), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "d%04d", i);
        cr_assert_eq(fdn_registry_register(ns, key, p, &m, NULL), FDN_OK);
    }
    return ns;
}

/* Checks: REG-C14 */
Test(query, shared_terms_cost_no_more_than_a_scan)
{
    enum { N = 1000 };
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    /* t0: x == 3; then 31 ORs and 32 ANDs, each of the previous term
     * with itself: 2^63 paths from the root, one meaning (x == 3). */
    fdn_rq_t q[FDN_RQ_MAX];
    q[0] = (fdn_rq_t){.op = FDN_RQ_EQ, .field = "x", .value = vint(3)};
    for (uint32_t t = 1; t < FDN_RQ_MAX; t++)
        q[t] = (fdn_rq_t){.op = t < 32 ? FDN_RQ_OR : FDN_RQ_AND,
                          .a = t - 1,
                          .b = t - 1};
    for (int is_indexed = 0; is_indexed < 2; is_indexed++) {
        fdn_registry_ns_t *ns = ten_values(&fx, is_indexed, N);
        size_t n = 0;
        bool more = true;
        static fdn_registry_match_t out[N];
        uint64_t before = examined();
        cr_assert_eq(fdn_registry_query(ns, q, FDN_RQ_MAX, NULL, out, N, &n,
                                        &more),
                     FDN_OK);
        uint64_t w = examined() - before;
        cr_assert(n == N / 10 && !more, "%zu matches", n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(atoi(out[i].key + 1) % 10, 3);
        /* The expanded ORs would read the index 2^31 times: a scan wins. */
        cr_assert_leq(w, N, "examined %llu", (unsigned long long)w);
        /* Only ANDs over the index: their source is t0's ten percent. */
        before = examined();
        fdn_rq_t ands[3] = {q[0], {.op = FDN_RQ_AND, .a = 0, .b = 0},
                            {.op = FDN_RQ_AND, .a = 1, .b = 1}};
        cr_assert_eq(fdn_registry_query(ns, ands, 3, NULL, out, N, &n, NULL),
                     FDN_OK);
        cr_assert_eq(n, N / 10);
        w = examined() - before;
        cr_assert_eq(w, is_indexed ? N / 10 : N, "examined %llu",
                     (unsigned long long)w);
    }
    reg_fixture_down(&fx);
}

/* ---- out of memory ------------------------------------------------------- */

/* Checks: REG-C14 REG-F1 */
Test(query, out_of_memory_is_enomem_and_changes_nothing)
{
    enum { N = 300 };
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns = ten_values(&fx, true, N);
    fdn_meta_value_t set[2] = {vint(1), vint(2)};
    fdn_rq_t q[3] = {{.op = FDN_RQ_IN, .field = "x", .set = set, .nset = 2},
                     {.op = FDN_RQ_ALL},
                     {.op = FDN_RQ_AND, .a = 1, .b = 0}};
    static fdn_registry_match_t out[N], zero[N];
    int failures = 0;
    for (uint64_t at = 1; at < 50; at++) {
        size_t n = 77;
        bool more = true;
        memset(out, 0, sizeof out);
        int64_t live = fdn_failing_allocator_live(fx.fa);
        fdn_failing_allocator_arm(fx.fa, at, true);
        int rc = fdn_registry_query(ns, q, 3, NULL, out, N, &n, &more);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live, "a leak");
        if (rc == FDN_OK) {
            cr_assert(n == 2 * N / 10 && !more);
            break;
        }
        failures++;
        cr_assert_eq(rc, FDN_ENOMEM, "fail_at %llu: %s",
                     (unsigned long long)at, fdn_errname(rc));
        cr_assert(n == 77 && more, "a failed query wrote *n or *more");
        cr_assert(memcmp(out, zero, sizeof out) == 0, "and results");
    }
    cr_assert_geq(failures, 2, "the IN values and the heap allocate");
    cr_assert_eq(fdn_registry_count(ns), N);
    reg_fixture_down(&fx);
}

/* ---- lock-free queries of a plain namespace ------------------------------ */

struct churner {
    fdn_registry_ns_t *ns;
    fdn_pid_t pid;
    pthread_barrier_t *start;
    atomic_bool stop;
    _Atomic uint64_t writes;
};

/* Registers and unregisters keys c0000..c0199 (x = the key's number). */
static void *churn_main(void *arg)
{
    struct churner *c = arg;
    unsigned long long s = 777;
    pthread_barrier_wait(c->start);
    /* Relaxed: see flip_main. */
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        int i = (int)(reg_rand(&s) % 200);
        char key[16];
        snprintf(key, sizeof key, "c%04d", i);
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        fdn_meta_set_int(&m, "x", i);
        if (fdn_registry_register(c->ns, key, c->pid, &m, NULL) == FDN_EEXIST)
            fdn_registry_unregister(c->ns, key, c->pid);
        atomic_fetch_add_explicit(&c->writes, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Checks: REG-S13 */
Test(query, plain_namespace_queries_run_lock_free_beside_writes,
     .timeout = 120)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "churn", &ns), FDN_OK);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    struct churner c = {.ns = ns, .pid = reg_spawn_idle(fx.rt),
                        .start = &start};
    atomic_init(&c.stop, false);
    atomic_init(&c.writes, 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, churn_main, &c), 0);
    pthread_barrier_wait(&start);
    /* Whatever the writer does, results are ordered, distinct, and each
     * one is an entry that matched (x < 100 for keys below c0100). */
    fdn_rq_t q = {.op = FDN_RQ_LT, .field = "x", .value = vint(100)};
    static fdn_registry_match_t out[256];
    int rounds = 0;
    struct timespec t0 = {0, 0};
    while (reg_race_goes_on(rounds, 100, &c.writes, 2000, &t0)) {
        size_t n = 0;
        bool more = true;
        cr_assert_eq(fdn_registry_query(ns, &q, 1, NULL, out, 256, &n, &more),
                     FDN_OK);
        cr_assert(n <= 100 && !more, "%zu matches", n);
        for (size_t i = 0; i < n; i++) {
            cr_assert_lt(atoi(out[i].key + 1), 100, "%s", out[i].key);
            cr_assert(i == 0 || match_cmp(&out[i - 1], &out[i]) < 0);
        }
        rounds++;
    }
    atomic_store_explicit(&c.stop, true, memory_order_relaxed);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&start);
    cr_assert_geq(atomic_load(&c.writes), 2000, "the writer barely ran");
    reg_fixture_down(&fx);
}
