/*
 * bench/bench_alloc.h — a counting allocator for the memory benchmarks:
 * bench_counted_bytes() is what the runtime (and whatever runs on it)
 * holds through its allocator, measured with malloc_usable_size so that
 * malloc's rounding counts.
 *
 * Relaxed: a statistic, read by main after the allocations it counts
 * were made (or freed) on threads main has since synchronised with, so
 * no ordering is needed beyond the atomicity of the sums.  Static, like
 * bench_util.h: each benchmark is one .c file.
 */
#ifndef FOUNDATION_BENCH_ALLOC_H
#define FOUNDATION_BENCH_ALLOC_H

#include "foundation/runtime.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static _Atomic int64_t bench_counted;

static inline void *bench_counting_alloc(void *arg, size_t size)
{
    void *p = malloc(size);
    (void)arg;
    if (p != NULL)
        atomic_fetch_add_explicit(&bench_counted,
                                  (int64_t)malloc_usable_size(p),
                                  memory_order_relaxed);
    return p;
}

static inline void bench_counting_release(void *arg, void *p)
{
    (void)arg;
    if (p != NULL)
        atomic_fetch_sub_explicit(&bench_counted,
                                  (int64_t)malloc_usable_size(p),
                                  memory_order_relaxed);
    free(p);
}

/* The allocator to pass as fdn_runtime_opts_t.allocator. */
static const fdn_allocator_t bench_counting = {bench_counting_alloc,
                                               bench_counting_release, NULL};

static inline int64_t bench_counted_bytes(void)
{
    return atomic_load_explicit(&bench_counted, memory_order_relaxed);
}

#endif /* FOUNDATION_BENCH_ALLOC_H */
