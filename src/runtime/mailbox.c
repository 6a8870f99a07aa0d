/*
 * mailbox.c — the per-process MPSC mailbox (Vyukov's intrusive queue) and
 * message allocation.
 *
 * Design.  tail is the producer end, head the consumer end, and a
 * sentinel node lives in the process slot so the queue is never empty of
 * nodes.  Push:
 * exchange tail with the new node (acq_rel), then link prev->next = node
 * (release).  Between those two steps the queue looks empty to the
 * consumer; that is safe because the producer performs the run-state
 * hand-off (process.c) only after linking, so a consumer that was told
 * about a message (DIRTY, or a QUEUED push) always finds it linked.
 * Linearization point of push: the exchange on tail; of pop: the read of
 * head->next that returns non-NULL.  Progress: push is wait-free; pop is
 * wait-free and may report empty during a concurrent push.  Memory: a
 * popped message belongs to the consumer, which frees it.
 *
 * Length.  enq counts messages pushed into the slot (every life: the
 * mailbox outlives lives), deq counts messages popped; both are 32-bit
 * and wrap, and the queue length is enq - deq, which is never negative:
 * a message is counted in enq before its push, and its pop (after the
 * push) is counted in deq.  A sender counts with a relaxed fetch_add on
 * enq, beside the tail it has just exchanged (the same cache line).  The
 * owner writes deq with a release store of load + 1 (one writer at a time:
 * turns are ordered by the run-state hand-off); a reader that loads deq
 * with acquire and then enq sees every enq count that happened before the
 * pops it saw, so its enq - deq is at least the true length at the deq
 * load and never wraps.
 *
 * Bounded mailboxes (max_mailbox > 0).  A user message reserves its place
 * by CAS on enq from e to e + 1 only if e - deq < max: enq moves only
 * forward and deq only grows, so a successful CAS leaves at most max
 * messages counted and not popped, i.e. the bound holds exactly for user
 * messages.  Runtime messages count without the check (they are never
 * refused: RT-C9).
 *
 * Waiting for room (fdn_send_wait).  An eventcount on room_seq: a waiter
 * reads room_seq, increments room_waiters, issues a seq_cst fence, and
 * re-tries its reservation before it futex-waits on room_seq; the owner,
 * after each pop of a bounded mailbox, stores deq, issues a seq_cst fence
 * and reads room_waiters, and if any bumps room_seq and wakes them.  The
 * two fences order the two store→load pairs (deq / room_waiters), so
 * either the waiter's re-try sees the new deq or the owner sees the
 * waiter; the futex compare on room_seq closes the window between the
 * re-try and the wait.
 */
#include "runtime/internal.h"

void fdn__mq_init(struct fdn__proc *p)
{
    atomic_init(&p->sentinel.next, NULL);
    atomic_init(&p->tail, &p->sentinel);
    p->head = &p->sentinel;
    atomic_init(&p->enq, 0);
    atomic_init(&p->deq, 0);
    atomic_init(&p->hwm, 0);
    atomic_init(&p->max_mailbox, 0);
    atomic_init(&p->room_seq, 0);
    atomic_init(&p->room_waiters, 0);
}

static void push_node(struct fdn__proc *p, struct fdn__mq_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* acq_rel: release publishes n's contents (with the link below) and
     * acquire orders us after the previous producer's exchange. */
    struct fdn__mq_node *prev =
        atomic_exchange_explicit(&p->tail, n, memory_order_acq_rel);
    /* Release: pairs with the acquire load of next in fdn__mq_pop. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

void fdn__mq_push(struct fdn__proc *p, struct fdn__msg *m, bool reserved)
{
    /* Relaxed: the count is ordered before the push by sequencing, and
     * the push's release carries it to the consumer (see the top). */
    if (!reserved)
        atomic_fetch_add_explicit(&p->enq, 1, memory_order_relaxed);
    push_node(p, &m->node);
}

/* Raises hwm to len (CAS max; it rarely writes). */
static void hwm_raise(struct fdn__proc *p, uint32_t len)
{
    uint32_t h = atomic_load_explicit(&p->hwm, memory_order_relaxed);
    while (len > h &&
           !atomic_compare_exchange_weak_explicit(&p->hwm, &h, len,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

int fdn__mq_reserve(struct fdn__proc *p, bool *reserved)
{
    /* Relaxed: max_mailbox is set before the life is published, and the
     * caller acquired the pid that the publish released. */
    uint32_t max = atomic_load_explicit(&p->max_mailbox, memory_order_relaxed);
    *reserved = false;
    if (max == 0)
        return FDN_OK;
    for (;;) {
        /* Acquire deq, then enq: e - d never wraps (see the top). */
        uint32_t d = atomic_load_explicit(&p->deq, memory_order_acquire);
        uint32_t e = atomic_load_explicit(&p->enq, memory_order_relaxed);
        uint32_t len = e - d;
        if (len >= max)
            return FDN_EFULL;
        /* Relaxed: the bound needs only the atomicity of the CAS. */
        if (atomic_compare_exchange_weak_explicit(&p->enq, &e, e + 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            hwm_raise(p, len + 1);
            *reserved = true;
            return FDN_OK;
        }
    }
}

void fdn__mq_sample(struct fdn__proc *p)
{
    uint32_t d = atomic_load_explicit(&p->deq, memory_order_relaxed);
    uint32_t e = atomic_load_explicit(&p->enq, memory_order_relaxed);
    /* The owner is deq's writer, so d is exact; e may be stale only by
     * counts made after pushes it has not popped yet: e - d >= 0. */
    hwm_raise(p, e - d);
}

void fdn__mq_wake_room(struct fdn__proc *p)
{
    /* Pairs with the seq_cst fence of a waiter (eventcount, see top). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->room_waiters, memory_order_relaxed) > 0) {
        atomic_fetch_add_explicit(&p->room_seq, 1, memory_order_release);
        fdn__futex_wake(&p->room_seq, INT32_MAX);
    }
}

/* Counts a pop in deq; for a bounded mailbox, wakes senders waiting. */
static void popped(struct fdn__proc *p)
{
    /* Release: pairs with the acquire load of deq in fdn__mq_reserve and
     * fdn_process_info (see the top). */
    atomic_store_explicit(
        &p->deq, atomic_load_explicit(&p->deq, memory_order_relaxed) + 1,
        memory_order_release);
    if (p->is_bounded)
        fdn__mq_wake_room(p);
}

struct fdn__msg *fdn__mq_pop(struct fdn__proc *p)
{
    struct fdn__mq_node *head = p->head;
    /* Acquire: pairs with the release link store in push_node. */
    struct fdn__mq_node *next =
        atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &p->sentinel) {
        if (next == NULL)
            return NULL;
        p->head = next;
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next != NULL) {
        p->head = next;
        popped(p);
        return (struct fdn__msg *)head;
    }
    /* head is the last linked node.  If a producer has already swapped
     * tail, it is between its exchange and its link: report empty. */
    struct fdn__mq_node *tail =
        atomic_load_explicit(&p->tail, memory_order_acquire);
    if (tail != head)
        return NULL;
    /* Re-insert the sentinel behind head so head can be handed out. */
    push_node(p, &p->sentinel);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next != NULL) {
        p->head = next;
        popped(p);
        return (struct fdn__msg *)head;
    }
    return NULL;
}

/* ---- message memory ------------------------------------------------------ */

/*
 * Slabs.  Messages sent between processes are allocated on one scheduler
 * thread and freed on another, many millions a second; through a general
 * allocator that is a cross-thread free per message (and, with a deep
 * queue, fresh pages).  So a scheduler cuts small messages from a 16 KiB
 * slab of its own with a pointer bump, and a slab goes back to a small
 * per-runtime cache of empty slabs when the last message cut from it is
 * freed.  Big messages, and messages made on other threads, use the
 * allocator as before.
 *
 * Counting.  A slab starts with live = BIAS, far above any count.  Each
 * free subtracts 1; when its scheduler stops cutting from it (it is full,
 * or the scheduler is done), the scheduler subtracts BIAS - count, count
 * being the messages it cut (kept in the scheduler, not the slab, so that
 * cutting and freeing write different lines).  live reaches 0 exactly once, after both the
 * retirement and the last free, whatever their order, and whoever brings
 * it there releases the slab.  The subtractions are acq_rel RMWs on one
 * word, so they form one release sequence: the releaser's acquire sees
 * every access any freer made to its message before its decrement, and
 * the next user of the slab cannot race with them.
 *
 * Cost.  A message cut from a slab pins its slab: one long-lived message
 * keeps 16 KiB alive.  The cache keeps at most FDN__SLAB_CACHE empty slabs
 * (4 MiB); beyond that they return to the allocator.
 */
#define SLAB_BIAS (UINT64_C(1) << 40)
#define SLAB_ROOM (FDN__SLAB_BYTES - offsetof(struct fdn__slab, mem))

static void slab_release(fdn_runtime_t *rt, struct fdn__slab *sl)
{
    pthread_mutex_lock(&rt->slab_lock);
    if (rt->slab_nfree < FDN__SLAB_CACHE) {
        sl->next = rt->slab_free;
        rt->slab_free = sl;
        rt->slab_nfree++;
        sl = NULL;
    }
    pthread_mutex_unlock(&rt->slab_lock);
    if (sl != NULL)
        fdn__free(rt->alloc, sl);
}

static struct fdn__slab *slab_get(fdn_runtime_t *rt)
{
    pthread_mutex_lock(&rt->slab_lock);
    struct fdn__slab *sl = rt->slab_free;
    if (sl != NULL) {
        rt->slab_free = sl->next;
        rt->slab_nfree--;
    }
    pthread_mutex_unlock(&rt->slab_lock);
    if (sl == NULL) {
        /* malloc alignment (16) is all messages need: mem is 16-aligned
         * and every cut is a multiple of 16. */
        sl = fdn__alloc(rt->alloc, FDN__SLAB_BYTES);
        if (sl == NULL)
            return NULL;
    }
    atomic_init(&sl->live, SLAB_BIAS);
    sl->next = NULL;
    return sl;
}

static void slab_retire(fdn_runtime_t *rt, struct fdn__slab *sl, uint32_t count)
{
    uint64_t d = SLAB_BIAS - count;
    /* acq_rel: see "Counting" above. */
    if (atomic_fetch_sub_explicit(&sl->live, d, memory_order_acq_rel) == d)
        slab_release(rt, sl);
}

void fdn__slab_retire_current(fdn_runtime_t *rt, struct fdn__sched *s)
{
    if (s->slab != NULL) {
        slab_retire(rt, s->slab, s->slab_count);
        s->slab = NULL;
    }
}

void fdn__slabs_fini(fdn_runtime_t *rt)
{
    while (rt->slab_free != NULL) {
        struct fdn__slab *sl = rt->slab_free;
        rt->slab_free = sl->next;
        fdn__free(rt->alloc, sl);
    }
    rt->slab_nfree = 0;
}

/* Cuts n bytes (n a multiple of 16) from s's slab; NULL if no slab. */
static void *slab_cut(fdn_runtime_t *rt, struct fdn__sched *s, size_t n,
                      struct fdn__slab **from)
{
    struct fdn__slab *sl = s->slab;
    if (sl == NULL || s->slab_used + n > SLAB_ROOM) {
        if (sl != NULL)
            slab_retire(rt, sl, s->slab_count);
        s->slab = sl = slab_get(rt);
        if (sl == NULL)
            return NULL;
        s->slab_used = 0;
        s->slab_count = 0;
    }
    void *p = sl->mem + s->slab_used;
    s->slab_used += (uint32_t)n;
    s->slab_count++;
    *from = sl;
    return p;
}

struct fdn__msg *fdn__msg_new_on(fdn_runtime_t *rt, struct fdn__sched *s,
                                 size_t inline_size)
{
    /* No object can exceed PTRDIFF_MAX bytes: refuse before the sum can
     * wrap and without asking the allocator for the impossible. */
    if (inline_size > (size_t)PTRDIFF_MAX - sizeof(struct fdn__msg))
        return NULL;
    size_t n = sizeof(struct fdn__msg) + inline_size;
    struct fdn__msg *m = NULL;
    struct fdn__slab *from = NULL;
    if (s != NULL && n <= FDN__SLAB_MAX_MSG)
        m = slab_cut(rt, s, (n + 15) & ~(size_t)15, &from);
    if (m == NULL) {
        from = NULL;
        m = fdn__alloc(rt->alloc, n);
        if (m == NULL)
            return NULL;
    }
    atomic_init(&m->node.next, NULL);
    m->to = FDN_PID_NONE;
    m->free_fn = NULL;
    m->free_arg = NULL;
    m->slab = from;
    m->flags = 0;
    memset(&m->pub, 0, sizeof m->pub);
    return m;
}

struct fdn__msg *fdn__msg_new(fdn_runtime_t *rt, size_t inline_size)
{
    return fdn__msg_new_on(rt, fdn__sched_current(rt), inline_size);
}

struct fdn__msg *fdn__msg_copy(fdn_runtime_t *rt, struct fdn__sched *s,
                               fdn_msg_kind_t kind, uint32_t tag,
                               fdn_pid_t from, fdn_ref_t ref,
                               const void *data, size_t size)
{
    struct fdn__msg *m = fdn__msg_new_on(rt, s, size);
    if (m == NULL)
        return NULL;
    m->pub.kind = kind;
    m->pub.tag = tag;
    m->pub.from = from;
    m->pub.ref = ref;
    m->pub.size = size;
    if (size) {
        memcpy(m->inline_data, data, size);
        m->pub.data = m->inline_data;
    }
    return m;
}

void fdn__msg_free(fdn_runtime_t *rt, struct fdn__msg *m)
{
    if (m == NULL)
        return;
    if ((m->flags & FDN__MF_OWNED) && m->free_fn != NULL)
        m->free_fn((void *)m->pub.data, m->pub.size, m->free_arg);
    struct fdn__slab *sl = m->slab;
    if (sl == NULL) {
        fdn__free(rt->alloc, m);
        return;
    }
    /* acq_rel: see "Counting" above; 1 means this was the last. */
    if (atomic_fetch_sub_explicit(&sl->live, 1, memory_order_acq_rel) == 1)
        slab_release(rt, sl);
}
