/*
 * table.c — the process table: type-stable slots in pages, pids with
 * generations, and a lock-free stack of free slots.
 *
 * Design.  The table is a directory of pages of FDN__PAGE_SLOTS slots.  A
 * page is allocated (under table_lock) when the free stack is empty, and
 * lives until the runtime is destroyed, so a slot pointer derived from any
 * pid stays valid memory forever (type-stable memory).  A slot's life is
 * named by pid = (gen << 32) | slot; gen grows by one per life and a slot
 * whose gen reached UINT32_MAX is retired (never freed again), so pids are
 * never reused (RT-I1).
 *
 * Free stack.  A Treiber stack of slot numbers threaded through
 * fdn__proc.free_next.  Its head packs a 32-bit tag with slot + 1 (0 =
 * empty); every successful CAS bumps the tag, which rules out ABA: a pop
 * that read a stale next fails its CAS because the tag moved.  Linearization
 * point: the successful CAS on free_top.  Progress: lock-free.  The CAS is
 * acq_rel: a pop's acquire pairs with the release of the push that put the
 * slot there, so the popper sees the slot's gen and drained mailbox.
 */
#include "runtime/internal.h"

#include <stdlib.h>

static struct fdn__proc *page_of(const fdn_runtime_t *rt, uint32_t page)
{
    /* Pairs with the release store in grow(): a non-NULL page is fully
     * initialised. */
    return atomic_load_explicit(&rt->dir[page], memory_order_acquire);
}

int fdn__table_init(fdn_runtime_t *rt)
{
    uint32_t npages = (rt->max_procs + FDN__PAGE_SLOTS - 1) / FDN__PAGE_SLOTS;
    rt->dir = fdn__zalloc(rt->alloc, npages * sizeof *rt->dir);
    rt->page_raw = fdn__zalloc(rt->alloc, npages * sizeof *rt->page_raw);
    if (rt->dir == NULL || rt->page_raw == NULL) {
        fdn__free(rt->alloc, rt->dir);
        fdn__free(rt->alloc, rt->page_raw);
        return FDN_ENOMEM;
    }
    for (uint32_t i = 0; i < npages; i++)
        atomic_init(&rt->dir[i], NULL);
    atomic_init(&rt->nslots, 0);
    atomic_init(&rt->free_top, 0);
    if (pthread_mutex_init(&rt->table_lock, NULL) != 0) {
        fdn__free(rt->alloc, rt->dir);
        fdn__free(rt->alloc, rt->page_raw);
        return FDN_ESYS;
    }
    return FDN_OK;
}

void fdn__table_fini(fdn_runtime_t *rt)
{
    uint32_t npages = (rt->max_procs + FDN__PAGE_SLOTS - 1) / FDN__PAGE_SLOTS;
    for (uint32_t i = 0; i < npages; i++)
        fdn__free(rt->alloc, rt->page_raw[i]);
    fdn__free(rt->alloc, rt->dir);
    fdn__free(rt->alloc, rt->page_raw);
    pthread_mutex_destroy(&rt->table_lock);
}

static void push_chain(fdn_runtime_t *rt, uint32_t first, struct fdn__proc *last)
{
    uint64_t top = atomic_load_explicit(&rt->free_top, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&last->free_next, (uint32_t)top,
                              memory_order_relaxed);
        uint64_t next = ((top >> 32) + 1) << 32 | (uint64_t)(first + 1);
        /* Release: publishes the slots' state to the popper's acquire. */
        if (atomic_compare_exchange_weak_explicit(&rt->free_top, &top, next,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    }
}

/* Adds one page of slots; FDN_ELIMIT when the directory is full. */
static int grow(fdn_runtime_t *rt)
{
    int rc = FDN_OK;
    pthread_mutex_lock(&rt->table_lock);
    /* Another thread may have grown the table while we waited. */
    if ((atomic_load_explicit(&rt->free_top, memory_order_acquire) &
         0xffffffffu) != 0)
        goto out;
    uint32_t n = atomic_load_explicit(&rt->nslots, memory_order_relaxed);
    if (n >= rt->max_procs) {
        rc = FDN_ELIMIT;
        goto out;
    }
    uint32_t page = n / FDN__PAGE_SLOTS;
    uint32_t count = rt->max_procs - n < FDN__PAGE_SLOTS
                         ? rt->max_procs - n
                         : FDN__PAGE_SLOTS;
    size_t bytes = (size_t)FDN__PAGE_SLOTS * sizeof(struct fdn__proc);
    void *raw = fdn__alloc(rt->alloc, bytes + FDN__CACHELINE);
    if (raw == NULL) {
        rc = FDN_ENOMEM;
        goto out;
    }
    uintptr_t aligned = ((uintptr_t)raw + FDN__CACHELINE - 1) &
                        ~(uintptr_t)(FDN__CACHELINE - 1);
    struct fdn__proc *slots = (struct fdn__proc *)aligned;
    memset(slots, 0, bytes);
    for (uint32_t i = 0; i < count; i++) {
        struct fdn__proc *p = &slots[i];
        atomic_init(&p->pid, 0);
        atomic_init(&p->run, FDN__DEAD);
        atomic_init(&p->kill_pending, 0);
        atomic_init(&p->lock, 0);
        atomic_init(&p->trap_exit, false);
        atomic_init(&p->handled, 0);
        atomic_init(&p->nheld, 0);
        atomic_init(&p->nreqs, 0);
        atomic_init(&p->nlinks, 0);
        atomic_init(&p->nmons, 0);
        p->held = NULL;
        atomic_init(&p->name, NULL);
        atomic_init(&p->waiting_on, NULL);
        fdn__mq_init(p);
        p->gen = 0;
        p->slot = n + i;
        atomic_init(&p->free_next, i + 1 < count ? n + i + 2 : 0);
    }
    rt->page_raw[page] = raw;
    /* Release: pairs with the acquire in page_of(). */
    atomic_store_explicit(&rt->dir[page], slots, memory_order_release);
    atomic_store_explicit(&rt->nslots, n + count, memory_order_release);
    push_chain(rt, n, &slots[count - 1]);
out:
    pthread_mutex_unlock(&rt->table_lock);
    return rc;
}

int fdn__table_alloc(fdn_runtime_t *rt, struct fdn__proc **out)
{
    for (;;) {
        /* Acquire: pairs with the release CAS of the push that freed the
         * slot, so its free_next, gen and drained mailbox are visible. */
        uint64_t top = atomic_load_explicit(&rt->free_top, memory_order_acquire);
        uint32_t slot1 = (uint32_t)(top & 0xffffffffu);
        if (slot1 == 0) {
            int rc = grow(rt);
            if (rc != FDN_OK)
                return rc;
            continue;
        }
        struct fdn__proc *p = fdn__table_at(rt, slot1 - 1);
        /* Relaxed: a stale value is harmless, the tag check rejects it. */
        uint32_t next = atomic_load_explicit(&p->free_next, memory_order_relaxed);
        uint64_t ntop = ((top >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&rt->free_top, &top, ntop,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            p->gen++;
            *out = p;
            return FDN_OK;
        }
    }
}

void fdn__table_release(fdn_runtime_t *rt, struct fdn__proc *p)
{
    if (p->gen == UINT32_MAX)
        return; /* retired: its pids are all used up (RT-I1) */
    push_chain(rt, p->slot, p);
}

struct fdn__proc *fdn__table_at(const fdn_runtime_t *rt, uint32_t slot)
{
    struct fdn__proc *page = page_of(rt, slot >> FDN__PAGE_SHIFT);
    return &page[slot & (FDN__PAGE_SLOTS - 1)];
}

uint32_t fdn__table_nslots(const fdn_runtime_t *rt)
{
    return atomic_load_explicit(&rt->nslots, memory_order_acquire);
}

struct fdn__proc *fdn__table_slot(const fdn_runtime_t *rt, fdn_pid_t pid)
{
    uint32_t slot = (uint32_t)(pid & 0xffffffffu);
    if ((pid >> 32) == 0 || slot >= rt->max_procs)
        return NULL;
    struct fdn__proc *page = page_of(rt, slot >> FDN__PAGE_SHIFT);
    if (page == NULL)
        return NULL;
    return &page[slot & (FDN__PAGE_SLOTS - 1)];
}

struct fdn__proc *fdn__table_get(const fdn_runtime_t *rt, fdn_pid_t pid)
{
    struct fdn__proc *p = fdn__table_slot(rt, pid);
    /* Acquire: pairs with the release store that published the pid in
     * fdn_spawn/fdn_attach, so the process's initial state is visible. */
    if (p == NULL || atomic_load_explicit(&p->pid, memory_order_acquire) != pid)
        return NULL;
    return p;
}

FDN_API bool fdn_alive(const fdn_runtime_t *rt, fdn_pid_t pid)
{
    return rt != NULL && pid != FDN_PID_NONE && fdn__table_get(rt, pid) != NULL;
}

/* RT-I4: a slot (mailbox, bookkeeping and introspection counters
 * included) fits in three lines: the senders' line, the owner's line, and
 * a line of counters and rarely written fields. */
_Static_assert(sizeof(struct fdn__proc) <= 3 * FDN__CACHELINE,
               "process slot grew past 192 bytes");
