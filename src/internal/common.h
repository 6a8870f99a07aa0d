/*
 * internal/common.h — private helpers shared by every module: the panic
 * function, allocation through an fdn_allocator_t, and clock listeners.
 */
#ifndef FDN_INTERNAL_COMMON_H
#define FDN_INTERNAL_COMMON_H

#include "foundation/common.h"

#include <string.h>

/* True for FDN_OK and every FDN_E* code (a status received from another
 * process must be one of ours before it is returned). */
bool fdn__is_status(int rc);

/* Aborts after printing file:line and why.  Only for broken invariants. */
_Noreturn void fdn__panic(const char *file, int line, const char *why);
#define FDN_PANIC(why) fdn__panic(__FILE__, __LINE__, (why))
#define FDN_ASSERT(cond)                                                     \
    do {                                                                     \
        if (!(cond))                                                         \
            fdn__panic(__FILE__, __LINE__, "assertion failed: " #cond);      \
    } while (0)

static inline void *fdn__alloc(const fdn_allocator_t *a, size_t n)
{
    return a->alloc(a->ctx, n);
}
static inline void *fdn__zalloc(const fdn_allocator_t *a, size_t n)
{
    void *p = a->alloc(a->ctx, n);
    if (p)
        memset(p, 0, n);
    return p;
}
static inline void fdn__free(const fdn_allocator_t *a, void *p)
{
    a->release(a->ctx, p);
}

/*
 * Asks the kernel to back the whole pages inside [p, p + n) with memory
 * now, in one call (MADV_POPULATE_WRITE, Linux 5.14), instead of one page
 * fault per page at first touch: on the build machine's VM a 2 MiB block
 * took 500 us to fault in page by page and 270 us this way.  For blocks
 * of many pages that are about to be written whole (a new table, a pool
 * chunk).  A hint: where the kernel refuses, the pages fault in as
 * before.  Data are not changed.
 */
void fdn__prefault(void *p, size_t n);

/*
 * Asks the kernel to back the 2 MiB-aligned stretches inside [p, p + n)
 * with transparent huge pages (MADV_HUGEPAGE), before they are touched.
 * A big table read at random spans thousands of 4 KiB pages, far more
 * than the TLB holds, and pays a page walk per access; no alignment is
 * needed from the allocator, as the kernel backs every aligned 2 MiB
 * stretch a range covers whole (a block of 4 MiB or more covers at least
 * one).  A hint: where THP is off, nothing changes.  Data are not
 * changed.
 */
void fdn__advise_huge(void *p, size_t n);

/*
 * The clock's time where a timestamp is only reported, never decided on:
 * a virtual clock's time, or CLOCK_MONOTONIC_COARSE for the real clock
 * (4 ns a read here against 18 ns for CLOCK_MONOTONIC; both count from
 * the same origin).  The coarse clock is the time of the kernel's last
 * timer tick: never ahead of fdn_clock_now, usually within one tick of
 * it, but the kernel bounds its lag by nothing (5 ms seen on this VM with
 * a 4 ms tick), so expiry, timeouts and rates must not use it.
 */
uint64_t fdn__clock_now_coarse(const fdn_clock_t *clock);

/*
 * Clock listeners: fn(arg) runs after every fdn_clock_advance of a virtual
 * clock (on the advancing thread).  Real clocks never call them.
 */
typedef void (*fdn__clock_listener_fn)(void *arg);
int fdn__clock_listen(fdn_clock_t *clock, fdn__clock_listener_fn fn,
                      void *arg);
void fdn__clock_unlisten(fdn_clock_t *clock, fdn__clock_listener_fn fn,
                         void *arg);

#endif /* FDN_INTERNAL_COMMON_H */
