/*
 * bench/bench_util.h — helpers shared by the benchmark programs: a monotonic
 * nanosecond clock, the RESULT line format scripts/bench.sh parses, a small
 * fast random generator, percentiles, the resident set size and the
 * process's CPU time.
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
#include <sys/resource.h>
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

/* CPU time (user + system) of the whole process, every thread, dead ones
 * included, in nanoseconds (getrusage, microsecond resolution). */
static inline uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
               UINT64_C(1000000000) +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
               UINT64_C(1000);
}

/* The same from /proc/self/stat (utime + stime, fields 14 and 15, in clock
 * ticks: 10 ms resolution at the usual 100 Hz), in nanoseconds; a cross
 * check of bench_cpu_ns that the BEAM peer can make the same way.  0 if
 * the file cannot be read. */
static inline uint64_t bench_proc_stat_cpu_ns(void)
{
    char buf[1024];
    unsigned long long utime = 0, stime = 0;
    size_t n;
    const char *p;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: start after its ')'. */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                   "%*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return (uint64_t)(utime + stime) * UINT64_C(1000000000) /
           (uint64_t)sysconf(_SC_CLK_TCK);
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
