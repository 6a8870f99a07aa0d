/*
 * registry/map.h — the registry's hash table of entries: lock-free reads,
 * per-bucket locks for writers, resizing by copy.  Not installed.
 *
 * Why not liburcu's cds_lfht, which the first registry used: a lookup in
 * a split-ordered list reads the bucket's dummy node, then walks list
 * nodes that live inside the entries, each a cache miss, and every
 * insert walks the same way — and so does every resize step, once per new
 * bucket.  Measured on 100,000 keys (bench/README.md), that walk was 74% of
 * a lookup and most of a registration.  This table reads one 64-byte
 * bucket, whose tags rule out the other slots, and then the one entry; an
 * insert takes the bucket's lock and fills a slot.
 *
 * Layout.  A power-of-two array of 64-byte buckets.  A bucket holds 7
 * slots (item pointers) and a control word: bit 0 is the bucket's lock,
 * bits 1-7 count the items that overflowed past this bucket to a later
 * one (saturating: at 127 it stays, and readers merely probe further),
 * and byte s + 1 is slot s's tag — 0 for an empty slot, else a byte of
 * the item's hash; a slot keeps the item's address and the low 16 bits
 * of its hash (map.c).  An item lives in its home bucket (hash & mask) or,
 * when that is full, in the first bucket after it with a free slot; every
 * bucket it passed counts it as overflow.  Items never move within a
 * table.
 *
 * Readers (inside a read-side critical section, no lock): load the
 * current table, then from the home bucket on load the control word
 * (acquire), check the slots whose tag matches, and stop after the first
 * bucket that counts no overflow; an item match accepts is taken only if
 * the control word, loaded again, still shows its tag (a slot freed and
 * taken by an add of the same key that has not stored its tag yet is not
 * that add's item to give out).  A writer stores a slot (release)
 * before the control word that shows its tag, so a reader that sees the
 * tag sees the item; items are immutable and freed only after a grace
 * period, so a slot a reader loads is safe to read even if it was cleared
 * or reused meanwhile (the caller's match decides).  An item present for
 * a whole lookup is found: its tag and the overflow counts on its path
 * stay set while it is in the table.
 *
 * Writers lock the home bucket (spinning; a lock is held only for the
 * few stores of one change, never across anything that blocks), and try
 * to lock each later bucket their change touches; when one is busy they
 * drop everything and start again, so no two writers wait on each other
 * in a cycle.  Every change to a key holds its home bucket's lock, which
 * makes add_unique's check-then-insert atomic.
 *
 * Resizing (grow and shrink) copies: the resizer marks the table frozen,
 * locks every bucket (waiting out the writers inside), copies every item
 * into a new table, publishes it (release) and frees the old one after a
 * grace period, its buckets still locked.  A writer that finds a frozen
 * table's bucket locked waits on the resize mutex and starts again on the
 * new table; readers of the old table meanwhile see it as it was when it
 * froze.  No grace period is waited for with a lock held.  Writers wait
 * for the whole copy, O(items): a resize of 100,000 entries stalled
 * writes to the namespace for 7 ms on the build machine, mostly zeroing
 * and faulting in the new bucket array (readers never wait); growth
 * doubles, so the stalls are amortised O(1) per write.
 */
#ifndef FDN_REGISTRY_MAP_H
#define FDN_REGISTRY_MAP_H

#include "foundation/registry.h"

#include "internal/common.h"
#include "internal/rcu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct reg_map_tbl;

/* An item's hash (the one it was added with). */
typedef uint64_t (*fdn__map_hash_fn)(const void *item);
/* Whether item is the one arg names. */
typedef bool (*fdn__map_match_fn)(const void *item, const void *arg);

struct reg_map {
    _Atomic(struct reg_map_tbl *) cur; /* release store by the resizer */
    /* cur's bucket count, stored by the resizer under resize_mutex; read
     * relaxed as a hint (fdn__map_fit, which may run outside read-side
     * critical sections, where cur may be freed under it). */
    _Atomic uint64_t buckets;
    fdn__map_hash_fn hash;             /* immutable */
    const fdn_allocator_t *alloc;      /* immutable */
    pthread_mutex_t resize_mutex;      /* one resizer at a time */
};

/* A walk over the items of one table (the one current when it began). */
struct reg_map_iter {
    struct reg_map_tbl *t;
    uint64_t pos;
};

/* An empty map of a few buckets.  FDN_OK or FDN_ENOMEM. */
int fdn__map_init(struct reg_map *m, const fdn_allocator_t *alloc,
                  fdn__map_hash_fn hash);
/* Frees the current table; returns false if the map was not empty (the
 * items are the caller's).  No reader may still use it.  Retired tables
 * are freed by RCU callbacks through the map's allocator: run
 * fdn__rcu_barrier() before destroying the allocator. */
bool fdn__map_fini(struct reg_map *m);


/* Starts loading hash's home bucket for a write that follows soon, so
 * that the cache miss overlaps the caller's other work.  Inside a
 * read-side critical section. */
void fdn__map_prefetch(struct reg_map *m, uint64_t hash);

/* Adds item unless an item match accepts is there: returns item if added,
 * else the one found.  NULL: out of memory (a full table could not
 * grow); nothing changed.  Inside a read-side critical section; item is
 * published by the slot's release store. */
void *fdn__map_add_unique(struct reg_map *m, uint64_t hash,
                          fdn__map_match_fn match, const void *arg,
                          void *item);

/* Removes item (added with hash).  False if it is not in the map.  Inside
 * a read-side critical section; the caller defers item's free. */
bool fdn__map_del(struct reg_map *m, uint64_t hash, const void *item);

/* Puts item in old's place (both with hash): a reader sees one or the
 * other.  False if old is not in the map.  Inside a read-side critical
 * section. */
bool fdn__map_replace(struct reg_map *m, uint64_t hash, const void *old,
                      void *item);

/* The next item of a walk (it zeroed first), or NULL at the end.  Inside
 * one read-side critical section for the whole walk: each item present
 * for the whole walk is returned once; one added or removed meanwhile may
 * or may not be. */
void *fdn__map_next(struct reg_map *m, struct reg_map_iter *it);

/* Resizes the map to fit count items if it no longer does (load kept in
 * [0.5, 4] items per bucket, never below the minimum size).  Does
 * nothing while another thread resizes it.  Any thread, inside or outside
 * a read-side critical section.  False: out of memory, or a count no
 * table could hold (the map stays as it was, and usable). */
bool fdn__map_fit(struct reg_map *m, uint64_t count);

/* The current bucket count (statistics and tests; any context). */
uint64_t fdn__map_buckets(struct reg_map *m);

/* ---- the table's layout, shared with the inline lookup ------------------ */

#define MAP_SLOTS 7
#define MAP_LOCK UINT64_C(1)
#define MAP_OVF_SHIFT 1
#define MAP_OVF_MAX UINT64_C(127)
#define MAP_OVF_MASK (MAP_OVF_MAX << MAP_OVF_SHIFT)

struct map_bucket {
    _Atomic uint64_t ctl;
    _Atomic uint64_t slot[MAP_SLOTS]; /* slot_word(item, hash); 0: empty */
};

_Static_assert(sizeof(struct map_bucket) == 64, "a bucket is a cache line");

struct reg_map_tbl {
    struct map_bucket *b;          /* 64-aligned, inside this block */
    uint64_t mask;                 /* buckets - 1; immutable */
    _Atomic bool frozen;           /* a resizer is copying it out */
    const fdn_allocator_t *alloc;  /* immutable */
    struct rcu_head rcu;
};

/*
 * A slot word is the item's address in bits 0-47 and the low 16 bits of
 * its hash in bits 48-63.  Those bits let a reader rule out a slot whose
 * tag matched by chance without loading the item, and let a resize place
 * items in tables of up to 2^16 buckets without loading them (the
 * entries are scattered over the heap; loading each was a cache miss per
 * item).  User-space addresses on x86-64 and AArch64 Linux are below
 * 2^48 unless a program maps memory above with an explicit hint, which
 * malloc never does; an address above is refused (place panics).
 */
#define MAP_ADDR_BITS 48
#define MAP_ADDR_MASK ((UINT64_C(1) << MAP_ADDR_BITS) - 1)
#define MAP_LOW_MASK UINT64_C(0xffff)

static inline void *fdn__map_slot_item(uint64_t w)
{
    return (void *)(uintptr_t)(w & MAP_ADDR_MASK);
}

static inline uint64_t fdn__map_slot_low(uint64_t w)
{
    return w >> MAP_ADDR_BITS;
}

/* An item's tag: the top byte of its hash, never 0 (an empty slot). */
static inline uint64_t fdn__map_tag_of(uint64_t hash)
{
    uint64_t t = hash >> 56;
    return t != 0 ? t : 1;
}

static inline uint64_t fdn__map_slot_tag(uint64_t ctl, int s)
{
    return (ctl >> (8 * (s + 1))) & 0xff;
}

static inline uint64_t fdn__map_ovf_of(uint64_t ctl)
{
    return (ctl & MAP_OVF_MASK) >> MAP_OVF_SHIFT;
}

static inline struct map_bucket *fdn__map_bucket(struct reg_map_tbl *t,
                                                 uint64_t i)
{
    return &t->b[i & t->mask];
}

/* The slots of a control word whose tag is tag: bit 8 s + 15 set for
 * each such slot s, nothing else.  The tag bytes (1 to 7) XOR the tag
 * repeated are zero exactly where they match; the zero test is the exact
 * one (no borrow runs between bytes), so no slot is reported falsely. */
static inline uint64_t fdn__map_tag_hits(uint64_t ctl, uint64_t tag)
{
    const uint64_t lo7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    uint64_t x = ctl ^ (tag * UINT64_C(0x0101010101010100));
    uint64_t y = ~(((x & lo7) + lo7) | x | lo7);
    return y & UINT64_C(0x8080808080808000);
}

/*
 * The item with this hash that match accepts in t, or NULL (map.h's
 * reader protocol, at the top of this file).  Inline, so that a caller
 * passing a constant match gets it inlined.  An item match accepts is
 * taken only if the control word, loaded again, still shows its tag: the
 * slot may have been freed and taken again by an add of this very key
 * that has stored the slot but not yet the tag (its linearization point);
 * returning that item, a later lookup could miss the key again.  That
 * second load is acquire: the slot load acquired the new item's store,
 * which follows the old tag's clear, so it sees the clear or later.
 */
static inline void *fdn__map_probe(struct reg_map_tbl *t, uint64_t hash,
                                   fdn__map_match_fn match, const void *arg)
{
    uint64_t tag = fdn__map_tag_of(hash), low = hash & MAP_LOW_MASK;
    uint64_t i = hash;
    for (uint64_t n = 0; n <= t->mask; n++, i++) {
        struct map_bucket *b = fdn__map_bucket(t, i);
        uint64_t ctl = atomic_load_explicit(&b->ctl, memory_order_acquire);
        for (uint64_t hits = fdn__map_tag_hits(ctl, tag); hits != 0;
             hits &= hits - 1) {
            int s = __builtin_ctzll(hits) / 8 - 1;
            uint64_t w = atomic_load_explicit(&b->slot[s],
                                              memory_order_acquire);
            if (w == 0 || fdn__map_slot_low(w) != low ||
                !match(fdn__map_slot_item(w), arg))
                continue;
            uint64_t again =
                atomic_load_explicit(&b->ctl, memory_order_acquire);
            if (fdn__map_slot_tag(again, s) == tag)
                return fdn__map_slot_item(w);
        }
        if (fdn__map_ovf_of(ctl) == 0)
            return NULL;
    }
    return NULL;
}

/* The item with this hash that match accepts, or NULL.  Inside a
 * read-side critical section; the item stays readable until it ends. */
static inline void *fdn__map_lookup(struct reg_map *m, uint64_t hash,
                                    fdn__map_match_fn match, const void *arg)
{
    /* Acquire: pairs with the resizer's publication. */
    return fdn__map_probe(atomic_load_explicit(&m->cur, memory_order_acquire),
                          hash, match, arg);
}

#endif /* FDN_REGISTRY_MAP_H */
