/*
 * alloc.c — the default allocator (malloc/free), the failing test allocator
 * and the panic function.
 */
#include "internal/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

_Noreturn void fdn__panic(const char *file, int line, const char *why)
{
    fprintf(stderr, "foundation: panic at %s:%d: %s\n", file, line, why);
    fflush(stderr);
    abort();
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack it */
#endif

/* Gives advice for the whole pages inside [p, p + n) (none if there are
 * none), ignoring a refusal: both callers' advice is a hint. */
static void advise_pages(void *p, size_t n, int advice)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)p + n) & ~(page - 1);
    if (to > from)
        (void)madvise((void *)from, to - from, advice);
}

void fdn__prefault(void *p, size_t n)
{
    advise_pages(p, n, MADV_POPULATE_WRITE);
}

void fdn__advise_huge(void *p, size_t n)
{
    advise_pages(p, n, MADV_HUGEPAGE);
}

static void *default_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void default_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static const fdn_allocator_t default_allocator = {default_alloc,
                                                  default_release, NULL};

FDN_API const fdn_allocator_t *fdn_allocator_default(void)
{
    return &default_allocator;
}

/*
 * The failing allocator.  calls, fail_at and live are atomics: the allocator
 * is used from every thread of a runtime.  Relaxed is enough: each counter is
 * independent, and tests read them only after joining the threads that
 * allocate (the join orders them).
 */
struct fdn_failing_allocator {
    fdn_allocator_t view;
    _Atomic uint64_t calls;
    _Atomic uint64_t fail_at;
    _Atomic bool sticky;
    _Atomic int64_t live;
};

static void *failing_alloc(void *ctx, size_t n)
{
    struct fdn_failing_allocator *fa = ctx;
    uint64_t call =
        atomic_fetch_add_explicit(&fa->calls, 1, memory_order_relaxed) + 1;
    uint64_t at = atomic_load_explicit(&fa->fail_at, memory_order_relaxed);
    if (at != 0 &&
        (call == at ||
         (call > at &&
          atomic_load_explicit(&fa->sticky, memory_order_relaxed))))
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add_explicit(&fa->live, 1, memory_order_relaxed);
    return p;
}

static void failing_release(void *ctx, void *p)
{
    struct fdn_failing_allocator *fa = ctx;
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&fa->live, 1, memory_order_relaxed);
    free(p);
}

FDN_API int fdn_failing_allocator_create(uint64_t fail_at, bool fail_sticky,
                                         fdn_failing_allocator_t **out)
{
    if (out == NULL)
        return FDN_EINVAL;
    struct fdn_failing_allocator *fa = calloc(1, sizeof *fa);
    if (fa == NULL)
        return FDN_ENOMEM;
    fa->view.alloc = failing_alloc;
    fa->view.release = failing_release;
    fa->view.ctx = fa;
    atomic_init(&fa->calls, 0);
    atomic_init(&fa->fail_at, fail_at);
    atomic_init(&fa->sticky, fail_sticky);
    atomic_init(&fa->live, 0);
    *out = fa;
    return FDN_OK;
}

FDN_API void fdn_failing_allocator_destroy(fdn_failing_allocator_t *fa)
{
    free(fa);
}

FDN_API const fdn_allocator_t *
fdn_failing_allocator_get(fdn_failing_allocator_t *fa)
{
    return &fa->view;
}

FDN_API uint64_t fdn_failing_allocator_calls(const fdn_failing_allocator_t *fa)
{
    return atomic_load_explicit(&fa->calls, memory_order_relaxed);
}

FDN_API int64_t fdn_failing_allocator_live(const fdn_failing_allocator_t *fa)
{
    return atomic_load_explicit(&fa->live, memory_order_relaxed);
}

FDN_API void fdn_failing_allocator_arm(fdn_failing_allocator_t *fa,
                                       uint64_t fail_at, bool fail_sticky)
{
    atomic_store_explicit(&fa->calls, 0, memory_order_relaxed);
    atomic_store_explicit(&fa->sticky, fail_sticky, memory_order_relaxed);
    atomic_store_explicit(&fa->fail_at, fail_at, memory_order_relaxed);
}
