/*
 * registry/slab.c — the registry's entry pool (see slab.h for the design).
 *
 * Orderings.  A stripe's lock is taken with an acquire exchange and given
 * back with a release store, so each holder sees the lists and the bump
 * pointer as the last holder left them; the depot's lock likewise.  A
 * block moves between threads only through these critical sections (or,
 * for an entry, through RCU: the call_rcu callback that frees it runs
 * after every reader), so its contents need no other ordering.
 */
#include "registry/slab.h"

#include "internal/common.h"

#include <sched.h>
#include <string.h>

#include <urcu/arch.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif

#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_SPINS 64

_Static_assert(SLAB_BATCH >= 2, "a batch is more than one block");

static void spin_lock(_Atomic bool *l)
{
    for (unsigned spins = 0;; spins++) {
        /* Relaxed look first, so waiters do not pull the line to
         * themselves; the exchange acquires the last holder's stores. */
        if (!atomic_load_explicit(l, memory_order_relaxed) &&
            !atomic_exchange_explicit(l, true, memory_order_acquire))
            return;
        if (spins < SLAB_SPINS)
            caa_cpu_relax();
        else
            sched_yield();
    }
}

static void spin_unlock(_Atomic bool *l)
{
    /* Release: the next holder sees this holder's stores. */
    atomic_store_explicit(l, false, memory_order_release);
}

size_t fdn__slab_block_bytes(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static size_t class_of(size_t n)
{
    return (n + 15) / 16 - 1;
}

static void *list_pop(struct slab_list *l)
{
    void *p = l->head;
    SLAB_UNPOISON(p, sizeof(void *));
    memcpy(&l->head, p, sizeof(void *));
    l->n--;
    return p;
}

static void list_push(struct slab_list *l, void *p)
{
    memcpy(p, &l->head, sizeof(void *));
    l->head = p;
    l->n++;
}

/* The second word of a batch's first block links the depot's batches. */
static void *batch_next(void *b)
{
    void *next;
    SLAB_UNPOISON((char *)b + sizeof(void *), sizeof(void *));
    memcpy(&next, (char *)b + sizeof(void *), sizeof next);
    SLAB_POISON((char *)b + sizeof(void *), sizeof(void *));
    return next;
}

static void batch_set_next(void *b, void *next)
{
    SLAB_UNPOISON((char *)b + sizeof(void *), sizeof(void *));
    memcpy((char *)b + sizeof(void *), &next, sizeof next);
    SLAB_POISON((char *)b + sizeof(void *), sizeof(void *));
}

/* Takes a batch of class k from the depot into st's empty list (st
 * locked), if the depot has one. */
static void depot_take(struct reg_slab *s, struct slab_stripe *st, size_t k)
{
    struct slab_depot *d = &s->depot;
    spin_lock(&d->lock);
    void *b = d->batches[k];
    if (b != NULL) {
        d->batches[k] = batch_next(b);
        /* Relaxed: the hint (slab_depot.nbatches). */
        atomic_store_explicit(
            &d->nbatches[k],
            atomic_load_explicit(&d->nbatches[k], memory_order_relaxed) - 1,
            memory_order_relaxed);
        st->free[k].head = b;
        st->free[k].n = SLAB_BATCH;
    }
    spin_unlock(&d->lock);
}

/* Moves st's full list of class k to the depot (st locked). */
static void depot_give(struct reg_slab *s, struct slab_stripe *st, size_t k)
{
    struct slab_depot *d = &s->depot;
    void *b = st->free[k].head;
    spin_lock(&d->lock);
    batch_set_next(b, d->batches[k]);
    d->batches[k] = b;
    /* Relaxed: the hint (slab_depot.nbatches). */
    atomic_store_explicit(
        &d->nbatches[k],
        atomic_load_explicit(&d->nbatches[k], memory_order_relaxed) + 1,
        memory_order_relaxed);
    spin_unlock(&d->lock);
    st->free[k].head = NULL;
    st->free[k].n = 0;
}

void fdn__slab_init(struct reg_slab *s, const fdn_allocator_t *alloc)
{
    memset(s, 0, sizeof *s);
    s->alloc = alloc;
    for (int i = 0; i < SLAB_STRIPES; i++)
        atomic_init(&s->stripe[i].lock, false);
    atomic_init(&s->depot.lock, false);
    for (size_t k = 0; k < SLAB_CLASSES; k++)
        atomic_init(&s->depot.nbatches[k], 0);
}

void fdn__slab_fini(struct reg_slab *s)
{
    void *c = s->depot.chunks;
    while (c != NULL) {
        SLAB_UNPOISON(c, SLAB_CHUNK_BYTES);
        void *next;
        memcpy(&next, c, sizeof next);
        fdn__free(s->alloc, c);
        c = next;
    }
    s->depot.chunks = NULL;
    s->depot.nchunks = 0;
}

/* Gives st a fresh chunk to cut blocks from (st locked on entry and on a
 * true return; unlocked on false, out of memory).  The allocator is
 * called unlocked: another thread of this stripe may meanwhile have
 * given it a chunk, whose tail is then left unused (freed at fini). */
static bool stripe_refill(struct reg_slab *s, struct slab_stripe *st)
{
    spin_unlock(&st->lock);
    char *c = fdn__alloc(s->alloc, SLAB_CHUNK_BYTES);
    if (c == NULL)
        return false;
    /* Its blocks are written one after another from now on. */
    fdn__prefault(c, SLAB_CHUNK_BYTES);
    SLAB_POISON(c + SLAB_CHUNK_HEADER, SLAB_CHUNK_BYTES - SLAB_CHUNK_HEADER);
    spin_lock(&s->depot.lock);
    memcpy(c, &s->depot.chunks, sizeof(void *));
    s->depot.chunks = c;
    s->depot.nchunks++;
    spin_unlock(&s->depot.lock);
    spin_lock(&st->lock);
    /* The old chunk's tail is left unused: under SLAB_MAX_BYTES, at
     * most 1.6% of a chunk. */
    st->bump = c + SLAB_CHUNK_HEADER;
    st->end = c + SLAB_CHUNK_BYTES;
    return true;
}

void *fdn__slab_alloc(struct reg_slab *s, uint32_t stripe, size_t n)
{
    FDN_ASSERT(n > 0 && n <= SLAB_MAX_BYTES);
    size_t k = class_of(n), bytes = (k + 1) * 16;
    struct slab_stripe *st = &s->stripe[stripe - 1];
    void *p;
    spin_lock(&st->lock);
    /* Relaxed: a hint (slab_depot.nbatches); a stale answer only skips
     * the depot once or takes its lock for nothing. */
    if (st->free[k].n == 0 &&
        atomic_load_explicit(&s->depot.nbatches[k], memory_order_relaxed) != 0)
        depot_take(s, st, k);
    if (st->free[k].n != 0) {
        p = list_pop(&st->free[k]);
        /* The next pop's block: freed on another core, its line is cold
         * here, and the pop reads it. */
        if (st->free[k].head != NULL)
            __builtin_prefetch(st->free[k].head, 1);
    } else {
        if ((size_t)(st->end - st->bump) < bytes && !stripe_refill(s, st))
            return NULL;
        p = st->bump;
        st->bump += bytes;
    }
    spin_unlock(&st->lock);
    SLAB_UNPOISON(p, bytes);
    return p;
}

void fdn__slab_free(struct reg_slab *s, uint32_t stripe, void *p, size_t n)
{
    FDN_ASSERT(n > 0 && n <= SLAB_MAX_BYTES);
    size_t k = class_of(n);
    struct slab_stripe *st = &s->stripe[stripe - 1];
    SLAB_POISON(p, (k + 1) * 16);
    SLAB_UNPOISON(p, sizeof(void *));
    spin_lock(&st->lock);
    list_push(&st->free[k], p);
    SLAB_POISON(p, sizeof(void *));
    if (st->free[k].n == SLAB_BATCH)
        depot_give(s, st, k);
    spin_unlock(&st->lock);
}

uint64_t fdn__slab_chunks(struct reg_slab *s)
{
    spin_lock(&s->depot.lock);
    uint64_t n = s->depot.nchunks;
    spin_unlock(&s->depot.lock);
    return n;
}
