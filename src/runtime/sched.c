/*
 * sched.c — the schedulers: run queues, turns, work stealing, sleeping
 * and waking.
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
 * every 50 ms as a safety net against a busy owner holding surplus work;
 * a sleeper that wakes to nothing sleeps again without spinning.
 *
 * A deterministic runtime (replay.c) has no scheduler threads: pushes go
 * to its ready set, and the waiting thread runs turns with
 * fdn__sched_run on scheds[0].  Creating and destroying runtimes is in
 * runtime.c.
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
#define LINGER_POLLS 64 /* polls of a dry mailbox before a turn ends */

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

/* Per-scheduler counters: written only by the scheduler's thread (see
 * fdn__own_inc64), exact once it is quiescent.  Spawns and exits are
 * bumped with release (fdn_runtime_stats compares them); the hot ones
 * (sends, turns, steals, sleeps) relaxed. */
#define bump fdn__own_inc64
#define bump_release fdn__own_inc64_release

void fdn__count_spawned(fdn_runtime_t *rt)
{
    struct fdn__sched *s = fdn__sched_current(rt);
    if (s)
        bump_release(&s->spawned);
    else
        atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_release);
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
    /* The reason first, then the total (fdn_runtime_stats reads them the
     * other way round): a reader that sees the total sees the reason, so
     * an exit in flight can make "other" (total minus the known reasons)
     * read low for a moment, never high; a counter fed from it can catch
     * up later but could never come back down. */
    if (s) {
        if (by)
            bump_release(by);
        bump_release(&s->exited);
    } else {
        if (by)
            atomic_fetch_add_explicit(by, 1, memory_order_release);
        atomic_fetch_add_explicit(&rt->ext_exited, 1, memory_order_release);
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
    if (rt->is_det) {
        fdn__det_push(rt, p);
        return;
    }
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
    if (s == NULL || rt->is_det) {
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

/* Nothing else is waiting to run on s. */
static bool is_alone(struct fdn__sched *s)
{
    return atomic_load_explicit(&s->rq_len, memory_order_relaxed) == 0 &&
           atomic_load_explicit(&s->next, memory_order_relaxed) == NULL;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/*
 * A process whose mailbox just ran dry, on a scheduler with nothing else
 * to run, waits a moment for the next message before it ends its turn.
 * Ending a turn and starting the next costs two run-state RMWs, a push
 * into a run queue and often a steal across cores, which is far more than
 * this wait when a producer on another core is about to send again (a
 * consumer that keeps up with its producer would otherwise go through all
 * of that for every message).  The wait is a bounded poll of the
 * mailbox's head: about a microsecond.
 */
static struct fdn__msg *linger(struct fdn__proc *p)
{
    for (int i = 0; i < LINGER_POLLS; i++) {
        cpu_relax();
        struct fdn__msg *m = fdn__mq_pop(p);
        if (m != NULL)
            return m;
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

/* Sleeps unless there is work; true if it was woken (or did not sleep),
 * false if it slept until the timeout. */
static bool sleep_once(struct fdn__sched *s)
{
    fdn_runtime_t *rt = s->rt;
    uint32_t seq = atomic_load_explicit(&rt->wake_seq, memory_order_acquire);
    atomic_fetch_add_explicit(&rt->sleepers, 1, memory_order_relaxed);
    /* Pairs with the seq_cst fence in wake_one (Dekker, see top). */
    atomic_thread_fence(memory_order_seq_cst);
    bool is_woken = true;
    if (!any_work(rt) &&
        !atomic_load_explicit(&rt->sched_exit, memory_order_acquire)) {
        bump(&s->sleeps);
        fdn__futex_wait(&rt->wake_seq, seq, SLEEP_TIMEOUT_NS);
        /* Relaxed: only a hint for how eagerly to look for work. */
        is_woken = atomic_load_explicit(&rt->wake_seq, memory_order_relaxed) != seq;
    }
    atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
    return is_woken;
}

void *fdn__sched_main(void *arg)
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
        /* Woken: spin and look, as after running out of work (a stuck
         * owner's next slot is taken on the second look).  Timed out:
         * look once, and if there is still nothing to do, sleep again at
         * once; spinning is not for a scheduler that idles, so an idle
         * runtime costs a futex wake per SLEEP_TIMEOUT_NS per scheduler
         * (RT-P8). */
        idle = sleep_once(s) ? 0 : SPIN_BEFORE_SLEEP - 1;
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
                     .sched = rt->is_det ? NULL : s,
                     .stop_reason = FDN_REASON_NORMAL,
                     .taken = NULL,
                     .is_attached = false};
    uint32_t handled = 0;
    bool is_dirty = false;
    for (;;) {
        while (handled < rt->batch) {
            fdn_reason_t why;
            if (fdn__kill_pending(p, &why)) {
                fdn__die(&ctx, why);
                return;
            }
            struct fdn__msg *m = fdn__mq_pop(p);
            if (m == NULL && handled > 0 && !is_dirty && !rt->is_det &&
                is_alone(s))
                m = linger(p);
            if (m == NULL)
                break;
            handled++;
            if (!fdn__dispatch(&ctx, m))
                return; /* died */
        }
        /* A full batch yields only if more may be queued: the owner's
         * look at enq - deq is a hint.  A stale 0 just sends us to the CAS
         * below; if a sender (or a kill mark's notify) made us DIRTY, that
         * CAS fails and we come back here with is_dirty set, and yield. */
        if (handled >= rt->batch &&
            (is_dirty || atomic_load_explicit(&p->enq, memory_order_relaxed) !=
                             atomic_load_explicit(&p->deq, memory_order_relaxed))) {
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
        is_dirty = true;
    }
}

