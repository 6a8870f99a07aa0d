/*
 * attach.c — attached threads: any OS thread can become a process, receive
 * with a timeout, make synchronous calls, and detach.
 *
 * An attached process uses the same mailbox and run-state hand-off as a
 * scheduled one; "scheduling" it means waking its thread.  The thread runs
 * (RUNNING) while it pops; when the mailbox is empty it moves the state to
 * IDLE (CAS; DIRTY means look again) and sleeps on a futex on the state
 * word while it stays IDLE.  A sender that moves IDLE → QUEUED wakes it.
 *
 * Receive timeouts are waits of an OS thread, so they use CLOCK_MONOTONIC
 * even when the runtime clock is virtual; timers (timer.c) use the runtime
 * clock.
 *
 * Selective receive.  fdn_call waits for its reply (or the DOWN of the
 * server) and parks every other message on a save queue, which
 * fdn_receive drains first, so order is kept (RT-S1).  A reply whose call
 * is over is dropped when popped (RT-S7).
 */
#include "runtime/internal.h"

#include <stdio.h>
#include <time.h>

struct fdn__attached {
    fdn_ctx_t ctx;                      /* [own] */
    struct fdn__attached *next, *prev;  /* rt->att_lock */
    struct fdn__msg *save_head, *save_tail; /* [own] */
    bool dead;                          /* [own] killed, awaiting detach */
};

static _Thread_local struct fdn__attached *tls_att;

static uint64_t mono_now(void)
{
    return fdn_clock_now(fdn_clock_monotonic());
}

void fdn__attached_wake(struct fdn__proc *p)
{
    fdn__futex_wake(&p->run, 1);
}

void fdn__attached_kick(struct fdn__proc *p)
{
    /* seq_cst: the waiter stores waiting_on (seq_cst) and fences before it
     * looks at the kill mark and `stopping`; the caller changed those and
     * fenced before this load.  So either the waiter sees the change or
     * this sees the waiter, and bumps room_seq past the value it will
     * wait on. */
    struct fdn__proc *w = atomic_load_explicit(&p->waiting_on, memory_order_seq_cst);
    if (w != NULL) {
        atomic_fetch_add_explicit(&w->room_seq, 1, memory_order_release);
        fdn__futex_wake(&w->room_seq, INT32_MAX);
    }
}

static struct fdn__attached *att_of(fdn_ctx_t *ctx)
{
    if (ctx == NULL || !ctx->is_attached)
        return NULL;
    return (struct fdn__attached *)((char *)ctx -
                                    offsetof(struct fdn__attached, ctx));
}

FDN_API int fdn_attach(fdn_runtime_t *rt, fdn_ctx_t **ctx)
{
    if (rt == NULL || ctx == NULL)
        return FDN_EINVAL;
    if (tls_att != NULL)
        return FDN_EBUSY;
    struct fdn__attached *a = fdn__zalloc(rt->alloc, sizeof *a);
    if (a == NULL)
        return FDN_ENOMEM;
    struct fdn__proc *p;
    fdn_pid_t pid;
    pthread_mutex_lock(&rt->att_lock);
    int rc = fdn__life_begin(rt, &p, &pid);
    if (rc != FDN_OK) {
        pthread_mutex_unlock(&rt->att_lock);
        fdn__free(rt->alloc, a);
        return rc;
    }
    a->ctx.rt = rt;
    a->ctx.p = p;
    a->ctx.self = pid;
    a->ctx.is_attached = true;
    a->ctx.stop_reason = FDN_REASON_NORMAL;
    a->next = rt->att_list;
    if (rt->att_list)
        rt->att_list->prev = a;
    rt->att_list = a;
    pthread_mutex_unlock(&rt->att_lock);
    tls_att = a;
    *ctx = &a->ctx;
    return FDN_OK;
}

/* Ends the attached process's life, keeping its slot until detach. */
static void att_die(struct fdn__attached *a, fdn_reason_t reason)
{
    fdn_runtime_t *rt = a->ctx.rt;
    struct fdn__proc *p = a->ctx.p;
    if (a->dead)
        return;
    a->dead = true;
    fdn__signals_on_death(&a->ctx, reason);
    while (a->save_head) {
        struct fdn__msg *m = a->save_head;
        a->save_head = (struct fdn__msg *)atomic_load_explicit(
            &m->node.next, memory_order_relaxed);
        fdn__msg_free(rt, m);
    }
    a->save_tail = NULL;
    struct fdn__msg *m;
    while ((m = fdn__mq_pop(p)) != NULL)
        fdn__msg_free(rt, m);
    fdn__mark_dead(p);
}

int fdn__attached_check(fdn_ctx_t *ctx)
{
    struct fdn__attached *a = att_of(ctx);
    if (a->dead)
        return FDN_ENOPROC;
    fdn_reason_t why;
    if (fdn__kill_pending(ctx->p, &why)) {
        att_die(a, why);
        return FDN_ENOPROC;
    }
    return FDN_OK;
}

FDN_API void fdn_detach(fdn_ctx_t *ctx)
{
    struct fdn__attached *a = att_of(ctx);
    if (a == NULL || a != tls_att)
        return;
    fdn_runtime_t *rt = ctx->rt;
    att_die(a, FDN_REASON_NORMAL);
    pthread_mutex_lock(&rt->att_lock);
    if (a->prev)
        a->prev->next = a->next;
    else
        rt->att_list = a->next;
    if (a->next)
        a->next->prev = a->prev;
    atomic_store_explicit(&ctx->p->kill_pending, 0, memory_order_relaxed);
    fdn__table_release(rt, ctx->p);
    /* Once the list is unlocked a concurrent fdn_runtime_destroy may see
     * it empty and free rt: read nothing of rt after the unlock. */
    const fdn_allocator_t *alloc = rt->alloc;
    tls_att = NULL;
    pthread_mutex_unlock(&rt->att_lock);
    fdn__free(alloc, a);
}

void fdn__attached_shutdown(fdn_runtime_t *rt)
{
    pthread_mutex_lock(&rt->att_lock);
    /* The waiters see `stopping` once woken; waking needs no memory.  A
     * thread in fdn_send_wait sleeps on its receiver's room_seq: it stored
     * waiting_on (seq_cst) before it loads `stopping` (seq_cst), and
     * destroy stored `stopping` (seq_cst) before this load, so either it
     * sees `stopping` or we see it waiting and bump room_seq past the
     * value it will wait on. */
    atomic_thread_fence(memory_order_seq_cst);
    for (struct fdn__attached *a = rt->att_list; a; a = a->next) {
        fdn__notify(rt, a->ctx.p);
        fdn__attached_kick(a->ctx.p);
    }
    pthread_mutex_unlock(&rt->att_lock);
    for (unsigned ms = 1;; ms++) {
        pthread_mutex_lock(&rt->att_lock);
        unsigned left = 0;
        for (struct fdn__attached *a = rt->att_list; a; a = a->next)
            left++;
        pthread_mutex_unlock(&rt->att_lock);
        if (left == 0)
            return;
        if (ms % 5000 == 0)
            fprintf(stderr,
                    "foundation: fdn_runtime_destroy is waiting for %u attached "
                    "thread(s) to call fdn_detach\n",
                    left);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/*
 * Pops the next raw message, sleeping while the mailbox is empty, until
 * deadline (CLOCK_MONOTONIC ns, or FDN_INFINITY).  NULL with *err set on
 * timeout, shutdown or death.
 */
static struct fdn__msg *det_wait_pop(struct fdn__attached *a,
                                     uint64_t deadline, int *err);

/* One look at the mailbox of a waiting attached thread: a message, or NULL
 * with *err FDN_OK (empty), FDN_ESHUTDOWN or FDN_ENOPROC (killed). */
static struct fdn__msg *try_pop(struct fdn__attached *a, int *err)
{
    *err = FDN_OK;
    if (atomic_load_explicit(&a->ctx.rt->stopping, memory_order_acquire)) {
        *err = FDN_ESHUTDOWN;
        return NULL;
    }
    fdn_reason_t why;
    if (fdn__kill_pending(a->ctx.p, &why)) {
        att_die(a, why);
        *err = FDN_ENOPROC;
        return NULL;
    }
    return fdn__mq_pop(a->ctx.p);
}

static struct fdn__msg *wait_pop(struct fdn__attached *a, uint64_t deadline,
                                 int *err)
{
    fdn_runtime_t *rt = a->ctx.rt;
    struct fdn__proc *p = a->ctx.p;
    if (rt->is_det)
        return det_wait_pop(a, deadline, err);
    bool last_try = false;
    for (;;) {
        struct fdn__msg *m = try_pop(a, err);
        if (m != NULL || *err != FDN_OK)
            return m;
        if (last_try) {
            *err = FDN_ETIMEDOUT;
            return NULL;
        }
        int s = FDN__RUNNING | FDN__ATT;
        /* Same hand-off as the end of a scheduler turn (process.c). */
        if (!atomic_compare_exchange_strong_explicit(
                &p->run, &s, FDN__IDLE | FDN__ATT, memory_order_acq_rel,
                memory_order_acquire)) {
            /* An exchange: every write to run is an RMW (fdn__deliver). */
            atomic_exchange_explicit(&p->run, FDN__RUNNING | FDN__ATT,
                                     memory_order_acq_rel);
            continue; /* DIRTY: a message is linked */
        }
        uint64_t now = mono_now();
        if (deadline != FDN_INFINITY && now >= deadline)
            last_try = true;
        else
            fdn__futex_wait(&p->run, FDN__IDLE | FDN__ATT,
                            deadline == FDN_INFINITY ? FDN_INFINITY
                                                     : deadline - now);
        /* Take the turn back: IDLE (timeout) or QUEUED (woken).  acq_rel:
         * a failure reads the waker's QUEUED, whose message is linked. */
        s = FDN__IDLE | FDN__ATT;
        if (!atomic_compare_exchange_strong_explicit(
                &p->run, &s, FDN__RUNNING | FDN__ATT, memory_order_acq_rel,
                memory_order_acquire))
            atomic_exchange_explicit(&p->run, FDN__RUNNING | FDN__ATT,
                                     memory_order_acq_rel);
    }
}

/* Classifies a popped message: 1 deliver, 0 dropped (freed), -1 died. */
static int accept_msg(struct fdn__attached *a, struct fdn__msg *m)
{
    fdn_runtime_t *rt = a->ctx.rt;
    if (m->to != a->ctx.self) {
        fdn__msg_free(rt, m);
        return 0;
    }
    switch ((int)m->pub.kind) {
    case FDN__MSG_WAKE:
        fdn__msg_free(rt, m);
        return 0;
    case FDN_MSG_REPLY:
    case FDN__MSG_REQTMO:
        /* A reply to a pending fdn_request is delivered; one whose call or
         * request is over is dropped (RT-S7, RT-S12). */
        if (fdn__request_accept(&a->ctx, m))
            return 1;
        fdn__msg_free(rt, m);
        return 0;
    case FDN__MSG_DOWNMON:
        if (fdn__down_accept(&a->ctx, m))
            return 1;
        fdn__msg_free(rt, m);
        return 0;
    case FDN__MSG_SIGEXIT: {
        fdn_reason_t why;
        int r = fdn__signal_eval(&a->ctx, m, &why);
        if (r == 0)
            return 1;
        fdn__msg_free(rt, m);
        if (r < 0)
            return 0;
        att_die(a, why);
        return -1;
    }
    default:
        return 1;
    }
}

/* Deterministic runtimes wait on their virtual clock, others on
 * CLOCK_MONOTONIC (the thread's own real waiting). */
static uint64_t wait_now(const fdn_runtime_t *rt)
{
    return rt->is_det ? fdn_clock_now(rt->clock) : mono_now();
}

/*
 * The deterministic wait: this thread is the scheduler.  It pops its own
 * mailbox; when that is empty it makes the runtime progress (due timers,
 * one turn of a ready process, or the clock moved to the next timer) and
 * looks again.  The attached process stays RUNNING throughout, so senders
 * only mark it DIRTY and never try to wake it.
 */
static struct fdn__msg *det_wait_pop(struct fdn__attached *a,
                                     uint64_t deadline, int *err)
{
    fdn_runtime_t *rt = a->ctx.rt;
    struct fdn__proc *p = a->ctx.p;
    for (;;) {
        struct fdn__msg *m = try_pop(a, err);
        if (m != NULL || *err != FDN_OK)
            return m;
        int rc = fdn__det_progress(rt, deadline);
        if (rc != FDN_OK) {
            /* One last look: the progress may have been a message to us. */
            if ((m = fdn__mq_pop(p)) != NULL)
                return m;
            *err = rc;
            return NULL;
        }
    }
}

static uint64_t deadline_of(const fdn_runtime_t *rt, uint64_t timeout_ns)
{
    if (timeout_ns == FDN_INFINITY)
        return FDN_INFINITY;
    uint64_t now = wait_now(rt);
    return timeout_ns > FDN_INFINITY - now - 1 ? FDN_INFINITY - 1
                                                : now + timeout_ns;
}

FDN_API int fdn_receive(fdn_ctx_t *ctx, uint64_t timeout_ns, fdn_msg_t **msg)
{
    if (ctx == NULL || msg == NULL)
        return FDN_EINVAL;
    struct fdn__attached *a = att_of(ctx);
    if (a == NULL || a != tls_att)
        return FDN_ETHREAD;
    if (a->dead)
        return FDN_ENOPROC;
    while (a->save_head) {
        struct fdn__msg *m = a->save_head;
        a->save_head = (struct fdn__msg *)atomic_load_explicit(
            &m->node.next, memory_order_relaxed);
        if (a->save_head == NULL)
            a->save_tail = NULL;
        int r = accept_msg(a, m);
        if (r > 0) {
            fdn__count_handled(&a->ctx, &m->pub);
            *msg = &m->pub;
            return FDN_OK;
        }
        if (r < 0)
            return FDN_ENOPROC;
    }
    uint64_t deadline = deadline_of(ctx->rt, timeout_ns);
    for (;;) {
        int err;
        struct fdn__msg *m = wait_pop(a, deadline, &err);
        if (m == NULL)
            return err;
        int r = accept_msg(a, m);
        if (r > 0) {
            fdn__count_handled(&a->ctx, &m->pub);
            *msg = &m->pub;
            return FDN_OK;
        }
        if (r < 0)
            return FDN_ENOPROC;
    }
}

FDN_API void fdn_msg_free(fdn_ctx_t *ctx, fdn_msg_t *msg)
{
    if (ctx == NULL || msg == NULL)
        return;
    fdn__msg_free(ctx->rt,
                  (struct fdn__msg *)((char *)msg - offsetof(struct fdn__msg, pub)));
}

static void save(struct fdn__attached *a, struct fdn__msg *m)
{
    atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
    if (a->save_tail)
        atomic_store_explicit(&a->save_tail->node.next, &m->node,
                              memory_order_relaxed);
    else
        a->save_head = m;
    a->save_tail = m;
}

FDN_API int fdn_call(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                     const void *data, size_t size, uint64_t timeout_ns,
                     fdn_msg_t **reply)
{
    if (ctx == NULL || reply == NULL || (data == NULL && size != 0))
        return FDN_EINVAL;
    struct fdn__attached *a = att_of(ctx);
    if (a == NULL || a != tls_att)
        return FDN_ETHREAD;
    if (a->dead)
        return FDN_ENOPROC;
    if (to == ctx->self)
        return FDN_EINVAL; /* nobody could ever answer it */
    fdn_runtime_t *rt = ctx->rt;
    fdn_ref_t cref = fdn__new_ref(rt);
    struct fdn__msg *req =
        fdn__msg_copy(rt, NULL, FDN_MSG_CALL, tag, ctx->self, cref, data, size);
    if (req == NULL)
        return FDN_ENOMEM;
    fdn_ref_t mref;
    int rc = fdn_monitor(ctx, to, &mref);
    if (rc != FDN_OK) {
        fdn__msg_free(rt, req);
        return rc;
    }
    rc = fdn__send_user(rt, to, req);
    if (rc != FDN_OK) {
        fdn__msg_free(rt, req);
        fdn_demonitor(ctx, mref);
        return rc; /* FDN_ENOPROC, or FDN_EFULL (a bounded server) */
    }
    uint64_t deadline = deadline_of(ctx->rt, timeout_ns);
    for (;;) {
        int err;
        struct fdn__msg *m = wait_pop(a, deadline, &err);
        if (m == NULL) {
            if (!a->dead)
                fdn_demonitor(ctx, mref);
            return err;
        }
        if (m->to != ctx->self) {
            fdn__msg_free(rt, m);
            continue;
        }
        int kind = (int)m->pub.kind;
        if (kind == FDN_MSG_REPLY && m->pub.ref == cref) {
            fdn_demonitor(ctx, mref);
            *reply = &m->pub;
            return FDN_OK;
        }
        if (kind == FDN__MSG_DOWNMON && m->pub.ref == mref) {
            fdn__down_accept(ctx, m); /* consumes the held record */
            fdn__msg_free(rt, m);
            return FDN_ENOPROC; /* RT-F5 */
        }
        if (kind == FDN__MSG_SIGEXIT) {
            int r = accept_msg(a, m);
            if (r < 0)
                return FDN_ENOPROC;
            if (r > 0)
                save(a, m);
            continue;
        }
        save(a, m);
    }
}

FDN_API int fdn_reply(fdn_ctx_t *ctx, const fdn_msg_t *request, uint32_t tag,
                      const void *data, size_t size)
{
    if (ctx == NULL || request == NULL || request->kind != FDN_MSG_CALL ||
        (data == NULL && size != 0))
        return FDN_EINVAL;
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__msg *m = fdn__msg_copy(rt, ctx->sched, FDN_MSG_REPLY, tag,
                                       ctx->self, request->ref, data, size);
    if (m == NULL)
        return FDN_ENOMEM;
    int rc = fdn__send_msg(rt, request->from, m);
    if (rc != FDN_OK)
        fdn__msg_free(rt, m);
    return rc;
}

/* One attempt of fdn_send_wait with its message m (kept on failure). */
static int try_send(fdn_ctx_t *ctx, fdn_pid_t to, struct fdn__msg *m)
{
    int rc = fdn__check_ctx(ctx); /* a kill ends the wait */
    return rc == FDN_OK ? fdn__send_user(ctx->rt, to, m) : rc;
}

FDN_API int fdn_send_wait(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                          const void *data, size_t size, uint64_t timeout_ns)
{
    if (ctx == NULL)
        return FDN_EINVAL;
    struct fdn__attached *a = att_of(ctx);
    if (a == NULL || a != tls_att)
        return FDN_ETHREAD;
    int rc = fdn__check_ctx(ctx);
    if (rc != FDN_OK)
        return rc;
    if (data == NULL && size != 0)
        return FDN_EINVAL;
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *p = fdn__table_get(rt, to);
    if (to == FDN_PID_NONE || p == NULL)
        return FDN_ENOPROC;
    /* The message is made once; only its delivery is retried. */
    struct fdn__msg *m = fdn__msg_copy(rt, NULL, FDN_MSG_USER, tag, ctx->self,
                                       FDN_REF_NONE, data, size);
    if (m == NULL)
        return FDN_ENOMEM;
    uint64_t deadline = deadline_of(rt, timeout_ns);
    rc = try_send(ctx, to, m);
    while (rc == FDN_EFULL) {
        if (rt->is_det) {
            /* This thread is the scheduler: run the receiver (and
             * everyone) until there is room, as det_wait_pop does. */
            if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) {
                rc = FDN_ESHUTDOWN;
                break;
            }
            int prc = fdn__det_progress(rt, deadline);
            rc = try_send(ctx, to, m);
            if (rc == FDN_EFULL && prc != FDN_OK)
                rc = prc;
            continue;
        }
        /* The eventcount of mailbox.c: read the sequence, announce, fence,
         * try again, and only then sleep. */
        uint32_t seq = atomic_load_explicit(&p->room_seq, memory_order_acquire);
        atomic_fetch_add_explicit(&p->room_waiters, 1, memory_order_relaxed);
        atomic_store_explicit(&ctx->p->waiting_on, p, memory_order_seq_cst);
        /* Pairs with the seq_cst fence in fdn__mq_wake_room. */
        atomic_thread_fence(memory_order_seq_cst);
        rc = atomic_load_explicit(&rt->stopping, memory_order_seq_cst)
                 ? FDN_ESHUTDOWN
                 : try_send(ctx, to, m);
        if (rc == FDN_EFULL) {
            uint64_t now = mono_now();
            if (deadline != FDN_INFINITY && now >= deadline)
                rc = FDN_ETIMEDOUT;
            else
                fdn__futex_wait(&p->room_seq, seq,
                                deadline == FDN_INFINITY ? FDN_INFINITY
                                                         : deadline - now);
        }
        atomic_store_explicit(&ctx->p->waiting_on, NULL, memory_order_relaxed);
        atomic_fetch_sub_explicit(&p->room_waiters, 1, memory_order_relaxed);
    }
    if (rc != FDN_OK)
        fdn__msg_free(rt, m); /* not sent: the caller keeps nothing */
    return rc;
}

struct fdn__msg *fdn__call_hold(fdn_ctx_t *ctx, const fdn_msg_t *request)
{
    if (ctx == NULL || request == NULL || request->kind != FDN_MSG_CALL ||
        ctx->is_attached)
        return NULL;
    struct fdn__msg *m =
        (struct fdn__msg *)((char *)request - offsetof(struct fdn__msg, pub));
    ctx->taken = m; /* fdn__dispatch leaves it to us */
    return m;
}

int fdn__call_answer(fdn_ctx_t *ctx, struct fdn__msg *m, uint32_t tag,
                     const void *data, size_t size)
{
    if (ctx == NULL || m == NULL || m->pub.kind != FDN_MSG_CALL ||
        (data == NULL && size != 0))
        return FDN_EINVAL;
    /* fdn_call copies the request's data inline, so its size is the room
     * there is for the reply's. */
    if (size > m->pub.size)
        return FDN_ETOOBIG;
    fdn_pid_t caller = m->pub.from;
    m->pub.kind = FDN_MSG_REPLY;
    m->pub.tag = tag;
    m->pub.from = ctx->self;
    m->pub.size = size;
    m->pub.data = NULL;
    if (size) {
        memmove(m->inline_data, data, size);
        m->pub.data = m->inline_data;
    }
    /* The ref stays: it is the call's.  The hand-off to the caller is the
     * ordinary delivery (release on the mailbox link, acquire on pop). */
    int rc = fdn__send_msg(ctx->rt, caller, m);
    if (rc != FDN_OK)
        fdn__msg_free(ctx->rt, m);
    return rc;
}
