/*
 * registry/slab.c — the registry's entry pool (see slab.h for the design).
 *
 * Orderings.  A stripe's lock is taken with an acquire exchange and given
 * back with a release store, so each holder sees its chunks' lists, cuts
 * and counts as the last holder left them; the depot's lock likewise.  A
 * block moves between threads only through these critical sections (and,
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

static size_t block_bytes(const struct slab_chunk *c)
{
    return ((size_t)c->k + 1) * 16;
}

/* Whether c can hand out one more block (its stripe locked). */
static bool has_room(const struct slab_chunk *c)
{
    return c->free != NULL ||
           (size_t)((const char *)c + SLAB_CHUNK_BYTES - c->cut) >=
               block_bytes(c);
}

/* Lists c as having room (its stripe st locked). */
static void avail_add(struct slab_stripe *st, struct slab_chunk *c)
{
    c->prev = NULL;
    c->next = st->avail[c->k];
    if (c->next != NULL)
        c->next->prev = c;
    st->avail[c->k] = c;
    st->navail[c->k]++;
    c->listed = true;
}

static void avail_del(struct slab_stripe *st, struct slab_chunk *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        st->avail[c->k] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    st->navail[c->k]--;
    c->listed = false;
}

void fdn__slab_init(struct reg_slab *s, const fdn_allocator_t *alloc)
{
    memset(s, 0, sizeof *s);
    s->alloc = alloc;
    for (int i = 0; i < SLAB_STRIPES; i++)
        atomic_init(&s->stripe[i].lock, false);
    atomic_init(&s->depot.lock, false);
}

void fdn__slab_fini(struct reg_slab *s)
{
    struct slab_chunk *c = s->depot.all;
    while (c != NULL) {
        struct slab_chunk *next = c->all_next;
        SLAB_UNPOISON(c, SLAB_CHUNK_BYTES);
        fdn__free(s->alloc, c);
        c = next;
    }
    s->depot.all = NULL;
    s->depot.nchunks = 0;
}

/* A new chunk of class k for stripe index i, listed in the depot (no
 * lock held); NULL if out of memory. */
static struct slab_chunk *chunk_new(struct reg_slab *s, size_t k, uint32_t i)
{
    char *m = fdn__alloc(s->alloc, SLAB_CHUNK_BYTES);
    if (m == NULL)
        return NULL;
    /* Its blocks are written one after another from now on. */
    fdn__prefault(m, SLAB_CHUNK_BYTES);
    SLAB_POISON(m + SLAB_CHUNK_HEADER, SLAB_CHUNK_BYTES - SLAB_CHUNK_HEADER);
    struct slab_chunk *c = (struct slab_chunk *)(void *)m;
    memset(c, 0, sizeof *c);
    c->cut = m + SLAB_CHUNK_HEADER;
    c->k = (uint16_t)k;
    c->stripe = (uint8_t)i;
    spin_lock(&s->depot.lock);
    c->all_next = s->depot.all;
    if (c->all_next != NULL)
        c->all_next->all_prev = c;
    s->depot.all = c;
    s->depot.nchunks++;
    spin_unlock(&s->depot.lock);
    return c;
}

/* Unlists c from the depot and gives it back (no lock held; c is no
 * stripe's any more). */
static void chunk_free(struct reg_slab *s, struct slab_chunk *c)
{
    spin_lock(&s->depot.lock);
    if (c->all_prev != NULL)
        c->all_prev->all_next = c->all_next;
    else
        s->depot.all = c->all_next;
    if (c->all_next != NULL)
        c->all_next->all_prev = c->all_prev;
    s->depot.nchunks--;
    spin_unlock(&s->depot.lock);
    SLAB_UNPOISON(c, SLAB_CHUNK_BYTES);
    fdn__free(s->alloc, c);
}

void *fdn__slab_alloc(struct reg_slab *s, uint32_t stripe, size_t n,
                      uint16_t *where)
{
    FDN_ASSERT(n > 0 && n <= SLAB_MAX_BYTES);
    FDN_ASSERT(stripe >= 1 && stripe <= SLAB_STRIPES);
    size_t k = class_of(n), bytes = (k + 1) * 16;
    struct slab_stripe *st = &s->stripe[stripe - 1];
    spin_lock(&st->lock);
    struct slab_chunk *c = st->avail[k];
    if (c == NULL) {
        /* The allocator is called unlocked; another thread of this
         * stripe may meanwhile list a chunk too, and both serve. */
        spin_unlock(&st->lock);
        c = chunk_new(s, k, stripe - 1);
        if (c == NULL)
            return NULL;
        spin_lock(&st->lock);
        avail_add(st, c);
    }
    void *p;
    if (c->free != NULL) {
        p = c->free;
        SLAB_UNPOISON(p, sizeof(void *));
        memcpy(&c->free, p, sizeof(void *));
        /* The next pop's block was freed on another core: its line is
         * cold here, and the pop reads it. */
        if (c->free != NULL)
            __builtin_prefetch(c->free, 1);
    } else {
        p = c->cut;
        c->cut += bytes;
    }
    c->live++;
    if (!has_room(c))
        avail_del(st, c);
    spin_unlock(&st->lock);
    SLAB_UNPOISON(p, bytes);
    *where = (uint16_t)(((char *)p - (char *)c) / 16);
    return p;
}

void fdn__slab_free(struct reg_slab *s, void *p, uint16_t where)
{
    struct slab_chunk *c = fdn__slab_chunk_of(p, where);
    struct slab_stripe *st = &s->stripe[c->stripe];
    SLAB_POISON(p, block_bytes(c));
    bool give_back = false;
    spin_lock(&st->lock);
    FDN_ASSERT(c->live > 0);
    SLAB_UNPOISON(p, sizeof(void *));
    memcpy(p, &c->free, sizeof(void *));
    SLAB_POISON(p, sizeof(void *));
    c->free = p;
    c->live--;
    if (!c->listed)
        avail_add(st, c);
    /* Empty: back to the allocator unless it is the stripe's only chunk
     * of its class with room. */
    if (c->live == 0 && st->navail[c->k] > 1) {
        avail_del(st, c);
        give_back = true;
    }
    spin_unlock(&st->lock);
    if (give_back)
        chunk_free(s, c);
}

uint64_t fdn__slab_chunks(struct reg_slab *s)
{
    spin_lock(&s->depot.lock);
    uint64_t n = s->depot.nchunks;
    spin_unlock(&s->depot.lock);
    return n;
}
