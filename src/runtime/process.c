/*
 * process.c — process lives: spawn, send, the run-state hand-off, message
 * dispatch and death.
 *
 * The hand-off (checked by specs/models/mailbox.pml).  A sender links its
 * message into the mailbox, then performs one successful RMW on the run
 * state: IDLE → QUEUED (and schedules it); RUNNING → DIRTY; QUEUED or
 * DIRTY → unchanged (the RMW still orders its link before the owner's
 * next exchange); DEAD → nothing (the slot has no live process).  The
 * owner takes a turn by exchanging in RUNNING and ends it with CAS
 * RUNNING → IDLE; if that fails the state is DIRTY, so it exchanges in
 * RUNNING and looks again.  Hence a linked message is never left in
 * the mailbox of an IDLE process (RT-L1), and only the thread that moved the
 * state from IDLE to QUEUED can start a turn, so a process never runs on two
 * threads (RT-I2).
 */
#include "runtime/internal.h"

FDN_API const char *fdn_reason_name(fdn_reason_t reason)
{
    switch (reason) {
    case FDN_REASON_NORMAL: return "normal";
    case FDN_REASON_SHUTDOWN: return "shutdown";
    case FDN_REASON_KILL: return "kill";
    case FDN_REASON_KILLED: return "killed";
    case FDN_REASON_NOPROC: return "noproc";
    case FDN_REASON_INIT_FAILED: return "init_failed";
    case FDN_REASON_MAX_RESTARTS: return "max_restarts";
    default: return reason >= FDN_REASON_USER ? "user" : "unknown";
    }
}

fdn_ref_t fdn__new_ref(fdn_runtime_t *rt)
{
    /* Relaxed: uniqueness needs only the atomicity of the increment. */
    return atomic_fetch_add_explicit(&rt->next_ref, 1, memory_order_relaxed);
}

/* Push (counted in enq unless already reserved), count, hand off. */
static void deliver(fdn_runtime_t *rt, struct fdn__proc *p, struct fdn__msg *m,
                    bool reserved)
{
    fdn__mq_push(p, m, reserved);
    fdn__count_sent(rt);
    fdn__notify(rt, p);
}

void fdn__deliver(fdn_runtime_t *rt, struct fdn__proc *p, struct fdn__msg *m)
{
    deliver(rt, p, m, false);
}

void fdn__notify(fdn_runtime_t *rt, struct fdn__proc *p)
{
    /*
     * Notify the owner with one successful read-modify-write on the run
     * state, on every path (QUEUED and DIRTY are CASed onto themselves).
     * Every write to `run` during a life is an RMW, so `run`'s modification
     * order is one release sequence: the owner's acq_rel exchange to
     * RUNNING either follows our RMW, and then synchronizes with it (our
     * link is visible to its mailbox reads), or precedes it, and then we
     * read RUNNING and mark DIRTY, which fails the owner's CAS to IDLE.
     * This replaces a seq_cst fence on each side (store buffering, see
     * specs/models/mailbox.pml -DTSO).  DEAD needs no notification.
     */
    int s = atomic_load_explicit(&p->run, memory_order_relaxed);
    for (;;) {
        int att = s & FDN__ATT;
        int want;
        switch (s & ~FDN__ATT) {
        case FDN__IDLE:
            want = FDN__QUEUED | att;
            break;
        case FDN__RUNNING:
            want = FDN__DIRTY | att;
            break;
        case FDN__QUEUED:
        case FDN__DIRTY:
            want = s;
            break;
        default:
            /* DEAD: a message for a life that has ended.  Mark the slot
             * (an RMW, so the next life's publish synchronizes with it
             * and sees the message linked), and schedule nothing. */
            want = FDN__DEAD | FDN__STALE;
            break;
        }
        if (atomic_compare_exchange_weak_explicit(&p->run, &s, want,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            if (want == (FDN__DEAD | FDN__STALE))
                return;
            if ((s & ~FDN__ATT) == FDN__IDLE) {
                if (att)
                    fdn__attached_wake(p);
                else
                    fdn__sched_push(rt, p);
            }
            return;
        }
    }
}

int fdn__send_msg(fdn_runtime_t *rt, fdn_pid_t to, struct fdn__msg *m)
{
    struct fdn__proc *p = fdn__table_get(rt, to);
    if (p == NULL)
        return FDN_ENOPROC;
    m->to = to;
    fdn__deliver(rt, p, m);
    return FDN_OK;
}

static int send_user_to(fdn_runtime_t *rt, struct fdn__proc *p, fdn_pid_t to,
                        struct fdn__msg *m);

int fdn__send_user(fdn_runtime_t *rt, fdn_pid_t to, struct fdn__msg *m)
{
    struct fdn__proc *p = fdn__table_get(rt, to);
    if (p == NULL)
        return FDN_ENOPROC;
    return send_user_to(rt, p, to, m);
}

/* fdn__send_user to a slot already looked up: if its life ended since,
 * the message is dropped when popped (RT-S2), as a concurrent death's. */
static int send_user_to(fdn_runtime_t *rt, struct fdn__proc *p, fdn_pid_t to,
                        struct fdn__msg *m)
{
    bool reserved;
    int rc = fdn__mq_reserve(p, &reserved);
    if (rc != FDN_OK)
        return rc;
    m->to = to;
    deliver(rt, p, m, reserved);
    return FDN_OK;
}

void fdn__mark_dead(struct fdn__proc *p)
{
    int old = atomic_exchange_explicit(&p->run, FDN__DEAD, memory_order_acq_rel);
    /* DIRTY: a sender notified after the drain's last look, so its
     * message may be in the mailbox: mark the slot as a late sender
     * would (an RMW, which the next publish reads from). */
    if ((old & ~FDN__ATT) == FDN__DIRTY)
        atomic_fetch_or_explicit(&p->run, FDN__STALE, memory_order_acq_rel);
}

void fdn__finish_turn(fdn_runtime_t *rt, struct fdn__proc *p)
{
    /* The end of init's turn (no message was handled): go IDLE, or, if a
     * message arrived meanwhile (DIRTY), hand the process to a scheduler,
     * as a turn that used its batch does.  An exchange, not a store:
     * every write to run during a life is an RMW (see fdn__deliver). */
    int expected = FDN__RUNNING;
    if (atomic_compare_exchange_strong_explicit(&p->run, &expected, FDN__IDLE,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return;
    atomic_exchange_explicit(&p->run, FDN__QUEUED, memory_order_acq_rel);
    fdn__sched_push(rt, p);
}

/* A usable sending ctx: FDN_EINVAL for NULL; FDN_ENOPROC for an attached
 * thread whose process was killed, whose death then runs at once (a
 * handler's ctx is alive by definition while it runs). */
int fdn__check_ctx(fdn_ctx_t *ctx)
{
    if (ctx == NULL || ctx->p == NULL)
        return FDN_EINVAL;
    if (ctx->is_attached)
        return fdn__attached_check(ctx);
    return FDN_OK;
}

FDN_API int fdn_send(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                     const void *data, size_t size)
{
    int crc = fdn__check_ctx(ctx);
    if (crc != FDN_OK)
        return crc;
    if (data == NULL && size != 0)
        return FDN_EINVAL;
    if (to == FDN_PID_NONE)
        return FDN_ENOPROC;
    fdn_runtime_t *rt = ctx->rt;
    /* One lookup: rejects a known-dead target before allocating, and
     * names the slot to deliver to. */
    struct fdn__proc *p = fdn__table_get(rt, to);
    if (p == NULL)
        return FDN_ENOPROC;
    struct fdn__msg *m = fdn__msg_copy(rt, ctx->sched, FDN_MSG_USER, tag,
                                       ctx->self, FDN_REF_NONE, data, size);
    if (m == NULL)
        return FDN_ENOMEM;
    int rc = send_user_to(rt, p, to, m);
    if (rc != FDN_OK)
        fdn__msg_free(rt, m);
    return rc;
}

FDN_API int fdn_send_owned(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                           void *data, size_t size, fdn_free_fn free_fn,
                           void *arg)
{
    int crc = fdn__check_ctx(ctx);
    if (crc != FDN_OK)
        return crc;
    if (data == NULL && size != 0)
        return FDN_EINVAL;
    if (to == FDN_PID_NONE)
        return FDN_ENOPROC;
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *p = fdn__table_get(rt, to);
    if (p == NULL)
        return FDN_ENOPROC;
    struct fdn__msg *m = fdn__msg_new_on(rt, ctx->sched, 0);
    if (m == NULL)
        return FDN_ENOMEM;
    m->pub.kind = FDN_MSG_USER;
    m->pub.tag = tag;
    m->pub.from = ctx->self;
    m->pub.data = data;
    m->pub.size = size;
    m->flags = FDN__MF_OWNED;
    m->free_fn = free_fn;
    m->free_arg = arg;
    int rc = send_user_to(rt, p, to, m);
    if (rc != FDN_OK) {
        m->flags = 0; /* not taken: the caller keeps data */
        fdn__msg_free(rt, m);
    }
    return rc;
}

FDN_API void *fdn_msg_take(fdn_ctx_t *ctx, const fdn_msg_t *msg)
{
    if (ctx == NULL || msg == NULL || msg->data == NULL)
        return NULL;
    struct fdn__msg *m =
        (struct fdn__msg *)((char *)msg - offsetof(struct fdn__msg, pub));
    if (m->flags & FDN__MF_OWNED) {
        m->flags &= ~FDN__MF_OWNED; /* the destructor will not run */
        return (void *)msg->data;
    }
    /* Copied data lives inside the message block: hand out a copy. */
    void *copy = fdn__alloc(ctx->rt->alloc, msg->size);
    if (copy != NULL)
        memcpy(copy, msg->data, msg->size);
    return copy;
}

FDN_API fdn_next_t fdn_stop(fdn_ctx_t *ctx, fdn_reason_t reason)
{
    if (ctx != NULL)
        ctx->stop_reason = reason;
    return FDN_STOP;
}

FDN_API fdn_pid_t fdn_self(const fdn_ctx_t *ctx)
{
    return ctx ? ctx->self : FDN_PID_NONE;
}

FDN_API fdn_runtime_t *fdn_ctx_runtime(const fdn_ctx_t *ctx)
{
    return ctx ? ctx->rt : NULL;
}

FDN_API bool fdn_trap_exit(fdn_ctx_t *ctx, bool on)
{
    if (ctx == NULL || ctx->p == NULL)
        return false;
    /* Relaxed: a per-process flag; a racing exit signal may see either
     * value, which is a valid serialisation of the two events. */
    return atomic_exchange_explicit(&ctx->p->trap_exit, on, memory_order_relaxed);
}

void fdn__count_handled(fdn_ctx_t *ctx, const fdn_msg_t *m)
{
    fdn__own_inc64(&ctx->p->handled);
    if (ctx->rt->is_det)
        fdn__det_trace(ctx->rt, ctx->self, m);
}

bool fdn__dispatch(fdn_ctx_t *ctx, struct fdn__msg *m)
{
    fdn_runtime_t *rt = ctx->rt;
    if (m->to != ctx->self) {
        fdn__msg_free(rt, m); /* addressed to an earlier life (RT-S2) */
        return true;
    }
    switch ((int)m->pub.kind) {
    case FDN__MSG_WAKE:
        fdn__msg_free(rt, m);
        return true;
    case FDN_MSG_REPLY:
    case FDN__MSG_REQTMO:
        if (!fdn__request_accept(ctx, m)) {
            fdn__msg_free(rt, m); /* no pending request: a dead alias */
            return true;
        }
        break;
    case FDN__MSG_DOWNMON:
        if (!fdn__down_accept(ctx, m)) {
            fdn__msg_free(rt, m); /* demonitored (RT-S3) */
            return true;
        }
        break;
    case FDN__MSG_SIGEXIT: {
        fdn_reason_t why;
        int r = fdn__signal_eval(ctx, m, &why);
        if (r < 0) {
            fdn__msg_free(rt, m);
            return true;
        }
        if (r > 0) {
            fdn__msg_free(rt, m);
            fdn__die(ctx, why);
            return false;
        }
        break;
    }
    default:
        break;
    }
    ctx->stop_reason = FDN_REASON_NORMAL;
    ctx->taken = NULL;
    fdn__count_handled(ctx, &m->pub);
    fdn_next_t next = ctx->p->beh->handle(ctx, ctx->p->state, &m->pub);
    if (ctx->taken != m)
        fdn__msg_free(rt, m); /* not kept by fdn__call_hold */
    ctx->taken = NULL;
    if (next == FDN_STOP) {
        fdn__die(ctx, ctx->stop_reason);
        return false;
    }
    return true;
}

void fdn__die(fdn_ctx_t *ctx, fdn_reason_t reason)
{
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *p = ctx->p;
    if (p->beh != NULL && p->beh->terminate != NULL)
        p->beh->terminate(ctx, p->state, reason);
    p->state = NULL;
    fdn__signals_on_death(ctx, reason);
    /* Drop what is queued (RT-F4). */
    struct fdn__msg *m;
    while ((m = fdn__mq_pop(p)) != NULL)
        fdn__msg_free(rt, m);
    atomic_store_explicit(&p->kill_pending, 0, memory_order_relaxed);
    atomic_store_explicit(&p->trap_exit, false, memory_order_relaxed);
    /* Senders waiting for room learn of the death (their pid check). */
    if (p->is_bounded)
        fdn__mq_wake_room(p);
    p->beh = NULL;
    /* The pid already reads 0 (fdn__signals_on_death).  DEAD makes any
     * sender that validated the old pid earlier enqueue without
     * scheduling; the slot then returns to the free stack. */
    fdn__mark_dead(p);
    fdn__table_release(rt, p);
}

static int new_life(fdn_runtime_t *rt, struct fdn__proc **out, fdn_pid_t *pid)
{
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire))
        return FDN_ESHUTDOWN;
    struct fdn__proc *p;
    int rc = fdn__table_alloc(rt, &p);
    if (rc != FDN_OK)
        return rc;
    /* A deterministic ready set holds every slot, so pushes never fail. */
    if (rt->is_det && (rc = fdn__det_reserve(rt)) != FDN_OK) {
        fdn__table_release(rt, p);
        return rc;
    }
    p->beh = NULL;
    p->state = NULL;
    p->held = NULL;
    /* Relaxed: published by the pid's release store (publish). */
    atomic_store_explicit(&p->max_mailbox, 0, memory_order_relaxed);
    p->is_bounded = false;
    atomic_store_explicit(&p->hwm, 0, memory_order_relaxed);
    atomic_store_explicit(&p->handled, 0, memory_order_relaxed);
    /* Under the lock: a racing monitor/link on a stale pid reads these. */
    fdn__spin_lock(&p->lock);
    p->mons = NULL;
    p->links = NULL;
    p->exiting = false;
    fdn__spin_unlock(&p->lock);
    *pid = ((uint64_t)p->gen << 32) | p->slot;
    *out = p;
    return FDN_OK;
}

/* Publishes a fresh life: `run` (RUNNING, owned by the caller), then the
 * pid.  Returns true if the slot's mailbox holds messages for an earlier
 * life that arrived after its death had drained it (FDN__STALE): the new
 * life must take a turn to drop them.  The exchange is acq_rel: it reads
 * from the RMW of every such late sender's notify (DEAD -> DEAD|STALE),
 * whose link is then visible to the new life's pops; a sender whose
 * notify comes after it finds the life running and wakes it as usual. */
static bool publish(struct fdn__proc *p, fdn_pid_t pid, int run)
{
    int old = atomic_exchange_explicit(&p->run, run, memory_order_acq_rel);
    /* Release: pairs with the acquire load of pid in fdn__table_get. */
    atomic_store_explicit(&p->pid, pid, memory_order_release);
    return (old & FDN__STALE) != 0;
}

int fdn__life_begin(fdn_runtime_t *rt, struct fdn__proc **out, fdn_pid_t *pid)
{
    int rc = new_life(rt, out, pid);
    if (rc == FDN_OK) {
        /* An attached thread drops an earlier life's messages at its
         * first receive: no turn is needed. */
        (void)publish(*out, *pid, FDN__RUNNING | FDN__ATT);
        fdn__count_spawned(rt);
    }
    return rc;
}

FDN_API int fdn_spawn(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                      const fdn_behaviour_t *b, void *arg,
                      const fdn_spawn_opts_t *opts, fdn_pid_t *out)
{
    if (ctx != NULL)
        rt = ctx->rt;
    if (rt == NULL || b == NULL || b->handle == NULL)
        return FDN_EINVAL;
    fdn_spawn_opts_t o = {0};
    if (opts != NULL) {
        if (opts->size < sizeof(size_t) || opts->size > sizeof o)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
    }
    if ((o.link || o.monitor) && (ctx == NULL || ctx->p == NULL))
        return FDN_EINVAL;
    if (ctx != NULL && fdn__check_ctx(ctx) != FDN_OK)
        return FDN_ENOPROC;
    struct fdn__proc *p;
    fdn_pid_t pid;
    int rc = new_life(rt, &p, &pid);
    if (rc != FDN_OK)
        return rc;
    p->beh = b;
    atomic_store_explicit(&p->name, b->name, memory_order_relaxed);
    atomic_store_explicit(&p->trap_exit, o.trap_exit, memory_order_relaxed);
    atomic_store_explicit(&p->max_mailbox, o.max_mailbox, memory_order_relaxed);
    p->is_bounded = o.max_mailbox != 0;
    if ((o.link || o.monitor) &&
        (rc = fdn__spawn_prepare(ctx, p, pid, o.link, o.monitor)) != FDN_OK) {
        p->beh = NULL; /* never published: run is still DEAD (or STALE) */
        fdn__table_release(rt, p);
        return rc;
    }
    bool has_stale = publish(p, pid, FDN__RUNNING);
    fdn__count_spawned(rt);
    fdn_ctx_t child = {.rt = rt,
                       .p = p,
                       .self = pid,
                       .sched = fdn__sched_current(rt),
                       .stop_reason = FDN_REASON_NORMAL,
                       .taken = NULL,
                       .is_attached = false};
    if (b->init != NULL && b->init(&child, arg, &p->state) == FDN_STOP) {
        fdn_reason_t why = child.stop_reason;
        p->beh = NULL; /* no terminate after a failed init */
        fdn__die(&child, why);
        return FDN_EINIT;
    }
    if (out != NULL)
        *out = pid;
    if (has_stale) {
        /* Take a turn now: it drops the earlier life's messages (their
         * pid differs, RT-S2), so they neither fill a bounded mailbox
         * nor wait for a message that would wake this one. */
        atomic_exchange_explicit(&p->run, FDN__QUEUED, memory_order_acq_rel);
        fdn__sched_push(rt, p);
    } else {
        fdn__finish_turn(rt, p);
    }
    return FDN_OK;
}

FDN_API int fdn_runtime_notify(fdn_runtime_t *rt, fdn_pid_t to, uint32_t tag,
                               const void *data, size_t size)
{
    if (rt == NULL || (data == NULL && size != 0))
        return FDN_EINVAL;
    if (to == FDN_PID_NONE)
        return FDN_ENOPROC;
    /* Reject a known-dead target before allocating. */
    if (fdn__table_get(rt, to) == NULL)
        return FDN_ENOPROC;
    struct fdn__msg *m =
        fdn__msg_copy(rt, fdn__sched_current(rt), FDN_MSG_USER, tag,
                      FDN_PID_NONE, FDN_REF_NONE, data, size);
    if (m == NULL)
        return FDN_ENOMEM;
    /* fdn__send_msg, not the user path: no mailbox bound applies. */
    int rc = fdn__send_msg(rt, to, m);
    if (rc != FDN_OK)
        fdn__msg_free(rt, m);
    return rc;
}
