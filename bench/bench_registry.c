/*
 * bench/bench_registry.c — the registry's benchmarks: lookups per second
 * from 1 and 2 threads, lookup cost at 1,000 versus 1,000,000 entries,
 * registrations per second, dispatch to a 10,000-member group, dead-owner
 * cleanup latency, memory per entry, and restoring a snapshot.  Each
 * workload but the last mirrors one in bench/peers/registry.exs and prints
 * RESULT lines that scripts/bench.sh puts beside the BEAM's.
 *
 * Usage: bench_registry lookup|lookup_scale|register|dispatch|cleanup|
 *                       memory|restore
 * Keys are "k<i>" strings built before timing starts, as in the peer.
 * Every workload prints each figure as soon as it is measured, so a later
 * failure cannot swallow the ones before it, and prints it whatever it is:
 * the targets are judged by scripts/bench.sh, never here.
 */
#include "foundation/registry.h"
#include "foundation/runtime.h"

#include "bench_alloc.h"
#include "bench_rt.h"
#include "bench_util.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define SCHEDULERS BENCH_SCHEDULERS
#define KEY_BYTES 16
#define STRIDE 7919U /* prime: a fixed-stride walk visits every key */

static fdn_runtime_t *rt;
static fdn_registry_t *reg;
static fdn_registry_ns_t *ns;

/* Flat key storage: key i is keys + i * KEY_BYTES. */
static char *make_keys(uint32_t n)
{
    char *keys = malloc((size_t)n * KEY_BYTES);
    if (keys == NULL)
        bench_fail("malloc keys", FDN_ENOMEM);
    for (uint32_t i = 0; i < n; i++)
        snprintf(keys + (size_t)i * KEY_BYTES, KEY_BYTES, "k%u", i);
    return keys;
}

static const char *key_at(const char *keys, uint32_t i)
{
    return keys + (size_t)i * KEY_BYTES;
}

/* A runtime on SCHEDULERS schedulers (with allocator, if non-NULL), a
 * registry on it and its plain UNIQUE namespace "bench" in ns. */
static void start_with(const fdn_allocator_t *allocator)
{
    fdn_runtime_opts_t opts;
    int rc;
    fdn_runtime_opts_init(&opts);
    opts.schedulers = SCHEDULERS;
    opts.allocator = allocator;
    rc = fdn_runtime_create(&opts, &rt);
    if (rc != FDN_OK)
        bench_fail("fdn_runtime_create", rc);
    rc = fdn_registry_create(rt, NULL, &reg);
    if (rc != FDN_OK)
        bench_fail("fdn_registry_create", rc);
    rc = fdn_registry_namespace(reg, "bench", &ns);
    if (rc != FDN_OK)
        bench_fail("fdn_registry_namespace", rc);
}

static void start(void)
{
    start_with(NULL);
}

/* start(), with the calling thread attached; returns its ctx. */
static fdn_ctx_t *start_attached(void)
{
    fdn_ctx_t *ctx;
    int rc;

    start();
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    return ctx;
}

static void stop(void)
{
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

/* Registers keys [from, to) to owner in ns, with an int field "v" = i
 * when with_meta. */
static void register_range_meta(fdn_registry_ns_t *into, const char *keys,
                                uint32_t from, uint32_t to, fdn_pid_t owner,
                                bool with_meta)
{
    fdn_meta_t meta;
    for (uint32_t i = from; i < to; i++) {
        int rc;
        if (with_meta) {
            memset(&meta, 0, sizeof meta);
            rc = fdn_meta_set_int(&meta, "v", (int64_t)i);
            if (rc != FDN_OK)
                bench_fail("fdn_meta_set_int", rc);
        }
        rc = fdn_registry_register(into, key_at(keys, i), owner,
                                   with_meta ? &meta : NULL, NULL);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_register", rc);
    }
}

static void register_range(const char *keys, uint32_t from, uint32_t to,
                           fdn_pid_t owner)
{
    register_range_meta(ns, keys, from, to, owner, false);
}

/* Looks up `count` keys among n with a fixed-stride walk from `first`
 * (non-sequential, cheap to compute, the same walk as the peer); returns
 * the number of hits so the work cannot be skipped. */
static uint64_t lookup_walk(const char *keys, uint32_t n, uint32_t first,
                            uint64_t count)
{
    uint64_t hits = 0;
    uint32_t idx = first;
    for (uint64_t i = 0; i < count; i++) {
        fdn_pid_t pid;
        if (fdn_registry_lookup(ns, key_at(keys, idx), &pid, NULL) == FDN_OK)
            hits++;
        idx += STRIDE % n;
        if (idx >= n)
            idx -= n;
    }
    return hits;
}

/* ------------------------------------------------------------------------ */
/* Lookups from 1 and 2 threads                                             */
/* ------------------------------------------------------------------------ */

#define LOOKUP_KEYS 100000U
#define LOOKUP_THREADS_MAX 2
#define LOOKUP_PER_THREAD UINT64_C(10000000)

typedef struct lookup_worker {
    pthread_t thread;
    pthread_barrier_t *go;
    const char *keys;
    uint32_t first;
    uint64_t hits;
} lookup_worker_t;

static void *lookup_thread(void *arg)
{
    lookup_worker_t *w = arg;
    pthread_barrier_wait(w->go);
    w->hits = lookup_walk(w->keys, LOOKUP_KEYS, w->first, LOOKUP_PER_THREAD);
    return NULL;
}

/* Lookups per second over nthreads plain threads, each walking
 * LOOKUP_PER_THREAD keys of the LOOKUP_KEYS registered in ns. */
static double lookup_rate_threads(const char *keys, int nthreads)
{
    lookup_worker_t w[LOOKUP_THREADS_MAX];
    pthread_barrier_t go;
    uint64_t t0, dt, hits = 0;

    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        w[i].go = &go;
        w[i].keys = keys;
        w[i].first = (uint32_t)(i + 1) * 12345U % LOOKUP_KEYS;
        w[i].hits = 0;
        if (pthread_create(&w[i].thread, NULL, lookup_thread, &w[i]) != 0)
            bench_fail("pthread_create", FDN_ESYS);
    }
    pthread_barrier_wait(&go);
    t0 = bench_now_ns();
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].thread, NULL);
        hits += w[i].hits;
    }
    dt = bench_now_ns() - t0;
    pthread_barrier_destroy(&go);
    if (hits != (uint64_t)nthreads * LOOKUP_PER_THREAD)
        bench_fail("lookup hits", (int)(hits % 1000));
    return (double)((uint64_t)nthreads * LOOKUP_PER_THREAD) /
           ((double)dt / 1e9);
}

/* Lookups from 1 and 2 threads; the metrics' names end in suffix. */
static void lookup_threads(const char *suffix)
{
    fdn_ctx_t *ctx;
    char *keys = make_keys(LOOKUP_KEYS);
    char name[64];

    ctx = start_attached();
    register_range(keys, 0, LOOKUP_KEYS, fdn_self(ctx));
    snprintf(name, sizeof name, "reg_lookup_rate_1t%s", suffix);
    bench_result(name, lookup_rate_threads(keys, 1), "lookup/s");
    snprintf(name, sizeof name, "reg_lookup_rate_2t%s", suffix);
    bench_result(name, lookup_rate_threads(keys, 2), "lookup/s");
    fdn_detach(ctx);
    stop();
    free(keys);
}

/* Checks: REG-P1 */
static void bench_lookup(void)
{
    lookup_threads("");
}

/*
 * REG-P1, for information: the same lookups, run by bench.sh with
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 so that malloc backs its heap
 * with transparent huge pages.  The lookup is bound by TLB and cache
 * misses (one bucket, one entry, 100,000 entries on 4 KiB pages); this
 * shows how much of it is the TLB.  A deployment setting, not a default:
 * the figure the target is checked on is bench_lookup's.
 */
static void bench_lookup_thp(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (t == NULL || strstr(t, "glibc.malloc.hugetlb=1") == NULL)
        bench_fail("lookup_thp needs GLIBC_TUNABLES=glibc.malloc.hugetlb=1",
                   -1);
    lookup_threads("_thp");
}

/* ------------------------------------------------------------------------ */
/* Lookup cost at 1,000 and 1,000,000 entries                               */
/* ------------------------------------------------------------------------ */

#define SCALE_LOOKUPS UINT64_C(5000000)
#define SCALE_SMALL 1000U
#define SCALE_LARGE 1000000U

/* One thread's lookups per second walking n of the keys (registered in
 * ns), SCALE_LOOKUPS lookups in all. */
static double lookup_rate_walk(const char *keys, uint32_t n)
{
    uint64_t t0 = bench_now_ns();
    uint64_t hits = lookup_walk(keys, n, 0, SCALE_LOOKUPS);
    double rate =
        (double)SCALE_LOOKUPS / ((double)(bench_now_ns() - t0) / 1e9);
    if (hits != SCALE_LOOKUPS)
        bench_fail("lookup hits", -1);
    return rate;
}

/*
 * Checks: REG-P4
 *
 * Three figures.  1k: a table of 1,000 entries, all looked up.  1M hot: a
 * table of 1,000,000 entries of which a fixed subset of 1,000 (every
 * 1000th key, so scattered over the table) is looked up: the same work per
 * lookup as 1k with the same cache footprint, so the ratio of the two
 * shows the algorithm's cost of the larger table — the O(1) check.  1M
 * uniform: all 1,000,000 looked up, so nearly every lookup misses the
 * caches: the memory-bound figure, shown for information.
 */
static void bench_lookup_scale(void)
{
    fdn_ctx_t *ctx;
    char *keys = make_keys(SCALE_LARGE);
    char *hot = malloc((size_t)SCALE_SMALL * KEY_BYTES);

    if (hot == NULL)
        bench_fail("malloc hot keys", FDN_ENOMEM);
    for (uint32_t i = 0; i < SCALE_SMALL; i++)
        memcpy(hot + (size_t)i * KEY_BYTES,
               key_at(keys, i * (SCALE_LARGE / SCALE_SMALL)), KEY_BYTES);

    ctx = start_attached();
    register_range(keys, 0, SCALE_SMALL, fdn_self(ctx));
    bench_result("reg_lookup_rate_1k", lookup_rate_walk(keys, SCALE_SMALL),
                 "lookup/s");
    fdn_detach(ctx);
    stop();

    ctx = start_attached();
    register_range(keys, 0, SCALE_LARGE, fdn_self(ctx));
    bench_result("reg_lookup_rate_1m_hot", lookup_rate_walk(hot, SCALE_SMALL),
                 "lookup/s");
    bench_result("reg_lookup_rate_1m", lookup_rate_walk(keys, SCALE_LARGE),
                 "lookup/s");
    fdn_detach(ctx);
    stop();
    free(hot);
    free(keys);
}

/* ------------------------------------------------------------------------ */
/* Registrations                                                            */
/* ------------------------------------------------------------------------ */

#define REG_KEYS 100000U
#define REG_THREADS 2
#define REG_RUNS 3

typedef struct reg_worker {
    pthread_t thread;
    pthread_barrier_t *go, *done, *leave;
    const char *keys;
    uint32_t from, to;
} reg_worker_t;

/* An attached thread registers its share of keys as their owner, then
 * stays alive until main has checked the count; detaching removes them. */
static void *reg_thread(void *arg)
{
    reg_worker_t *w = arg;
    fdn_ctx_t *ctx;
    int rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    pthread_barrier_wait(w->go);
    register_range(w->keys, w->from, w->to, fdn_self(ctx));
    pthread_barrier_wait(w->done);
    pthread_barrier_wait(w->leave);
    fdn_detach(ctx);
    return NULL;
}

/* Checks: REG-P2 REG-C17 */
static void bench_register(void)
{
    char *keys = make_keys(REG_KEYS * REG_RUNS);
    uint64_t best = UINT64_MAX;

    start();
    for (uint32_t run = 0; run < REG_RUNS; run++) {
        reg_worker_t w[REG_THREADS];
        pthread_barrier_t go, done, leave;
        uint64_t t0, dt, deadline;
        pthread_barrier_init(&go, NULL, REG_THREADS + 1);
        pthread_barrier_init(&done, NULL, REG_THREADS + 1);
        pthread_barrier_init(&leave, NULL, REG_THREADS + 1);
        for (uint32_t i = 0; i < REG_THREADS; i++) {
            w[i].go = &go;
            w[i].done = &done;
            w[i].leave = &leave;
            w[i].keys = keys;
            w[i].from = run * REG_KEYS + i * (REG_KEYS / REG_THREADS);
            w[i].to = w[i].from + REG_KEYS / REG_THREADS;
            if (pthread_create(&w[i].thread, NULL, reg_thread, &w[i]) != 0)
                bench_fail("pthread_create", FDN_ESYS);
        }
        pthread_barrier_wait(&go);
        t0 = bench_now_ns();
        pthread_barrier_wait(&done);
        dt = bench_now_ns() - t0;
        if (fdn_registry_count(ns) != REG_KEYS)
            bench_fail("registry count after registering", -1);
        if (dt < best)
            best = dt;
        pthread_barrier_wait(&leave);
        for (int i = 0; i < REG_THREADS; i++)
            pthread_join(w[i].thread, NULL);
        /* The owners detached: their entries go (bounded wait). */
        deadline = bench_now_ns() + 10 * FDN_NS_PER_S;
        while (fdn_registry_count(ns) != 0) {
            if (bench_now_ns() > deadline)
                bench_fail("entries of detached owners removed", -1);
            usleep(100);
        }
        pthread_barrier_destroy(&go);
        pthread_barrier_destroy(&done);
        pthread_barrier_destroy(&leave);
    }
    bench_result("reg_register_rate", REG_KEYS / ((double)best / 1e9),
                 "reg/s");
    /* The counts the registrations kept on the way (REG-C17): every key
     * registered once, and removed once when its owner detached. */
    fdn_registry_stats_t rs;
    fdn_registry_stats(reg, &rs);
    if (rs.registrations != (uint64_t)REG_KEYS * REG_RUNS ||
        rs.cleanups != rs.registrations || rs.entries != 0)
        bench_fail("registry stats after registering", -1);
    stop();
    free(keys);
}

/* ------------------------------------------------------------------------ */
/* Dispatch to a group of 10,000 members                                    */
/* ------------------------------------------------------------------------ */

#define DISPATCH_MEMBERS 10000U
#define DISPATCH_ROUNDS 100U /* dispatches per run */
#define DISPATCH_RUNS 3U
#define TAG_EVENT 1U
#define TAG_DONE 2U

/* A member's state: who to tell, and how many events it has had.  Owner
 * thread only (the member's handler); main reads none of it. */
typedef struct member {
    fdn_pid_t main;
    uint64_t got;
} member_t;

/* A member counts events and tells main after each DISPATCH_ROUNDS of
 * them (one run's worth), as the peer's members do. */
static fdn_next_t member_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    member_t *m = state;
    if (msg->kind == FDN_MSG_USER && msg->tag == TAG_EVENT &&
        ++m->got % DISPATCH_ROUNDS == 0)
        bench_rt_send(ctx, m->main, TAG_DONE, NULL, 0);
    return FDN_CONTINUE;
}

static const fdn_behaviour_t member_behaviour = {.init = bench_rt_state_init,
                                                 .handle = member_handle,
                                                 .name = "member"};

/* What the dispatch callback needs: the sending ctx, the payload and a
 * count of the sends that succeeded. */
typedef struct dispatch_arg {
    fdn_ctx_t *ctx;
    uint64_t value;
    uint64_t sent;
} dispatch_arg_t;

/* Counts the members without sending: the registry's part of a
 * dispatch. */
static void dispatch_count(void *arg, const char *key, fdn_pid_t pid,
                           const fdn_meta_field_t *fields, uint32_t nfields)
{
    dispatch_arg_t *d = arg;
    (void)key;
    (void)fields;
    (void)nfields;
    d->sent += pid != FDN_PID_NONE;
}

static void dispatch_send(void *arg, const char *key, fdn_pid_t pid,
                          const fdn_meta_field_t *fields, uint32_t nfields)
{
    dispatch_arg_t *d = arg;
    (void)key;
    (void)fields;
    (void)nfields;
    if (fdn_send(d->ctx, pid, TAG_EVENT, &d->value, sizeof d->value) ==
        FDN_OK)
        d->sent++;
}

/* The dispatcher process: on each TAG_GO (data: the run number) it runs
 * DISPATCH_ROUNDS dispatches, recording each one's time in lat, then
 * tells main with TAG_DISPATCHED.  Dispatching from a process on a
 * scheduler matches the peer, whose dispatcher is a BEAM process: both
 * sides then use their 2 scheduler threads and nothing else. */
typedef struct dispatcher {
    fdn_pid_t main;
    fdn_registry_ns_t *group;
    uint64_t *lat; /* DISPATCH_ROUNDS * DISPATCH_RUNS */
} dispatcher_t;

#define TAG_GO 3U
#define TAG_DISPATCHED 4U

static fdn_next_t dispatcher_handle(fdn_ctx_t *ctx, void *state,
                                    const fdn_msg_t *msg)
{
    dispatcher_t *ds = state;
    uint32_t run;
    int rc;

    if (msg->kind != FDN_MSG_USER || msg->tag != TAG_GO ||
        msg->size != sizeof run)
        return FDN_CONTINUE;
    memcpy(&run, msg->data, sizeof run);
    dispatch_arg_t d = {.ctx = ctx, .value = 0, .sent = 0};
    for (uint32_t r = 0; r < DISPATCH_ROUNDS; r++) {
        uint64_t t = bench_now_ns();
        d.value = r;
        rc = fdn_registry_dispatch(ds->group, "topic", dispatch_send, &d);
        ds->lat[run * DISPATCH_ROUNDS + r] = bench_now_ns() - t;
        if (rc != (int)DISPATCH_MEMBERS)
            bench_fail("fdn_registry_dispatch visited", rc);
    }
    if (d.sent != (uint64_t)DISPATCH_ROUNDS * DISPATCH_MEMBERS)
        bench_fail("dispatch sends", (int)(d.sent % 1000));
    bench_rt_send(ctx, ds->main, TAG_DISPATCHED, NULL, 0);
    return FDN_CONTINUE;
}

static const fdn_behaviour_t dispatcher_behaviour = {
    .init = bench_rt_state_init,
    .handle = dispatcher_handle,
    .name = "dispatcher"};

/*
 * Checks: REG-P5
 *
 * 10,000 member processes join group "topic" of a DUPLICATE namespace.
 * A run is DISPATCH_ROUNDS back-to-back fdn_registry_dispatch calls from
 * a dispatcher process, each callback sending an 8-byte message to its
 * member with fdn_send; it ends when every member has reported receiving
 * all of them (main, attached, only waits).  Reported: members reached
 * per second and dispatches per second over the best run (main's go to
 * the last member's report), and the p50/p99 of one dispatch call over
 * all runs; then, for information, the p50 of a dispatch whose callback
 * only counts (the walk of the group without the sends).
 */
static void bench_dispatch(void)
{
    static member_t members[DISPATCH_MEMBERS];
    static uint64_t lat[DISPATCH_ROUNDS * DISPATCH_RUNS];
    fdn_registry_ns_opts_t opts;
    fdn_registry_ns_t *group;
    fdn_ctx_t *ctx;
    dispatcher_t ds;
    fdn_pid_t dispatcher;
    uint64_t best = UINT64_MAX;
    int rc;

    ctx = start_attached();
    fdn_registry_ns_opts_init(&opts);
    opts.kind = FDN_REGISTRY_DUPLICATE;
    rc = fdn_registry_namespace_opts(reg, "groups", &opts, &group);
    if (rc != FDN_OK)
        bench_fail("fdn_registry_namespace_opts DUPLICATE", rc);
    for (uint32_t i = 0; i < DISPATCH_MEMBERS; i++) {
        fdn_pid_t pid;
        members[i].main = fdn_self(ctx);
        members[i].got = 0;
        pid = bench_rt_spawn(rt, ctx, &member_behaviour, &members[i]);
        rc = fdn_registry_join(group, "topic", pid, NULL, NULL);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_join", rc);
    }
    if (fdn_registry_count(group) != DISPATCH_MEMBERS)
        bench_fail("group count after joining", -1);
    ds.main = fdn_self(ctx);
    ds.group = group;
    ds.lat = lat;
    dispatcher = bench_rt_spawn(rt, ctx, &dispatcher_behaviour, &ds);

    for (uint32_t run = 0; run < DISPATCH_RUNS; run++) {
        uint64_t t0 = bench_now_ns(), dt;
        uint32_t done = 0, dispatched = 0;
        bench_rt_send(ctx, dispatcher, TAG_GO, &run, sizeof run);
        while (done < DISPATCH_MEMBERS || dispatched < 1) {
            fdn_msg_t *msg = bench_rt_receive(ctx);
            if (msg->tag == TAG_DONE)
                done++;
            else if (msg->tag == TAG_DISPATCHED)
                dispatched++;
            else
                bench_fail("main received an unexpected message",
                           (int)msg->tag);
            fdn_msg_free(ctx, msg);
        }
        dt = bench_now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    bench_result("reg_dispatch_member_rate",
                 (double)DISPATCH_ROUNDS * DISPATCH_MEMBERS /
                     ((double)best / 1e9),
                 "member/s");
    bench_result("reg_dispatch_rate",
                 (double)DISPATCH_ROUNDS / ((double)best / 1e9),
                 "dispatch/s");
    bench_result("reg_dispatch_p50",
                 (double)bench_percentile(lat, DISPATCH_ROUNDS * DISPATCH_RUNS,
                                          50) /
                     1e3,
                 "us");
    bench_result("reg_dispatch_p99",
                 (double)bench_percentile(lat, DISPATCH_ROUNDS * DISPATCH_RUNS,
                                          99) /
                     1e3,
                 "us");
    for (uint32_t r = 0; r < DISPATCH_ROUNDS; r++) {
        dispatch_arg_t d = {.ctx = ctx, .value = 0, .sent = 0};
        uint64_t t = bench_now_ns();
        rc = fdn_registry_dispatch(group, "topic", dispatch_count, &d);
        lat[r] = bench_now_ns() - t;
        if (rc != (int)DISPATCH_MEMBERS || d.sent != DISPATCH_MEMBERS)
            bench_fail("fdn_registry_dispatch visited", rc);
    }
    bench_result("reg_dispatch_walk_p50",
                 (double)bench_percentile(lat, DISPATCH_ROUNDS, 50) / 1e3,
                 "us");
    fdn_detach(ctx);
    stop();
}

/* ------------------------------------------------------------------------ */
/* Dead-owner cleanup latency                                               */
/* ------------------------------------------------------------------------ */

#define CLEANUP_TRIALS 1000
#define POLL_LIMIT_NS (5 * FDN_NS_PER_S)

static fdn_next_t idle_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return FDN_CONTINUE;
}

static const fdn_behaviour_t idle_behaviour = {.handle = idle_handle,
                                               .name = "owner"};

/* Checks: REG-P3, REG-L1 */
static void bench_cleanup(void)
{
    static uint64_t seen[CLEANUP_TRIALS], gone[CLEANUP_TRIALS];
    fdn_ctx_t *ctx;
    int rc;

    ctx = start_attached();
    for (int i = 0; i < CLEANUP_TRIALS; i++) {
        char key[32];
        fdn_pid_t owner, found;
        uint64_t t0;
        snprintf(key, sizeof key, "owner%d", i);
        rc = fdn_spawn(rt, ctx, &idle_behaviour, NULL, NULL, &owner);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn owner", rc);
        rc = fdn_registry_register(ns, key, owner, NULL, NULL);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_register", rc);
        t0 = bench_now_ns();
        rc = fdn_exit(rt, ctx, owner, FDN_REASON_KILL);
        if (rc != FDN_OK)
            bench_fail("fdn_exit", rc);
        /* What a client sees: the first lookup that answers "gone". */
        while (fdn_registry_lookup(ns, key, &found, NULL) == FDN_OK)
            if (bench_now_ns() - t0 > POLL_LIMIT_NS)
                bench_fail("entry of a killed owner removed", -1);
        seen[i] = bench_now_ns() - t0;
        /* When the namespace's count has dropped too. */
        while (fdn_registry_count(ns) != 0)
            if (bench_now_ns() - t0 > POLL_LIMIT_NS)
                bench_fail("count back to 0", -1);
        gone[i] = bench_now_ns() - t0;
    }
    bench_result("reg_cleanup_p50",
                 (double)bench_percentile(seen, CLEANUP_TRIALS, 50) / 1e3,
                 "us");
    bench_result("reg_cleanup_p99",
                 (double)bench_percentile(seen, CLEANUP_TRIALS, 99) / 1e3,
                 "us");
    bench_result("reg_cleanup_removed_p50",
                 (double)bench_percentile(gone, CLEANUP_TRIALS, 50) / 1e3,
                 "us");
    bench_result("reg_cleanup_removed_p99",
                 (double)bench_percentile(gone, CLEANUP_TRIALS, 99) / 1e3,
                 "us");
    fdn_detach(ctx);
    stop();
}

/* ------------------------------------------------------------------------ */
/* Memory per entry                                                         */
/* ------------------------------------------------------------------------ */

#define MEM_KEYS 100000U
#define MEM_KEY_LEN 16 /* bytes, as REG-P6 states */
#define MEM_KEY_BYTES (MEM_KEY_LEN + 8)

/* Every byte malloc has handed out and not taken back, in every arena,
 * including blocks it mmapped (large bucket arrays): the entry table's
 * buckets, and what liburcu allocates for the owner table, which
 * bypasses our allocator. */
static int64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

/* Waits, bounded, until the heap stops changing (RCU callbacks and
 * liburcu's workers done) and returns the figure: three equal readings
 * 10 ms apart, or whatever it is after 2 s. */
static int64_t settle_heap(void)
{
    uint64_t deadline = bench_now_ns() + 2 * FDN_NS_PER_S;
    int64_t last = heap_in_use();
    int same = 0;
    while (same < 3 && bench_now_ns() < deadline) {
        int64_t now;
        usleep(10000);
        now = heap_in_use();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

/* Heap and allocator growth per entry over registering MEM_KEYS keys
 * (MEM_KEY_BYTES apart in keys) in a fresh registry's plain namespace,
 * each with an int field "v" = i when with_meta; *block gets the stated
 * block size of such an entry. */
static void memory_per_entry(const char *keys, bool with_meta, double *heap,
                             double *alloc, double *block)
{
    fdn_ctx_t *ctx;
    int64_t alloc0, heap0, alloc1, heap1;
    fdn_meta_t meta;
    int rc;

    start_with(&bench_counting);
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    /* The owner record is made by the first registration; one owner for
     * 100,000 keys makes it negligible per entry, as the peer's one owner
     * process is. */
    heap0 = settle_heap();
    alloc0 = bench_counted_bytes();
    for (uint32_t i = 0; i < MEM_KEYS; i++) {
        if (with_meta) {
            memset(&meta, 0, sizeof meta);
            rc = fdn_meta_set_int(&meta, "v", (int64_t)i);
            if (rc != FDN_OK)
                bench_fail("fdn_meta_set_int", rc);
        }
        rc = fdn_registry_register(ns, keys + (size_t)i * MEM_KEY_BYTES,
                                   fdn_self(ctx), with_meta ? &meta : NULL,
                                   NULL);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_register", rc);
    }
    heap1 = settle_heap();
    alloc1 = bench_counted_bytes();
    if (fdn_registry_count(ns) != MEM_KEYS)
        bench_fail("registry count after registering", -1);
    if (fdn_registry_meta_bytes(ns) !=
        (with_meta ? MEM_KEYS * sizeof(fdn_meta_field_t) : 0))
        bench_fail("registry metadata bytes", -1);
    *heap = (double)(heap1 - heap0) / MEM_KEYS;
    *alloc = (double)(alloc1 - alloc0) / MEM_KEYS;
    *block = (double)fdn_registry_entry_bytes_ns(ns, MEM_KEY_LEN,
                                                 with_meta ? 1 : 0);
    fdn_detach(ctx);
    stop();
}

/*
 * Checks: REG-P6
 *
 * 100,000 unique 16-byte keys ("k" and 15 digits, as in the peer) in a
 * plain namespace, registered by one owner.  Figures, per entry:
 *   reg_mem_total       the growth of malloc's bytes in use (mallinfo2,
 *                       every arena and mmapped block), so entry blocks,
 *                       liburcu's hash buckets (which bypass our
 *                       allocator) and malloc's overhead: the REG-P6
 *                       figure (<= 128 B), beside the BEAM's ETS bytes;
 *   reg_mem_entry_block the block fdn_registry_entry_bytes_ns states;
 *   reg_mem_alloc       what the runtime's allocator holds (usable bytes:
 *                       entries, the owner record, rounding).
 * Then the same with a small value, one int field (the peer's value is
 * the integer i), for information: reg_mem_meta_total and the same less
 * the metadata (sizeof(fdn_meta_field_t)), reg_mem_meta_less.
 */
static void bench_memory(void)
{
    char *keys = malloc((size_t)MEM_KEYS * MEM_KEY_BYTES);
    double heap, alloc, block;

    if (keys == NULL)
        bench_fail("malloc keys", FDN_ENOMEM);
    for (uint32_t i = 0; i < MEM_KEYS; i++)
        snprintf(keys + (size_t)i * MEM_KEY_BYTES, MEM_KEY_BYTES, "k%015u",
                 i);
    memory_per_entry(keys, false, &heap, &alloc, &block);
    bench_result("reg_mem_total", heap, "B/entry");
    bench_result("reg_mem_entry_block", block, "B/entry");
    bench_result("reg_mem_alloc", alloc, "B/entry");
    memory_per_entry(keys, true, &heap, &alloc, &block);
    bench_result("reg_mem_meta_total", heap, "B/entry");
    bench_result("reg_mem_meta_block", block, "B/entry");
    bench_result("reg_mem_meta_less",
                 heap - (double)sizeof(fdn_meta_field_t), "B/entry");
    free(keys);
}

/* ------------------------------------------------------------------------ */
/* Restore from a snapshot                                                  */
/* ------------------------------------------------------------------------ */

#define RESTORE_KEYS 10000U
#define RESTORE_RUNS 3U

/*
 * Checks: REG-P7
 *
 * Foundation only (Elixir's Registry has no snapshots).  10,000 keys with
 * one int field each, owned by the attached main thread, are written to a
 * snapshot file; then each run replaces the registry with a new, empty
 * one on the same runtime (a snapshot names its namespace and is meant
 * for the same runtime: registry/snapshot.c), restores the file into its
 * namespace of the same name and checks that all 10,000 came back.
 * Reported: the snapshot's time (it fsyncs, so it shows the disk more
 * than the registry) and the best restore's time and rate.
 */
static void bench_restore(void)
{
    fdn_ctx_t *ctx;
    char *keys = make_keys(RESTORE_KEYS);
    char path[64];
    uint64_t t0, written = 0, best = UINT64_MAX;
    int rc;

    snprintf(path, sizeof path, "/tmp/fdn-bench-snapshot-%ld",
             (long)getpid());
    ctx = start_attached();
    register_range_meta(ns, keys, 0, RESTORE_KEYS, fdn_self(ctx), true);
    t0 = bench_now_ns();
    rc = fdn_registry_snapshot(ns, path, &written);
    if (rc != FDN_OK)
        bench_fail("fdn_registry_snapshot", rc);
    bench_result("reg_snapshot_ms", (double)(bench_now_ns() - t0) / 1e6,
                 "ms");
    if (written != RESTORE_KEYS)
        bench_fail("snapshot entries written", (int)written);
    for (uint32_t run = 0; run < RESTORE_RUNS; run++) {
        uint64_t restored = 0, skipped = 0, dt;
        fdn_registry_destroy(reg);
        rc = fdn_registry_create(rt, NULL, &reg);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_create", rc);
        rc = fdn_registry_namespace(reg, "bench", &ns);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_namespace", rc);
        t0 = bench_now_ns();
        rc = fdn_registry_restore(ns, path, &restored, &skipped);
        dt = bench_now_ns() - t0;
        if (rc != FDN_OK)
            bench_fail("fdn_registry_restore", rc);
        if (restored != RESTORE_KEYS || skipped != 0 ||
            fdn_registry_count(ns) != RESTORE_KEYS)
            bench_fail("entries restored", (int)restored);
        if (dt < best)
            best = dt;
    }
    bench_result("reg_restore_ms", (double)best / 1e6, "ms");
    bench_result("reg_restore_rate", RESTORE_KEYS / ((double)best / 1e9),
                 "entry/s");
    unlink(path);
    fdn_detach(ctx);
    stop();
    free(keys);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } workloads[] = {
        {"lookup", bench_lookup},     {"lookup_scale", bench_lookup_scale},
        {"register", bench_register}, {"dispatch", bench_dispatch},
        {"cleanup", bench_cleanup},   {"memory", bench_memory},
        {"restore", bench_restore},   {"lookup_thp", bench_lookup_thp},
    };
    const char *w = argc > 1 ? argv[1] : "";
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (strcmp(w, workloads[i].name) == 0) {
            workloads[i].run();
            return 0;
        }
    fprintf(stderr, "usage: bench_registry lookup|lookup_scale|register|"
                    "dispatch|cleanup|memory|restore|lookup_thp\n");
    return 2;
}
