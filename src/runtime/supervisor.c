/*
 * supervisor.c — the supervisor process: it starts child processes (workers
 * or supervisors), restarts them by their restart type and the strategy,
 * optionally after a backoff delay, gives up when restarts exceed the
 * intensity, and stops its children in reverse start order.
 *
 * Design.  The supervisor is an ordinary process that traps exits.  Every
 * child is linked to it, so each death of a child reaches it as exactly one
 * FDN_MSG_EXIT whose `from` is the child's pid (pids are never reused, so a
 * pid names one incarnation).  A child is started with a monitor taken before
 * its init runs and no link; once the spawn succeeded the supervisor links
 * and drops the monitor.  That way a child whose init fails sends only a DOWN
 * with a ref nobody waits for, never an EXIT from a pid the supervisor has
 * never seen (which it could not tell apart from an exit signal sent by its
 * parent).  If linking fails the monitor stays and its DOWN stands in for
 * the EXIT.  A child supervisor is the same supervisor behaviour, spawned
 * with the packed options of its spec; its init starts its own children
 * before the spawn returns, and its parent is the supervisor.
 *
 * A handler must never block, so stopping children is a small state machine
 * driven by messages.  Each child record carries two plan flags, to_stop and
 * to_start.  fdn__sup_advance() makes progress: while a child is STOPPING it
 * waits; otherwise it stops the highest-indexed child marked to_stop (by its
 * shutdown: KILL at once, or SHUTDOWN and, unless it is INFINITY, a timer to
 * itself that sends KILL when it expires), and once nothing is left to stop
 * it either exits (when shutting down) or starts the children marked
 * to_start in index order.  A failure that comes in while a plan is running
 * merges its own flags into the plan, so an exit caused by the supervisor
 * (a child being stopped) is never taken for a failure, and one failure
 * counts as one restart.
 *
 * Restart intensity keeps the times (runtime clock) of the restarts inside
 * the last period_ns; a restart that would make more than `intensity` of
 * them turns the plan into a shutdown with FDN_REASON_MAX_RESTARTS.  A
 * restart exactly period_ns after an earlier one no longer counts it: the
 * window is (now - period_ns, now].  specs/models/sup_intensity.pml checks
 * this ring against the definition.
 *
 * Backoff.  With backoff on, a failed child's restart waits for a timer (its
 * delay_timer); it keeps to_start, and the start loop skips it (one_for_one)
 * or stops there (the others: later children start after it).  The restart
 * is counted when the timer fires.
 *
 * Calls that change children (supervisor_calls.c) run only while no plan is
 * stopping children; the others wait in a queue and run when it is idle.
 *
 * When the supervisor cannot wait (its init failed after starting some
 * children, or it dies with children still running, e.g. it was killed), it
 * hands the children, in reverse start order, to a short-lived "reaper"
 * process that stops them one by one the same way and then exits.
 *
 * Threads: every function below that takes a sup runs on the supervisor
 * process's own callbacks, one at a time; nothing here is shared between
 * threads, so there are no atomics or locks.
 */
#include "runtime/supervisor_internal.h"

#include <string.h>

/* USER message tags the supervisor sends to itself. */
#define SUP_TAG_KILL_TIMER UINT32_C(0x53555001)  /* shutdown_ns elapsed */
#define SUP_TAG_CONTINUE UINT32_C(0x53555002)    /* resume the plan */
#define SUP_TAG_DELAY_TIMER UINT32_C(0x53555003) /* a backoff delay ended */
/* USER message tags the reaper sends to itself. */
#define REAPER_TAG_KILL_TIMER UINT32_C(0x52505201)

typedef fdn__sup_t sup_t;
typedef fdn__sup_child_t sup_child_t;

/* Passed to the supervisor's init from the spawner's stack. */
typedef struct sup_start {
    sup_t *sup;
    bool is_taken;       /* init ran and owns sup */
    int child_rc;        /* why a child failed to start, or FDN_OK */
    /* A parent supervisor spawning this one takes the children a failed
     * init leaves behind, to stop them in order with its own. */
    bool is_nested;
    struct fdn__sup_reaper *orphans; /* out: taken by the parent */
} sup_start_t;

static const fdn_behaviour_t sup_behaviour;

/* ------------------------------------------------------------------------ */
/* The reaper                                                               */
/* ------------------------------------------------------------------------ */

typedef struct reaper_entry {
    fdn_pid_t pid;
    uint64_t shutdown_ns; /* resolved: BRUTAL, INFINITY or a timeout */
} reaper_entry_t;

typedef struct fdn__sup_reaper {
    const fdn_allocator_t *alloc;
    size_t n;            /* entries, in the order to stop them */
    size_t next;         /* the entry being stopped */
    fdn_ref_t mon;       /* monitor of entry `next` */
    fdn_ref_t timer;     /* its kill deadline, or NONE */
    reaper_entry_t entries[];
} reaper_t;

/*
 * Stops entries from r->next on: for each, monitors it and stops it by its
 * shutdown, then waits for its DOWN.  Returns true when every entry is
 * done, false when waiting for a DOWN.
 */
static bool reaper_step(fdn_ctx_t *ctx, reaper_t *r)
{
    fdn_runtime_t *rt = fdn_ctx_runtime(ctx);
    while (r->next < r->n) {
        reaper_entry_t *e = &r->entries[r->next];
        r->timer = FDN_REF_NONE;
        if (fdn_monitor(ctx, e->pid, &r->mon) != FDN_OK) {
            /* Cannot wait for it: kill it and go on. */
            (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_KILL);
            r->next++;
            continue;
        }
        if (e->shutdown_ns == FDN_SHUTDOWN_BRUTAL ||
            fdn_exit(rt, ctx, e->pid, FDN_REASON_SHUTDOWN) == FDN_ENOMEM) {
            /* A SHUTDOWN that cannot be sent would leave it running. */
            (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_KILL);
        } else if (e->shutdown_ns != FDN_SHUTDOWN_INFINITY &&
                   fdn_send_after(rt, ctx, fdn_self(ctx), e->shutdown_ns,
                                  REAPER_TAG_KILL_TIMER, NULL, 0,
                                  &r->timer) != FDN_OK) {
            r->timer = FDN_REF_NONE;
            (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_KILL);
        }
        return false;
    }
    return true;
}

static fdn_next_t reaper_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    reaper_t *r = arg;
    if (reaper_step(ctx, r)) {
        /* Nothing to wait for.  Failing init ends the process at once; the
         * spawner treats FDN_EINIT from a reaper as "done". */
        fdn__free(r->alloc, r);
        *state = NULL;
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    *state = r;
    return FDN_CONTINUE;
}

static fdn_next_t reaper_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    reaper_t *r = state;
    if (r->next >= r->n)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    reaper_entry_t *e = &r->entries[r->next];
    if (msg->kind == FDN_MSG_DOWN && msg->ref == r->mon) {
        if (r->timer != FDN_REF_NONE)
            (void)fdn_cancel_timer(fdn_ctx_runtime(ctx), r->timer);
        r->next++;
        if (reaper_step(ctx, r))
            return fdn_stop(ctx, FDN_REASON_NORMAL);
    } else if (msg->kind == FDN_MSG_USER && msg->from == FDN_PID_NONE &&
               msg->tag == REAPER_TAG_KILL_TIMER && msg->ref == r->timer) {
        r->timer = FDN_REF_NONE;
        (void)fdn_exit(fdn_ctx_runtime(ctx), ctx, e->pid, FDN_REASON_KILL);
    }
    return FDN_CONTINUE;
}

static void reaper_terminate(fdn_ctx_t *ctx, void *state,
                             fdn_reason_t reason)
{
    (void)reason;
    reaper_t *r = state;
    if (r == NULL)
        return;
    /* Killed before it finished (e.g. runtime shutdown): what is left must
     * not outlive it unsupervised. */
    for (size_t i = r->next; i < r->n; i++)
        (void)fdn_exit(fdn_ctx_runtime(ctx), ctx, r->entries[i].pid,
                       FDN_REASON_KILL);
    if (r->timer != FDN_REF_NONE)
        (void)fdn_cancel_timer(fdn_ctx_runtime(ctx), r->timer);
    fdn__free(r->alloc, r);
}

static const fdn_behaviour_t reaper_behaviour = {
    .init = reaper_init,
    .handle = reaper_handle,
    .terminate = reaper_terminate,
    .name = "supervisor-reaper",
};

/* Kills every entry of r from r->next on at once and frees r. */
static void reaper_kill_all(fdn_runtime_t *rt, fdn_ctx_t *ctx, reaper_t *r)
{
    for (size_t i = r->next; i < r->n; i++)
        (void)fdn_exit(rt, ctx, r->entries[i].pid, FDN_REASON_KILL);
    fdn__free(r->alloc, r);
}

/* Starts a reaper process for r (taken).  If none can be started, kills
 * the entries at once. */
static void reaper_start(fdn_runtime_t *rt, fdn_ctx_t *ctx, reaper_t *r)
{
    fdn_spawn_opts_t so = {.size = sizeof so};
    fdn_pid_t pid;
    int rc = fdn_spawn(rt, NULL, &reaper_behaviour, r, &so, &pid);
    if (rc != FDN_OK && rc != FDN_EINIT) /* EINIT: it already finished */
        reaper_kill_all(rt, ctx, r);
}

/*
 * The entries to stop when s goes: its orphans (left by a child supervisor
 * that failed to start: the last started) and then its live children, in
 * reverse start order.  Takes s->orphans.  NULL if there is nothing to
 * stop, or out of memory (then s->orphans stays).
 */
static reaper_t *reaper_collect(sup_t *s)
{
    size_t n = s->orphans != NULL ? s->orphans->n : 0;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].state != FDN__CHILD_DOWN)
            n++;
    if (n == 0)
        return NULL;
    reaper_t *r = fdn__alloc(s->alloc, sizeof *r + n * sizeof(reaper_entry_t));
    if (r == NULL)
        return NULL;
    r->alloc = s->alloc;
    r->n = 0;
    r->next = 0;
    r->mon = FDN_REF_NONE;
    r->timer = FDN_REF_NONE;
    if (s->orphans != NULL) {
        for (size_t i = 0; i < s->orphans->n; i++)
            r->entries[r->n++] = s->orphans->entries[i];
        fdn__free(s->alloc, s->orphans);
        s->orphans = NULL;
    }
    for (size_t i = s->nchildren; i-- > 0;) {
        const sup_child_t *c = &s->children[i];
        if (c->state == FDN__CHILD_DOWN)
            continue;
        r->entries[r->n].pid = c->pid;
        r->entries[r->n].shutdown_ns = c->spec->shutdown_ns;
        r->n++;
    }
    return r;
}

/*
 * Stops the live children of s (after its orphans) in reverse start order
 * without waiting: a reaper process does it.  If no reaper can be made,
 * kills them at once.  ctx is the supervisor's (for the fallback kills).
 */
static void sup_reap_children(fdn_ctx_t *ctx, sup_t *s)
{
    reaper_t *r = reaper_collect(s);
    if (r != NULL) {
        reaper_start(s->rt, ctx, r);
        return;
    }
    if (s->orphans != NULL) {
        reaper_kill_all(s->rt, ctx, s->orphans);
        s->orphans = NULL;
    }
    for (size_t i = s->nchildren; i-- > 0;) {
        const sup_child_t *c = &s->children[i];
        if (c->state != FDN__CHILD_DOWN)
            (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
    }
}

/* ------------------------------------------------------------------------ */
/* Restart intensity and backoff                                            */
/* ------------------------------------------------------------------------ */

static uint64_t sup_now(const sup_t *s)
{
    return fdn_clock_now(fdn_runtime_clock(s->rt));
}

/*
 * Records a restart at the current runtime time.  Returns false (recording
 * nothing) if it would make more than `intensity` restarts within the last
 * period_ns, or if the record cannot grow (out of memory: giving up is the
 * safe side).
 */
static bool sup_note_restart(sup_t *s)
{
    uint64_t now = sup_now(s);
    /* Forget restarts that are a full period old or older: the window is
     * (now - period_ns, now]. */
    while (s->stamp_count > 0 &&
           now - s->stamps[s->stamp_head] >= s->conf.period_ns) {
        s->stamp_head = (s->stamp_head + 1) % s->stamp_cap;
        s->stamp_count--;
    }
    if (s->stamp_count >= s->conf.intensity)
        return false;
    if (s->stamp_count == s->stamp_cap) {
        uint32_t cap = s->stamp_cap > s->conf.intensity / 2
                           ? s->conf.intensity
                           : s->stamp_cap * 2;
        uint64_t *stamps = fdn__alloc(s->alloc, cap * sizeof *stamps);
        if (stamps == NULL)
            return false;
        for (uint32_t i = 0; i < s->stamp_count; i++)
            stamps[i] = s->stamps[(s->stamp_head + i) % s->stamp_cap];
        fdn__free(s->alloc, s->stamps);
        s->stamps = stamps;
        s->stamp_cap = cap;
        s->stamp_head = 0;
    }
    s->stamps[(s->stamp_head + s->stamp_count) % s->stamp_cap] = now;
    s->stamp_count++;
    s->restarts++;
    return true;
}

/* The built-in jitter: splitmix64 on the supervisor's own state. */
static uint32_t sup_rand(sup_t *s)
{
    uint64_t z = (s->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/*
 * The backoff delay before restarting child c, which just failed at `now`
 * (0 when backoff is off).  Updates its streak k: back to 1 if it had
 * stayed up for backoff_max_ns.  The formula is the header's.
 */
static uint64_t sup_backoff_delay(sup_t *s, sup_child_t *c, uint64_t now)
{
    uint64_t lo = s->conf.backoff_min_ns, hi = s->conf.backoff_max_ns;
    if (lo == 0)
        return 0;
    if (now - c->started_at >= hi)
        c->streak = 0;
    if (c->streak < UINT32_MAX)
        c->streak++;
    uint64_t d = lo;
    for (uint32_t k = 1; k < c->streak && d < hi; k++)
        d = d > hi / 2 ? hi : d * 2;
    if (d > hi)
        d = hi;
    uint32_t r = s->conf.jitter != NULL ? s->conf.jitter(s->conf.jitter_arg)
                                        : sup_rand(s);
    uint64_t half = d / 2;
    /* (half * r) >> 32 without a 128-bit product: both parts fit. */
    uint64_t extra = (half >> 32) * r + (((half & UINT32_MAX) * r) >> 32);
    return d - half + extra;
}

/* ------------------------------------------------------------------------ */
/* Starting and stopping children                                           */
/* ------------------------------------------------------------------------ */

/* Spawns a child supervisor from packed spec sp, monitored by ctx's
 * process through *ref.  Errors as fdn_supervisor_start. */
static int sup_spawn_supervisor(fdn_ctx_t *ctx, sup_t *s,
                                const struct fdn__sup_spec *sp, fdn_ref_t *ref,
                                fdn_pid_t *pid)
{
    sup_t *sub;
    int rc = fdn__sup_create(s->rt, sp, fdn_self(ctx), &sub);
    if (rc != FDN_OK)
        return rc;
    sup_start_t start = {.sup = sub, .is_taken = false, .child_rc = FDN_OK,
                         .is_nested = true, .orphans = NULL};
    fdn_spawn_opts_t so = {.size = sizeof so, .trap_exit = true,
                           .monitor = ref};
    rc = fdn_spawn(s->rt, ctx, &sup_behaviour, &start, &so, pid);
    if (rc != FDN_OK) {
        if (!start.is_taken)
            fdn__sup_free(sub);
        if (rc == FDN_EINIT && start.child_rc != FDN_OK &&
            start.child_rc != FDN_EINIT)
            rc = start.child_rc;
    }
    if (start.orphans != NULL) {
        /* While starting its own children, s stops these first when it
         * fails (they started last); otherwise they go now. */
        if (s->is_initializing && s->orphans == NULL)
            s->orphans = start.orphans;
        else
            reaper_start(s->rt, ctx, start.orphans);
    }
    return rc;
}

int fdn__sup_start_child(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    const struct fdn__sup_spec *sp = c->spec;
    fdn_ref_t ref = FDN_REF_NONE;
    fdn_pid_t pid = FDN_PID_NONE;
    c->started_at = sup_now(s);
    int rc;
    if (sp->type == FDN_SUPERVISOR) {
        rc = sup_spawn_supervisor(ctx, s, sp, &ref, &pid);
    } else {
        fdn_spawn_opts_t so = {.size = sizeof so, .monitor = &ref};
        rc = fdn_spawn(s->rt, ctx, sp->behaviour, sp->arg, &so, &pid);
    }
    if (rc != FDN_OK)
        return rc; /* A DOWN for ref may come; no child claims it. */
    c->pid = pid;
    c->state = FDN__CHILD_RUNNING;
    c->kill_timer = FDN_REF_NONE;
    if (fdn_link(ctx, pid) == FDN_OK) {
        /* From now on the link reports its death.  A DOWN already queued
         * is dropped by demonitor. */
        (void)fdn_demonitor(ctx, ref);
        c->down_ref = FDN_REF_NONE;
    } else {
        /* It died already, or the link could not be made: the monitor's
         * DOWN reports its death instead. */
        c->down_ref = ref;
    }
    return FDN_OK;
}

void fdn__sup_begin_stop(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    uint64_t shutdown = c->spec->shutdown_ns;
    c->state = FDN__CHILD_STOPPING;
    c->to_stop = false;
    c->kill_timer = FDN_REF_NONE;
    /* FDN_ENOPROC is fine: a child that is already dying still reports
     * its exit, which is what the supervisor waits for.  A SHUTDOWN that
     * cannot be sent (out of memory) would leave it running: KILL, which
     * never allocates, instead. */
    if (shutdown == FDN_SHUTDOWN_BRUTAL ||
        fdn_exit(s->rt, ctx, c->pid, FDN_REASON_SHUTDOWN) == FDN_ENOMEM) {
        (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
        return;
    }
    if (shutdown == FDN_SHUTDOWN_INFINITY)
        return;
    if (fdn_send_after(s->rt, ctx, s->self, shutdown, SUP_TAG_KILL_TIMER, NULL,
                       0, &c->kill_timer) != FDN_OK) {
        c->kill_timer = FDN_REF_NONE;
        (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
    }
}

static bool sup_should_restart(const sup_child_t *c, fdn_reason_t reason)
{
    switch (c->spec->restart) {
    case FDN_PERMANENT:
        return true;
    case FDN_TRANSIENT:
        return reason != FDN_REASON_NORMAL && reason != FDN_REASON_SHUTDOWN;
    case FDN_TEMPORARY:
    default:
        return false;
    }
}

/*
 * Adds to the plan the restart of child i (DOWN) by the strategy: it and,
 * for one_for_all every other, for rest_for_one every later child that is
 * alive or already due to start are stopped and started again.  Temporary
 * siblings are stopped but never started again; a sibling that a client is
 * terminating is not started again either.
 */
static void sup_plan_restart(sup_t *s, size_t i)
{
    s->children[i].to_start = true;
    if (s->conf.strategy == FDN_ONE_FOR_ONE)
        return;
    size_t lo = s->conf.strategy == FDN_ONE_FOR_ALL ? 0 : i + 1;
    for (size_t j = lo; j < s->nchildren; j++) {
        sup_child_t *c = &s->children[j];
        if (j == i)
            continue;
        bool is_alive = c->state != FDN__CHILD_DOWN;
        if (is_alive)
            c->to_stop = true;
        if ((is_alive || c->to_start) && c->spec->restart != FDN_TEMPORARY &&
            c->stop_call == NULL)
            c->to_start = true;
    }
}

/* Turns the plan into "stop everything, then exit with reason". */
static void sup_begin_shutdown(sup_t *s, fdn_reason_t reason)
{
    if (s->is_shutting_down)
        return; /* The first reason stands. */
    s->is_shutting_down = true;
    s->exit_reason = reason;
    for (size_t i = 0; i < s->nchildren; i++) {
        sup_child_t *c = &s->children[i];
        c->to_stop = true;
        c->to_start = false;
        if (c->delay_timer != FDN_REF_NONE) {
            /* A timer message already queued matches no child later. */
            (void)fdn_cancel_timer(s->rt, c->delay_timer);
            c->delay_timer = FDN_REF_NONE;
        }
    }
}

/*
 * Child i failed (an exit that calls for a restart, or a failed restart):
 * plans its restart by the strategy, after its backoff delay if any.
 * Without a delay the restart is counted now, and one too many turns the
 * plan into a shutdown; with one it is counted when the delay ends.  If
 * the delay's timer cannot be set, the child is restarted without it.
 */
static void sup_child_failed(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    uint64_t delay = sup_backoff_delay(s, c, sup_now(s));
    if (delay > 0 &&
        fdn_send_after(s->rt, ctx, s->self, delay, SUP_TAG_DELAY_TIMER, NULL,
                       0, &c->delay_timer) == FDN_OK) {
        sup_plan_restart(s, i);
        return;
    }
    c->delay_timer = FDN_REF_NONE;
    if (!sup_note_restart(s))
        sup_begin_shutdown(s, FDN_REASON_MAX_RESTARTS);
    else
        sup_plan_restart(s, i);
}

bool fdn__sup_is_busy(const sup_t *s)
{
    if (s->is_shutting_down || s->is_retry_pending)
        return true;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].state == FDN__CHILD_STOPPING ||
            s->children[i].to_stop)
            return true;
    return false;
}

/*
 * The start phase of a plan: starts the children marked to_start in index
 * order.  Returns true if a failed start changed the plan (look again from
 * the stop phase), false when done or waiting (for a backoff delay or for
 * its CONTINUE message).
 */
static bool sup_start_phase(fdn_ctx_t *ctx, sup_t *s)
{
    for (size_t i = 0; i < s->nchildren; i++) {
        sup_child_t *c = &s->children[i];
        if (!c->to_start)
            continue;
        if (c->delay_timer != FDN_REF_NONE) {
            /* Waiting for its backoff.  Under one_for_all and rest_for_one
             * the children after it wait too, so they start in order. */
            if (s->conf.strategy == FDN_ONE_FOR_ONE)
                continue;
            return false;
        }
        c->to_start = false;
        if (fdn__sup_start_child(ctx, s, i) == FDN_OK)
            continue;
        /* A failed restart is one more restart of that child. */
        sup_child_failed(ctx, s, i);
        if (!s->is_shutting_down && c->delay_timer == FDN_REF_NONE) {
            /* Retry from a fresh message so other messages (calls, an exit
             * signal from the parent) get their turn. */
            if (fdn_send(ctx, s->self, SUP_TAG_CONTINUE, NULL, 0) == FDN_OK) {
                s->is_retry_pending = true;
                return false;
            }
        }
        return true;
    }
    return false;
}

fdn_next_t fdn__sup_advance(fdn_ctx_t *ctx, sup_t *s)
{
    for (;;) {
        if (s->is_retry_pending)
            return FDN_CONTINUE; /* The CONTINUE message resumes. */
        for (size_t i = 0; i < s->nchildren; i++)
            if (s->children[i].state == FDN__CHILD_STOPPING)
                return FDN_CONTINUE; /* One stop at a time. */
        for (size_t i = s->nchildren; i-- > 0;) {
            if (s->children[i].to_stop &&
                s->children[i].state == FDN__CHILD_RUNNING) {
                fdn__sup_begin_stop(ctx, s, i);
                return FDN_CONTINUE;
            }
        }
        for (size_t i = 0; i < s->nchildren; i++)
            s->children[i].to_stop = false;
        if (s->is_shutting_down)
            return fdn_stop(ctx, s->exit_reason);
        if (!sup_start_phase(ctx, s))
            return FDN_CONTINUE;
    }
}

/* Child i has died with reason (its EXIT, or the DOWN standing in for it). */
static fdn_next_t sup_child_exited(fdn_ctx_t *ctx, sup_t *s, size_t i,
                                   fdn_reason_t reason)
{
    sup_child_t *c = &s->children[i];
    fdn__sup_child_state_t was = c->state;
    c->state = FDN__CHILD_DOWN;
    c->pid = FDN_PID_NONE;
    if (c->down_ref != FDN_REF_NONE) {
        (void)fdn_demonitor(ctx, c->down_ref);
        c->down_ref = FDN_REF_NONE;
    }
    if (c->kill_timer != FDN_REF_NONE) {
        (void)fdn_cancel_timer(s->rt, c->kill_timer);
        c->kill_timer = FDN_REF_NONE;
    }
    if (c->stop_call != NULL) {
        /* Stopped for fdn_supervisor_terminate_child: it stays down. */
        c->to_stop = false;
        c->to_start = false;
        fdn__sup_answer_stop(ctx, s, i);
    } else if (was == FDN__CHILD_STOPPING) {
        /* The exit we asked for. */
    } else if (s->is_shutting_down || c->to_stop) {
        /* An exit the supervisor did not cause, but the plan already stops
         * this child (to restart it or to shut down): it changes nothing. */
        c->to_stop = false;
    } else if (sup_should_restart(c, reason)) {
        sup_child_failed(ctx, s, i);
    }
    /* A temporary child never runs again: its spec goes (as in OTP). */
    if (c->spec->restart == FDN_TEMPORARY && !c->to_start)
        fdn__sup_remove_child(s, i);
    return fdn__sup_advance(ctx, s);
}

/* The live child whose current pid is pid, or nchildren. */
static size_t sup_find_pid(const sup_t *s, fdn_pid_t pid)
{
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].state != FDN__CHILD_DOWN &&
            s->children[i].pid == pid)
            return i;
    return s->nchildren;
}

/* ------------------------------------------------------------------------ */
/* The supervisor behaviour                                                 */
/* ------------------------------------------------------------------------ */

static fdn_next_t sup_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    sup_start_t *start = arg;
    sup_t *s = start->sup;
    start->is_taken = true;
    s->self = fdn_self(ctx);
    s->rng = s->self ^ sup_now(s) ^ (uint64_t)(uintptr_t)s;
    s->is_initializing = true;
    for (size_t i = 0; i < s->nchildren; i++) {
        int rc = fdn__sup_start_child(ctx, s, i);
        if (rc == FDN_OK)
            continue;
        start->child_rc = rc;
        /* Undo: the started children are stopped in reverse order by a
         * reaper; unlinked first so this process's own death does not
         * race it.  A parent supervisor takes them (with the orphans of
         * ours), to stop them before its own earlier children. */
        for (size_t j = 0; j < i; j++) {
            sup_child_t *c = &s->children[j];
            (void)fdn_unlink(ctx, c->pid);
            if (c->down_ref != FDN_REF_NONE) {
                (void)fdn_demonitor(ctx, c->down_ref);
                c->down_ref = FDN_REF_NONE;
            }
        }
        if (start->is_nested)
            start->orphans = reaper_collect(s);
        if (start->orphans == NULL)
            sup_reap_children(ctx, s);
        fdn__sup_free(s);
        *state = NULL;
        return fdn_stop(ctx, FDN_REASON_INIT_FAILED);
    }
    s->is_initializing = false;
    *state = s;
    return FDN_CONTINUE;
}

static fdn_next_t sup_on_user(fdn_ctx_t *ctx, sup_t *s, const fdn_msg_t *msg)
{
    if (msg->tag == SUP_TAG_CONTINUE && msg->from == s->self) {
        s->is_retry_pending = false;
        return fdn__sup_advance(ctx, s);
    }
    if (msg->from != FDN_PID_NONE)
        return FDN_CONTINUE; /* Timers come from no process. */
    for (size_t i = 0; i < s->nchildren; i++) {
        sup_child_t *c = &s->children[i];
        if (msg->tag == SUP_TAG_KILL_TIMER &&
            c->state == FDN__CHILD_STOPPING && c->kill_timer == msg->ref) {
            c->kill_timer = FDN_REF_NONE;
            (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
            return FDN_CONTINUE;
        }
        if (msg->tag == SUP_TAG_DELAY_TIMER && c->delay_timer == msg->ref) {
            /* The backoff delay ended: the restart happens now. */
            c->delay_timer = FDN_REF_NONE;
            if (!sup_note_restart(s))
                sup_begin_shutdown(s, FDN_REASON_MAX_RESTARTS);
            return fdn__sup_advance(ctx, s);
        }
    }
    return FDN_CONTINUE; /* A timer that was cancelled too late. */
}

static fdn_next_t sup_on_message(fdn_ctx_t *ctx, sup_t *s,
                                 const fdn_msg_t *msg)
{
    switch (msg->kind) {
    case FDN_MSG_EXIT: {
        size_t i = sup_find_pid(s, msg->from);
        if (i < s->nchildren)
            return sup_child_exited(ctx, s, i, msg->reason);
        /* An exit signal from outside: the parent always stops the
         * supervisor; another process does unless the reason is NORMAL
         * (a linked process that finished). */
        bool is_parent =
            s->parent != FDN_PID_NONE && msg->from == s->parent;
        if (is_parent || msg->reason != FDN_REASON_NORMAL) {
            sup_begin_shutdown(s, msg->reason);
            return fdn__sup_advance(ctx, s);
        }
        return FDN_CONTINUE;
    }
    case FDN_MSG_DOWN:
        for (size_t i = 0; i < s->nchildren; i++) {
            sup_child_t *c = &s->children[i];
            if (c->state != FDN__CHILD_DOWN && c->down_ref == msg->ref) {
                c->down_ref = FDN_REF_NONE;
                return sup_child_exited(ctx, s, i, msg->reason);
            }
        }
        return FDN_CONTINUE; /* A child whose init failed, or stale. */
    case FDN_MSG_USER:
        return sup_on_user(ctx, s, msg);
    case FDN_MSG_CALL:
        return fdn__sup_on_call(ctx, s, msg);
    case FDN_MSG_REPLY:
    default:
        return FDN_CONTINUE;
    }
}

static fdn_next_t sup_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *msg)
{
    sup_t *s = state;
    if (sup_on_message(ctx, s, msg) == FDN_STOP)
        return FDN_STOP; /* fdn_stop recorded the reason */
    /* Calls that waited for the supervisor to be idle run now. */
    return fdn__sup_drain_calls(ctx, s);
}

static void sup_terminate(fdn_ctx_t *ctx, void *state, fdn_reason_t reason)
{
    (void)reason;
    sup_t *s = state;
    if (s == NULL)
        return;
    /* Normally every child is down by now.  If the supervisor died before
     * stopping them (killed), stop them in order rather than leave them. */
    for (size_t i = 0; i < s->nchildren; i++) {
        sup_child_t *c = &s->children[i];
        if (c->kill_timer != FDN_REF_NONE)
            (void)fdn_cancel_timer(s->rt, c->kill_timer);
        if (c->delay_timer != FDN_REF_NONE)
            (void)fdn_cancel_timer(s->rt, c->delay_timer);
    }
    fdn__sup_drop_calls(s);
    sup_reap_children(ctx, s);
    fdn__sup_free(s);
}

static const fdn_behaviour_t sup_behaviour = {
    .init = sup_init,
    .handle = sup_handle,
    .terminate = sup_terminate,
    .name = "supervisor",
};

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

FDN_API int fdn_supervisor_start(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                                 const fdn_supervisor_opts_t *opts, bool link,
                                 fdn_pid_t *out)
{
    if (rt == NULL && ctx == NULL)
        return FDN_EINVAL;
    if (link && ctx == NULL)
        return FDN_EINVAL;
    if (rt == NULL)
        rt = fdn_ctx_runtime(ctx);
    size_t size;
    int rc = fdn__sup_measure_opts(opts, &size);
    if (rc != FDN_OK)
        return rc;
    const fdn_allocator_t *a = fdn_runtime_allocator(rt);
    struct fdn__sup_spec *packed = fdn__alloc(a, size);
    if (packed == NULL)
        return FDN_ENOMEM;
    fdn__sup_pack_opts(opts, packed);
    sup_t *s;
    rc = fdn__sup_create(rt, packed, link ? fdn_self(ctx) : FDN_PID_NONE, &s);
    fdn__free(a, packed);
    if (rc != FDN_OK)
        return rc;
    sup_start_t start = {.sup = s, .is_taken = false, .child_rc = FDN_OK,
                         .is_nested = false, .orphans = NULL};
    fdn_spawn_opts_t so = {.size = sizeof so, .link = link,
                           .trap_exit = true};
    fdn_pid_t pid = FDN_PID_NONE;
    rc = fdn_spawn(rt, ctx, &sup_behaviour, &start, &so, &pid);
    if (rc != FDN_OK) {
        /* Once init ran it owns s (and frees it when it fails). */
        if (!start.is_taken)
            fdn__sup_free(s);
        /* A child that could not be spawned at all (FDN_ENOMEM,
         * FDN_ELIMIT, ...) says more than the supervisor's FDN_EINIT. */
        if (rc == FDN_EINIT && start.child_rc != FDN_OK &&
            start.child_rc != FDN_EINIT)
            rc = start.child_rc;
        return rc;
    }
    if (out != NULL)
        *out = pid;
    return FDN_OK;
}
