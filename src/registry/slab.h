/*
 * registry/slab.h — the registry's entry pool: entry blocks carved from
 * 64 KiB chunks, recycled by size class.  Not installed.
 *
 * Why not one malloc per entry.  A registration allocates one entry and
 * the entry is freed a grace period after its removal, by liburcu's
 * call_rcu thread; so malloc's per-thread caches never hold a block for
 * the registering thread, every registration went to malloc's arena code
 * (and, on fresh heap pages, to the kernel), and malloc plus its page
 * faults were 27% of a registration in a profile of REG-P2.  Here a block
 * comes from the calling thread's stripe of the pool: a short critical
 * section and a list pop, or a bump of the stripe's current chunk.
 *
 * Layout.  Blocks are 16-byte multiples up to SLAB_MAX_BYTES, the largest
 * entry there can be (the class of a request is its size rounded up to 16
 * bytes).  Chunks come from the registry's
 * allocator, SLAB_CHUNK_BYTES each, and hold blocks of any class, cut in
 * order from the chunk's start; they are linked for teardown and go back
 * to the allocator only in fdn__slab_fini.  So a registry holds the
 * memory of its peak number of entries until it is destroyed (stated in
 * REG-L2), as an ETS table's allocator carriers do.
 *
 * Stripes.  Each thread uses the stripe its registry thread state names
 * (fdn__reg_thread, shared with the count stripes): its free list per
 * class and its chunk's unused tail, under the stripe's spin lock.  A free
 * goes to the freeing thread's stripe, usually the call_rcu thread's; a
 * list that reaches SLAB_BATCH blocks moves whole to the depot, and a
 * stripe with an empty list takes a whole batch from the depot before it
 * cuts a new block.  So blocks flow from the threads that free to the
 * threads that allocate, each stripe keeps fewer than SLAB_BATCH idle
 * blocks per class, and a move costs O(1): a batch is its first block,
 * whose second word links the depot's batches (blocks are at least 16
 * bytes).  Walking a batch block by block would be a chain of cache
 * misses, the blocks having been freed on another core.
 *
 * Locks: a stripe's lock, then the depot's; never the other way, never
 * two stripes.  The allocator is called with no lock held.  Spin locks:
 * every critical section is a few list operations (a batch move, at most
 * SLAB_BATCH pops), so a waiter spins briefly, then yields.
 *
 * Sanitizers: under ASan a block is poisoned while it is free, so a use
 * after free (an RCU error) is still reported as such.
 */
#ifndef FDN_REGISTRY_SLAB_H
#define FDN_REGISTRY_SLAB_H

#include "foundation/common.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_CHUNK_BYTES ((size_t)64 << 10)
/* A chunk's first 16 bytes link it into the depot's list; blocks follow. */
#define SLAB_CHUNK_HEADER ((size_t)16)
#define SLAB_MAX_BYTES ((size_t)1024)
#define SLAB_CLASSES (SLAB_MAX_BYTES / 16)
#define SLAB_STRIPES 8
#define SLAB_BATCH 128

/* Free blocks of one class: a list linked through each block's first
 * word. */
struct slab_list {
    void *head;
    uint32_t n;
};

/* A stripe: guarded by lock. */
struct slab_stripe {
    _Atomic bool lock;
    char *bump, *end;                       /* current chunk's tail */
    struct slab_list free[SLAB_CLASSES];    /* index: bytes / 16 - 1 */
    char pad[64];                           /* no line shared with the next */
};

/* Full batches of free blocks, by class, and the chunks: guarded by
 * lock. */
struct slab_depot {
    _Atomic bool lock;
    void *batches[SLAB_CLASSES];            /* linked through second word */
    void *chunks;                           /* linked through first word */
    uint64_t nchunks;
    /* Batches per class, stored under lock and read without it, relaxed,
     * as a hint: a stripe that finds its list empty locks the depot only
     * if it has a batch (on a fresh pool it never has, and threads
     * cutting new blocks then share no line). */
    _Atomic uint32_t nbatches[SLAB_CLASSES];
};

struct reg_slab {
    const fdn_allocator_t *alloc;           /* immutable */
    struct slab_stripe stripe[SLAB_STRIPES];
    struct slab_depot depot;
};

/* An empty pool on alloc (borrowed until fdn__slab_fini). */
void fdn__slab_init(struct reg_slab *s, const fdn_allocator_t *alloc);
/* Gives every chunk back to the allocator.  No block may be in use. */
void fdn__slab_fini(struct reg_slab *s);

/* The bytes a block for a request of n bytes spans: n rounded up to 16. */
size_t fdn__slab_block_bytes(size_t n);

/* A block of at least n bytes (0 < n <= SLAB_MAX_BYTES: every entry
 * fits, registry.c asserts it), 16-aligned, uninitialised; NULL if out of
 * memory.  On stripe, 1 to SLAB_STRIPES.  Any thread. */
void *fdn__slab_alloc(struct reg_slab *s, uint32_t stripe, size_t n);
/* Gives back a block fdn__slab_alloc returned for n bytes.  Any thread. */
void fdn__slab_free(struct reg_slab *s, uint32_t stripe, void *p, size_t n);

/* Chunks the pool holds (statistics and tests; any thread). */
uint64_t fdn__slab_chunks(struct reg_slab *s);

#endif /* FDN_REGISTRY_SLAB_H */
