/*
 * signals.c — exit signals, links and monitors, and what a death does with
 * them.
 *
 * Locking.  A process's links, monitors-on-it and `exiting` flag are guarded
 * by its spinlock.  Two locks are taken together only by link/unlink, in
 * slot order (lower slot first), so there is no lock cycle.  A death sets
 * `exiting` and detaches both lists under its own lock; from then on every
 * new monitor or link on it fails with noproc, and the dying thread owns the
 * detached records.  A watcher's held-monitor record points at the monitor
 * on the target; it is dereferenced only under the target's lock and only
 * after checking that the target is the same life and not exiting, i.e. the
 * record is still on the target's list (only the watcher unlinks it then).
 *
 * Every message a death must send (DOWN, link exit signals) is allocated
 * when the monitor or link is made, so a death never fails for lack of
 * memory (RT-L2).
 *
 * Unlink, as in Erlang: once fdn_unlink returns, the link has no effect on
 * the caller, even if the other side already died and its exit signal is
 * queued.  So a death does not remove the survivor's record of the link:
 * it marks it is_down (under the survivor's lock) and sends the signal;
 * the survivor removes the record when it pops the signal and acts on the
 * signal only if the record was still there.  An unlink in between took
 * the record, and the signal is dropped.
 *
 * The monitors a process holds are a uthash set keyed by ref ([own] of
 * the watcher), so demonitor and the filtering of a popped DOWN are O(1).
 * nlinks and nmons mirror the list lengths for fdn_process_info; they are
 * written under the lock and read racily (relaxed) by introspection.
 */
#include "runtime/internal.h"

#include <sched.h>

static void lock2(struct fdn__proc *a, struct fdn__proc *b)
{
    if (a == b) {
        fdn__spin_lock(&a->lock);
    } else if (a->slot < b->slot) {
        fdn__spin_lock(&a->lock);
        fdn__spin_lock(&b->lock);
    } else {
        fdn__spin_lock(&b->lock);
        fdn__spin_lock(&a->lock);
    }
}

static void unlock2(struct fdn__proc *a, struct fdn__proc *b)
{
    fdn__spin_unlock(&a->lock);
    if (a != b)
        fdn__spin_unlock(&b->lock);
}

/* True if p is pid's life and not dying.  Caller holds p->lock. */
static bool is_live_locked(struct fdn__proc *p, fdn_pid_t pid)
{
    /* Relaxed: the lock orders us after the death that set exiting; a
     * publish of a new life stores a different pid. */
    return atomic_load_explicit(&p->pid, memory_order_relaxed) == pid &&
           !p->exiting;
}

/*
 * A target found exiting but still published (its callback monitors are
 * running): waits until its pid stops being alive, so that a caller told
 * "no such process" (FDN_ENOPROC, or a DOWN with noproc) finds fdn_alive
 * false and the target gone from every service, as RT-S11 promises of a
 * DOWN.  The wait is as long as the callback monitors, which must be
 * short.  Acquire: pairs with the release store of pid = 0 in
 * fdn__signals_on_death, after every callback returned.
 */
static void await_unpublished(struct fdn__proc *t, fdn_pid_t pid)
{
    while (atomic_load_explicit(&t->pid, memory_order_acquire) == pid)
        sched_yield();
}

static void mon_insert_locked(struct fdn__proc *t, struct fdn__mon *m)
{
    fdn__own_add32(&t->nmons, 1);
    m->prev = NULL;
    m->next = t->mons;
    if (t->mons)
        t->mons->prev = m;
    t->mons = m;
}

static void mon_remove_locked(struct fdn__proc *t, struct fdn__mon *m)
{
    fdn__own_add32(&t->nmons, -1);
    if (m->prev)
        m->prev->next = m->next;
    else
        t->mons = m->next;
    if (m->next)
        m->next->prev = m->prev;
}

static void mon_free(fdn_runtime_t *rt, struct fdn__mon *m)
{
    if (m->down)
        fdn__msg_free(rt, m->down);
    fdn__free(rt->alloc, m);
}

static struct fdn__link *link_new(fdn_runtime_t *rt, fdn_pid_t other)
{
    struct fdn__link *l = fdn__alloc(rt->alloc, sizeof *l);
    if (l == NULL)
        return NULL;
    l->sig = fdn__msg_new(rt, 0);
    if (l->sig == NULL) {
        fdn__free(rt->alloc, l);
        return NULL;
    }
    l->other = other;
    l->next = NULL;
    l->is_down = false;
    return l;
}

static void link_free(fdn_runtime_t *rt, struct fdn__link *l)
{
    fdn__msg_free(rt, l->sig);
    fdn__free(rt->alloc, l);
}

/* Removes and returns p's link record to other, or NULL.  Holds p->lock. */
static struct fdn__link *link_take_locked(struct fdn__proc *p, fdn_pid_t other)
{
    for (struct fdn__link **pp = &p->links; *pp; pp = &(*pp)->next) {
        if ((*pp)->other == other) {
            struct fdn__link *l = *pp;
            *pp = l->next;
            if (!l->is_down) /* a down link was uncounted when marked */
                fdn__own_add32(&p->nlinks, -1);
            return l;
        }
    }
    return NULL;
}

/* ---- exit signals ------------------------------------------------------ */

int fdn__signal_exit(fdn_runtime_t *rt, fdn_pid_t from, fdn_pid_t to,
                     fdn_reason_t reason, bool via_link)
{
    struct fdn__msg *m = fdn__msg_new(rt, 0);
    if (m == NULL)
        return FDN_ENOMEM;
    m->pub.kind = (fdn_msg_kind_t)FDN__MSG_SIGEXIT;
    m->pub.from = from;
    m->pub.reason = reason;
    m->flags = via_link ? FDN__MF_LINK : 0;
    int rc = fdn__send_msg(rt, to, m);
    if (rc != FDN_OK)
        fdn__msg_free(rt, m);
    return rc;
}

FDN_API int fdn_exit(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t pid,
                     fdn_reason_t reason)
{
    if (ctx != NULL)
        rt = ctx->rt;
    if (rt == NULL)
        return FDN_EINVAL;
    if (pid == FDN_PID_NONE)
        return FDN_ENOPROC;
    fdn_pid_t from = ctx ? ctx->self : FDN_PID_NONE;
    if (reason != FDN_REASON_KILL)
        return fdn__signal_exit(rt, from, pid, reason, false);
    /* KILL cannot be trapped (RT-S4): mark it, then make the target take a
     * turn; no allocation, so a kill works even when memory is out. */
    struct fdn__proc *p = fdn__table_get(rt, pid);
    if (p == NULL)
        return FDN_ENOPROC;
    fdn__kill_mark(p, pid, FDN_REASON_KILLED);
    fdn__notify(rt, p);
    if (fdn__is_attached_proc(p)) {
        /* It may sleep in fdn_send_wait, not on its own run word. */
        atomic_thread_fence(memory_order_seq_cst);
        fdn__attached_kick(p);
    }
    return FDN_OK;
}

/*
 * The kill mark lives on the slot, so it carries the generation of the life
 * it is meant for: a killer that validated a pid and then lost a race with
 * that life's death must not kill the slot's next life.  Generations of a
 * slot only grow, so a mark is replaced only by one for a newer life.
 */
void fdn__kill_mark(struct fdn__proc *p, fdn_pid_t pid, fdn_reason_t reason)
{
    uint64_t gen = pid >> 32;
    uint64_t want = gen << 32 | (uint64_t)(reason + 1);
    uint64_t cur = atomic_load_explicit(&p->kill_pending, memory_order_relaxed);
    for (;;) {
        if (cur != 0 && (cur >> 32) >= gen)
            return; /* this life (or a newer one) is already marked */
        /* Release: pairs with the acquire load in fdn__kill_pending. */
        if (atomic_compare_exchange_weak_explicit(&p->kill_pending, &cur, want,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

bool fdn__kill_pending(const struct fdn__proc *p, fdn_reason_t *why)
{
    uint64_t k = atomic_load_explicit(&p->kill_pending, memory_order_acquire);
    if (k == 0 || (k >> 32) != p->gen)
        return false;
    *why = (fdn_reason_t)(k & 0xffffffffu) - 1;
    return true;
}

int fdn__signal_eval(fdn_ctx_t *ctx, struct fdn__msg *m, fdn_reason_t *die)
{
    fdn_reason_t reason = m->pub.reason;
    if (m->flags & FDN__MF_LINK) {
        /* A link's signal counts only if the link is still there: an
         * fdn_unlink since the sender's death made it void. */
        struct fdn__proc *p = ctx->p;
        fdn__spin_lock(&p->lock);
        struct fdn__link *l = link_take_locked(p, m->pub.from);
        fdn__spin_unlock(&p->lock);
        if (l == NULL)
            return -1;
        link_free(ctx->rt, l);
    }
    if (reason == FDN_REASON_KILL) {
        *die = FDN_REASON_KILLED;
        return 1;
    }
    if (atomic_load_explicit(&ctx->p->trap_exit, memory_order_relaxed)) {
        m->pub.kind = FDN_MSG_EXIT;
        return 0;
    }
    if (reason == FDN_REASON_NORMAL) {
        if (m->pub.from != ctx->self)
            return -1; /* RT-S5: normal exits of others are ignored */
    }
    *die = reason;
    return 1;
}

/* ---- links ------------------------------------------------------------- */

FDN_API int fdn_link(fdn_ctx_t *ctx, fdn_pid_t pid)
{
    int crc = fdn__check_ctx(ctx);
    if (crc != FDN_OK)
        return crc;
    if (pid == ctx->self)
        return FDN_OK;
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *b = fdn__table_slot(rt, pid);
    if (b == NULL)
        return FDN_ENOPROC;
    struct fdn__link *la = link_new(rt, pid);
    struct fdn__link *lb = link_new(rt, ctx->self);
    if (la == NULL || lb == NULL) {
        if (la)
            link_free(rt, la);
        if (lb)
            link_free(rt, lb);
        return FDN_ENOMEM;
    }
    struct fdn__proc *a = ctx->p;
    int rc = FDN_OK;
    bool fresh = false;
    lock2(a, b);
    if (!is_live_locked(b, pid)) {
        rc = FDN_ENOPROC;
    } else {
        bool exists = false;
        for (struct fdn__link *l = a->links; l; l = l->next)
            if (l->other == pid)
                exists = true;
        if (!exists) {
            la->next = a->links;
            a->links = la;
            lb->next = b->links;
            b->links = lb;
            fdn__own_add32(&a->nlinks, 1);
            fdn__own_add32(&b->nlinks, 1);
            fresh = true;
        }
    }
    unlock2(a, b);
    if (!fresh) {
        link_free(rt, la);
        link_free(rt, lb);
    }
    if (rc == FDN_ENOPROC)
        await_unpublished(b, pid);
    return rc;
}

FDN_API int fdn_unlink(fdn_ctx_t *ctx, fdn_pid_t pid)
{
    if (ctx == NULL || ctx->p == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *b = fdn__table_slot(rt, pid);
    struct fdn__proc *a = ctx->p;
    struct fdn__link *la = NULL, *lb = NULL;
    if (b == NULL || b == a)
        return FDN_OK;
    lock2(a, b);
    la = link_take_locked(a, pid);
    if (atomic_load_explicit(&b->pid, memory_order_relaxed) == pid)
        lb = link_take_locked(b, ctx->self);
    unlock2(a, b);
    if (la)
        link_free(rt, la);
    if (lb)
        link_free(rt, lb);
    return FDN_OK;
}

/* ---- monitors ---------------------------------------------------------- */

struct fdn__held *fdn__held_find(struct fdn__proc *p, fdn_ref_t ref)
{
    struct fdn__held *h = NULL;
    HASH_FIND(hh, p->held, &ref, sizeof ref, h);
    return h;
}

/* Owner-written count of held monitors and requests (racy readers). */
static void held_count(struct fdn__proc *p, const struct fdn__held *h, int d)
{
    fdn__own_add32(h->is_request ? &p->nreqs : &p->nheld, d);
}

/* Adds h to p's held set; false (nothing added) when out of memory. */
static bool held_add(fdn_runtime_t *rt, struct fdn__proc *p,
                     struct fdn__held *h)
{
    const fdn_allocator_t *fdn__uh_alloc = rt->alloc;
    bool fdn__uh_oom = false;
    HASH_ADD(hh, p->held, ref, sizeof h->ref, h);
    if (fdn__uh_oom)
        return false;
    held_count(p, h, 1);
    return true;
}

void fdn__held_unlink(fdn_runtime_t *rt, struct fdn__proc *p,
                      struct fdn__held *h)
{
    const fdn_allocator_t *fdn__uh_alloc = rt->alloc;
    HASH_DELETE(hh, p->held, h);
    held_count(p, h, -1);
}

static struct fdn__held *held_take(fdn_runtime_t *rt, struct fdn__proc *p,
                                   fdn_ref_t ref)
{
    struct fdn__held *h = fdn__held_find(p, ref);
    if (h != NULL)
        fdn__held_unlink(rt, p, h);
    return h;
}

int fdn__monitor_ref(fdn_ctx_t *ctx, fdn_pid_t pid, fdn_ref_t r,
                     bool is_request, struct fdn__held **out)
{
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__held *h = fdn__alloc(rt->alloc, sizeof *h);
    struct fdn__mon *mon = fdn__alloc(rt->alloc, sizeof *mon);
    struct fdn__msg *down = fdn__msg_new(rt, 0);
    if (h == NULL || mon == NULL || down == NULL) {
        fdn__free(rt->alloc, h);
        fdn__free(rt->alloc, mon);
        fdn__msg_free(rt, down);
        return FDN_ENOMEM;
    }
    mon->ref = r;
    mon->watcher = ctx->self;
    mon->down = down;
    mon->fn = NULL;
    mon->arg = NULL;
    h->ref = r;
    h->target = pid;
    h->mon = mon;
    h->timer = FDN_REF_NONE;
    h->is_request = is_request;
    /* Into the held set first: the only step that can still fail, and a
     * failure must leave nothing on the target. */
    if (!held_add(rt, ctx->p, h)) {
        fdn__free(rt->alloc, h);
        fdn__free(rt->alloc, mon);
        fdn__msg_free(rt, down);
        return FDN_ENOMEM;
    }
    struct fdn__proc *t = fdn__table_slot(rt, pid);
    bool live = false;
    if (t != NULL) {
        fdn__spin_lock(&t->lock);
        live = is_live_locked(t, pid);
        if (live)
            mon_insert_locked(t, mon);
        fdn__spin_unlock(&t->lock);
    }
    if (!live) {
        /* RT-L2: DOWN with noproc at once (once a dying target's pid is
         * no longer alive, RT-S11). */
        if (t != NULL)
            await_unpublished(t, pid);
        h->mon = NULL;
        fdn__free(rt->alloc, mon);
        down->pub.kind = (fdn_msg_kind_t)FDN__MSG_DOWNMON;
        down->pub.ref = r;
        down->pub.from = pid;
        down->pub.reason = FDN_REASON_NOPROC;
        down->to = ctx->self;
        fdn__deliver(rt, ctx->p, down);
    }
    if (out != NULL)
        *out = h;
    return FDN_OK;
}

FDN_API int fdn_monitor(fdn_ctx_t *ctx, fdn_pid_t pid, fdn_ref_t *ref)
{
    if (ref == NULL)
        return FDN_EINVAL;
    int crc = fdn__check_ctx(ctx);
    if (crc != FDN_OK)
        return crc;
    fdn_ref_t r = fdn__new_ref(ctx->rt);
    int rc = fdn__monitor_ref(ctx, pid, r, false, NULL);
    if (rc == FDN_OK)
        *ref = r;
    return rc;
}

/* Removes h's monitor from its target if it is still there, cancels a
 * request's timer, and frees h (already out of the held set). */
void fdn__held_release(fdn_runtime_t *rt, struct fdn__held *h)
{
    if (h->timer != FDN_REF_NONE)
        fdn_cancel_timer(rt, h->timer); /* ENOENT: it fired; dropped later */
    if (h->mon != NULL) {
        struct fdn__proc *t = fdn__table_slot(rt, h->target);
        struct fdn__mon *gone = NULL;
        fdn__spin_lock(&t->lock);
        if (is_live_locked(t, h->target)) {
            mon_remove_locked(t, h->mon);
            gone = h->mon;
        }
        fdn__spin_unlock(&t->lock);
        if (gone)
            mon_free(rt, gone);
    }
    fdn__free(rt->alloc, h);
}

FDN_API int fdn_demonitor(fdn_ctx_t *ctx, fdn_ref_t ref)
{
    if (ctx == NULL || ctx->p == NULL)
        return FDN_EINVAL;
    struct fdn__held *h = fdn__held_find(ctx->p, ref);
    if (h == NULL || h->is_request)
        return FDN_ENOENT; /* a request's monitor goes with the request */
    fdn__held_unlink(ctx->rt, ctx->p, h);
    fdn__held_release(ctx->rt, h);
    return FDN_OK;
}

bool fdn__down_accept(fdn_ctx_t *ctx, struct fdn__msg *m)
{
    struct fdn__held *h = held_take(ctx->rt, ctx->p, m->pub.ref);
    if (h == NULL)
        return false;
    /* The monitor fired, so its record left the target: only a request's
     * timer remains to be cancelled. */
    h->mon = NULL;
    m->pub.kind = h->is_request ? FDN_MSG_NOREPLY : FDN_MSG_DOWN;
    fdn__held_release(ctx->rt, h);
    return true;
}

FDN_API int fdn_monitor_fn(fdn_runtime_t *rt, fdn_pid_t pid, fdn_down_fn fn,
                           void *arg, fdn_ref_t *ref)
{
    if (rt == NULL || fn == NULL || ref == NULL)
        return FDN_EINVAL;
    struct fdn__proc *t = fdn__table_slot(rt, pid);
    if (t == NULL)
        return FDN_ENOPROC;
    struct fdn__mon *mon = fdn__alloc(rt->alloc, sizeof *mon);
    if (mon == NULL)
        return FDN_ENOMEM;
    fdn_ref_t r = fdn__new_ref(rt);
    mon->ref = r;
    mon->watcher = FDN_PID_NONE;
    mon->down = NULL;
    mon->fn = fn;
    mon->arg = arg;
    bool live;
    fdn__spin_lock(&t->lock);
    live = is_live_locked(t, pid);
    if (live)
        mon_insert_locked(t, mon);
    fdn__spin_unlock(&t->lock);
    if (!live) {
        fdn__free(rt->alloc, mon);
        await_unpublished(t, pid);
        return FDN_ENOPROC;
    }
    /* Not mon->ref: once unlocked, a death may run and free mon. */
    *ref = r;
    return FDN_OK;
}

FDN_API int fdn_monitor_fn_cancel(fdn_runtime_t *rt, fdn_pid_t pid,
                                  fdn_ref_t ref)
{
    if (rt == NULL)
        return FDN_EINVAL;
    struct fdn__proc *t = fdn__table_slot(rt, pid);
    if (t == NULL)
        return FDN_ENOENT;
    struct fdn__mon *found = NULL;
    bool dying = false;
    fdn__spin_lock(&t->lock);
    if (is_live_locked(t, pid)) {
        for (struct fdn__mon *m = t->mons; m; m = m->next) {
            if (m->ref == ref && m->fn != NULL) {
                mon_remove_locked(t, m);
                found = m;
                break;
            }
        }
    } else {
        /* Acquire, like the wait below: when the death has already
         * completed (pid 0, or the slot reused since), the callbacks'
         * accesses must still happen before whatever the caller does on
         * FDN_ENOENT (typically freeing what the callback read). */
        dying = atomic_load_explicit(&t->pid, memory_order_acquire) == pid;
    }
    fdn__spin_unlock(&t->lock);
    if (found) {
        mon_free(rt, found);
        return FDN_OK;
    }
    /* The callback may be running: wait until that death completes.  The
     * acquire load pairs with the release store of pid = 0 in fdn__die,
     * which happens after every callback returned. */
    if (dying)
        while (atomic_load_explicit(&t->pid, memory_order_acquire) == pid)
            sched_yield();
    return FDN_ENOENT;
}

/* ---- spawn-time links and monitors -------------------------------------- */

int fdn__spawn_prepare(fdn_ctx_t *parent, struct fdn__proc *child,
                       fdn_pid_t child_pid, bool link, fdn_ref_t *monref)
{
    fdn_runtime_t *rt = parent->rt;
    struct fdn__link *la = NULL, *lb = NULL;
    struct fdn__held *h = NULL;
    struct fdn__mon *mon = NULL;
    struct fdn__msg *down = NULL;
    bool ok = true;
    if (link) {
        la = link_new(rt, child_pid);
        lb = link_new(rt, parent->self);
        ok = la && lb;
    }
    if (ok && monref) {
        h = fdn__alloc(rt->alloc, sizeof *h);
        mon = fdn__alloc(rt->alloc, sizeof *mon);
        down = fdn__msg_new(rt, 0);
        ok = h && mon && down;
        if (ok) {
            h->ref = fdn__new_ref(rt);
            h->target = child_pid;
            h->mon = mon;
            h->timer = FDN_REF_NONE;
            h->is_request = false;
            ok = held_add(rt, parent->p, h);
        }
    }
    if (!ok) {
        if (la)
            link_free(rt, la);
        if (lb)
            link_free(rt, lb);
        fdn__free(rt->alloc, h);
        fdn__free(rt->alloc, mon);
        fdn__msg_free(rt, down);
        return FDN_ENOMEM;
    }
    struct fdn__proc *a = parent->p;
    lock2(a, child);
    if (link) {
        la->next = a->links;
        a->links = la;
        lb->next = child->links;
        child->links = lb;
        fdn__own_add32(&a->nlinks, 1);
        fdn__own_add32(&child->nlinks, 1);
    }
    if (monref) {
        mon->ref = h->ref;
        mon->watcher = parent->self;
        mon->down = down;
        mon->fn = NULL;
        mon->arg = NULL;
        mon_insert_locked(child, mon);
        *monref = mon->ref;
    }
    unlock2(a, child);
    return FDN_OK;
}

/* ---- death ------------------------------------------------------------- */

void fdn__signals_on_death(fdn_ctx_t *ctx, fdn_reason_t reason)
{
    fdn_runtime_t *rt = ctx->rt;
    struct fdn__proc *p = ctx->p;
    fdn_pid_t self = ctx->self;
    fdn__spin_lock(&p->lock);
    p->exiting = true;
    struct fdn__mon *mons = p->mons;
    struct fdn__link *links = p->links;
    p->mons = NULL;
    p->links = NULL;
    atomic_store_explicit(&p->nmons, 0, memory_order_relaxed);
    atomic_store_explicit(&p->nlinks, 0, memory_order_relaxed);
    fdn__spin_unlock(&p->lock);

    /* 1. Callback monitors first (RT-S9). */
    for (struct fdn__mon *m = mons; m; m = m->next)
        if (m->fn)
            m->fn(m->arg, self, reason);
    /* The pid stops being alive before anyone is told of the death, so a
     * process that handles DOWN or EXIT for it sees fdn_alive() false.
     * Release: pairs with the acquire in fdn__table_get and in
     * fdn_monitor_fn_cancel (every callback has returned). */
    atomic_store_explicit(&p->pid, 0, memory_order_release);
    fdn__count_exited(rt, reason);
    /* 2. Monitors (and requests) this process held on others, released
     * before anyone hears of the death, so a watcher of this process that
     * gets its DOWN finds it holding nothing. */
    struct fdn__held *h, *tmp;
    HASH_ITER(hh, p->held, h, tmp) {
        fdn__held_unlink(rt, p, h);
        fdn__held_release(rt, h);
    }
    /* 3. DOWN messages, exactly one per monitor (RT-L2). */
    while (mons) {
        struct fdn__mon *m = mons;
        mons = m->next;
        if (m->down) {
            struct fdn__msg *d = m->down;
            m->down = NULL;
            d->pub.kind = (fdn_msg_kind_t)FDN__MSG_DOWNMON;
            d->pub.ref = m->ref;
            d->pub.from = self;
            d->pub.reason = reason;
            if (fdn__send_msg(rt, m->watcher, d) != FDN_OK)
                fdn__msg_free(rt, d);
        }
        mon_free(rt, m);
    }
    /* 4. Link exit signals; KILL reaches links as KILLED. */
    fdn_reason_t lr = reason == FDN_REASON_KILL ? FDN_REASON_KILLED : reason;
    while (links) {
        struct fdn__link *l = links;
        links = l->next;
        struct fdn__proc *b = fdn__table_slot(rt, l->other);
        bool is_linked = false;
        fdn__spin_lock(&b->lock);
        if (atomic_load_explicit(&b->pid, memory_order_relaxed) == l->other) {
            /* The survivor's record stays, marked, until it pops the
             * signal (see the top: unlink). */
            for (struct fdn__link *back = b->links; back; back = back->next) {
                if (back->other == self && !back->is_down) {
                    back->is_down = true;
                    fdn__own_add32(&b->nlinks, -1);
                    is_linked = true;
                    break;
                }
            }
        }
        fdn__spin_unlock(&b->lock);
        if (is_linked) {
            /* Still linked: the other side had not unlinked. */
            struct fdn__msg *s = l->sig;
            l->sig = NULL;
            s->pub.kind = (fdn_msg_kind_t)FDN__MSG_SIGEXIT;
            s->pub.from = self;
            s->pub.reason = lr;
            s->flags = FDN__MF_LINK;
            if (fdn__send_msg(rt, l->other, s) != FDN_OK)
                fdn__msg_free(rt, s);
        }
        if (l->sig)
            fdn__msg_free(rt, l->sig);
        fdn__free(rt->alloc, l);
    }

}
