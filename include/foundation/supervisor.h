/*
 * foundation/supervisor.h — OTP supervisors for Foundation processes.
 *
 * A supervisor is a process that starts child processes from child specs,
 * watches them through links (it traps exits) and restarts them by its
 * strategy, within a restart intensity.  See specs/supervisor.md.
 *
 * Children.  A child is a worker (a process running a behaviour) or itself
 * a supervisor, described by the fdn_supervisor_opts_t in its spec, so
 * supervisors nest into trees.  A sub-supervisor that gives up (exits
 * FDN_REASON_MAX_RESTARTS) is a failed child of its parent, which restarts
 * it by its own strategy and intensity: failures escalate up the tree.
 * Children start in order; the supervisor stops them in reverse order.
 *
 * Restart intensity.  At most `intensity` restarts are allowed within any
 * period of period_ns on the runtime clock: a restart at time t counts
 * every earlier restart at a time s with t - s < period_ns.  The restart
 * that would make intensity + 1 of them is not made; the supervisor stops
 * its children and exits with FDN_REASON_MAX_RESTARTS.  A restart made
 * exactly period_ns after an earlier one no longer counts that one.
 *
 * Shutdown of a child (fdn_child_spec_t.shutdown_ns): FDN_SHUTDOWN_BRUTAL
 * kills it at once (FDN_REASON_KILL); a timeout sends it the exit signal
 * SHUTDOWN and kills it only if it is still alive when the timeout
 * expires; FDN_SHUTDOWN_INFINITY sends SHUTDOWN and waits as long as the
 * child takes.  FDN_SHUTDOWN_DEFAULT (0) means BRUTAL for a worker (as in
 * version 0.1) and INFINITY for a supervisor.
 *
 * Client calls (fdn_supervisor_which ... fdn_supervisor_count_children)
 * are synchronous calls to the supervisor process: only attached threads
 * may make them (FDN_ETHREAD from a process callback, which must not
 * block).  The supervisor handles them one at a time, in the order they
 * arrive.  Queries are answered at once.  Changes (start, terminate,
 * restart, delete) wait while the supervisor is stopping children (a
 * restart plan, a shutdown or an earlier terminate); those calls have no
 * time limit, like OTP's: they return when the supervisor has answered,
 * when it dies (FDN_ENOPROC) or when the runtime shuts down
 * (FDN_ESHUTDOWN).  Send them only to supervisors: another process may
 * never answer them (the call then waits forever), and one that answers
 * them makes them return FDN_EINVAL.  In a deterministic runtime a call
 * that nothing could answer returns FDN_EDEADLK.  A call that fails
 * changes nothing.
 *
 * Threads: every function may be called from any attached thread,
 * concurrently with any other, for the same or different supervisors.
 */
#ifndef FOUNDATION_SUPERVISOR_H
#define FOUNDATION_SUPERVISOR_H

#include "foundation/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Child specs and supervisor options                                       */
/* ------------------------------------------------------------------------ */

typedef enum fdn_restart {
    FDN_PERMANENT = 0, /* always restarted */
    FDN_TRANSIENT = 1, /* restarted unless it exits NORMAL or SHUTDOWN */
    FDN_TEMPORARY = 2  /* never restarted; its spec is deleted when it ends */
} fdn_restart_t;

typedef enum fdn_strategy {
    FDN_ONE_FOR_ONE = 0,
    FDN_ONE_FOR_ALL = 1,
    FDN_REST_FOR_ONE = 2
} fdn_strategy_t;

typedef enum fdn_child_type {
    FDN_WORKER = 0,    /* a process running spec->behaviour */
    FDN_SUPERVISOR = 1 /* a supervisor started from spec->supervisor */
} fdn_child_type_t;

/* Shutdown values for fdn_child_spec_t.shutdown_ns (any other value is a
 * timeout in nanoseconds). */
#define FDN_SHUTDOWN_DEFAULT UINT64_C(0) /* BRUTAL (worker), INFINITY (sup) */
#define FDN_SHUTDOWN_BRUTAL (UINT64_MAX - 1) /* kill at once */
#define FDN_SHUTDOWN_INFINITY UINT64_MAX     /* wait for as long as it takes */

/*
 * A source of jitter for restart backoff: returns a uniformly distributed
 * 32-bit number.  Called on the supervisor's thread; must not block.
 */
typedef uint32_t (*fdn_jitter_fn)(void *arg);

struct fdn_supervisor_opts;

/*
 * A child spec.  The supervisor copies it (the id, and for a supervisor
 * child its whole options tree) and keeps the behaviour pointer for its
 * own life.  Zero-initialised fields added after version 0.1 (type,
 * supervisor) give the 0.1 meaning: a worker.
 */
typedef struct fdn_child_spec {
    const char *id;                 /* unique within the supervisor (the
                                     * empty string is an id too); copied */
    const fdn_behaviour_t *behaviour; /* workers: kept; supervisors: NULL */
    void *arg;                      /* workers: passed to init on every
                                     * (re)start; supervisors: unused */
    fdn_restart_t restart;
    uint64_t shutdown_ns;           /* FDN_SHUTDOWN_* or a timeout */
    fdn_child_type_t type;          /* FDN_WORKER (0) or FDN_SUPERVISOR */
    /* FDN_SUPERVISOR only: the child supervisor's options, copied with
     * its children at the call; NULL for a worker. */
    const struct fdn_supervisor_opts *supervisor;
} fdn_child_spec_t;

/*
 * Supervisor options.  Start with fdn_supervisor_opts_init.  size is
 * sizeof(fdn_supervisor_opts_t) of the caller's version: the fields past
 * it read as zero (the 0.1 layout ends at nchildren).
 *
 * Restart backoff (off by default, backoff_min_ns == 0): with
 * backoff_min_ns > 0 (and backoff_max_ns >= backoff_min_ns) the k-th
 * consecutive restart of a child is delayed by
 *     d = min(backoff_max_ns, backoff_min_ns * 2^(k-1))
 *     delay = d - d/2 + (d/2) * r / 2^32       (integer division)
 * where r is a 32-bit number from backoff_jitter (so the delay is uniform
 * over [d/2, d)); k goes back to 1 when the child has stayed up for
 * backoff_max_ns before it fails.  While a child waits, it has no pid;
 * the restart counts towards the intensity when the delay ends and it is
 * made.  Under one_for_all and rest_for_one the children after a waiting
 * child (in start order) wait with it.
 */
typedef struct fdn_supervisor_opts {
    size_t size;                    /* sizeof(fdn_supervisor_opts_t) */
    fdn_strategy_t strategy;
    uint32_t intensity;             /* max restarts ... (default 3) */
    uint64_t period_ns;             /* ... within this period (default 5 s) */
    const fdn_child_spec_t *children; /* started in order; copied */
    size_t nchildren;
    uint64_t backoff_min_ns;        /* first restart delay; 0 = no backoff */
    uint64_t backoff_max_ns;        /* delay cap and reset time */
    fdn_jitter_fn backoff_jitter;   /* NULL: a generator of the library's,
                                     * seeded from the pid and the clock */
    void *backoff_jitter_arg;       /* kept; passed to backoff_jitter */
} fdn_supervisor_opts_t;

/* Fills opts with the defaults: one_for_one, 3 restarts in 5 s, no
 * children, no backoff.  Inline, for the reason given at
 * fdn_runtime_opts_init.  NULL does nothing. */
static inline void fdn_supervisor_opts_init(fdn_supervisor_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->strategy = FDN_ONE_FOR_ONE;
    opts->intensity = 3;
    opts->period_ns = 5 * FDN_NS_PER_S;
}

/* ------------------------------------------------------------------------ */
/* Starting                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Starts a supervisor process that starts the children in order, a child
 * supervisor with all its own children before the next sibling.  ctx may
 * be NULL (rt required); if ctx is given and link is true, the supervisor
 * is linked to ctx's process.  opts is borrowed: everything in it is
 * copied (ids, nested options); behaviours and jitter args are kept.  If
 * a child fails to start, the children already started are stopped in
 * reverse order and the call fails.  A supervisor traps exits; when
 * restarts exceed the intensity it stops its children and exits with
 * FDN_REASON_MAX_RESTARTS.  An exit signal from its linked parent (any
 * reason) or another abnormal one makes it stop its children in reverse
 * start order (each by its shutdown) and exit with that reason.
 * Errors: FDN_EINVAL (NULL or bad opts: no size, zero period, unknown
 * strategy, backoff_max_ns < backoff_min_ns; a child with a NULL or
 * duplicate id, an unknown restart or type, a worker without a behaviour
 * or with options, a supervisor child without options or with a
 * behaviour; a tree more than 33 supervisors deep (this one and 32
 * levels of supervisor children below it), a cycle included; link
 * without a ctx),
 * FDN_ENOMEM or FDN_ELIMIT (a process could not be spawned, or out of
 * memory), FDN_EINIT (a child's init failed), FDN_ESHUTDOWN.  Any thread
 * (ctx: its own thread or callback).
 */
FDN_API int fdn_supervisor_start(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                                 const fdn_supervisor_opts_t *opts, bool link,
                                 fdn_pid_t *out);

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct fdn_supervisor_stats {
    uint64_t restarts;   /* children restarted so far */
    uint32_t children;   /* child specs */
    uint32_t active;     /* children currently alive (running or stopping) */
} fdn_supervisor_stats_t;

/* Looks up the current pid of child `id` (id borrowed).  FDN_ENOENT if no
 * such child or it is not running (stopped, waiting for a restart, or
 * being stopped); FDN_ETHREAD from a process callback; FDN_ETIMEDOUT if
 * sup does not answer within 5 s (e.g. it is not a supervisor);
 * FDN_ENOPROC if sup is dead; FDN_ENOMEM; FDN_ESHUTDOWN (the runtime is
 * stopping); FDN_EINVAL (NULL arguments, or sup answered in a form that
 * is not a supervisor's). */
FDN_API int fdn_supervisor_which(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 const char *id, fdn_pid_t *out);
/* Restart counters (errors as fdn_supervisor_which, without ENOENT). */
FDN_API int fdn_supervisor_stats(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 fdn_supervisor_stats_t *out);

/* One child, as listed by fdn_supervisor_which_children. */
typedef struct fdn_child_info {
    const char *id;        /* NUL-terminated, inside the returned block */
    fdn_pid_t pid;         /* alive (running or being stopped), or NONE */
    fdn_child_type_t type;
    fdn_restart_t restart;
} fdn_child_info_t;

/*
 * Lists every child spec of sup in start order.  On FDN_OK *out is an
 * array of *count entries (NULL when there are none) that the caller owns
 * and releases with fdn_supervisor_children_free; the ids live in the
 * same block.  On error *out and *count are untouched.  Errors as
 * fdn_supervisor_which (without ENOENT).
 */
FDN_API int fdn_supervisor_which_children(fdn_ctx_t *ctx, fdn_pid_t sup,
                                          fdn_child_info_t **out,
                                          size_t *count);
/* Releases what fdn_supervisor_which_children returned, with rt's
 * allocator (the runtime that ran the call).  NULL does nothing.  Any
 * thread. */
FDN_API void fdn_supervisor_children_free(fdn_runtime_t *rt,
                                          fdn_child_info_t *children);

typedef struct fdn_supervisor_counts {
    uint32_t specs;       /* child specs */
    uint32_t active;      /* children alive (running or being stopped) */
    uint32_t supervisors; /* specs of type FDN_SUPERVISOR */
    uint32_t workers;     /* specs of type FDN_WORKER */
} fdn_supervisor_counts_t;

/* Counts the children of sup (errors as fdn_supervisor_stats). */
FDN_API int fdn_supervisor_count_children(fdn_ctx_t *ctx, fdn_pid_t sup,
                                          fdn_supervisor_counts_t *out);

/* ------------------------------------------------------------------------ */
/* Dynamic children                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Adds spec (borrowed; copied as in fdn_supervisor_start) after the last
 * child and starts it; on FDN_OK *out (may be NULL) is its pid.  The new
 * child is then supervised like the others; it is started at once even if
 * earlier children wait for a delayed restart.  On any error the spec is
 * not kept and nothing changed.  Errors: FDN_EINVAL (NULL or bad spec, as
 * fdn_supervisor_start), FDN_EEXIST (a child with that id exists),
 * FDN_EINIT (its init failed), FDN_ENOMEM, FDN_ELIMIT (no process could be
 * spawned, or 2^32 - 1 children already), FDN_ESHUTDOWN, FDN_ETHREAD,
 * FDN_ENOPROC.
 */
FDN_API int fdn_supervisor_start_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                       const fdn_child_spec_t *spec,
                                       fdn_pid_t *out);

/*
 * Stops child `id` (borrowed) as a shutdown would (by its shutdown_ns) and
 * returns once it is dead; its spec is kept (a temporary child's is
 * deleted) and it is not restarted until fdn_supervisor_restart_child.
 * A child waiting for a delayed restart has the restart cancelled.  FDN_OK
 * also if it was not running.  Errors: FDN_ENOENT (no such child),
 * FDN_EINVAL, FDN_ENOMEM, FDN_ESHUTDOWN, FDN_ETHREAD, FDN_ENOPROC.
 */
FDN_API int fdn_supervisor_terminate_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                           const char *id);

/*
 * Starts stopped child `id` (borrowed) again; on FDN_OK *out (may be NULL)
 * is its pid.  Not a restart by the supervisor: it does not count towards
 * the intensity.  Errors: FDN_ENOENT, FDN_EBUSY (it is alive or waiting
 * for a restart), FDN_EINIT (its init failed; it stays stopped),
 * FDN_ENOMEM, FDN_ELIMIT, FDN_ESHUTDOWN, FDN_EINVAL, FDN_ETHREAD,
 * FDN_ENOPROC.
 */
FDN_API int fdn_supervisor_restart_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                         const char *id, fdn_pid_t *out);

/*
 * Deletes the spec of stopped child `id` (borrowed).  Errors: FDN_ENOENT,
 * FDN_EBUSY (it is alive or waiting for a restart: terminate it first),
 * FDN_EINVAL, FDN_ENOMEM, FDN_ESHUTDOWN, FDN_ETHREAD, FDN_ENOPROC.
 */
FDN_API int fdn_supervisor_delete_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                        const char *id);

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_SUPERVISOR_H */
