/*
 * runtime.c — the runtime object: options, create and destroy (with the
 * deterministic variant, which starts no thread), and statistics.
 */
#include "runtime/internal.h"

#include <time.h>
#include <unistd.h>

/* Frees what create_parts made, in reverse; safe on a partial runtime. */
static void free_parts(fdn_runtime_t *rt)
{
    const fdn_allocator_t *a = rt->alloc;
    fdn__det_fini(rt);
    fdn__free(a, rt->sched_raw);
    fdn__names_fini(rt);
    if (rt->has_locks) {
        fdn__slabs_fini(rt);
        pthread_mutex_destroy(&rt->slab_lock);
        pthread_rwlock_destroy(&rt->names_lock);
        pthread_mutex_destroy(&rt->att_lock);
    }
    if (rt->has_table)
        fdn__table_fini(rt);
    fdn_clock_destroy(rt->own_clock);
}

/* Everything but the threads. */
static int create_parts(fdn_runtime_t *rt, const fdn_runtime_opts_t *o)
{
    const fdn_allocator_t *a = rt->alloc;
    int rc = fdn__table_init(rt);
    if (rc != FDN_OK)
        return rc;
    rt->has_table = true;
    if (pthread_mutex_init(&rt->att_lock, NULL) != 0)
        return FDN_ESYS;
    if (pthread_rwlock_init(&rt->names_lock, NULL) != 0) {
        pthread_mutex_destroy(&rt->att_lock);
        return FDN_ESYS;
    }
    if (pthread_mutex_init(&rt->slab_lock, NULL) != 0) {
        pthread_rwlock_destroy(&rt->names_lock);
        pthread_mutex_destroy(&rt->att_lock);
        return FDN_ESYS;
    }
    rt->has_locks = true;
    if (rt->is_det && rt->clock == NULL) {
        rc = fdn_clock_virtual_create(0, &rt->own_clock);
        if (rc != FDN_OK)
            return rc;
        rt->clock = rt->own_clock;
    }
    if (rt->is_det && (rc = fdn__det_init(rt, o->seed)) != FDN_OK)
        return rc;
    size_t sbytes = sizeof(struct fdn__sched) * rt->nsched + FDN__CACHELINE;
    void *sraw = fdn__alloc(a, sbytes);
    if (sraw == NULL)
        return FDN_ENOMEM;
    memset(sraw, 0, sbytes);
    rt->scheds = (struct fdn__sched *)(((uintptr_t)sraw + FDN__CACHELINE - 1) &
                                       ~(uintptr_t)(FDN__CACHELINE - 1));
    rt->sched_raw = sraw;
    /* Every queue is initialised before any scheduler starts stealing. */
    for (unsigned i = 0; i < rt->nsched; i++) {
        struct fdn__sched *s = &rt->scheds[i];
        s->rt = rt;
        s->id = i;
        atomic_init(&s->qlock, 0);
        atomic_init(&s->rq_len, 0);
        atomic_init(&s->next, NULL);
        atomic_init(&s->turns, 0);
    }
    return FDN_OK;
}

/* Wakes and joins the first n scheduler threads. */
static void join_schedulers(fdn_runtime_t *rt, unsigned n)
{
    atomic_store_explicit(&rt->sched_exit, 1, memory_order_release);
    for (unsigned i = 0; i < n; i++) {
        atomic_fetch_add_explicit(&rt->wake_seq, 1, memory_order_release);
        fdn__futex_wake(&rt->wake_seq, INT32_MAX);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(rt->scheds[i].thread, NULL);
}

FDN_API int fdn_runtime_create(const fdn_runtime_opts_t *opts,
                               fdn_runtime_t **out)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    if (out == NULL)
        return FDN_EINVAL;
    if (opts != NULL) {
        if (opts->size < sizeof(size_t) || opts->size > sizeof o)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
    }
    if (o.schedulers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.schedulers = n > 0 ? (unsigned)n : 1;
    }
    if (o.schedulers > 1024)
        return FDN_EINVAL;
    if (o.max_processes == 0)
        o.max_processes = 1u << 22;
    if (o.max_processes > (1u << 31))
        return FDN_EINVAL;
    if (o.batch == 0)
        o.batch = 64;
    if (o.deterministic) {
        /* Time must stand still unless the runtime moves it. */
        if (o.clock != NULL && !fdn_clock_is_virtual(o.clock))
            return FDN_EINVAL;
        o.schedulers = 1; /* one logical scheduler, no thread */
        o.batch = 1;      /* every message is a scheduling point */
    }
    const fdn_allocator_t *a = o.allocator ? o.allocator : fdn_allocator_default();
    /* The runtime has cache-line aligned fields; the allocator promises
     * only malloc alignment, so over-allocate and align by hand. */
    void *raw = fdn__alloc(a, sizeof(fdn_runtime_t) + FDN__CACHELINE);
    if (raw == NULL)
        return FDN_ENOMEM;
    fdn_runtime_t *rt = (fdn_runtime_t *)(((uintptr_t)raw + FDN__CACHELINE - 1) &
                                          ~(uintptr_t)(FDN__CACHELINE - 1));
    memset(rt, 0, sizeof *rt);
    rt->raw = raw;
    rt->alloc = a;
    rt->nsched = o.schedulers;
    rt->max_procs = o.max_processes;
    rt->batch = o.batch;
    rt->is_det = o.deterministic;
    rt->clock = o.clock ? o.clock : (o.deterministic ? NULL : fdn_clock_monotonic());
    atomic_init(&rt->wake_seq, 0);
    atomic_init(&rt->sleepers, 0);
    atomic_init(&rt->rr, 0);
    atomic_init(&rt->next_ref, 1);
    atomic_init(&rt->ext_spawned, 0);
    atomic_init(&rt->ext_exited, 0);
    atomic_init(&rt->ext_sent, 0);
    atomic_init(&rt->stopping, 0);
    atomic_init(&rt->sched_exit, 0);
    int rc = create_parts(rt, &o);
    if (rc == FDN_OK)
        rc = fdn__timers_start(rt);
    if (rc != FDN_OK) {
        free_parts(rt);
        fdn__free(a, raw);
        return rc;
    }
    unsigned started = 0;
    for (; !rt->is_det && started < rt->nsched; started++) {
        struct fdn__sched *s = &rt->scheds[started];
        if (pthread_create(&s->thread, NULL, fdn__sched_main, s) != 0) {
            rc = FDN_ESYS;
            break;
        }
    }
    if (rc != FDN_OK) {
        join_schedulers(rt, started);
        fdn__timers_stop(rt);
        free_parts(rt);
        fdn__free(a, raw);
        return rc;
    }
    *out = rt;
    return FDN_OK;
}

/* Asks every live scheduled process to die with SHUTDOWN (untrappable). */
static void stop_all(fdn_runtime_t *rt)
{
    uint32_t n = fdn__table_nslots(rt);
    for (uint32_t i = 0; i < n; i++) {
        struct fdn__proc *p = fdn__table_at(rt, i);
        fdn_pid_t pid = atomic_load_explicit(&p->pid, memory_order_acquire);
        if (pid == 0)
            continue;
        fdn__kill_mark(p, pid, FDN_REASON_SHUTDOWN);
        fdn__notify(rt, p); /* never allocates: destroy works out of memory */
    }
}

FDN_API void fdn_runtime_destroy(fdn_runtime_t *rt)
{
    if (rt == NULL)
        return;
    atomic_store_explicit(&rt->stopping, 1, memory_order_seq_cst);
    fdn__attached_shutdown(rt);
    /* Kill until nothing lives; a process may spawn while we sweep.  A
     * deterministic runtime has no scheduler: this thread runs the turns
     * in which the processes die. */
    for (int round = 0; fdn_runtime_process_count(rt) != 0; round++) {
        if (rt->is_det) {
            stop_all(rt);
            while (fdn__det_step(rt))
                ;
            continue;
        }
        if (round % 100 == 0)
            stop_all(rt);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fdn__timers_stop(rt);
    if (!rt->is_det)
        join_schedulers(rt, rt->nsched);
    /* The schedulers cut no more messages: their slabs go once empty. */
    for (unsigned i = 0; i < rt->nsched; i++)
        fdn__slab_retire_current(rt, &rt->scheds[i]);
    /* Free messages stranded in dead slots (sent during a death). */
    uint32_t n = fdn__table_nslots(rt);
    for (uint32_t i = 0; i < n; i++) {
        struct fdn__proc *p = fdn__table_at(rt, i);
        struct fdn__msg *m;
        while ((m = fdn__mq_pop(p)) != NULL)
            fdn__msg_free(rt, m);
    }
    const fdn_allocator_t *a = rt->alloc;
    void *raw = rt->raw;
    free_parts(rt);
    fdn__free(a, raw);
}

FDN_API fdn_clock_t *fdn_runtime_clock(const fdn_runtime_t *rt)
{
    return rt ? rt->clock : NULL;
}

FDN_API const fdn_allocator_t *fdn_runtime_allocator(const fdn_runtime_t *rt)
{
    return rt ? rt->alloc : NULL;
}

/* acquire: pairs with the release store of bump (sched.c). */
static uint64_t load_acq(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_acquire);
}

/*
 * The counters are sharded (one set per scheduler, one for other threads)
 * and read racily, so the reads are ordered to keep the totals
 * consistent: first every exit total, then every by-reason exit count,
 * then every spawn count.  A process's spawn is counted before its exit,
 * and an exit's reason before its total, each by a release store (bump)
 * on the thread that did it; an acquire load that sees the later count
 * therefore lets the loads after it see the earlier one.  So every exit
 * in exited has its reason counted, and every exit counted either way has
 * its spawn counted: exited never passes spawned (live never wraps, and
 * is 0 only when every spawned process has exited), and exited_other
 * (exited minus the known reasons, at least 0) never counts an exit that
 * had a known reason: an exit in flight can only make it read low for a
 * moment.  The known reasons may include exits whose total is not yet
 * counted; exited is raised to their sum then.
 */
FDN_API void fdn_runtime_stats(const fdn_runtime_t *rt, fdn_runtime_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (rt == NULL)
        return;
    out->exited = load_acq(&rt->ext_exited);
    for (unsigned i = 0; i < rt->nsched; i++)
        out->exited += load_acq(&rt->scheds[i].exited);
    out->exited_normal = load_acq(&rt->ext_exited_normal);
    out->exited_shutdown = load_acq(&rt->ext_exited_shutdown);
    out->exited_killed = load_acq(&rt->ext_exited_killed);
    for (unsigned i = 0; i < rt->nsched; i++) {
        const struct fdn__sched *s = &rt->scheds[i];
        out->exited_normal += load_acq(&s->exited_normal);
        out->exited_shutdown += load_acq(&s->exited_shutdown);
        out->exited_killed += load_acq(&s->exited_killed);
    }
    out->spawned = load_acq(&rt->ext_spawned);
    for (unsigned i = 0; i < rt->nsched; i++)
        out->spawned += load_acq(&rt->scheds[i].spawned);
    out->messages_sent = atomic_load_explicit(&rt->ext_sent, memory_order_relaxed);
    for (unsigned i = 0; i < rt->nsched; i++) {
        const struct fdn__sched *s = &rt->scheds[i];
        out->messages_sent += atomic_load_explicit(&s->sent, memory_order_relaxed);
        out->steals += atomic_load_explicit(&s->steals, memory_order_relaxed);
        out->sleeps += atomic_load_explicit(&s->sleeps, memory_order_relaxed);
        out->runnable += fdn_runtime_runq_len(rt, i);
    }
    uint64_t known = out->exited_normal + out->exited_shutdown + out->exited_killed;
    /* The order above makes these hold; a statistic is no reason to
     * abort a program, so they are enforced rather than asserted. */
    if (out->exited < known)
        out->exited = known;
    if (out->spawned < out->exited)
        out->spawned = out->exited;
    out->exited_other = out->exited - known;
    out->live = out->spawned - out->exited;
    out->table_slots = fdn__table_nslots(rt);
    out->schedulers = rt->nsched;
}

FDN_API uint32_t fdn_runtime_runq_len(const fdn_runtime_t *rt, unsigned i)
{
    if (rt == NULL || i >= rt->nsched)
        return 0;
    const struct fdn__sched *s = &rt->scheds[i];
    /* Racy by design: a gauge for introspection. */
    return atomic_load_explicit(&s->rq_len, memory_order_relaxed) +
           (atomic_load_explicit(&s->next, memory_order_relaxed) != NULL);
}

FDN_API uint64_t fdn_runtime_process_count(const fdn_runtime_t *rt)
{
    if (rt == NULL)
        return 0;
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    return st.live;
}
