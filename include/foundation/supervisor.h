/*
 * foundation/supervisor.h — OTP supervisors for Foundation processes.
 *
 * A supervisor is a process that starts child processes from child specs,
 * watches them through links (it traps exits) and restarts them by its
 * strategy, within a restart intensity.  See specs/supervisor.md.
 */
#ifndef FOUNDATION_SUPERVISOR_H
#define FOUNDATION_SUPERVISOR_H

#include "foundation/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Supervisor                                                               */
/* ------------------------------------------------------------------------ */

typedef enum fdn_restart {
    FDN_PERMANENT = 0, /* always restarted */
    FDN_TRANSIENT = 1, /* restarted unless it exits NORMAL or SHUTDOWN */
    FDN_TEMPORARY = 2  /* never restarted */
} fdn_restart_t;

typedef enum fdn_strategy {
    FDN_ONE_FOR_ONE = 0,
    FDN_ONE_FOR_ALL = 1,
    FDN_REST_FOR_ONE = 2
} fdn_strategy_t;

typedef struct fdn_child_spec {
    const char *id;                 /* unique within the supervisor; copied */
    const fdn_behaviour_t *behaviour; /* kept for the supervisor's life */
    void *arg;                      /* passed to init on every (re)start */
    fdn_restart_t restart;
    uint64_t shutdown_ns;           /* grace before KILL; 0 = kill at once */
} fdn_child_spec_t;

typedef struct fdn_supervisor_opts {
    size_t size;                    /* sizeof(fdn_supervisor_opts_t) */
    fdn_strategy_t strategy;
    uint32_t intensity;             /* max restarts ... (default 3) */
    uint64_t period_ns;             /* ... within this period (default 5 s) */
    const fdn_child_spec_t *children; /* started in order; copied */
    size_t nchildren;
} fdn_supervisor_opts_t;

FDN_API void fdn_supervisor_opts_init(fdn_supervisor_opts_t *opts);

/*
 * Starts a supervisor process that starts the children in order.  ctx may be
 * NULL (rt required); if ctx is given and link is true, the supervisor is
 * linked to ctx's process.  If a child fails to start, the children already
 * started are stopped and FDN_EINIT is returned.  A supervisor traps exits;
 * when restarts exceed intensity within period_ns it stops its children and
 * exits with FDN_REASON_MAX_RESTARTS.  Sending it an exit signal SHUTDOWN
 * stops the children in reverse start order (each gets SHUTDOWN, then KILL
 * after shutdown_ns) and then the supervisor.  Errors: FDN_EINVAL (bad
 * opts, a NULL or duplicate child id, a child without a behaviour),
 * FDN_ENOMEM or FDN_ELIMIT (a child could not be spawned), FDN_EINIT (a
 * child's init failed), FDN_ESHUTDOWN.
 */
FDN_API int fdn_supervisor_start(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                                 const fdn_supervisor_opts_t *opts, bool link,
                                 fdn_pid_t *out);

typedef struct fdn_supervisor_stats {
    uint64_t restarts;   /* children restarted so far */
    uint32_t children;   /* child specs */
    uint32_t active;     /* children currently running */
} fdn_supervisor_stats_t;

/* Looks up the current pid of child `id` (from an attached thread: a
 * synchronous call to the supervisor, waiting at most 5 s).  FDN_ENOENT if
 * no such child or it is not running; FDN_ETHREAD from a process callback;
 * FDN_ETIMEDOUT if sup does not answer (e.g. it is not a supervisor);
 * FDN_ENOPROC if sup is dead. */
FDN_API int fdn_supervisor_which(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 const char *id, fdn_pid_t *out);
/* Restart counters (attached threads only: a synchronous call; errors as
 * fdn_supervisor_which). */
FDN_API int fdn_supervisor_stats(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 fdn_supervisor_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_SUPERVISOR_H */
