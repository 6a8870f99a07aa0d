/*
 * replay.c — deterministic runtimes: a ready set instead of scheduler
 * threads, a seeded choice of which ready process runs next, time that
 * moves only when nothing is ready, and a digest of what ran.
 *
 * The ready set is an array of QUEUED processes under one mutex.  A
 * process is in it at most once (the run-state hand-off of process.c
 * queues a process only on its IDLE → QUEUED transition), and attached
 * processes never enter it (they are woken, not queued), so capacity for
 * every table slot is enough: it is reserved before each new life is
 * published (fdn__det_reserve), and a push never allocates.  A step takes
 * the element at a PRNG-drawn index (swapping the last one into its place)
 * and runs one turn of it with a batch of one message, so every message is
 * a scheduling point the seed decides.
 *
 * The PRNG is splitmix64; the digest is a multiply-xorshift mix over each
 * handled event.  Both are deterministic functions of the seed and of the
 * order of calls, which a single driving thread fixes.
 */
#include "runtime/internal.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct fdn__det {
    pthread_mutex_t lock;
    struct fdn__proc **ready; /* lock */
    uint32_t n, cap;          /* lock */
    uint64_t rng;             /* lock */
    _Atomic uint64_t digest;  /* updated by the running turn; read racily */
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* opts.seed, overridden by FDN_SEED; a fresh nonzero seed for 0. */
static uint64_t choose_seed(uint64_t seed)
{
    const char *env = getenv("FDN_SEED");
    if (env != NULL && *env != '\0') {
        char *end;
        unsigned long long v = strtoull(env, &end, 0);
        if (*end == '\0' && v != 0)
            return (uint64_t)v;
    }
    if (seed != 0)
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                 ((uint64_t)getpid() << 40);
    uint64_t v;
    do
        v = splitmix(&s);
    while (v == 0);
    return v;
}

int fdn__det_init(fdn_runtime_t *rt, uint64_t seed)
{
    struct fdn__det *d = fdn__zalloc(rt->alloc, sizeof *d);
    if (d == NULL)
        return FDN_ENOMEM;
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        fdn__free(rt->alloc, d);
        return FDN_ESYS;
    }
    rt->seed = choose_seed(seed);
    d->rng = rt->seed;
    atomic_init(&d->digest, rt->seed);
    rt->det = d;
    return FDN_OK;
}

void fdn__det_fini(fdn_runtime_t *rt)
{
    struct fdn__det *d = rt->det;
    if (d == NULL)
        return;
    fdn__free(rt->alloc, d->ready);
    pthread_mutex_destroy(&d->lock);
    fdn__free(rt->alloc, d);
    rt->det = NULL;
}

int fdn__det_reserve(fdn_runtime_t *rt)
{
    struct fdn__det *d = rt->det;
    uint32_t want = fdn__table_nslots(rt);
    int rc = FDN_OK;
    pthread_mutex_lock(&d->lock);
    if (d->cap < want) {
        uint32_t ncap = d->cap ? d->cap : 64;
        while (ncap < want)
            ncap *= 2;
        struct fdn__proc **r = fdn__alloc(rt->alloc, ncap * sizeof *r);
        if (r == NULL) {
            rc = FDN_ENOMEM;
        } else {
            if (d->n)
                memcpy(r, d->ready, d->n * sizeof *r);
            fdn__free(rt->alloc, d->ready);
            d->ready = r;
            d->cap = ncap;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void fdn__det_push(fdn_runtime_t *rt, struct fdn__proc *p)
{
    struct fdn__det *d = rt->det;
    pthread_mutex_lock(&d->lock);
    /* Reserved for every slot, and a process is queued at most once. */
    FDN_ASSERT(d->n < d->cap);
    d->ready[d->n++] = p;
    pthread_mutex_unlock(&d->lock);
}

bool fdn__det_step(fdn_runtime_t *rt)
{
    struct fdn__det *d = rt->det;
    pthread_mutex_lock(&d->lock);
    if (d->n == 0) {
        pthread_mutex_unlock(&d->lock);
        return false;
    }
    uint32_t k = (uint32_t)(splitmix(&d->rng) % d->n);
    struct fdn__proc *p = d->ready[k];
    d->ready[k] = d->ready[--d->n];
    pthread_mutex_unlock(&d->lock);
    fdn__sched_run(&rt->scheds[0], p);
    return true;
}

int fdn__det_progress(fdn_runtime_t *rt, uint64_t deadline)
{
    fdn__timers_fire(rt);
    if (fdn__det_step(rt))
        return FDN_OK;
    uint64_t next, now = fdn_clock_now(rt->clock);
    if (fdn__timers_next(rt, &next) &&
        (deadline == FDN_INFINITY || next <= deadline)) {
        if (next > now)
            fdn_clock_advance(rt->clock, next - now);
        fdn__timers_fire(rt);
        return FDN_OK;
    }
    if (deadline != FDN_INFINITY) {
        if (deadline > now)
            fdn_clock_advance(rt->clock, deadline - now);
        return FDN_ETIMEDOUT;
    }
    return FDN_EDEADLK;
}

void fdn__det_trace(fdn_runtime_t *rt, fdn_pid_t self, const fdn_msg_t *m)
{
    struct fdn__det *d = rt->det;
    uint64_t h = atomic_load_explicit(&d->digest, memory_order_relaxed);
    uint64_t words[4] = {self, (uint64_t)m->kind << 32 | m->tag, m->from,
                         (uint64_t)m->reason};
    for (int i = 0; i < 4; i++) {
        h ^= words[i];
        h *= UINT64_C(0x9fb21c651e98df25);
        h ^= h >> 29;
    }
    /* Relaxed: one driving thread; a racing reader gets some recent value. */
    atomic_store_explicit(&d->digest, h, memory_order_relaxed);
}

FDN_API uint64_t fdn_runtime_seed(const fdn_runtime_t *rt)
{
    return rt != NULL && rt->is_det ? rt->seed : 0;
}

FDN_API uint64_t fdn_runtime_trace_digest(const fdn_runtime_t *rt)
{
    if (rt == NULL || !rt->is_det)
        return 0;
    return atomic_load_explicit(&rt->det->digest, memory_order_relaxed);
}

FDN_API int fdn_runtime_run(fdn_runtime_t *rt, uint64_t max_turns,
                            uint64_t *turns)
{
    if (rt == NULL)
        return FDN_EINVAL;
    if (!rt->is_det)
        return FDN_ENOTSUP;
    uint64_t n = 0;
    for (;;) {
        if (max_turns != 0 && n >= max_turns)
            break;
        fdn__timers_fire(rt);
        if (!fdn__det_step(rt))
            break;
        n++;
    }
    if (turns != NULL)
        *turns = n;
    return FDN_OK;
}
