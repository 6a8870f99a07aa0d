/*
 * telemetry/instrument.c — the runtime's and a registry's metrics: made
 * once per hub, refreshed by a collector from the module's own counts
 * (fdn_runtime_stats, fdn_registry_stats) before every export.
 *
 * Counters follow a source that only goes up: each run adds what the
 * source gained since the last run (the collector's context keeps the
 * values already added), so the exported counter equals the source
 * whenever the source is quiescent, and never goes down even if a racy
 * read of the source does.  Collectors run one at a time under the
 * collectors' lock (collect.c), so the context needs no lock of its own.
 *
 * Exits of "other" reasons are the runtime's exits less those of known
 * reasons; the runtime counts an exit's reason before its total and
 * fdn_runtime_stats reads the totals first, so a process exiting during
 * the read can make "other" low for a moment (the counter catches up at
 * a later run), never high (which a counter could not take back).
 */
#include "telemetry/internal.h"

#include <stdio.h>

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Creates the metric name in t, or takes the one of that name if it has
 * this kind and these labels (made by an earlier call that failed later:
 * a metric cannot be removed).  FDN_EEXIST if one of that name differs.
 */
static int metric_get(fdn_telemetry_t *t, fdn_metric_kind_t kind,
                      const char *name, const char *help,
                      const char *const *labels, size_t n_labels,
                      uint32_t max_series, fdn_metric_t **out)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, help);
    o.label_names = labels;
    o.n_labels = n_labels;
    o.max_series = max_series;
    int rc = fdn_metric_create(t, &o, out);
    if (rc != FDN_EEXIST)
        return rc;
    fdn_metric_t *m = fdn_metric_find(t, name);
    if (m == NULL || m->kind != kind || m->is_double ||
        m->n_labels != n_labels)
        return FDN_EEXIST;
    for (size_t i = 0; i < n_labels; i++)
        if (strcmp(m->label_names[i], labels[i]) != 0)
            return FDN_EEXIST;
    *out = m;
    return FDN_OK;
}

/* The series of a metric with one label, for value v. */
static int series_1(fdn_metric_t *m, const char *v, fdn_series_t **out)
{
    const char *values[1] = {v};
    return fdn_metric_series(m, values, 1, out);
}

/* Adds to counter s what the source gained since *last (nothing if a
 * racy read of it went down), and remembers the source's value. */
static void counter_follow(fdn_series_t *s, uint64_t *last, uint64_t now)
{
    if (now > *last) {
        fdn_counter_add(s, now - *last);
        *last = now;
    }
}

/* Claims t's runtime or registry instrumentation (*flag, under t's lock):
 * FDN_EEXIST if taken.  A failed call gives it back (claim_end). */
static int claim(fdn_telemetry_t *t, bool *flag)
{
    pthread_mutex_lock(&t->lock);
    bool taken = *flag;
    *flag = true;
    pthread_mutex_unlock(&t->lock);
    return taken ? FDN_EEXIST : FDN_OK;
}

static void claim_end(fdn_telemetry_t *t, bool *flag, int rc)
{
    if (rc == FDN_OK)
        return;
    pthread_mutex_lock(&t->lock);
    *flag = false;
    pthread_mutex_unlock(&t->lock);
}

/* The collector's free callback: its context is one allocation. */
static void ctx_free(fdn_telemetry_t *t, void *ctx)
{
    fdn__free(t->alloc, ctx);
}

/* ------------------------------------------------------------------------ */
/* Runtime                                                                  */
/* ------------------------------------------------------------------------ */

enum { EXIT_NORMAL, EXIT_SHUTDOWN, EXIT_KILLED, EXIT_OTHER, EXIT_REASONS };

static const char *const exit_reason_names[EXIT_REASONS] = {
    "normal", "shutdown", "killed", "other"};

typedef struct tel_rt {
    fdn_runtime_t *rt;
    fdn_series_t *alive, *spawned, *sent, *schedulers;
    fdn_series_t *exits[EXIT_REASONS];
    /* Source values already added to the counters (collector only). */
    uint64_t last_spawned, last_sent, last_exits[EXIT_REASONS];
    unsigned nrunq;
    fdn_series_t *runq[]; /* nrunq: one per scheduler */
} tel_rt_t;

static void collect_runtime(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    tel_rt_t *c = ctx;
    fdn_runtime_stats_t b;
    fdn_runtime_stats(c->rt, &b); /* see the file comment */
    counter_follow(c->exits[EXIT_NORMAL], &c->last_exits[EXIT_NORMAL],
                   b.exited_normal);
    counter_follow(c->exits[EXIT_SHUTDOWN], &c->last_exits[EXIT_SHUTDOWN],
                   b.exited_shutdown);
    counter_follow(c->exits[EXIT_KILLED], &c->last_exits[EXIT_KILLED],
                   b.exited_killed);
    counter_follow(c->exits[EXIT_OTHER], &c->last_exits[EXIT_OTHER],
                   b.exited_other);
    counter_follow(c->spawned, &c->last_spawned, b.spawned);
    counter_follow(c->sent, &c->last_sent, b.messages_sent);
    fdn_gauge_set(c->alive, (int64_t)b.live);
    fdn_gauge_set(c->schedulers, (int64_t)b.schedulers);
    for (unsigned i = 0; i < c->nrunq; i++)
        fdn_gauge_set(c->runq[i], fdn_runtime_runq_len(c->rt, i));
}

/* Makes the runtime's metrics and fills c's series. */
static int runtime_metrics(fdn_telemetry_t *t, tel_rt_t *c)
{
    static const char *const reason_label[] = {"reason"};
    static const char *const sched_label[] = {"scheduler"};
    fdn_metric_t *m;
    int rc = metric_get(t, FDN_METRIC_GAUGE, "fdn_processes_alive",
                        "Processes alive (attached threads included).", NULL,
                        0, 0, &m);
    if (rc != FDN_OK)
        return rc;
    c->alive = fdn_metric_default(m);
    rc = metric_get(t, FDN_METRIC_COUNTER, "fdn_processes_spawned_total",
                    "Processes started (attached threads included).", NULL, 0,
                    0, &m);
    if (rc != FDN_OK)
        return rc;
    c->spawned = fdn_metric_default(m);
    rc = metric_get(t, FDN_METRIC_COUNTER, "fdn_process_exits_total",
                    "Processes ended, by exit reason: normal, shutdown, "
                    "killed (an untrappable kill included), other.",
                    reason_label, 1, EXIT_REASONS, &m);
    for (int r = 0; r < EXIT_REASONS && rc == FDN_OK; r++)
        rc = series_1(m, exit_reason_names[r], &c->exits[r]);
    if (rc != FDN_OK)
        return rc;
    rc = metric_get(t, FDN_METRIC_COUNTER, "fdn_messages_sent_total",
                    "Messages enqueued to processes.", NULL, 0, 0, &m);
    if (rc != FDN_OK)
        return rc;
    c->sent = fdn_metric_default(m);
    rc = metric_get(t, FDN_METRIC_GAUGE, "fdn_scheduler_run_queue_length",
                    "Processes waiting on a scheduler's run queue.",
                    sched_label, 1, c->nrunq > 0 ? c->nrunq : 1, &m);
    for (unsigned i = 0; i < c->nrunq && rc == FDN_OK; i++) {
        char v[16];
        snprintf(v, sizeof v, "%u", i);
        rc = series_1(m, v, &c->runq[i]);
    }
    if (rc != FDN_OK)
        return rc;
    rc = metric_get(t, FDN_METRIC_GAUGE, "fdn_schedulers",
                    "Scheduler threads.", NULL, 0, 0, &m);
    if (rc != FDN_OK)
        return rc;
    c->schedulers = fdn_metric_default(m);
    return FDN_OK;
}

int fdn_telemetry_instrument_runtime(fdn_telemetry_t *t, fdn_runtime_t *rt,
                                     uint64_t *id)
{
    if (t == NULL || rt == NULL)
        return FDN_EINVAL;
    int rc = claim(t, &t->has_runtime);
    if (rc != FDN_OK)
        return rc;
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    tel_rt_t *c = fdn__zalloc(t->alloc,
                              sizeof *c + st.schedulers * sizeof c->runq[0]);
    rc = c != NULL ? FDN_OK : FDN_ENOMEM;
    if (rc == FDN_OK) {
        c->rt = rt;
        c->nrunq = st.schedulers;
        rc = runtime_metrics(t, c);
    }
    if (rc == FDN_OK)
        rc = fdn__tel_collector_add_free(t, collect_runtime, c, ctx_free, id);
    if (rc != FDN_OK && c != NULL)
        fdn__free(t->alloc, c);
    claim_end(t, &t->has_runtime, rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

enum {
    OP_REGISTER,
    OP_UNREGISTER,
    OP_JOIN,
    OP_LEAVE,
    OP_UPDATE,
    OP_TOUCH,
    OP_EVICT,
    OP_EXPIRE,
    OPS
};

static const char *const op_names[OPS] = {
    "register", "unregister", "join", "leave",
    "update", "touch", "evict", "expire"};

/* The registry's counts by op (the order of the enum above). */
static void ops_of(const fdn_registry_stats_t *s, uint64_t v[OPS])
{
    v[OP_REGISTER] = s->registrations;
    v[OP_UNREGISTER] = s->unregistrations;
    v[OP_JOIN] = s->joins;
    v[OP_LEAVE] = s->leaves;
    v[OP_UPDATE] = s->updates;
    v[OP_TOUCH] = s->touches;
    v[OP_EVICT] = s->evictions;
    v[OP_EXPIRE] = s->expirations;
}

/* A namespace the collector reports: its name (a copy), its handle once
 * it exists (handles live as long as the registry), its gauge. */
typedef struct tel_ns {
    char name[FDN_REGISTRY_NS_MAX + 1];
    fdn_registry_ns_t *ns;
    fdn_series_t *entries;
} tel_ns_t;

typedef struct tel_reg {
    fdn_registry_t *reg;
    fdn_series_t *owners, *cleanups, *ops[OPS];
    /* Source values already added to the counters (collector only). */
    uint64_t last_cleanups, last_ops[OPS];
    size_t n_ns;
    tel_ns_t ns[];
} tel_reg_t;

static void collect_registry(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    tel_reg_t *c = ctx;
    fdn_registry_stats_t st;
    fdn_registry_stats(c->reg, &st);
    uint64_t v[OPS];
    ops_of(&st, v);
    for (int i = 0; i < OPS; i++)
        counter_follow(c->ops[i], &c->last_ops[i], v[i]);
    counter_follow(c->cleanups, &c->last_cleanups, st.cleanups);
    fdn_gauge_set(c->owners, (int64_t)st.owners);
    for (size_t i = 0; i < c->n_ns; i++) {
        tel_ns_t *n = &c->ns[i];
        if (n->ns == NULL)
            n->ns = fdn_registry_namespace_find(c->reg, n->name);
        fdn_gauge_set(n->entries, (int64_t)fdn_registry_count(n->ns));
    }
}

/* Makes the registry's metrics and fills c's series. */
static int registry_metrics(fdn_telemetry_t *t, tel_reg_t *c)
{
    static const char *const ns_label[] = {"ns"};
    static const char *const op_label[] = {"op"};
    fdn_metric_t *m;
    int rc = metric_get(t, FDN_METRIC_GAUGE, "fdn_registry_entries",
                        "Entries in a registry namespace.", ns_label, 1,
                        c->n_ns > 0 ? (uint32_t)c->n_ns : 1, &m);
    for (size_t i = 0; i < c->n_ns && rc == FDN_OK; i++)
        rc = series_1(m, c->ns[i].name, &c->ns[i].entries);
    if (rc != FDN_OK)
        return rc;
    rc = metric_get(t, FDN_METRIC_GAUGE, "fdn_registry_owners",
                    "Processes holding registry entries (owner records).",
                    NULL, 0, 0, &m);
    if (rc != FDN_OK)
        return rc;
    c->owners = fdn_metric_default(m);
    rc = metric_get(t, FDN_METRIC_COUNTER, "fdn_registry_operations_total",
                    "Registry changes by operation: register, unregister, "
                    "join, leave, update, touch, evict, expire.",
                    op_label, 1, OPS, &m);
    for (int i = 0; i < OPS && rc == FDN_OK; i++)
        rc = series_1(m, op_names[i], &c->ops[i]);
    if (rc != FDN_OK)
        return rc;
    rc = metric_get(t, FDN_METRIC_COUNTER, "fdn_registry_cleanups_total",
                    "Registry entries removed because their owner died.",
                    NULL, 0, 0, &m);
    if (rc != FDN_OK)
        return rc;
    c->cleanups = fdn_metric_default(m);
    return FDN_OK;
}

int fdn_telemetry_instrument_registry(fdn_telemetry_t *t, fdn_registry_t *reg,
                                      const char *const *ns_names, size_t n_ns,
                                      uint64_t *id)
{
    if (t == NULL || reg == NULL || (ns_names == NULL && n_ns > 0) ||
        n_ns > UINT32_MAX)
        return FDN_EINVAL;
    for (size_t i = 0; i < n_ns; i++) {
        if (ns_names[i] == NULL || ns_names[i][0] == '\0' ||
            strnlen(ns_names[i], FDN_REGISTRY_NS_MAX + 1) >
                FDN_REGISTRY_NS_MAX ||
            !fdn__tel_utf8_valid(ns_names[i]))
            return FDN_EINVAL; /* before anything is made */
    }
    int rc = claim(t, &t->has_registry);
    if (rc != FDN_OK)
        return rc;
    tel_reg_t *c = fdn__zalloc(t->alloc, sizeof *c + n_ns * sizeof c->ns[0]);
    rc = c != NULL ? FDN_OK : FDN_ENOMEM;
    if (rc == FDN_OK) {
        c->reg = reg;
        c->n_ns = n_ns;
        for (size_t i = 0; i < n_ns; i++)
            strcpy(c->ns[i].name, ns_names[i]);
        rc = registry_metrics(t, c);
    }
    if (rc == FDN_OK)
        rc = fdn__tel_collector_add_free(t, collect_registry, c, ctx_free, id);
    if (rc != FDN_OK && c != NULL)
        fdn__free(t->alloc, c);
    claim_end(t, &t->has_registry, rc);
    return rc;
}
