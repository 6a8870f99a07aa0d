/*
 * metrics.c — wordfreq's telemetry: the job's own metrics (files, bytes,
 * words, chunk results, re-dispatches, restarts, chaos strikes, per-chunk
 * map times, stage times), reading them back for the report, and the two
 * optional exports: /metrics over HTTP while the job runs, and the final
 * Prometheus exposition in a file.  The runtime's and the registry's
 * metrics come from fdn_telemetry_instrument_runtime and _registry
 * (main.c).
 */
#include "wordfreq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One metric and its series: the default one (value NULL) or the one
 * whose only label has the given value. */
static int wf_metric(fdn_telemetry_t *t, const fdn_metric_opts_t *o,
                     const char *value, fdn_series_t **out)
{
    fdn_metric_t *m = fdn_metric_find(t, o->name);
    if (m == NULL) {
        int rc = fdn_metric_create(t, o, &m);
        if (rc != FDN_OK)
            return rc;
    }
    if (value == NULL) {
        *out = fdn_metric_default(m);
        return *out != NULL ? FDN_OK : FDN_EINVAL;
    }
    return fdn_metric_series(m, &value, 1, out);
}

static int wf_plain(fdn_telemetry_t *t, fdn_metric_kind_t kind,
                    const char *name, const char *help, fdn_series_t **out)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, help);
    return wf_metric(t, &o, NULL, out);
}

static int wf_labelled(fdn_telemetry_t *t, fdn_metric_kind_t kind,
                       const char *name, const char *help, const char *label,
                       const char *value, fdn_series_t **out)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, help);
    o.label_names = &label;
    o.n_labels = 1;
    return wf_metric(t, &o, value, out);
}

/* A gauge of seconds (a double), with one label (label NULL: none). */
static int wf_seconds(fdn_telemetry_t *t, const char *name, const char *help,
                      const char *label, const char *value,
                      fdn_series_t **out)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, name, help);
    o.is_double = true;
    if (label != NULL) {
        o.label_names = &label;
        o.n_labels = 1;
    }
    return wf_metric(t, &o, value, out);
}

int wf_metrics_create(fdn_telemetry_t *t, wf_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    static const char skipped_help[] =
        "Paths and files skipped, by why: unreadable, binary (holding a NUL "
        "byte), not_regular (a device, FIFO or socket named as a path).";
    static const char results_help[] =
        "Chunk results the reducer received, by outcome: merged into the "
        "totals, or duplicate (a re-dispatched chunk merged before).";
    static const char strikes_help[] =
        "Chaos strikes, by result: kill (a running mapper killed), skipped "
        "(the target was not running), dropped (given up: chaos fell "
        "behind its schedule).";
    static const char stage_help[] =
        "Wall time of each stage of the job: read (the files), start (the "
        "runtime and the registry), count (agents started to the last "
        "chunk merged), shutdown (agents stopped, runtime and registry "
        "destroyed), output.";
    const fdn_metric_kind_t C = FDN_METRIC_COUNTER, G = FDN_METRIC_GAUGE;
    int rc = FDN_OK;
#define WF_TRY(call)                                                         \
    do {                                                                     \
        if (rc == FDN_OK)                                                    \
            rc = (call);                                                     \
    } while (0)
    WF_TRY(wf_plain(t, C, "wordfreq_files_total", "Files read and counted.",
                    &m->files));
    WF_TRY(wf_plain(t, C, "wordfreq_bytes_total",
                    "Bytes of the files read and counted.", &m->bytes));
    WF_TRY(wf_labelled(t, C, "wordfreq_skipped_total", skipped_help, "why",
                       "unreadable", &m->skipped_unreadable));
    WF_TRY(wf_labelled(t, C, "wordfreq_skipped_total", skipped_help, "why",
                       "binary", &m->skipped_binary));
    WF_TRY(wf_labelled(t, C, "wordfreq_skipped_total", skipped_help, "why",
                       "not_regular", &m->skipped_not_regular));
    WF_TRY(wf_plain(t, G, "wordfreq_agents", "Mapper agents.", &m->agents));
    WF_TRY(wf_plain(t, G, "wordfreq_chunks",
                    "Chunks the files were cut into.", &m->chunks));
    WF_TRY(wf_plain(t, C, "wordfreq_chunks_dispatched_total",
                    "Chunks sent to mappers, re-dispatches included.",
                    &m->dispatched));
    WF_TRY(wf_plain(t, C, "wordfreq_chunks_redispatched_total",
                    "Chunks queued again because their mapper died.",
                    &m->redispatched));
    WF_TRY(wf_labelled(t, C, "wordfreq_results_total", results_help,
                       "outcome", "merged", &m->merged));
    WF_TRY(wf_labelled(t, C, "wordfreq_results_total", results_help,
                       "outcome", "duplicate", &m->duplicates));
    WF_TRY(wf_plain(t, C, "wordfreq_words_total",
                    "Words counted into the result (merged chunks only).",
                    &m->words));
    WF_TRY(wf_plain(t, C, "wordfreq_agent_restarts_total",
                    "Mapper agents restarted by their supervisor.",
                    &m->restarts));
    WF_TRY(wf_labelled(t, C, "wordfreq_chaos_strikes_total", strikes_help,
                       "result", "kill", &m->kills));
    WF_TRY(wf_labelled(t, C, "wordfreq_chaos_strikes_total", strikes_help,
                       "result", "skipped", &m->strikes_skipped));
    WF_TRY(wf_labelled(t, C, "wordfreq_chaos_strikes_total", strikes_help,
                       "result", "dropped", &m->strikes_dropped));
    WF_TRY(wf_seconds(t, "wordfreq_chaos_active_seconds",
                      "How long the chaos process ran.", NULL, NULL,
                      &m->chaos_seconds));
    WF_TRY(wf_seconds(t, "wordfreq_stage_seconds", stage_help, "stage",
                      "read", &m->stage_read));
    WF_TRY(wf_seconds(t, "wordfreq_stage_seconds", stage_help, "stage",
                      "start", &m->stage_start));
    WF_TRY(wf_seconds(t, "wordfreq_stage_seconds", stage_help, "stage",
                      "count", &m->stage_count));
    WF_TRY(wf_seconds(t, "wordfreq_stage_seconds", stage_help, "stage",
                      "shutdown", &m->stage_shutdown));
    WF_TRY(wf_seconds(t, "wordfreq_stage_seconds", stage_help, "stage",
                      "output", &m->stage_output));
    WF_TRY(wf_seconds(t, "wordfreq_elapsed_seconds",
                      "Wall time from the start to the report.", NULL, NULL,
                      &m->elapsed));
    /* Map times: log-linear buckets (8 per power of two, so a quantile is
     * within 6% of the true one) from about 4 us to 64 s. */
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM,
                         "wordfreq_map_duration_seconds",
                         "Time a mapper took to count the words of one "
                         "chunk (re-dispatched chunks once more).");
    o.log_bits = 3;
    o.log_min = 0x1p-18;
    o.log_max = 0x1p6;
    WF_TRY(wf_metric(t, &o, NULL, &m->map_seconds));
#undef WF_TRY
    return rc;
}

/* The series of metric name, or NULL: its default series, or the one
 * whose only label is value. */
static const fdn_series_t *wf_find(fdn_telemetry_t *t, const char *name,
                                   const char *value)
{
    fdn_metric_t *m = fdn_metric_find(t, name);
    if (m == NULL)
        return NULL;
    if (value == NULL)
        return fdn_metric_default(m);
    fdn_series_t *s;
    return fdn_metric_series(m, &value, 1, &s) == FDN_OK ? s : NULL;
}

int64_t wf_metrics_gauge(fdn_telemetry_t *t, const char *name,
                         const char *value)
{
    fdn_series_value_t v;
    const fdn_series_t *s = wf_find(t, name, value);
    if (s == NULL || fdn_series_read(s, &v) != FDN_OK)
        return 0;
    return v.gauge_int;
}

uint64_t wf_metrics_counter(fdn_telemetry_t *t, const char *name,
                            const char *value)
{
    const fdn_series_t *s = wf_find(t, name, value);
    return s != NULL ? fdn_counter_value(s) : 0;
}

fdn_telemetry_http_t *wf_metrics_serve(fdn_telemetry_t *t, unsigned port)
{
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    o.port = (uint16_t)port;
    fdn_telemetry_http_t *h = NULL;
    int rc = fdn_telemetry_http_start(t, &o, &h);
    if (rc != FDN_OK) {
        fprintf(stderr,
                "wordfreq: warning: --metrics-port %u: cannot serve /metrics "
                "(%s: %s); going on without it\n",
                port, fdn_errname(rc), fdn_strerror(rc));
        return NULL;
    }
    fprintf(stderr, "wordfreq: serving metrics at http://127.0.0.1:%u/metrics\n",
            (unsigned)fdn_telemetry_http_port(h));
    return h;
}

int wf_metrics_write(fdn_telemetry_t *t, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fdn_telemetry_prometheus(t, &text, &len);
    if (rc != FDN_OK) {
        fprintf(stderr,
                "wordfreq: warning: --metrics-out %s: no exposition to write "
                "(%s: %s); the file is left as it was\n",
                path, fdn_errname(rc), fdn_strerror(rc));
        return -1;
    }
    FILE *f = fopen(path, "w");
    int err = f == NULL ? errno : 0;
    if (f != NULL) {
        if (fwrite(text, 1, len, f) != len)
            err = errno ? errno : EIO;
        if (fclose(f) != 0 && err == 0)
            err = errno;
    }
    fdn_telemetry_free(t, text);
    if (err != 0) {
        fprintf(stderr, "wordfreq: warning: --metrics-out %s: %s\n", path,
                strerror(err));
        return -1;
    }
    return 0;
}
