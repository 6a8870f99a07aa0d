/*
 * mailbox.c — the per-process MPSC mailbox (Vyukov's intrusive queue) and
 * message allocation.
 *
 * Design.  tail is the producer end, head the consumer end, and a stub node
 * lives in the process slot so the queue is never empty of nodes.  Push:
 * exchange tail with the new node (acq_rel), then link prev->next = node
 * (release).  Between those two steps the queue looks empty to the
 * consumer; that is safe because the producer performs the run-state
 * hand-off (process.c) only after linking, so a consumer that was told
 * about a message (DIRTY, or a QUEUED push) always finds it linked.
 * Linearization point of push: the exchange on tail; of pop: the read of
 * head->next that returns non-NULL.  Progress: push is wait-free; pop is
 * wait-free and may report empty during a concurrent push.  Memory: a
 * popped message belongs to the consumer, which frees it.
 */
#include "runtime/internal.h"

void fdn__mq_init(struct fdn__proc *p)
{
    atomic_init(&p->stub.next, NULL);
    atomic_init(&p->tail, &p->stub);
    p->head = &p->stub;
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

void fdn__mq_push(struct fdn__proc *p, struct fdn__msg *m)
{
    push_node(p, &m->node);
}

struct fdn__msg *fdn__mq_pop(struct fdn__proc *p)
{
    struct fdn__mq_node *head = p->head;
    /* Acquire: pairs with the release link store in push_node. */
    struct fdn__mq_node *next =
        atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &p->stub) {
        if (next == NULL)
            return NULL;
        p->head = next;
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next != NULL) {
        p->head = next;
        return (struct fdn__msg *)head;
    }
    /* head is the last linked node.  If a producer has already swapped
     * tail, it is between its exchange and its link: report empty. */
    struct fdn__mq_node *tail =
        atomic_load_explicit(&p->tail, memory_order_acquire);
    if (tail != head)
        return NULL;
    /* Re-insert the stub behind head so head can be handed out. */
    push_node(p, &p->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next != NULL) {
        p->head = next;
        return (struct fdn__msg *)head;
    }
    return NULL;
}

struct fdn__msg *fdn__msg_new(fdn_runtime_t *rt, size_t inline_size)
{
    /* No object can exceed PTRDIFF_MAX bytes: refuse before the sum can
     * wrap and without asking the allocator for the impossible. */
    if (inline_size > (size_t)PTRDIFF_MAX - sizeof(struct fdn__msg))
        return NULL;
    struct fdn__msg *m = fdn__alloc(rt->alloc, sizeof *m + inline_size);
    if (m == NULL)
        return NULL;
    atomic_init(&m->node.next, NULL);
    m->to = FDN_PID_NONE;
    m->free_fn = NULL;
    m->free_arg = NULL;
    m->flags = 0;
    memset(&m->pub, 0, sizeof m->pub);
    return m;
}

void fdn__msg_free(fdn_runtime_t *rt, struct fdn__msg *m)
{
    if (m == NULL)
        return;
    if ((m->flags & FDN__MF_OWNED) && m->free_fn != NULL)
        m->free_fn((void *)m->pub.data, m->pub.size, m->free_arg);
    fdn__free(rt->alloc, m);
}
