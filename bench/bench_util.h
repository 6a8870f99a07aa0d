/*
 * bench/bench_util.h — helpers shared by the benchmark programs: a monotonic
 * nanosecond clock, the RESULT line format scripts/bench.sh parses, a small
 * fast random generator, percentiles, and reading the resident set size.
 *
 * Everything here is static inline so that each benchmark stays one .c file
 * (bench/CMakeLists.txt builds every C file in bench/ into its own
 * program).
 */
#ifndef FOUNDATION_BENCH_UTIL_H
#define FOUNDATION_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Prints one machine-readable result line and flushes it at once, so a later
 * crash cannot swallow figures already measured. */
static inline void bench_result(const char *name, double value,
                                const char *unit)
{
    printf("RESULT name=%s value=%.3f unit=%s\n", name, value, unit);
    fflush(stdout);
}

/* Reports a broken benchmark invariant (a wrong sum, a failed call) and
 * exits non-zero: a benchmark never prints a figure for work it did not do. */
static inline void bench_fail(const char *what, int code)
{
    fprintf(stderr, "bench: %s failed (%d)\n", what, code);
    exit(1);
}

/* xorshift64*: a fast generator for picking random indices. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

/* A uniform index in [0, n) without a division. */
static inline uint32_t bench_rand_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((bench_rand(s) >> 32) * (uint64_t)n) >> 32);
}

/* Resident set size of this process in bytes (/proc/self/statm). */
static inline int64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : (int64_t)resident * sysconf(_SC_PAGESIZE);
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile (0..100) of v[0..n), which this sorts in place. */
static inline uint64_t bench_percentile(uint64_t *v, size_t n, unsigned p)
{
    size_t i;
    qsort(v, n, sizeof *v, bench_cmp_u64);
    i = n * p / 100;
    return v[i < n ? i : n - 1];
}

#endif /* FOUNDATION_BENCH_UTIL_H */
