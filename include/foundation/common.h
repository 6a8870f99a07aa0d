/*
 * foundation/common.h — what every Foundation module shares: the version,
 * the export macro, the error codes and the injectable
 * allocator and clock.
 *
 * Errors.  Every fallible function returns an int: FDN_OK (0) or one of the
 * negative FDN_E* codes below.  A call that fails changes nothing that a
 * caller can observe.  fdn_strerror() and fdn_errname() describe a code; both
 * are generated from the one list FDN_ERRORS so the three can never drift.
 *
 * Allocation.  Foundation allocates through an fdn_allocator_t (malloc, free,
 * and a context) so that tests can fail the N-th allocation.  Out of memory is
 * always FDN_ENOMEM, never an abort.  Memory allocated inside liburcu's hash
 * tables does not go through it (liburcu has no allocator hook); that is
 * stated in specs/registry.md.
 *
 * Time.  Every timing decision reads an fdn_clock_t, a monotonic clock in
 * nanoseconds.  fdn_clock_monotonic() is CLOCK_MONOTONIC; a virtual clock
 * (fdn_clock_virtual_create) only moves when a test advances it.  Wall-clock
 * time is never used for timing.
 *
 * Thread safety: every function in this header may be called from any thread.
 */
#ifndef FOUNDATION_COMMON_H
#define FOUNDATION_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h> /* memset, for the inline *_opts_init */

#ifdef __cplusplus
extern "C" {
#endif

#define FDN_VERSION_MAJOR 0
#define FDN_VERSION_MINOR 1
#define FDN_VERSION_PATCH 0
#define FDN_VERSION_STRING "0.1.0"

#if defined(FDN_STATIC)
#define FDN_API
#elif defined(FDN_BUILDING)
#define FDN_API __attribute__((visibility("default")))
#else
#define FDN_API
#endif

/* The library's version string, e.g. "0.1.0".  Never NULL. */
FDN_API const char *fdn_version(void);

/*
 * The error list: X(NAME, value, description).  Values are stable ABI.
 */
#define FDN_ERRORS(X)                                                        \
    X(FDN_OK, 0, "success")                                                  \
    X(FDN_EINVAL, -1, "invalid argument")                                    \
    X(FDN_ENOMEM, -2, "out of memory")                                       \
    X(FDN_ENOPROC, -3, "no such process (dead or never existed)")            \
    X(FDN_EEXIST, -4, "already exists")                                      \
    X(FDN_ENOENT, -5, "not found")                                           \
    X(FDN_ETIMEDOUT, -6, "timed out")                                        \
    X(FDN_ESHUTDOWN, -7, "runtime is shutting down")                         \
    X(FDN_ELIMIT, -8, "a configured limit was reached")                      \
    X(FDN_EBUSY, -9, "resource busy")                                        \
    X(FDN_ETHREAD, -10, "called from the wrong thread")                      \
    X(FDN_EINIT, -11, "process init failed")                                 \
    X(FDN_ETOOBIG, -12, "argument too large")                                \
    X(FDN_ESYS, -13, "operating system call failed")                         \
    X(FDN_ENOTSUP, -14, "not supported")                                     \
    X(FDN_EFULL, -15, "mailbox full")                                        \
    X(FDN_EDEADLK, -16, "nothing left that could ever answer")              \
    X(FDN_EAGAIN, -17, "rate limited: try again later")                      \
    X(FDN_ESCHEMA, -18, "does not match the schema")

#define FDN__ERR_ENUM(name, value, text) name = (value),
typedef enum fdn_err { FDN_ERRORS(FDN__ERR_ENUM) } fdn_err_t;
#undef FDN__ERR_ENUM

/* A sentence describing err ("out of memory"); "unknown error" otherwise. */
FDN_API const char *fdn_strerror(int err);
/* The symbol of err ("FDN_ENOMEM"); "FDN_E?" for an unknown value. */
FDN_API const char *fdn_errname(int err);

/* ------------------------------------------------------------------------ */
/* Allocator                                                                */
/* ------------------------------------------------------------------------ */

/*
 * An allocator.  alloc(ctx, n) returns n bytes aligned for any type or NULL;
 * release(ctx, p) frees p (p may be NULL).  Both must be thread safe.
 */
typedef struct fdn_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *ptr);
    void *ctx;
} fdn_allocator_t;

/* The default allocator: malloc and free.  Never NULL. */
FDN_API const fdn_allocator_t *fdn_allocator_default(void);

/*
 * A test allocator that fails the fail_at-th allocation (1-based) and every
 * later one while fail_sticky, or only that one otherwise.  fail_at == 0
 * never fails.  It counts live bytes so tests can check nothing leaked.
 */
typedef struct fdn_failing_allocator fdn_failing_allocator_t;
FDN_API int fdn_failing_allocator_create(uint64_t fail_at, bool fail_sticky,
                                         fdn_failing_allocator_t **out);
FDN_API void fdn_failing_allocator_destroy(fdn_failing_allocator_t *fa);
/* The allocator view; kept valid until fdn_failing_allocator_destroy. */
FDN_API const fdn_allocator_t *
fdn_failing_allocator_get(fdn_failing_allocator_t *fa);
/* Allocations attempted so far (including failed ones). */
FDN_API uint64_t fdn_failing_allocator_calls(const fdn_failing_allocator_t *fa);
/* Allocations made and not yet released. */
FDN_API int64_t fdn_failing_allocator_live(const fdn_failing_allocator_t *fa);
/* Re-arm: fail the fail_at-th allocation from now on (0 = never); resets
 * the count that fdn_failing_allocator_calls reports to 0. */
FDN_API void fdn_failing_allocator_arm(fdn_failing_allocator_t *fa,
                                       uint64_t fail_at, bool fail_sticky);

/* ------------------------------------------------------------------------ */
/* Clock                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct fdn_clock fdn_clock_t;

/* The process-wide monotonic clock (CLOCK_MONOTONIC).  Never NULL. */
FDN_API fdn_clock_t *fdn_clock_monotonic(void);

/* A virtual clock starting at start_ns.  It only moves by fdn_clock_advance. */
FDN_API int fdn_clock_virtual_create(uint64_t start_ns, fdn_clock_t **out);
/* Destroys a virtual clock; the monotonic clock and NULL are ignored.
 * Nothing may use the clock afterwards (destroy runtimes first). */
FDN_API void fdn_clock_destroy(fdn_clock_t *clock);
/* Moves a virtual clock forward by delta_ns and wakes everything waiting on
 * it (timer threads fire what became due).  FDN_EINVAL on a real clock. */
FDN_API int fdn_clock_advance(fdn_clock_t *clock, uint64_t delta_ns);
/* Current time in nanoseconds. */
FDN_API uint64_t fdn_clock_now(const fdn_clock_t *clock);
/* True for virtual clocks. */
FDN_API bool fdn_clock_is_virtual(const fdn_clock_t *clock);

#define FDN_NS_PER_US UINT64_C(1000)
#define FDN_NS_PER_MS UINT64_C(1000000)
#define FDN_NS_PER_S UINT64_C(1000000000)
/* A timeout meaning "wait forever". */
#define FDN_INFINITY UINT64_MAX

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_COMMON_H */
