/*
 * sched.c — the runtime object and its schedulers: run queues, turns,
 * work stealing, sleeping and waking, and runtime create / destroy.
 *
 * Run queues.  Each scheduler owns a FIFO of QUEUED processes under a small
 * spinlock (critical sections are a few pointer writes) and a one-process
 * "next" slot.  A process that a scheduler thread makes runnable goes into
 * that scheduler's next slot (the displaced occupant goes to the queue), so
 * a message hop between two processes costs no lock and stays on one core;
 * after NEXT_STREAK turns in a row from the slot the queue goes first, so
 * the slot cannot starve the queue.  Other threads push round robin onto
 * queues.  A turn that used its whole batch goes to the queue's tail.
 *
 * Stealing (RT-L5).  A scheduler with nothing to do takes half of another's
 * queue when it holds two or more; a lone waiting process (queue of one, or
 * the next slot) is taken only if its owner started no turn since the
 * thief's previous look, i.e. the owner is stuck in a long handler.
 *
 * Sleeping (RT-L4).  An idle scheduler spins briefly, then announces itself
 * in `sleepers` and waits on the futex word `wake_seq`.  This is an
 * eventcount: the sleeper reads wake_seq, increments sleepers, issues a
 * seq_cst fence and re-checks every queue; a pusher writes its queue, issues
 * a seq_cst fence and reads sleepers.  The two fences order the two
 * store→load pairs (Dekker), so either the sleeper sees the new work or the
 * pusher sees the sleeper and bumps wake_seq + futex-wakes it; the futex
 * compare on wake_seq closes the window between the re-check and the wait.
 * A pusher on a scheduler thread does not wake anyone for the first process
 * on its own queue: it will run it itself next.  Sleepers also time out
 * every 50 ms as a safety net against a busy owner holding surplus work.
 */
#include "runtime/internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPIN_BEFORE_SLEEP 200
#define SLEEP_TIMEOUT_NS (50 * FDN_NS_PER_MS)
#define NEXT_STREAK 32

static _Thread_local struct fdn__sched *tls_sched;

void fdn__futex_wait(void *addr, uint32_t expected, uint64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns != FDN_INFINITY) {
        ts.tv_sec = (time_t)(timeout_ns / FDN_NS_PER_S);
        ts.tv_nsec = (long)(timeout_ns % FDN_NS_PER_S);
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
}

void fdn__futex_wake(void *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void fdn__spin_lock(_Atomic int *l)
{
    for (;;) {
        /* Acquire: pairs with the release store in fdn__spin_unlock. */
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        int spins = 0;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
            if (++spins > 100) {
                sched_yield();
                spins = 0;
            }
        }
    }
}

void fdn__spin_unlock(_Atomic int *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

struct fdn__sched *fdn__sched_current(const fdn_runtime_t *rt)
{
    struct fdn__sched *s = tls_sched;
    return (s != NULL && s->rt == rt) ? s : NULL;
}

/* Single-writer counter bump: relaxed, exact once the writer is quiescent. */
static void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void fdn__count_spawned(fdn_runtime_t *rt)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    if (s)
        bump(&s->spawned);
    else
        atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_relaxed);
}

void fdn__count_exited(fdn_runtime_t *rt, fdn_reason_t reason)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    _Atomic uint64_t *by = NULL;
    if (reason == FDN_REASON_NORMAL)
        by = s ? &s->exited_normal : &rt->ext_exited_normal;
    else if (reason == FDN_REASON_SHUTDOWN)
        by = s ? &s->exited_shutdown : &rt->ext_exited_shutdown;
    else if (reason == FDN_REASON_KILLED || reason == FDN_REASON_KILL)
        by = s ? &s->exited_killed : &rt->ext_exited_killed;
    if (s) {
        bump(&s->exited);
        if (by)
            bump(by);
    } else {
        atomic_fetch_add_explicit(&rt->ext_exited, 1, memory_order_relaxed);
        if (by)
            atomic_fetch_add_explicit(by, 1, memory_order_relaxed);
    }
}

void fdn__count_sent(fdn_runtime_t *rt)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    if (s)
        bump(&s->sent);
    else
        atomic_fetch_add_explicit(&rt->ext_sent, 1, memory_order_relaxed);
}

static void wake_one(fdn_runtime_t *rt)
{
    /* Pairs with the seq_cst fence in sleep_once (Dekker, see top). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rt->sleepers, memory_order_relaxed) > 0) {
        atomic_fetch_add_explicit(&rt->wake_seq, 1, memory_order_release);
        fdn__futex_wake(&rt->wake_seq, 1);
    }
}

static void q_append(struct fdn__sched *s, struct fdn__proc *p, uint32_t *len)
{
    p->rq_next = NULL;
    fdn__spin_lock(&s->qlock);
    if (s->rq_tail)
        s->rq_tail->rq_next = p;
    else
        s->rq_head = p;
    s->rq_tail = p;
    uint32_t n = atomic_load_explicit(&s->rq_len, memory_order_relaxed) + 1;
    atomic_store_explicit(&s->rq_len, n, memory_order_relaxed);
    fdn__spin_unlock(&s->qlock);
    *len = n;
}

void fdn__sched_push_tail(fdn_runtime_t *rt, struct fdn__proc *p)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    uint32_t len;
    if (s != NULL) {
        q_append(s, p, &len);
        if (len >= 2)
            wake_one(rt);
        return;
    }
    uint32_t i = atomic_fetch_add_explicit(&rt->rr, 1, memory_order_relaxed);
    q_append(&rt->scheds[i % rt->nsched], p, &len);
    wake_one(rt);
}

void fdn__sched_push(fdn_runtime_t *rt, struct fdn__proc *p)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    if (s == NULL) {
        fdn__sched_push_tail(rt, p);
        return;
    }
    /* acq_rel: release hands p (QUEUED, its state) to whoever takes the
     * slot; acquire takes over the displaced process the same way. */
    struct fdn__proc *old = atomic_exchange_explicit(&s->next, p,
                                                     memory_order_acq_rel);
    if (old != NULL) {
        uint32_t len;
        q_append(s, old, &len);
        wake_one(rt); /* surplus work: next and the queue */
    }
}

static struct fdn__proc *q_pop(struct fdn__sched *s)
{
    if (atomic_load_explicit(&s->rq_len, memory_order_relaxed) == 0)
        return NULL;
    fdn__spin_lock(&s->qlock);
    struct fdn__proc *p = s->rq_head;
    if (p) {
        s->rq_head = p->rq_next;
        if (s->rq_head == NULL)
            s->rq_tail = NULL;
        atomic_store_explicit(
            &s->rq_len, atomic_load_explicit(&s->rq_len, memory_order_relaxed) - 1,
            memory_order_relaxed);
    }
    fdn__spin_unlock(&s->qlock);
    return p;
}

/* Takes half of a victim's queue (RT-L5); returns one, queues the rest. */
static struct fdn__proc *steal(struct fdn__sched *self)
{
    fdn_runtime_t *rt = self->rt;
    for (unsigned k = 1; k < rt->nsched; k++) {
        unsigned vid = (self->id + k) % rt->nsched;
        struct fdn__sched *v = &rt->scheds[vid];
        uint32_t n = atomic_load_explicit(&v->rq_len, memory_order_relaxed);
        bool has_next =
            atomic_load_explicit(&v->next, memory_order_relaxed) != NULL;
        if (n == 0 && !has_next)
            continue;
        if (n < 2) {
            /* One waiting process: its owner will likely run it in a
             * moment (stealing it would move a message hop across cores).
             * Take it only if the owner started no turn since our last
             * look, i.e. it is stuck in a long handler. */
            uint64_t t = atomic_load_explicit(&v->turns, memory_order_relaxed);
            if (vid >= FDN__MAX_SEEN || self->seen[vid] != t) {
                if (vid < FDN__MAX_SEEN)
                    self->seen[vid] = t;
                continue;
            }
            if (n == 0) {
                /* acq_rel: pairs with the exchange in fdn__sched_push. */
                struct fdn__proc *p =
                    atomic_exchange_explicit(&v->next, NULL, memory_order_acq_rel);
                if (p == NULL)
                    continue;
                bump(&self->steals);
                return p;
            }
        }
        struct fdn__proc *first = NULL, *last = NULL;
        uint32_t taken = 0;
        fdn__spin_lock(&v->qlock);
        n = atomic_load_explicit(&v->rq_len, memory_order_relaxed);
        uint32_t want = (n + 1) / 2;
        while (taken < want && v->rq_head) {
            struct fdn__proc *p = v->rq_head;
            v->rq_head = p->rq_next;
            p->rq_next = NULL;
            if (last)
                last->rq_next = p;
            else
                first = p;
            last = p;
            taken++;
        }
        if (v->rq_head == NULL)
            v->rq_tail = NULL;
        atomic_store_explicit(&v->rq_len, n - taken, memory_order_relaxed);
        fdn__spin_unlock(&v->qlock);
        if (first == NULL)
            continue;
        bump(&self->steals);
        struct fdn__proc *rest = first->rq_next;
        uint32_t len;
        while (rest) {
            struct fdn__proc *nx = rest->rq_next;
            q_append(self, rest, &len);
            rest = nx;
        }
        return first;
    }
    return NULL;
}

static bool any_work(fdn_runtime_t *rt)
{
    for (unsigned i = 0; i < rt->nsched; i++)
        if (atomic_load_explicit(&rt->scheds[i].rq_len, memory_order_relaxed) ||
            atomic_load_explicit(&rt->scheds[i].next, memory_order_relaxed))
            return true;
    return false;
}

/* The next process to run: the next slot first (a woken process runs at
 * once, cache-hot), but after NEXT_STREAK turns in a row from the slot the
 * queue goes first, so two processes bouncing messages cannot starve the
 * queue (RT-L3). */
static struct fdn__proc *take_work(struct fdn__sched *s)
{
    struct fdn__proc *p = NULL;
    if (s->streak < NEXT_STREAK ||
        atomic_load_explicit(&s->rq_len, memory_order_relaxed) == 0) {
        /* acq_rel: pairs with the exchange in fdn__sched_push. */
        p = atomic_exchange_explicit(&s->next, NULL, memory_order_acq_rel);
        if (p != NULL) {
            s->streak++;
            return p;
        }
    }
    s->streak = 0;
    p = q_pop(s);
    if (p == NULL)
        p = atomic_exchange_explicit(&s->next, NULL, memory_order_acq_rel);
    return p;
}

static void sleep_once(struct fdn__sched *s)
{
    fdn_runtime_t *rt = s->rt;
    uint32_t seq = atomic_load_explicit(&rt->wake_seq, memory_order_acquire);
    atomic_fetch_add_explicit(&rt->sleepers, 1, memory_order_relaxed);
    /* Pairs with the seq_cst fence in wake_one (Dekker, see top). */
    atomic_thread_fence(memory_order_seq_cst);
    if (!any_work(rt) &&
        !atomic_load_explicit(&rt->sched_exit, memory_order_acquire)) {
        bump(&s->sleeps);
        fdn__futex_wait(&rt->wake_seq, seq, SLEEP_TIMEOUT_NS);
    }
    atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
}

static void *sched_main(void *arg)
{
    struct fdn__sched *s = arg;
    tls_sched = s;
    int idle = 0;
    for (;;) {
        struct fdn__proc *p = take_work(s);
        if (p == NULL)
            p = steal(s);
        if (p != NULL) {
            idle = 0;
            fdn__sched_run(s, p);
            continue;
        }
        if (atomic_load_explicit(&s->rt->sched_exit, memory_order_acquire))
            break;
        if (++idle < SPIN_BEFORE_SLEEP) {
            sched_yield();
            continue;
        }
        idle = 0;
        sleep_once(s);
    }
    tls_sched = NULL;
    return NULL;
}

void fdn__sched_run(struct fdn__sched *s, struct fdn__proc *p)
{
    fdn_runtime_t *rt = s->rt;
    /* We own the turn: the pusher set QUEUED and the queue ordered its
     * writes before our take. */
    bump(&s->turns);
    /* acq_rel exchange, not a store: it synchronizes with the RMW of every
     * sender ordered before it on `run`, so their links are visible to the
     * pops below (see fdn__deliver; a plain store here strands messages
     * under store buffering: specs/models/mailbox_broken_tso.pml). */
    atomic_exchange_explicit(&p->run, FDN__RUNNING, memory_order_acq_rel);
    fdn__mq_sample(p);
    fdn_ctx_t ctx = {.rt = rt,
                     .p = p,
                     .self = atomic_load_explicit(&p->pid, memory_order_relaxed),
                     .sched = s,
                     .stop_reason = FDN_REASON_NORMAL,
                     .taken = NULL,
                     .is_attached = false};
    uint32_t handled = 0;
    for (;;) {
        while (handled < rt->batch) {
            fdn_reason_t why;
            if (fdn__kill_pending(p, &why)) {
                fdn__die(&ctx, why);
                return;
            }
            struct fdn__msg *m = fdn__mq_pop(p);
            if (m == NULL)
                break;
            handled++;
            if (!fdn__dispatch(&ctx, m))
                return; /* died */
        }
        if (handled >= rt->batch) {
            /* Fairness (RT-L3): yield to others, come back later. */
            atomic_exchange_explicit(&p->run, FDN__QUEUED, memory_order_acq_rel);
            fdn__sched_push_tail(rt, p);
            return;
        }
        int expected = FDN__RUNNING;
        /* acq_rel.  Success: release publishes this turn's writes to the
         * next turn (whoever sees IDLE and queues us).  Failure: acquire
         * reads DIRTY from a sender's CAS, whose message is then linked. */
        if (atomic_compare_exchange_strong_explicit(
                &p->run, &expected, FDN__IDLE, memory_order_acq_rel,
                memory_order_acquire))
            return;
        atomic_exchange_explicit(&p->run, FDN__RUNNING, memory_order_acq_rel);
    }
}

/* ---------------------------------------------------------------------- */

FDN_API void fdn_runtime_opts_init(fdn_runtime_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_processes = 1u << 22;
    opts->batch = 64;
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
    rt->clock = o.clock ? o.clock : fdn_clock_monotonic();
    atomic_init(&rt->wake_seq, 0);
    atomic_init(&rt->sleepers, 0);
    atomic_init(&rt->rr, 0);
    atomic_init(&rt->next_ref, 1);
    atomic_init(&rt->ext_spawned, 0);
    atomic_init(&rt->ext_exited, 0);
    atomic_init(&rt->ext_sent, 0);
    atomic_init(&rt->stopping, 0);
    atomic_init(&rt->sched_exit, 0);
    int rc = fdn__table_init(rt);
    if (rc != FDN_OK) {
        fdn__free(a, raw);
        return rc;
    }
    if (pthread_mutex_init(&rt->att_lock, NULL) != 0) {
        fdn__table_fini(rt);
        fdn__free(a, raw);
        return FDN_ESYS;
    }
    if (pthread_rwlock_init(&rt->names_lock, NULL) != 0) {
        pthread_mutex_destroy(&rt->att_lock);
        fdn__table_fini(rt);
        fdn__free(a, raw);
        return FDN_ESYS;
    }
    size_t sbytes = sizeof(struct fdn__sched) * rt->nsched + FDN__CACHELINE;
    void *sraw = fdn__alloc(a, sbytes);
    if (sraw == NULL) {
        rc = FDN_ENOMEM;
        goto fail_sched;
    }
    memset(sraw, 0, sbytes);
    rt->scheds = (struct fdn__sched *)(((uintptr_t)sraw + FDN__CACHELINE - 1) &
                                       ~(uintptr_t)(FDN__CACHELINE - 1));
    rt->sched_raw = sraw;
    rc = fdn__timers_start(rt);
    if (rc != FDN_OK)
        goto fail_timers;
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
    unsigned started = 0;
    for (; started < rt->nsched; started++) {
        struct fdn__sched *s = &rt->scheds[started];
        if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
            rc = FDN_ESYS;
            break;
        }
    }
    if (rc != FDN_OK) {
        atomic_store_explicit(&rt->sched_exit, 1, memory_order_release);
        for (unsigned i = 0; i < started; i++) {
            atomic_fetch_add_explicit(&rt->wake_seq, 1, memory_order_release);
            fdn__futex_wake(&rt->wake_seq, INT32_MAX);
            pthread_join(rt->scheds[i].thread, NULL);
        }
        fdn__timers_stop(rt);
        goto fail_timers;
    }
    *out = rt;
    return FDN_OK;
fail_timers:
    fdn__free(a, sraw);
fail_sched:
    pthread_rwlock_destroy(&rt->names_lock);
    pthread_mutex_destroy(&rt->att_lock);
    fdn__table_fini(rt);
    fdn__free(a, raw);
    return rc;
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
    /* Kill until nothing lives; a process may spawn while we sweep. */
    for (int round = 0; fdn_runtime_process_count(rt) != 0; round++) {
        if (round % 100 == 0)
            stop_all(rt);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fdn__timers_stop(rt);
    atomic_store_explicit(&rt->sched_exit, 1, memory_order_release);
    for (unsigned i = 0; i < rt->nsched; i++) {
        atomic_fetch_add_explicit(&rt->wake_seq, 1, memory_order_release);
        fdn__futex_wake(&rt->wake_seq, INT32_MAX);
    }
    for (unsigned i = 0; i < rt->nsched; i++)
        pthread_join(rt->scheds[i].thread, NULL);
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
    fdn__free(a, rt->sched_raw);
    fdn__names_fini(rt);
    pthread_rwlock_destroy(&rt->names_lock);
    pthread_mutex_destroy(&rt->att_lock);
    fdn__table_fini(rt);
    fdn__free(a, raw);
}

FDN_API fdn_clock_t *fdn_runtime_clock(const fdn_runtime_t *rt)
{
    return rt->clock;
}

FDN_API const fdn_allocator_t *fdn_runtime_allocator(const fdn_runtime_t *rt)
{
    return rt->alloc;
}

FDN_API void fdn_runtime_stats(const fdn_runtime_t *rt, fdn_runtime_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->spawned = atomic_load_explicit(&rt->ext_spawned, memory_order_relaxed);
    out->exited = atomic_load_explicit(&rt->ext_exited, memory_order_relaxed);
    out->messages_sent = atomic_load_explicit(&rt->ext_sent, memory_order_relaxed);
    out->exited_normal =
        atomic_load_explicit(&rt->ext_exited_normal, memory_order_relaxed);
    out->exited_shutdown =
        atomic_load_explicit(&rt->ext_exited_shutdown, memory_order_relaxed);
    out->exited_killed =
        atomic_load_explicit(&rt->ext_exited_killed, memory_order_relaxed);
    for (unsigned i = 0; i < rt->nsched; i++) {
        const struct fdn__sched *s = &rt->scheds[i];
        out->spawned += atomic_load_explicit(&s->spawned, memory_order_relaxed);
        out->exited += atomic_load_explicit(&s->exited, memory_order_relaxed);
        out->exited_normal +=
            atomic_load_explicit(&s->exited_normal, memory_order_relaxed);
        out->exited_shutdown +=
            atomic_load_explicit(&s->exited_shutdown, memory_order_relaxed);
        out->exited_killed +=
            atomic_load_explicit(&s->exited_killed, memory_order_relaxed);
        out->messages_sent += atomic_load_explicit(&s->sent, memory_order_relaxed);
        out->steals += atomic_load_explicit(&s->steals, memory_order_relaxed);
        out->sleeps += atomic_load_explicit(&s->sleeps, memory_order_relaxed);
        out->runnable += fdn_runtime_runq_len(rt, i);
    }
    /* Racy reads may see a by-reason count before its total: clamp. */
    uint64_t known = out->exited_normal + out->exited_shutdown + out->exited_killed;
    out->exited_other = out->exited > known ? out->exited - known : 0;
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
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    return st.live;
}
