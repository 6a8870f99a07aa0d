/*
 * timer.c — timers on the runtime clock: send_after and cancel.
 *
 * One timer thread owns a binary min-heap of pending timers ordered by
 * deadline, all under one mutex.  Timer records live in a growable array
 * with a free list; a timer ref packs (1 << 63) | generation << 24 | index,
 * so cancel is O(log n) and a stale ref (its record reused) is recognised
 * by the generation.  Refs from fdn__new_ref never reach 2^63, so timer
 * refs never collide with other refs.  Each timer's message is built when
 * the timer is set, so firing never allocates.
 *
 * Waiting: with the monotonic clock the thread sleeps on a condition
 * variable (CLOCK_MONOTONIC) until the earliest deadline; with a virtual
 * clock it sleeps until the clock is advanced (a clock listener signals
 * the condition) or an earlier timer is set.  A deterministic runtime has
 * no timer thread: its waiting thread calls fdn__timers_fire and
 * fdn__timers_next (replay.c).
 */
#include "runtime/internal.h"

#include <time.h>

#define TIMER_BIT (UINT64_C(1) << 63)
#define IDX_BITS 24
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)
#define GEN_MASK ((UINT64_C(1) << 39) - 1)
#define NOT_IN_HEAP UINT32_MAX
#define MAX_TIMERS (1u << IDX_BITS)

struct timer_rec {
    uint64_t deadline;
    uint64_t gen;        /* bumped on each release */
    uint32_t heap_idx;   /* position in heap, or NOT_IN_HEAP when free */
    uint32_t free_next;  /* index + 1 of the next free record */
    fdn_pid_t to;
    struct fdn__msg *msg;
};

struct fdn__timers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool stop;                /* guarded by lock */
    struct timer_rec *recs;   /* guarded by lock */
    uint32_t cap;
    uint32_t free_head;       /* index + 1, 0 = none */
    uint32_t *heap;           /* record indices */
    uint32_t nheap;
};

static bool earlier(struct fdn__timers *t, uint32_t a, uint32_t b)
{
    return t->recs[a].deadline < t->recs[b].deadline;
}

static void heap_set(struct fdn__timers *t, uint32_t pos, uint32_t idx)
{
    t->heap[pos] = idx;
    t->recs[idx].heap_idx = pos;
}

static void sift_up(struct fdn__timers *t, uint32_t pos)
{
    uint32_t idx = t->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(t, idx, t->heap[parent]))
            break;
        heap_set(t, pos, t->heap[parent]);
        pos = parent;
    }
    heap_set(t, pos, idx);
}

static void sift_down(struct fdn__timers *t, uint32_t pos)
{
    uint32_t idx = t->heap[pos];
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, best = pos;
        uint32_t best_idx = idx;
        if (l < t->nheap && earlier(t, t->heap[l], best_idx)) {
            best = l;
            best_idx = t->heap[l];
        }
        if (r < t->nheap && earlier(t, t->heap[r], best_idx)) {
            best = r;
            best_idx = t->heap[r];
        }
        if (best == pos)
            break;
        heap_set(t, pos, best_idx);
        pos = best;
    }
    heap_set(t, pos, idx);
}

static void heap_remove(struct fdn__timers *t, uint32_t pos)
{
    uint32_t idx = t->heap[pos];
    t->nheap--;
    if (pos != t->nheap) {
        heap_set(t, pos, t->heap[t->nheap]);
        sift_down(t, pos);
        sift_up(t, t->recs[t->heap[pos]].heap_idx);
    }
    t->recs[idx].heap_idx = NOT_IN_HEAP;
}

static void rec_release(struct fdn__timers *t, uint32_t idx)
{
    struct timer_rec *r = &t->recs[idx];
    r->gen = (r->gen + 1) & GEN_MASK;
    r->msg = NULL;
    r->heap_idx = NOT_IN_HEAP;
    r->free_next = t->free_head;
    t->free_head = idx + 1;
}

static void fire_due(fdn_runtime_t *rt, struct fdn__timers *t)
{
    uint64_t now = fdn_clock_now(rt->clock);
    while (t->nheap > 0) {
        uint32_t idx = t->heap[0];
        struct timer_rec *r = &t->recs[idx];
        if (r->deadline > now)
            break;
        heap_remove(t, 0);
        struct fdn__msg *m = r->msg;
        fdn_pid_t to = r->to;
        rec_release(t, idx);
        if (fdn__send_msg(rt, to, m) != FDN_OK)
            fdn__msg_free(rt, m);
    }
}

void fdn__timers_fire(fdn_runtime_t *rt)
{
    struct fdn__timers *t = rt->timers;
    pthread_mutex_lock(&t->lock);
    fire_due(rt, t);
    pthread_mutex_unlock(&t->lock);
}

bool fdn__timers_next(fdn_runtime_t *rt, uint64_t *deadline)
{
    struct fdn__timers *t = rt->timers;
    pthread_mutex_lock(&t->lock);
    bool has = t->nheap > 0;
    if (has)
        *deadline = t->recs[t->heap[0]].deadline;
    pthread_mutex_unlock(&t->lock);
    return has;
}

static void *timer_main(void *arg)
{
    fdn_runtime_t *rt = arg;
    struct fdn__timers *t = rt->timers;
    bool is_virtual = fdn_clock_is_virtual(rt->clock);
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        fire_due(rt, t);
        if (t->stop)
            break;
        if (t->nheap == 0 || is_virtual) {
            pthread_cond_wait(&t->cond, &t->lock);
        } else {
            uint64_t d = t->recs[t->heap[0]].deadline;
            struct timespec ts = {.tv_sec = (time_t)(d / FDN_NS_PER_S),
                                  .tv_nsec = (long)(d % FDN_NS_PER_S)};
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void on_clock_advance(void *arg)
{
    struct fdn__timers *t = arg;
    pthread_mutex_lock(&t->lock);
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

int fdn__timers_start(fdn_runtime_t *rt)
{
    struct fdn__timers *t = fdn__zalloc(rt->alloc, sizeof *t);
    if (t == NULL)
        return FDN_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        fdn__free(rt->alloc, t);
        return FDN_ESYS;
    }
    if (pthread_cond_init(&t->cond, &ca) != 0) {
        pthread_mutex_destroy(&t->lock);
        fdn__free(rt->alloc, t);
        return FDN_ESYS;
    }
    pthread_condattr_destroy(&ca);
    rt->timers = t;
    if (rt->is_det)
        return FDN_OK; /* no thread: the waiting thread fires timers */
    int rc = fdn__clock_listen(rt->clock, on_clock_advance, t);
    if (rc == FDN_OK && pthread_create(&t->thread, NULL, timer_main, rt) != 0) {
        fdn__clock_unlisten(rt->clock, on_clock_advance, t);
        rc = FDN_ESYS;
    }
    if (rc != FDN_OK) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        fdn__free(rt->alloc, t);
        rt->timers = NULL;
    }
    return rc;
}

void fdn__timers_stop(fdn_runtime_t *rt)
{
    struct fdn__timers *t = rt->timers;
    if (t == NULL)
        return;
    if (!rt->is_det) {
        fdn__clock_unlisten(rt->clock, on_clock_advance, t);
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    for (uint32_t i = 0; i < t->nheap; i++)
        fdn__msg_free(rt, t->recs[t->heap[i]].msg);
    fdn__free(rt->alloc, t->recs);
    fdn__free(rt->alloc, t->heap);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    fdn__free(rt->alloc, t);
    rt->timers = NULL;
}

/* Makes room for one more record.  Caller holds the lock. */
static int grow_locked(fdn_runtime_t *rt, struct fdn__timers *t)
{
    if (t->free_head != 0)
        return FDN_OK;
    if (t->cap == MAX_TIMERS)
        return FDN_ELIMIT;
    uint32_t ncap = t->cap ? t->cap * 2 : 64;
    if (ncap > MAX_TIMERS)
        ncap = MAX_TIMERS;
    struct timer_rec *recs = fdn__alloc(rt->alloc, ncap * sizeof *recs);
    uint32_t *heap = fdn__alloc(rt->alloc, ncap * sizeof *heap);
    if (recs == NULL || heap == NULL) {
        fdn__free(rt->alloc, recs);
        fdn__free(rt->alloc, heap);
        return FDN_ENOMEM;
    }
    if (t->cap) {
        memcpy(recs, t->recs, t->cap * sizeof *recs);
        memcpy(heap, t->heap, t->nheap * sizeof *heap);
    }
    for (uint32_t i = t->cap; i < ncap; i++) {
        recs[i].gen = 1;
        recs[i].heap_idx = NOT_IN_HEAP;
        recs[i].msg = NULL;
        recs[i].free_next = i + 1 < ncap ? i + 2 : 0;
    }
    t->free_head = t->cap + 1;
    fdn__free(rt->alloc, t->recs);
    fdn__free(rt->alloc, t->heap);
    t->recs = recs;
    t->heap = heap;
    t->cap = ncap;
    return FDN_OK;
}

/* Files m to be sent to `to` after delay_ns; the message carries the
 * timer's own ref if set_msg_ref (under the lock, so before it can fire). */
static int arm(fdn_runtime_t *rt, fdn_pid_t to, uint64_t delay_ns,
               struct fdn__msg *m, bool set_msg_ref, fdn_ref_t *tref)
{
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire))
        return FDN_ESHUTDOWN;
    struct fdn__timers *t = rt->timers;
    uint64_t now = fdn_clock_now(rt->clock);
    uint64_t deadline = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
    pthread_mutex_lock(&t->lock);
    int rc = grow_locked(rt, t);
    if (rc != FDN_OK) {
        pthread_mutex_unlock(&t->lock);
        return rc;
    }
    uint32_t idx = t->free_head - 1;
    struct timer_rec *r = &t->recs[idx];
    t->free_head = r->free_next;
    fdn_ref_t ref = TIMER_BIT | (r->gen << IDX_BITS) | idx;
    if (set_msg_ref)
        m->pub.ref = ref;
    r->deadline = deadline;
    r->to = to;
    r->msg = m;
    t->heap[t->nheap] = idx;
    r->heap_idx = t->nheap;
    t->nheap++;
    sift_up(t, t->nheap - 1);
    if (t->heap[0] == idx)
        pthread_cond_signal(&t->cond); /* a new earliest deadline */
    pthread_mutex_unlock(&t->lock);
    *tref = ref;
    return FDN_OK;
}

int fdn__timer_arm(fdn_runtime_t *rt, fdn_pid_t to, uint64_t delay_ns,
                   struct fdn__msg *m, fdn_ref_t *tref)
{
    return arm(rt, to, delay_ns, m, false, tref);
}

FDN_API int fdn_send_after(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t to,
                           uint64_t delay_ns, uint32_t tag, const void *data,
                           size_t size, fdn_ref_t *ref)
{
    if (ctx != NULL)
        rt = ctx->rt;
    if (rt == NULL || to == FDN_PID_NONE || (data == NULL && size != 0))
        return FDN_EINVAL;
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire))
        return FDN_ESHUTDOWN;
    struct fdn__msg *m = fdn__msg_copy(rt, ctx ? ctx->sched : NULL,
                                       FDN_MSG_USER, tag, FDN_PID_NONE,
                                       FDN_REF_NONE, data, size);
    if (m == NULL)
        return FDN_ENOMEM;
    fdn_ref_t tref;
    int rc = arm(rt, to, delay_ns, m, true, &tref);
    if (rc != FDN_OK) {
        fdn__msg_free(rt, m);
        return rc;
    }
    if (ref != NULL)
        *ref = tref;
    return FDN_OK;
}

FDN_API int fdn_cancel_timer(fdn_runtime_t *rt, fdn_ref_t ref)
{
    if (rt == NULL)
        return FDN_EINVAL;
    if ((ref & TIMER_BIT) == 0)
        return FDN_ENOENT;
    struct fdn__timers *t = rt->timers;
    uint32_t idx = (uint32_t)(ref & IDX_MASK);
    uint64_t gen = (ref >> IDX_BITS) & GEN_MASK;
    struct fdn__msg *m = NULL;
    pthread_mutex_lock(&t->lock);
    if (idx < t->cap && t->recs[idx].gen == gen &&
        t->recs[idx].heap_idx != NOT_IN_HEAP) {
        m = t->recs[idx].msg;
        heap_remove(t, t->recs[idx].heap_idx);
        rec_release(t, idx);
    }
    pthread_mutex_unlock(&t->lock);
    if (m == NULL)
        return FDN_ENOENT;
    fdn__msg_free(rt, m);
    return FDN_OK;
}
