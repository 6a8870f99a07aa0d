/*
 * bench/bench_registry.c — the registry's benchmarks: lookups per second
 * from 2 threads, lookup cost at 1,000 versus 1,000,000 entries,
 * registrations per second, and dead-owner cleanup latency.  Each workload
 * mirrors one in bench/peers/registry.exs and prints RESULT lines that
 * scripts/bench.sh puts beside the BEAM's.
 *
 * Usage: bench_registry lookup|lookup_scale|register|cleanup
 * Keys are "k<i>" strings built before timing starts, as in the peer.
 */
#include "foundation/registry.h"
#include "foundation/runtime.h"

#include "bench_util.h"

#include <pthread.h>
#include <stdbool.h>

#define SCHEDULERS 2U
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

static void start(void)
{
    fdn_runtime_opts_t opts;
    int rc;
    fdn_runtime_opts_init(&opts);
    opts.schedulers = SCHEDULERS;
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

static void stop(void)
{
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

static void register_range(const char *keys, uint32_t from, uint32_t to,
                           fdn_pid_t owner)
{
    for (uint32_t i = from; i < to; i++) {
        int rc = fdn_registry_register(ns, keys + (size_t)i * KEY_BYTES,
                                       owner, NULL, NULL);
        if (rc != FDN_OK)
            bench_fail("fdn_registry_register", rc);
    }
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
        if (fdn_registry_lookup(ns, keys + (size_t)idx * KEY_BYTES, &pid,
                                NULL) == FDN_OK)
            hits++;
        idx += STRIDE % n;
        if (idx >= n)
            idx -= n;
    }
    return hits;
}

/* ------------------------------------------------------------------------ */
/* Lookups from 2 threads                                                   */
/* ------------------------------------------------------------------------ */

#define LOOKUP_KEYS 100000U
#define LOOKUP_THREADS 2
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

/* Checks: REG-P1 */
static void bench_lookup(void)
{
    lookup_worker_t w[LOOKUP_THREADS];
    pthread_barrier_t go;
    fdn_ctx_t *ctx;
    char *keys = make_keys(LOOKUP_KEYS);
    uint64_t t0, dt, hits = 0;
    int rc;

    start();
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    register_range(keys, 0, LOOKUP_KEYS, fdn_self(ctx));
    pthread_barrier_init(&go, NULL, LOOKUP_THREADS + 1);
    for (int i = 0; i < LOOKUP_THREADS; i++) {
        w[i].go = &go;
        w[i].keys = keys;
        w[i].first = (uint32_t)(i + 1) * 12345U % LOOKUP_KEYS;
        w[i].hits = 0;
        if (pthread_create(&w[i].thread, NULL, lookup_thread, &w[i]) != 0)
            bench_fail("pthread_create", FDN_ESYS);
    }
    pthread_barrier_wait(&go);
    t0 = bench_now_ns();
    for (int i = 0; i < LOOKUP_THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        hits += w[i].hits;
    }
    dt = bench_now_ns() - t0;
    if (hits != LOOKUP_THREADS * LOOKUP_PER_THREAD)
        bench_fail("lookup hits", (int)(hits % 1000));
    bench_result("reg_lookup_rate_2t",
                 (double)(LOOKUP_THREADS * LOOKUP_PER_THREAD) /
                     ((double)dt / 1e9),
                 "lookup/s");
    pthread_barrier_destroy(&go);
    fdn_detach(ctx);
    stop();
    free(keys);
}

/* ------------------------------------------------------------------------ */
/* Lookup cost at 1,000 and 1,000,000 entries                               */
/* ------------------------------------------------------------------------ */

#define SCALE_LOOKUPS UINT64_C(5000000)

/* Lookups per second on one thread with n entries registered. */
static double lookup_rate_at(uint32_t n)
{
    fdn_ctx_t *ctx;
    char *keys = make_keys(n);
    uint64_t t0, hits;
    double rate;
    int rc;

    start();
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    register_range(keys, 0, n, fdn_self(ctx));
    t0 = bench_now_ns();
    hits = lookup_walk(keys, n, 0, SCALE_LOOKUPS);
    rate = (double)SCALE_LOOKUPS / ((double)(bench_now_ns() - t0) / 1e9);
    if (hits != SCALE_LOOKUPS)
        bench_fail("lookup hits", -1);
    fdn_detach(ctx);
    stop();
    free(keys);
    return rate;
}

/* Checks: REG-P4 */
static void bench_lookup_scale(void)
{
    double small = lookup_rate_at(1000);
    double large = lookup_rate_at(1000000);
    bench_result("reg_lookup_rate_1k", small, "lookup/s");
    bench_result("reg_lookup_rate_1m", large, "lookup/s");
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

/* Checks: REG-P2 */
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
    stop();
    free(keys);
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

    start();
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
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

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "lookup") == 0)
        bench_lookup();
    else if (strcmp(w, "lookup_scale") == 0)
        bench_lookup_scale();
    else if (strcmp(w, "register") == 0)
        bench_register();
    else if (strcmp(w, "cleanup") == 0)
        bench_cleanup();
    else {
        fprintf(stderr,
                "usage: bench_registry lookup|lookup_scale|register|cleanup\n");
        return 2;
    }
    return 0;
}
