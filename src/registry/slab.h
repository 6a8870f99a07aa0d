/*
 * registry/slab.h — the registry's entry pool: entry blocks cut from
 * 64 KiB chunks of one size class each, returned to their chunk when
 * freed, and chunks returned to the allocator once empty.  Not installed.
 *
 * Why not one malloc per entry.  A registration allocates one entry and
 * the entry is freed a grace period after its removal, by liburcu's
 * call_rcu thread; so malloc's per-thread caches never hold a block for
 * the registering thread, every registration went to malloc's arena code
 * (and, on fresh heap pages, to the kernel), and malloc plus its page
 * faults were 27% of a registration in a profile of REG-P2.  Here a block
 * comes from the calling thread's stripe of the pool: a short critical
 * section and a pop from a chunk's free list, or a bump of its cut.
 *
 * Layout.  A request of n bytes gets a block of n rounded up to 16
 * (class n / 16, up to SLAB_MAX_BYTES, the largest entry there can be).
 * A chunk is SLAB_CHUNK_BYTES from the registry's allocator: a 64-byte
 * header (struct slab_chunk), then blocks of its one class, cut in order
 * and, once freed, kept on the chunk's own free list.  A block's caller
 * keeps the block's place in its chunk (16-byte units from the chunk's
 * start, fdn__slab_alloc's *where; an entry has a field for it), which
 * finds the chunk again when the block is freed.
 *
 * Stripes.  Each chunk belongs to one stripe, the one whose thread cut
 * it; a stripe lists, per class, its chunks that have room.  A thread
 * allocates on its own stripe (fdn__reg_thread, shared with the count
 * stripes); a block is freed into its chunk under the chunk's stripe's
 * lock, whichever thread frees it (usually the call_rcu thread).  A
 * chunk whose last block comes back is returned to the allocator unless
 * it is its stripe's only chunk of the class with room (kept, so that a
 * stripe that registers and removes one entry at a time does not take a
 * chunk and give it back each time).  So the pool holds the chunks its
 * live entries occupy plus at most one empty chunk per stripe and class
 * in use (REG-L2); a chunk with a single live block is held whole (the
 * fragmentation every slab allocator has).
 *
 * Locks: a stripe's spin lock, then the depot's (which guards the list of
 * every chunk, for fini); never the other way, never two stripes.  The
 * allocator is called with no lock held.  Every critical section is a few
 * list operations, so a waiter spins briefly, then yields.
 *
 * Sanitizers: under ASan a block is poisoned while it is free, so a use
 * after free (an RCU error) is still reported as such.  Blocks have no
 * red zones between them: a write past an entry's end into the next
 * block's bytes is not reported (entries are written only by the
 * registry, in fixed layouts checked by REG-I4's test).
 */
#ifndef FDN_REGISTRY_SLAB_H
#define FDN_REGISTRY_SLAB_H

#include "foundation/common.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_CHUNK_BYTES ((size_t)64 << 10)
/* A chunk's header (struct slab_chunk, padded to a line); blocks follow. */
#define SLAB_CHUNK_HEADER ((size_t)64)
#define SLAB_MAX_BYTES ((size_t)1024)
#define SLAB_CLASSES (SLAB_MAX_BYTES / 16)
#define SLAB_STRIPES 8

/* A chunk's header, at its start. */
struct slab_chunk {
    /* In its stripe's avail list of its class while it has room
     * (listed); the stripe's lock. */
    struct slab_chunk *next, *prev;
    /* In the depot's list of every chunk; the depot's lock. */
    struct slab_chunk *all_next, *all_prev;
    void *free;                /* freed blocks, linked through their
                                * first word; the stripe's lock */
    char *cut;                 /* the next block never handed out;
                                * the stripe's lock */
    uint32_t live;             /* blocks handed out; the stripe's lock */
    uint16_t k;                /* class: blocks of (k + 1) * 16 bytes;
                                * immutable */
    uint8_t stripe;            /* owning stripe's index; immutable */
    bool listed;               /* the stripe's lock */
};

_Static_assert(sizeof(struct slab_chunk) <= SLAB_CHUNK_HEADER,
               "a chunk's header fits its first line");

/* A stripe: guarded by lock. */
struct slab_stripe {
    _Atomic bool lock;
    struct slab_chunk *avail[SLAB_CLASSES];  /* chunks with room */
    uint32_t navail[SLAB_CLASSES];
    char pad[64];                            /* no line shared */
};

/* The list of every chunk, for fini and statistics: guarded by lock. */
struct slab_depot {
    _Atomic bool lock;
    struct slab_chunk *all;
    uint64_t nchunks;
};

struct reg_slab {
    const fdn_allocator_t *alloc;            /* immutable */
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
 * fits, registry.c asserts it), 16-aligned, uninitialised, cut on
 * stripe (1 to SLAB_STRIPES); *where gets the block's place in its chunk,
 * which fdn__slab_free needs back.  NULL if out of memory.  Any thread. */
void *fdn__slab_alloc(struct reg_slab *s, uint32_t stripe, size_t n,
                      uint16_t *where);
/* Gives back a block fdn__slab_alloc returned with where.  Any thread. */
void fdn__slab_free(struct reg_slab *s, void *p, uint16_t where);

/* The chunk a block lies in (where: fdn__slab_alloc's). */
static inline struct slab_chunk *fdn__slab_chunk_of(void *p, uint16_t where)
{
    return (struct slab_chunk *)(void *)((char *)p - (size_t)where * 16);
}

/* Chunks the pool holds (statistics and tests; any thread). */
uint64_t fdn__slab_chunks(struct reg_slab *s);

#endif /* FDN_REGISTRY_SLAB_H */
