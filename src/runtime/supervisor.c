/*
 * supervisor.c — the supervisor: a process that starts child processes,
 * restarts them by their restart type and the strategy, gives up when
 * restarts exceed the intensity, and stops its children in reverse start
 * order.  It is built only on the public runtime API (runtime.h).
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
 * the EXIT.
 *
 * A handler must never block, so stopping children is a small state machine
 * driven by messages.  Each child record carries two plan flags, to_stop and
 * to_start.  sup_advance() makes progress: while a child is STOPPING it
 * waits; otherwise it stops the highest-indexed child marked to_stop (exit
 * signal SHUTDOWN and a timer to itself after shutdown_ns that sends KILL),
 * and once nothing is left to stop it either exits (when shutting down) or
 * starts the children marked to_start in index order.  A failure that comes
 * in while a plan is running merges its own flags into the plan, so an
 * exit caused by the supervisor (a child being stopped) is never taken for a
 * failure, and one failure counts as one restart.
 *
 * Restart intensity keeps the times (runtime clock) of the restarts inside
 * the last period_ns; a restart that would make more than `intensity` of
 * them turns the plan into a shutdown with FDN_REASON_MAX_RESTARTS.
 *
 * When the supervisor cannot wait (its init failed after starting some
 * children, or it dies with children still running, e.g. it was killed), it
 * hands the children, in reverse start order, to a short-lived "reaper"
 * process that stops them one by one the same way (SHUTDOWN, KILL after
 * shutdown_ns) and then exits.
 *
 * Threads: every function below that takes a sup_t runs on the supervisor
 * process's own callbacks, one at a time; nothing here is shared between
 * threads, so there are no atomics or locks.
 */
#include "foundation/supervisor.h"
#include "internal/common.h"

#include <string.h>

/* USER message tags the supervisor sends to itself. */
#define SUP_TAG_KILL_TIMER UINT32_C(0x53555001)  /* shutdown_ns elapsed */
#define SUP_TAG_CONTINUE UINT32_C(0x53555002)    /* resume the plan */
/* CALL tags answered by the supervisor.  Replies carry -status as tag. */
#define SUP_CALL_WHICH UINT32_C(0x53555101)
#define SUP_CALL_STATS UINT32_C(0x53555102)
/* USER message tags the reaper sends to itself. */
#define REAPER_TAG_KILL_TIMER UINT32_C(0x52505201)

/* How long fdn_supervisor_which/stats wait for the supervisor. */
#define SUP_CALL_TIMEOUT_NS (5 * FDN_NS_PER_S)

typedef enum child_state {
    CHILD_DOWN = 0, /* not running */
    CHILD_RUNNING,  /* running; an exit is a failure */
    CHILD_STOPPING  /* the supervisor asked it to stop; waiting for its exit */
} child_state_t;

typedef struct sup_child {
    char *id;                         /* copied; runtime allocator */
    const fdn_behaviour_t *behaviour; /* borrowed from the caller */
    void *arg;
    fdn_restart_t restart;
    uint64_t shutdown_ns;
    fdn_pid_t pid;       /* current incarnation, or FDN_PID_NONE */
    child_state_t state;
    fdn_ref_t down_ref;  /* monitor kept when linking failed, or NONE */
    fdn_ref_t timer;     /* kill deadline while STOPPING, or NONE */
    bool to_stop;        /* plan: stop it (reverse index order) */
    bool to_start;       /* plan: start it (index order) */
} sup_child_t;

typedef struct sup {
    const fdn_allocator_t *alloc;
    fdn_runtime_t *rt;
    fdn_strategy_t strategy;
    uint32_t intensity;
    uint64_t period_ns;
    fdn_pid_t parent;    /* the linked starter, or FDN_PID_NONE */
    sup_child_t *children;
    size_t nchildren;
    /* Times of the restarts within the last period: a ring buffer. */
    uint64_t *stamps;
    uint32_t stamp_cap;
    uint32_t stamp_head;
    uint32_t stamp_count;
    uint64_t restarts;   /* restarts accepted so far */
    bool is_shutting_down;
    fdn_reason_t exit_reason;
} sup_t;

/* Passed to the supervisor's init from fdn_supervisor_start's stack. */
typedef struct sup_start {
    sup_t *sup;
    bool is_taken;       /* init ran and owns sup */
    int child_rc;        /* why a child failed to start, or FDN_OK */
} sup_start_t;

/* ------------------------------------------------------------------------ */
/* The reaper                                                               */
/* ------------------------------------------------------------------------ */

typedef struct reaper_entry {
    fdn_pid_t pid;
    uint64_t shutdown_ns;
} reaper_entry_t;

typedef struct reaper {
    const fdn_allocator_t *alloc;
    size_t n;            /* entries, in the order to stop them */
    size_t next;         /* the entry being stopped */
    fdn_ref_t mon;       /* monitor of entry `next` */
    fdn_ref_t timer;     /* its kill deadline, or NONE */
    reaper_entry_t entries[];
} reaper_t;

/*
 * Stops entries from r->next on: for each, monitors it and sends SHUTDOWN
 * (or KILL when its grace is 0), then waits for its DOWN.  Returns true when
 * every entry is done, false when waiting for a DOWN.
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
        if (e->shutdown_ns == 0) {
            (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_KILL);
        } else {
            (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_SHUTDOWN);
            if (fdn_send_after(rt, ctx, fdn_self(ctx), e->shutdown_ns,
                               REAPER_TAG_KILL_TIMER, NULL, 0,
                               &r->timer) != FDN_OK) {
                r->timer = FDN_REF_NONE;
                (void)fdn_exit(rt, ctx, e->pid, FDN_REASON_KILL);
            }
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

/*
 * Stops the live children of s in reverse start order without waiting: a
 * reaper process does it.  If no reaper can be started, kills them at once.
 * ctx is the supervisor's (used only for the fallback kills).
 */
static void sup_reap_children(fdn_ctx_t *ctx, sup_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].state != CHILD_DOWN)
            n++;
    if (n == 0)
        return;
    reaper_t *r = fdn__alloc(s->alloc, sizeof *r + n * sizeof(reaper_entry_t));
    if (r != NULL) {
        r->alloc = s->alloc;
        r->n = 0;
        r->next = 0;
        r->mon = FDN_REF_NONE;
        r->timer = FDN_REF_NONE;
        for (size_t i = s->nchildren; i-- > 0;) {
            const sup_child_t *c = &s->children[i];
            if (c->state == CHILD_DOWN)
                continue;
            r->entries[r->n].pid = c->pid;
            r->entries[r->n].shutdown_ns = c->shutdown_ns;
            r->n++;
        }
        fdn_spawn_opts_t so = {.size = sizeof so};
        fdn_pid_t pid;
        int rc = fdn_spawn(s->rt, NULL, &reaper_behaviour, r, &so, &pid);
        if (rc == FDN_OK || rc == FDN_EINIT)
            return; /* The reaper owns r (EINIT: it already finished). */
        fdn__free(s->alloc, r);
    }
    for (size_t i = s->nchildren; i-- > 0;) {
        const sup_child_t *c = &s->children[i];
        if (c->state != CHILD_DOWN)
            (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
    }
}

/* ------------------------------------------------------------------------ */
/* Supervisor state                                                         */
/* ------------------------------------------------------------------------ */

static void sup_free(sup_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nchildren; i++)
        fdn__free(s->alloc, s->children[i].id);
    fdn__free(s->alloc, s->children);
    fdn__free(s->alloc, s->stamps);
    fdn__free(s->alloc, s);
}

static char *sup_strdup(const fdn_allocator_t *a, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = fdn__alloc(a, n);
    if (p != NULL)
        memcpy(p, str, n);
    return p;
}

/* Checks opts; FDN_OK or FDN_EINVAL. */
static int sup_check_opts(const fdn_supervisor_opts_t *opts)
{
    if (opts == NULL || opts->size < sizeof *opts)
        return FDN_EINVAL;
    if (opts->strategy != FDN_ONE_FOR_ONE &&
        opts->strategy != FDN_ONE_FOR_ALL &&
        opts->strategy != FDN_REST_FOR_ONE)
        return FDN_EINVAL;
    if (opts->period_ns == 0)
        return FDN_EINVAL;
    if (opts->nchildren > 0 && opts->children == NULL)
        return FDN_EINVAL;
    if (opts->nchildren > UINT32_MAX)
        return FDN_EINVAL;
    for (size_t i = 0; i < opts->nchildren; i++) {
        const fdn_child_spec_t *c = &opts->children[i];
        if (c->id == NULL || c->behaviour == NULL ||
            c->behaviour->handle == NULL)
            return FDN_EINVAL;
        if (c->restart != FDN_PERMANENT && c->restart != FDN_TRANSIENT &&
            c->restart != FDN_TEMPORARY)
            return FDN_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(opts->children[j].id, c->id) == 0)
                return FDN_EINVAL;
    }
    return FDN_OK;
}

/* Copies checked opts into a new sup_t.  FDN_OK or FDN_ENOMEM. */
static int sup_create(fdn_runtime_t *rt, const fdn_supervisor_opts_t *opts,
                      fdn_pid_t parent, sup_t **out)
{
    const fdn_allocator_t *a = fdn_runtime_allocator(rt);
    sup_t *s = fdn__zalloc(a, sizeof *s);
    if (s == NULL)
        return FDN_ENOMEM;
    s->alloc = a;
    s->rt = rt;
    s->strategy = opts->strategy;
    s->intensity = opts->intensity;
    s->period_ns = opts->period_ns;
    s->parent = parent;
    if (opts->nchildren > 0) {
        s->children = fdn__zalloc(a, opts->nchildren * sizeof *s->children);
        if (s->children == NULL) {
            sup_free(s);
            return FDN_ENOMEM;
        }
    }
    for (size_t i = 0; i < opts->nchildren; i++) {
        const fdn_child_spec_t *spec = &opts->children[i];
        sup_child_t *c = &s->children[i];
        c->id = sup_strdup(a, spec->id);
        if (c->id == NULL) {
            sup_free(s);
            return FDN_ENOMEM;
        }
        s->nchildren = i + 1; /* so sup_free releases this id */
        c->behaviour = spec->behaviour;
        c->arg = spec->arg;
        c->restart = spec->restart;
        c->shutdown_ns = spec->shutdown_ns;
    }
    /* The ring holds at most `intensity` stamps; start small and grow, so a
     * huge intensity costs memory only if that many restarts happen. */
    uint32_t cap = s->intensity < 16 ? s->intensity : 16;
    if (cap > 0) {
        s->stamps = fdn__alloc(a, cap * sizeof *s->stamps);
        if (s->stamps == NULL) {
            sup_free(s);
            return FDN_ENOMEM;
        }
    }
    s->stamp_cap = cap;
    *out = s;
    return FDN_OK;
}

/*
 * Records a restart at the current runtime time.  Returns false (recording
 * nothing) if it would make more than `intensity` restarts within the last
 * period_ns, or if the record cannot grow (out of memory: giving up is the
 * safe side).
 */
static bool sup_note_restart(sup_t *s)
{
    uint64_t now = fdn_clock_now(fdn_runtime_clock(s->rt));
    /* Forget restarts that are a full period old or older. */
    while (s->stamp_count > 0 &&
           now - s->stamps[s->stamp_head] >= s->period_ns) {
        s->stamp_head = (s->stamp_head + 1) % s->stamp_cap;
        s->stamp_count--;
    }
    if (s->stamp_count >= s->intensity)
        return false;
    if (s->stamp_count == s->stamp_cap) {
        uint32_t cap = s->stamp_cap > s->intensity / 2 ? s->intensity
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

/* ------------------------------------------------------------------------ */
/* Starting and stopping children                                           */
/* ------------------------------------------------------------------------ */

/*
 * Starts child i (which is DOWN) linked to the supervisor.  On FDN_OK it is
 * RUNNING; otherwise it stays DOWN and the spawn error is returned.
 */
static int sup_start_child(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    fdn_ref_t ref = FDN_REF_NONE;
    fdn_pid_t pid = FDN_PID_NONE;
    fdn_spawn_opts_t so = {.size = sizeof so, .monitor = &ref};
    int rc = fdn_spawn(s->rt, ctx, c->behaviour, c->arg, &so, &pid);
    if (rc != FDN_OK)
        return rc; /* A DOWN for ref may come; no child claims it. */
    c->pid = pid;
    c->state = CHILD_RUNNING;
    c->timer = FDN_REF_NONE;
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

/* Asks running child i to stop: SHUTDOWN, then KILL after shutdown_ns. */
static void sup_begin_stop(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    c->state = CHILD_STOPPING;
    c->to_stop = false;
    c->timer = FDN_REF_NONE;
    /* Errors are fine: a child that is already dying still reports its
     * exit, which is what the supervisor waits for. */
    if (c->shutdown_ns == 0) {
        (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
        return;
    }
    (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_SHUTDOWN);
    if (fdn_send_after(s->rt, ctx, fdn_self(ctx), c->shutdown_ns,
                       SUP_TAG_KILL_TIMER, NULL, 0, &c->timer) != FDN_OK) {
        c->timer = FDN_REF_NONE;
        (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
    }
}

static bool sup_should_restart(const sup_child_t *c, fdn_reason_t reason)
{
    switch (c->restart) {
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
 * siblings are stopped but never started again.
 */
static void sup_plan_restart(sup_t *s, size_t i)
{
    s->children[i].to_start = true;
    if (s->strategy == FDN_ONE_FOR_ONE)
        return;
    size_t lo = s->strategy == FDN_ONE_FOR_ALL ? 0 : i + 1;
    for (size_t j = lo; j < s->nchildren; j++) {
        sup_child_t *c = &s->children[j];
        if (j == i)
            continue;
        bool is_alive = c->state != CHILD_DOWN;
        if (is_alive)
            c->to_stop = true;
        if ((is_alive || c->to_start) && c->restart != FDN_TEMPORARY)
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
        s->children[i].to_stop = true;
        s->children[i].to_start = false;
    }
}

/*
 * Makes progress on the plan (see the file comment).  Returns what the
 * supervisor's handler should return.
 */
static fdn_next_t sup_advance(fdn_ctx_t *ctx, sup_t *s)
{
    for (;;) {
        for (size_t i = 0; i < s->nchildren; i++)
            if (s->children[i].state == CHILD_STOPPING)
                return FDN_CONTINUE; /* One stop at a time. */
        for (size_t i = s->nchildren; i-- > 0;) {
            if (s->children[i].to_stop &&
                s->children[i].state == CHILD_RUNNING) {
                sup_begin_stop(ctx, s, i);
                return FDN_CONTINUE;
            }
        }
        for (size_t i = 0; i < s->nchildren; i++)
            s->children[i].to_stop = false;
        if (s->is_shutting_down)
            return fdn_stop(ctx, s->exit_reason);
        bool is_replanned = false;
        for (size_t i = 0; i < s->nchildren && !is_replanned; i++) {
            sup_child_t *c = &s->children[i];
            if (!c->to_start)
                continue;
            c->to_start = false;
            if (sup_start_child(ctx, s, i) == FDN_OK)
                continue;
            /* A failed restart is one more restart of that child. */
            if (!sup_note_restart(s)) {
                sup_begin_shutdown(s, FDN_REASON_MAX_RESTARTS);
            } else {
                sup_plan_restart(s, i);
                /* Retry from a fresh message so other messages (calls, an
                 * exit signal from the parent) get their turn. */
                if (fdn_send(ctx, fdn_self(ctx), SUP_TAG_CONTINUE, NULL, 0) ==
                    FDN_OK)
                    return FDN_CONTINUE;
            }
            is_replanned = true;
        }
        if (!is_replanned)
            return FDN_CONTINUE;
    }
}

/* Child i has died with reason (its EXIT, or the DOWN standing in for it). */
static fdn_next_t sup_child_exited(fdn_ctx_t *ctx, sup_t *s, size_t i,
                                   fdn_reason_t reason)
{
    sup_child_t *c = &s->children[i];
    child_state_t was = c->state;
    c->state = CHILD_DOWN;
    c->pid = FDN_PID_NONE;
    if (c->down_ref != FDN_REF_NONE) {
        (void)fdn_demonitor(ctx, c->down_ref);
        c->down_ref = FDN_REF_NONE;
    }
    if (c->timer != FDN_REF_NONE) {
        (void)fdn_cancel_timer(s->rt, c->timer);
        c->timer = FDN_REF_NONE;
    }
    if (was == CHILD_STOPPING)
        return sup_advance(ctx, s); /* The exit we asked for. */
    /* An exit the supervisor did not cause.  If the plan already stops
     * this child (to restart it or to shut down), it changes nothing. */
    if (s->is_shutting_down || c->to_stop) {
        c->to_stop = false;
        return sup_advance(ctx, s);
    }
    if (!sup_should_restart(c, reason))
        return sup_advance(ctx, s);
    if (!sup_note_restart(s))
        sup_begin_shutdown(s, FDN_REASON_MAX_RESTARTS);
    else
        sup_plan_restart(s, i);
    return sup_advance(ctx, s);
}

/* The live child whose current pid is pid, or nchildren. */
static size_t sup_find_pid(const sup_t *s, fdn_pid_t pid)
{
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i].state != CHILD_DOWN && s->children[i].pid == pid)
            return i;
    return s->nchildren;
}

static void sup_on_call(fdn_ctx_t *ctx, const sup_t *s, const fdn_msg_t *msg)
{
    if (msg->tag == SUP_CALL_WHICH) {
        for (size_t i = 0; i < s->nchildren; i++) {
            const sup_child_t *c = &s->children[i];
            if (strlen(c->id) != msg->size ||
                (msg->size > 0 && memcmp(c->id, msg->data, msg->size) != 0))
                continue;
            if (c->state != CHILD_RUNNING)
                break;
            (void)fdn_reply(ctx, msg, 0, &c->pid, sizeof c->pid);
            return;
        }
        (void)fdn_reply(ctx, msg, (uint32_t)-FDN_ENOENT, NULL, 0);
    } else if (msg->tag == SUP_CALL_STATS) {
        fdn_supervisor_stats_t st = {.restarts = s->restarts,
                                     .children = (uint32_t)s->nchildren};
        for (size_t i = 0; i < s->nchildren; i++)
            if (s->children[i].state != CHILD_DOWN)
                st.active++;
        (void)fdn_reply(ctx, msg, 0, &st, sizeof st);
    } else {
        (void)fdn_reply(ctx, msg, (uint32_t)-FDN_ENOTSUP, NULL, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* The supervisor behaviour                                                 */
/* ------------------------------------------------------------------------ */

static fdn_next_t sup_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    sup_start_t *start = arg;
    sup_t *s = start->sup;
    start->is_taken = true;
    for (size_t i = 0; i < s->nchildren; i++) {
        int rc = sup_start_child(ctx, s, i);
        if (rc == FDN_OK)
            continue;
        start->child_rc = rc;
        /* Undo: the started children are stopped in reverse order by a
         * reaper; unlinked first so this process's own death does not
         * race it. */
        for (size_t j = 0; j < i; j++) {
            sup_child_t *c = &s->children[j];
            (void)fdn_unlink(ctx, c->pid);
            if (c->down_ref != FDN_REF_NONE) {
                (void)fdn_demonitor(ctx, c->down_ref);
                c->down_ref = FDN_REF_NONE;
            }
        }
        sup_reap_children(ctx, s);
        sup_free(s);
        *state = NULL;
        return fdn_stop(ctx, FDN_REASON_INIT_FAILED);
    }
    *state = s;
    return FDN_CONTINUE;
}

static fdn_next_t sup_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *msg)
{
    sup_t *s = state;
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
            return sup_advance(ctx, s);
        }
        return FDN_CONTINUE;
    }
    case FDN_MSG_DOWN:
        for (size_t i = 0; i < s->nchildren; i++) {
            sup_child_t *c = &s->children[i];
            if (c->state != CHILD_DOWN && c->down_ref == msg->ref) {
                c->down_ref = FDN_REF_NONE;
                return sup_child_exited(ctx, s, i, msg->reason);
            }
        }
        return FDN_CONTINUE; /* A child whose init failed, or stale. */
    case FDN_MSG_USER:
        if (msg->tag == SUP_TAG_KILL_TIMER && msg->from == FDN_PID_NONE) {
            for (size_t i = 0; i < s->nchildren; i++) {
                sup_child_t *c = &s->children[i];
                if (c->state == CHILD_STOPPING && c->timer == msg->ref) {
                    c->timer = FDN_REF_NONE;
                    (void)fdn_exit(s->rt, ctx, c->pid, FDN_REASON_KILL);
                    break;
                }
            }
        } else if (msg->tag == SUP_TAG_CONTINUE &&
                   msg->from == fdn_self(ctx)) {
            return sup_advance(ctx, s);
        }
        return FDN_CONTINUE;
    case FDN_MSG_CALL:
        sup_on_call(ctx, s, msg);
        return FDN_CONTINUE;
    case FDN_MSG_REPLY:
    default:
        return FDN_CONTINUE;
    }
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
        if (s->children[i].timer != FDN_REF_NONE)
            (void)fdn_cancel_timer(s->rt, s->children[i].timer);
    }
    sup_reap_children(ctx, s);
    sup_free(s);
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

FDN_API void fdn_supervisor_opts_init(fdn_supervisor_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->strategy = FDN_ONE_FOR_ONE;
    opts->intensity = 3;
    opts->period_ns = 5 * FDN_NS_PER_S;
    opts->children = NULL;
    opts->nchildren = 0;
}

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
    int rc = sup_check_opts(opts);
    if (rc != FDN_OK)
        return rc;
    sup_t *s;
    rc = sup_create(rt, opts, link ? fdn_self(ctx) : FDN_PID_NONE, &s);
    if (rc != FDN_OK)
        return rc;
    sup_start_t start = {.sup = s, .is_taken = false, .child_rc = FDN_OK};
    fdn_spawn_opts_t so = {.size = sizeof so, .link = link,
                           .trap_exit = true};
    fdn_pid_t pid = FDN_PID_NONE;
    rc = fdn_spawn(rt, ctx, &sup_behaviour, &start, &so, &pid);
    if (rc != FDN_OK) {
        /* Once init ran it owns s (and frees it when it fails). */
        if (!start.is_taken)
            sup_free(s);
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

/* Sends a CALL to sup and returns the reply's status (its tag, negated). */
static int sup_call(fdn_ctx_t *ctx, fdn_pid_t sup, uint32_t tag,
                    const void *data, size_t size, void *out, size_t out_size)
{
    fdn_msg_t *reply = NULL;
    int rc = fdn_call(ctx, sup, tag, data, size, SUP_CALL_TIMEOUT_NS, &reply);
    if (rc != FDN_OK)
        return rc;
    rc = -(int)reply->tag;
    if (rc == FDN_OK) {
        if (reply->size == out_size)
            memcpy(out, reply->data, out_size);
        else
            rc = FDN_EINVAL; /* sup is not a supervisor */
    }
    fdn_msg_free(ctx, reply);
    return rc;
}

FDN_API int fdn_supervisor_which(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 const char *id, fdn_pid_t *out)
{
    if (ctx == NULL || id == NULL || out == NULL || sup == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn_pid_t pid;
    int rc = sup_call(ctx, sup, SUP_CALL_WHICH, id, strlen(id), &pid,
                      sizeof pid);
    if (rc == FDN_OK)
        *out = pid;
    return rc;
}

FDN_API int fdn_supervisor_stats(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 fdn_supervisor_stats_t *out)
{
    if (ctx == NULL || out == NULL || sup == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn_supervisor_stats_t st;
    int rc = sup_call(ctx, sup, SUP_CALL_STATS, NULL, 0, &st, sizeof st);
    if (rc == FDN_OK)
        *out = st;
    return rc;
}
