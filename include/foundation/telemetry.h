/*
 * foundation/telemetry.h — events, spans and metrics that cost nanoseconds,
 * exported as Prometheus text over HTTP and as a JSON snapshot.
 *
 * A telemetry hub (fdn_telemetry_t) holds two things:
 *
 * Events.  An event has a dotted name ("registry.register.stop"), named
 * numeric measurements and typed metadata.  Handlers attach to a pattern:
 * an exact name ("a.b"), a prefix ("a.b.*", which matches "a.b" itself and
 * every name below it, "a.b.c" but never "a.bc"), or "*" (every event).
 * fdn_telemetry_emit runs the matching handlers on the calling thread, in
 * the order they were attached.  A handler that returns non-zero has failed:
 * it is detached, the event "telemetry.handler.failure" says so, and the
 * other handlers of the event still run.  Emitting with no handler attached
 * is one relaxed load.  Spans (fdn_span_start / _stop / _exception) emit
 * "<name>.start", "<name>.stop" and "<name>.exception" with monotonic
 * durations, span ids and parent links.
 *
 * Metrics.  A metric (fdn_metric_t) has a Prometheus name, help text, a kind
 * (counter, gauge, histogram, summary) and up to FDN_METRIC_MAX_LABELS label
 * names.  Each set of label values is a series (fdn_series_t); the values
 * are recorded into series.  A metric admits at most max_series label sets:
 * a new set past the limit is refused with FDN_ELIMIT and counted (the
 * counter fdn_telemetry_series_refused_total{metric="..."}), never silently
 * dropped.  Series live until the hub is destroyed, so a series pointer may
 * be kept and used from any thread for the hub's whole life.
 *
 * Recording (fdn_counter_*, fdn_gauge_*, fdn_metric_observe) never locks and
 * never allocates.  Counters and histograms are sharded: each recording
 * thread owns one shard (a "slot") and adds to its own cells with a plain
 * load and store; readers sum the shards.  So two threads hammering one
 * counter lose nothing, and a read taken after the writers finished is
 * exact.  A read taken while they run sees each shard at some moment during
 * the read (a counter read never goes down between two reads from one
 * thread); a histogram read counts an observation in a bucket only once
 * its sum, min and max hold it (they may hold a few observations more
 * than the buckets count, never fewer).  There are a fixed number of
 * slots, 4 per CPU between 8 and 64, fixed at the first hub's creation;
 * threads beyond that many at once share one extra slot that is updated
 * with atomic read-modify-writes, correct and slower.  A thread gives its
 * slot back when it exits.  Gauges are a single atomic each (set is a
 * store, add an atomic add), because "the last value set" has no meaning
 * across shards.
 *
 * Memory.  Each hub reserves, at creation, address space for its cells
 * (max_cells 8-byte cells per slot, MAP_NORESERVE, touched when a series is
 * created, never on the hot path).  A series of a counter takes one cell per
 * slot; a histogram (buckets + 4) cells per slot.  fdn_telemetry_stats says
 * what is in use.
 *
 * Export.  fdn_telemetry_prometheus writes the text exposition format
 * (version 0.0.4) of every metric; fdn_telemetry_json a JSON snapshot;
 * fdn_telemetry_http_start serves both (GET /metrics and GET
 * /metrics.json) with libmicrohttpd, bound to 127.0.0.1 unless told
 * otherwise, optionally requiring a bearer token.  Collectors
 * (fdn_telemetry_collector_add) run before every export, to refresh gauges
 * from elsewhere; fdn_telemetry_instrument_runtime and
 * fdn_telemetry_instrument_registry add the collectors for the runtime's and
 * a registry's numbers.
 *
 * Threads.  Every function may be called from any thread, concurrently with
 * every other, except fdn_telemetry_destroy, which must not race with any
 * other call on the same hub (stop its HTTP servers first).  Handlers and
 * collectors run on the thread that emitted or exported; a handler may emit,
 * attach and detach (a detach from inside a handler returns at once, without
 * waiting for other threads still running the detached handler).
 */
#ifndef FOUNDATION_TELEMETRY_H
#define FOUNDATION_TELEMETRY_H

#include "foundation/common.h"
#include "foundation/registry.h"
#include "foundation/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fdn_telemetry fdn_telemetry_t;
typedef struct fdn_metric fdn_metric_t;
typedef struct fdn_series fdn_series_t;

/* ------------------------------------------------------------------------ */
/* Hub                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct fdn_telemetry_opts {
    size_t size;                      /* sizeof(fdn_telemetry_opts_t) */
    fdn_clock_t *clock;               /* keeps; event times and spans;
                                       * NULL = fdn_clock_monotonic() */
    const fdn_allocator_t *allocator; /* keeps; NULL = default */
    uint32_t max_metrics;             /* 0 = 1024 (the hub's own
                                       * fdn_telemetry_series_refused_total
                                       * is not counted) */
    uint32_t max_series;              /* default per metric; 0 = 1000 */
    uint32_t max_cells;               /* 8-byte cells per slot; 0 = 1 << 20 */
} fdn_telemetry_opts_t;

static inline void fdn_telemetry_opts_init(fdn_telemetry_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_metrics = 1024;
    opts->max_series = 1000;
    opts->max_cells = 1u << 20;
}

/*
 * Creates a hub.  opts may be NULL.  Errors: FDN_EINVAL (bad opts),
 * FDN_ENOMEM, FDN_ESYS (the cell reservation failed).
 */
FDN_API int fdn_telemetry_create(const fdn_telemetry_opts_t *opts,
                                 fdn_telemetry_t **out);
/* Frees the hub, its metrics and series, and detaches every handler and
 * collector.  NULL does nothing.  No other call on t may race with it. */
FDN_API void fdn_telemetry_destroy(fdn_telemetry_t *t);

typedef struct fdn_telemetry_stats {
    uint64_t metrics;          /* metrics created (as max_metrics, not
                                * counting the hub's own
                                * fdn_telemetry_series_refused_total) */
    uint64_t series;           /* series created, over those metrics */
    uint64_t series_refused;   /* label sets refused by a max_series */
    uint64_t cells_used;       /* cells in use per slot */
    uint64_t cells_max;        /* max_cells */
    uint64_t handlers;         /* handlers attached now */
    uint64_t handler_failures; /* handlers detached because they failed */
    uint64_t misuse;           /* recordings into a series of another kind,
                                * NaN observations and NaN into an integer
                                * gauge, and events a metric fed by events
                                * skipped for their value (negative or NaN)
                                * or a string label value refused; nothing
                                * recorded */
    unsigned slots;            /* exclusive slots (the shared one aside) */
} fdn_telemetry_stats_t;
/* Fills out (NULL does nothing; NULL t zeroes it). */
FDN_API void fdn_telemetry_stats(const fdn_telemetry_t *t,
                                 fdn_telemetry_stats_t *out);

/* Frees a buffer returned by fdn_telemetry_prometheus or _json of the same
 * hub t (through t's allocator).  NULL buf does nothing; so does NULL t,
 * which cannot know the allocator (the buffer is then not freed). */
FDN_API void fdn_telemetry_free(fdn_telemetry_t *t, void *buf);

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

#define FDN_METRIC_MAX_LABELS 8
#define FDN_METRIC_NAME_MAX 200     /* bytes of a metric or label name */
#define FDN_METRIC_LABEL_VALUE_MAX 1024 /* bytes of one label value */
#define FDN_METRIC_MAX_BUCKETS 4096 /* explicit or log-linear */
#define FDN_METRIC_MAX_QUANTILES 16

typedef enum fdn_metric_kind {
    FDN_METRIC_COUNTER = 1,   /* unsigned 64-bit, only goes up */
    FDN_METRIC_GAUGE = 2,     /* int64, or double when is_double */
    FDN_METRIC_HISTOGRAM = 3, /* explicit or log-linear buckets */
    FDN_METRIC_SUMMARY = 4    /* quantiles from log-linear buckets */
} fdn_metric_kind_t;

typedef struct fdn_metric_opts {
    size_t size;               /* sizeof(fdn_metric_opts_t) */
    fdn_metric_kind_t kind;
    const char *name;          /* borrows; [a-zA-Z_:][a-zA-Z0-9_:]* */
    const char *help;          /* borrows; any UTF-8, NULL = "" */
    const char *const *label_names; /* borrows; [a-zA-Z_][a-zA-Z0-9_]*, not
                                * starting "__", distinct, never "le" in a
                                * histogram nor "quantile" in a summary */
    size_t n_labels;           /* <= FDN_METRIC_MAX_LABELS */
    uint32_t max_series;       /* 0 = the hub's max_series */
    bool is_double;            /* gauges: hold a double */
    /* Histograms: explicit bucket upper bounds (finite, strictly
     * increasing; "+Inf" is implicit), or, when buckets is NULL, log-linear
     * buckets.  A bucket counts the values v with previous bound < v <=
     * its bound, as Prometheus's "le" says. */
    const double *buckets;     /* borrows */
    size_t n_buckets;
    /* Log-linear buckets (histograms without explicit buckets, and every
     * summary): each power of two in [log_min, log_max) is split into
     * 2^log_bits equal buckets, so a bucket's width is at most 2^-log_bits
     * of its lower bound, and a quantile estimated at a bucket's midpoint
     * is within a relative error of 2^-(log_bits+1) of the true sample of
     * that rank when it lies in the range.  log_min is rounded down and
     * log_max up to powers of two.  Values <= log_min go to the first
     * bucket, values > log_max to +Inf.  Zero means the default: log_bits
     * 3 for histograms and 5 for summaries, log_min 2^-20 (about 1e-6),
     * log_max 2^20 (about 1e6).  The buckets, (log2 log_max - log2 log_min)
     * * 2^log_bits of them, may not pass FDN_METRIC_MAX_BUCKETS: log_bits 7
     * and 8 need a range narrower than the default's 40 powers of two. */
    unsigned log_bits;         /* 1..8 */
    double log_min, log_max;   /* DBL_MIN <= log_min < log_max <= 2^1000 */
    /* Summaries: the quantiles to export (each in [0, 1], distinct); NULL
     * (with n_quantiles 0) = 0.5, 0.9, 0.99, 0.999; a list needs its count
     * and a count its list.  An option that does not apply to the kind is
     * FDN_EINVAL rather than ignored: buckets, log_* or quantiles of a
     * counter or gauge, explicit buckets of a summary, quantiles of a
     * histogram, explicit buckets together with log_*, is_double of
     * anything but a gauge. */
    const double *quantiles;   /* borrows */
    size_t n_quantiles;
} fdn_metric_opts_t;

static inline void fdn_metric_opts_init(fdn_metric_opts_t *opts,
                                        fdn_metric_kind_t kind,
                                        const char *name, const char *help)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->kind = kind;
    opts->name = name;
    opts->help = help;
}

/*
 * Creates a metric in t.  Errors: FDN_EINVAL (any bad option, said above:
 * a bad name or label name, a wrong bucket list, a quantile outside [0, 1]
 * or repeated, log_bits or log_min/log_max out of range, too many
 * log-linear buckets, an option of another kind), FDN_EEXIST (a metric of that name exists; see
 * fdn_metric_find; or the name clashes with a sample name another metric
 * writes, as a gauge "lat_count" beside a histogram "lat" would),
 * FDN_ELIMIT (max_metrics reached), FDN_ENOMEM (memory or
 * cells).  A metric without labels has its one series at once
 * (fdn_metric_series with no values never fails for it); a metric with
 * labels has its series of fdn_telemetry_series_refused_total at once
 * (one cell, exported as 0 until a refusal), so a refusal is always
 * counted, even when no memory or cell is left.
 */
FDN_API int fdn_metric_create(fdn_telemetry_t *t, const fdn_metric_opts_t *opts,
                              fdn_metric_t **out);
/* The metric named name, or NULL. */
FDN_API fdn_metric_t *fdn_metric_find(fdn_telemetry_t *t, const char *name);
FDN_API const char *fdn_metric_name(const fdn_metric_t *m);
FDN_API fdn_metric_kind_t fdn_metric_kind(const fdn_metric_t *m);
/* Series the metric holds, and label sets it refused. */
FDN_API uint64_t fdn_metric_series_count(const fdn_metric_t *m);
FDN_API uint64_t fdn_metric_refused(const fdn_metric_t *m);

/*
 * The series of m for these label values (n must be the metric's label
 * count; values borrowed, valid UTF-8, at most FDN_METRIC_LABEL_VALUE_MAX
 * bytes each).  Finding an existing series is lock-free and allocates
 * nothing; creating one takes the metric's lock.  Errors: FDN_EINVAL
 * (wrong count, NULL or oversized value, a value that is not valid UTF-8:
 * Prometheus accepts no other), FDN_ELIMIT (a new label set past
 * max_series: refused and counted), FDN_ENOMEM.
 */
FDN_API int fdn_metric_series(fdn_metric_t *m, const char *const *values,
                              size_t n, fdn_series_t **out);
/* The series of a metric without labels (NULL for a labelled metric). */
FDN_API fdn_series_t *fdn_metric_default(fdn_metric_t *m);

/*
 * Recording.  Any thread; never locks, never allocates.  A recording into
 * a series of another kind records nothing and is counted as misuse, as is
 * a NaN observation.  NULL s does nothing.
 */
/* Adds n; the value saturates at UINT64_MAX and never wraps. */
FDN_API void fdn_counter_add(fdn_series_t *s, uint64_t n);
FDN_API void fdn_counter_inc(fdn_series_t *s);
/* Gauges: integer calls on a double gauge convert, and the other way
 * (doubles round to the nearest integer, halves away from zero; NaN is
 * misuse).  On an integer gauge, set_double saturates at the int64 range
 * and so does the sum of add_double; fdn_gauge_add wraps around in two's
 * complement, as an int64 add would, where a counter saturates. */
FDN_API void fdn_gauge_set(fdn_series_t *s, int64_t v);
FDN_API void fdn_gauge_add(fdn_series_t *s, int64_t delta);
FDN_API void fdn_gauge_set_double(fdn_series_t *s, double v);
FDN_API void fdn_gauge_add_double(fdn_series_t *s, double delta);
/* Histograms and summaries: records one value (+-Inf allowed). */
FDN_API void fdn_metric_observe(fdn_series_t *s, double v);

/*
 * Reading (any thread; exact once the writers have finished).
 */
typedef struct fdn_series_value {
    fdn_metric_kind_t kind;
    uint64_t counter;          /* counters */
    int64_t gauge_int;         /* gauges (both forms filled) */
    double gauge;
    uint64_t count;            /* histograms, summaries */
    double sum;
    double min, max;           /* NaN when count == 0 */
} fdn_series_value_t;
/* Errors: FDN_EINVAL (NULL), FDN_ENOMEM (a histogram or summary of more
 * than 64 buckets reads its merged counts into a buffer from the hub's
 * allocator; so do fdn_series_quantile and fdn_series_buckets). */
FDN_API int fdn_series_read(const fdn_series_t *s, fdn_series_value_t *out);
FDN_API uint64_t fdn_counter_value(const fdn_series_t *s);
FDN_API double fdn_gauge_value(const fdn_series_t *s);
/*
 * The q-quantile (0 <= q <= 1) of a histogram or summary series: the value
 * of rank ceil(q * count) (rank 1 for q == 0), estimated at the midpoint of
 * its bucket and clamped to the observed [min, max] (so q = 0 and q = 1 are
 * exact, and so is every quantile of one sample).  Explicit buckets
 * interpolate linearly inside the bucket as Prometheus's histogram_quantile
 * does (a bucket with an infinite edge, from a -Inf or +Inf sample,
 * answers with its finite edge).  NaN for an empty series.  Summaries are
 * cumulative: every value observed since the series was created counts
 * (there is no sliding time window).  Errors: FDN_EINVAL (q outside
 * [0, 1], not a histogram or summary), FDN_ENOMEM.
 */
FDN_API int fdn_series_quantile(const fdn_series_t *s, double q, double *out);
/*
 * Cumulative bucket counts of a histogram series: upper[i] and cum[i] for
 * each bucket in order, the last one +Inf with cum == count.  Log-linear
 * histograms list only the buckets whose count is not zero (and +Inf).
 * *n receives the number of buckets; at most cap are written.  Errors:
 * FDN_EINVAL (not a histogram), FDN_ENOMEM.
 */
FDN_API int fdn_series_buckets(const fdn_series_t *s, double *upper,
                               uint64_t *cum, size_t cap, size_t *n);

/* ------------------------------------------------------------------------ */
/* Events and handlers                                                      */
/* ------------------------------------------------------------------------ */

#define FDN_TELEMETRY_NAME_MAX 255 /* bytes of an event name or pattern */

typedef struct fdn_telemetry_measurement {
    const char *name;
    double value;
} fdn_telemetry_measurement_t;

typedef enum fdn_telemetry_meta_kind {
    FDN_TMETA_STR = 1,
    FDN_TMETA_INT = 2,
    FDN_TMETA_UINT = 3,
    FDN_TMETA_DOUBLE = 4
} fdn_telemetry_meta_kind_t;

typedef struct fdn_telemetry_meta {
    const char *key;
    fdn_telemetry_meta_kind_t kind;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
    } v;
} fdn_telemetry_meta_t;

/* Compound literals for metadata: FDN_TMETA_S("key", "value"). */
#define FDN_TMETA_S(k, x) ((fdn_telemetry_meta_t){.key = (k), .kind = FDN_TMETA_STR, .v.s = (x)})
#define FDN_TMETA_I(k, x) ((fdn_telemetry_meta_t){.key = (k), .kind = FDN_TMETA_INT, .v.i = (x)})
#define FDN_TMETA_U(k, x) ((fdn_telemetry_meta_t){.key = (k), .kind = FDN_TMETA_UINT, .v.u = (x)})
#define FDN_TMETA_D(k, x) ((fdn_telemetry_meta_t){.key = (k), .kind = FDN_TMETA_DOUBLE, .v.d = (x)})

typedef struct fdn_telemetry_event {
    const char *name;
    uint64_t time_ns;          /* the hub's clock at emission: for the
                                * real clock its coarse reading (within a
                                * tick or so, never ahead); spans' events
                                * carry the exact time their durations
                                * use */
    const fdn_telemetry_measurement_t *measurements;
    size_t n_measurements;
    const fdn_telemetry_meta_t *metadata;
    size_t n_metadata;
} fdn_telemetry_event_t;

/* A handler: returns 0, or non-zero to say it failed (it is detached).  The
 * event and everything it points to are borrowed for the call. */
typedef int (*fdn_telemetry_handler_fn)(const fdn_telemetry_event_t *ev,
                                        void *ctx);

/*
 * Attaches fn(ctx) to the events matching pattern (see the top of this
 * header).  *id (may be NULL) receives the handler's id, never 0, before
 * the handler can first run (so a handler may read it from ctx to detach
 * itself); unchanged on error.  Errors:
 * FDN_EINVAL (NULL fn, a pattern that is empty, too long, has an empty
 * segment, or a "*" anywhere but as the whole pattern or its last segment),
 * FDN_ENOMEM.
 */
FDN_API int fdn_telemetry_attach(fdn_telemetry_t *t, const char *pattern,
                                 fdn_telemetry_handler_fn fn, void *ctx,
                                 uint64_t *id);
/*
 * Detaches handler id.  Outside a handler it returns after every call of
 * that handler running on another thread has returned, so ctx may be freed;
 * inside a handler (of any hub), or inside any other callback the library
 * runs within an RCU read-side section (registry foreach, dispatch and
 * keys callbacks), it cannot wait and returns at once.  Errors: FDN_ENOENT
 * (no such handler: never attached, already detached, or detached because
 * it failed; outside a handler this still waits as above, so that ctx may
 * then be freed even if the handler failed and is finishing elsewhere).
 */
FDN_API int fdn_telemetry_detach(fdn_telemetry_t *t, uint64_t id);
/* True if some handler matches name (to skip building a costly event). */
FDN_API bool fdn_telemetry_is_listened(fdn_telemetry_t *t, const char *name);
/*
 * Emits an event: runs the matching handlers now, on this thread.  Arrays
 * are borrowed; n_* may be 0 with NULL arrays.  A bad name (NULL, empty,
 * too long) emits nothing.
 */
FDN_API void fdn_telemetry_emit(fdn_telemetry_t *t, const char *name,
                                const fdn_telemetry_measurement_t *m,
                                size_t n_m, const fdn_telemetry_meta_t *md,
                                size_t n_md);

/* ------------------------------------------------------------------------ */
/* Spans                                                                    */
/* ------------------------------------------------------------------------ */

/* A span lives in the caller's storage (usually the stack) from start to
 * stop or exception; it need not be initialised before start.  Its fields
 * are the library's; read them, do not write them.  A span ends on the
 * thread that started it. */

/* Most metadata a span call passes on (md, n_md). */
#define FDN_SPAN_MAX_META 32

typedef struct fdn_span {
    fdn_telemetry_t *telemetry;
    const char *name;          /* borrowed until stop */
    uint64_t id;               /* never 0, unique in the process */
    uint64_t parent_id;        /* 0 for a root span */
    uint64_t start_ns;
    struct fdn_span *outer;    /* the thread's previous current span */
    bool is_open;
} fdn_span_t;

/*
 * Starts a span: emits "<name>.start" with the measurement monotonic_time
 * (ns) and metadata span_id and parent_id, then md.  parent NULL means the
 * innermost open span of this thread (none: a root span).  The span becomes
 * this thread's current span.  Errors: FDN_EINVAL (NULL argument, an empty
 * name or one too long for the suffixes, n_md over FDN_SPAN_MAX_META, a
 * span already open on this thread).  A span open on another thread must
 * not be started again: that cannot be told from uninitialised storage,
 * which start accepts, and it would corrupt the other thread's chain.
 */
FDN_API int fdn_span_start(fdn_telemetry_t *t, fdn_span_t *span,
                           const char *name, const fdn_span_t *parent,
                           const fdn_telemetry_meta_t *md, size_t n_md);
/* Ends the span: emits "<name>.stop" with measurements duration (ns) and
 * monotonic_time, metadata span_id and parent_id, then md.  Inner spans
 * still open stay open.  Errors: FDN_EINVAL (NULL, a span not open, n_md
 * over FDN_SPAN_MAX_META), FDN_ETHREAD (open, on another thread: the
 * call reads only is_open, atomically, so it is safe while the owner
 * works on the span). */
FDN_API int fdn_span_stop(fdn_span_t *span, const fdn_telemetry_meta_t *md,
                          size_t n_md);
/* Ends the span with a failure: "<name>.exception", as stop plus metadata
 * kind and reason (strings; NULL = ""). */
FDN_API int fdn_span_exception(fdn_span_t *span, const char *kind,
                               const char *reason,
                               const fdn_telemetry_meta_t *md, size_t n_md);
/* The id of this thread's innermost open span, 0 if none. */
FDN_API uint64_t fdn_span_current_id(void);

/* ------------------------------------------------------------------------ */
/* Metrics fed by events                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Feeds metric m from event event_name (an exact name), as telemetry_metrics
 * does: a counter counts the events (measurement NULL) or adds the
 * measurement (values < 0 and NaN are skipped and counted as misuse); a
 * gauge takes the measurement's last value; a histogram or summary observes
 * it.  The metric's labels take their values from the metadata keys
 * label_keys (one per label, in order; integers are written in decimal,
 * doubles in the shortest form that reads back); an event lacking one of
 * them, or lacking the measurement, records nothing (nor does a label set
 * the metric refuses, which fdn_metric_refused counts, nor a string value
 * fdn_metric_series refuses, counted as misuse); an event skipped for its
 * value creates no series.  A counter adds the measurement rounded to the
 * nearest integer, saturating.
 * *id (may be NULL) is the handler's id, for fdn_telemetry_detach.  Errors:
 * FDN_EINVAL (bad names, an event name that is not exact, a label key
 * count that is not the metric's, a NULL measurement for a metric that is
 * not a counter, m of another hub), FDN_ENOMEM.
 */
FDN_API int fdn_telemetry_metric_from_event(fdn_telemetry_t *t,
                                            fdn_metric_t *m,
                                            const char *event_name,
                                            const char *measurement,
                                            const char *const *label_keys,
                                            size_t n_label_keys,
                                            uint64_t *id);

/* ------------------------------------------------------------------------ */
/* Collectors and export                                                    */
/* ------------------------------------------------------------------------ */

/* A collector refreshes metrics (usually gauges) before an export. */
typedef void (*fdn_telemetry_collect_fn)(fdn_telemetry_t *t, void *ctx);
/* Adds a collector, run before every export (one export at a time runs
 * collectors, in the order they were added).  A collector may record,
 * create metrics, attach and detach handlers (detach waits as it does
 * outside a handler), stop an HTTP server (see fdn_telemetry_http_stop),
 * and export.  Collectors never
 * run inside a collector (of any hub) or inside an event handler (or
 * another RCU read-side callback): an export or collect there runs none
 * and reads the values as last refreshed, and adding or removing a
 * collector there never waits: FDN_EBUSY if another thread is running
 * that hub's collectors (always, for a collector's own hub).  *id may be
 * NULL; it is set before the collector can first run.  Errors:
 * FDN_EINVAL, FDN_ENOMEM, FDN_EBUSY (see above). */
FDN_API int fdn_telemetry_collector_add(fdn_telemetry_t *t,
                                        fdn_telemetry_collect_fn fn,
                                        void *ctx, uint64_t *id);
/* Removes it; returns after any run of it has finished.  Errors:
 * FDN_ENOENT, FDN_EBUSY (called from a collector or a handler while t's
 * collectors run; see fdn_telemetry_collector_add). */
FDN_API int fdn_telemetry_collector_remove(fdn_telemetry_t *t, uint64_t id);
/* Runs every collector now, as an export does before it reads, so that
 * fdn_series_read, fdn_counter_value and the like see fresh values (the
 * runtime's and a registry's, for instance) without an export.  Any
 * thread; from a collector or a handler it does nothing.  NULL does
 * nothing. */
FDN_API void fdn_telemetry_collect(fdn_telemetry_t *t);

/*
 * The Prometheus text exposition (format 0.0.4) of every metric, in
 * creation order: HELP (backslash and newline escaped) and TYPE lines, then
 * one line per series (label values with backslash, double quote and
 * newline escaped); histograms as cumulative _bucket lines ending with
 * le="+Inf", then _sum and _count; summaries as quantile lines, _sum and
 * _count.  Values are written as Prometheus reads them: counters and
 * integer gauges as integers, doubles in the shortest form that reads back
 * exactly, "+Inf", "-Inf", "NaN"; log-linear histograms list only their
 * non-empty buckets and +Inf.  Help text that is not valid UTF-8 has each
 * bad byte replaced by U+FFFD (label values are valid UTF-8:
 * fdn_metric_series refuses others).  Collectors run first.
 * *out is NUL-terminated, *len (may be NULL) its length; free it with
 * fdn_telemetry_free.  Errors: FDN_EINVAL (NULL t or out), FDN_ENOMEM
 * (*out is then NULL and nothing is held).
 */
FDN_API int fdn_telemetry_prometheus(fdn_telemetry_t *t, char **out,
                                     size_t *len);
/*
 * A JSON snapshot: {"metrics": [{"name", "type", "help", "labels": [...],
 * "series": [{"labels": {...}, "value" | "count", "sum", "min", "max",
 * "buckets": [[le, cumulative], ...], "quantiles": {"0.5": v, ...}}]}],
 * "stats": {...}}: "value" for counters and gauges; "count", "sum", "min",
 * "max" and "buckets" (the exposition's) for histograms, "quantiles" for
 * summaries; "stats" holds fdn_telemetry_stats' fields.  Non-finite
 * numbers are written as the strings "NaN", "+Inf", "-Inf", and counters
 * above INT64_MAX as their exact decimal string.  Doubles are written with
 * 17 significant digits (exact, not shortest).  Free with
 * fdn_telemetry_free.  Errors: FDN_EINVAL (NULL t or out), FDN_ENOMEM.
 */
FDN_API int fdn_telemetry_json(fdn_telemetry_t *t, char **out, size_t *len);

typedef struct fdn_telemetry_http fdn_telemetry_http_t;
typedef struct fdn_telemetry_http_opts {
    size_t size;               /* sizeof(fdn_telemetry_http_opts_t) */
    const char *address;       /* borrows; IPv4 or IPv6 literal (no zone
                                * id); NULL = "127.0.0.1" */
    uint16_t port;             /* 0 = any free port (see _http_port) */
    const char *token;         /* borrows (copied); when set (not empty),
                                * requests need "Authorization: Bearer
                                * <token>" (401) */
} fdn_telemetry_http_opts_t;

static inline void fdn_telemetry_http_opts_init(fdn_telemetry_http_opts_t *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

/*
 * Serves t over HTTP on its own thread: GET (or HEAD) /metrics gives the
 * Prometheus text (Content-Type "text/plain; version=0.0.4;
 * charset=utf-8"), /metrics.json the JSON snapshot (application/json).
 * Checked in this order: a missing or wrong token is 401 whatever was
 * asked; a method other than GET and HEAD 405 (with Allow); another path
 * 404; an export out of memory 503.  Requests are answered one at a time;
 * a connection idle for 10 s is closed (libmicrohttpd also caps open
 * connections, so a local client holding very many idle ones can delay a
 * scrape by up to that long: the loopback default keeps this local).
 * t is kept until _http_stop.  opts may be NULL.  Errors: FDN_EINVAL (NULL
 * t or out, bad opts size, an address that is not an IP literal, an empty
 * token), FDN_ESYS (could not bind or start: the port is taken, the
 * address is not this host's), FDN_ENOMEM; on error nothing was started.
 */
FDN_API int fdn_telemetry_http_start(fdn_telemetry_t *t,
                                     const fdn_telemetry_http_opts_t *opts,
                                     fdn_telemetry_http_t **out);
/* The port it listens on. */
FDN_API uint16_t fdn_telemetry_http_port(const fdn_telemetry_http_t *h);
/* Stops serving (waits for the request in flight, closes the socket) and
 * frees h.  A collector may call it: a request in flight that is waiting
 * for the collectors' lock stops waiting and is answered without them.
 * It cannot run where the server's thread may be waiting for the caller:
 * inside an event handler (or another RCU read-side callback), or on the
 * server's own thread (a collector run by its scrape); there it stops
 * nothing and answers FDN_EBUSY.  NULL does nothing (FDN_OK). */
FDN_API int fdn_telemetry_http_stop(fdn_telemetry_http_t *h);

/* ------------------------------------------------------------------------ */
/* Instrumentation of the other modules                                     */
/* ------------------------------------------------------------------------ */

/*
 * Adds the runtime's metrics to t and a collector that refreshes them from
 * fdn_runtime_stats at every export (and fdn_telemetry_collect):
 *   fdn_processes_alive                       gauge
 *   fdn_processes_spawned_total               counter
 *   fdn_process_exits_total{reason}           counter; reason is "normal",
 *                                             "shutdown", "killed" (kill
 *                                             included) or "other"
 *   fdn_messages_sent_total                   counter
 *   fdn_scheduler_run_queue_length{scheduler} gauge; scheduler "0", "1", ..
 *   fdn_schedulers                            gauge
 * A counter follows its source: each collection adds what the source
 * gained since the last, so the exported value equals the runtime's own
 * count (its whole life, also what happened before this call) whenever
 * the runtime is quiescent.  *id (may be NULL) is the collector's id:
 * remove it (or destroy t) before destroying rt; the metrics stay, with
 * their last values.  A hub takes one runtime in its life (the metrics
 * carry no label telling two apart).  Errors: FDN_EINVAL (NULL),
 * FDN_EEXIST (t has a runtime's metrics already, also after their
 * collector was removed, or a metric of one of these names but another
 * kind or labels), FDN_ELIMIT (t's max_metrics), FDN_ENOMEM.  A metric
 * that a failed call created stays (a metric cannot be removed) and reads
 * zero; a later call reuses it.
 */
FDN_API int fdn_telemetry_instrument_runtime(fdn_telemetry_t *t,
                                             fdn_runtime_t *rt, uint64_t *id);
/*
 * Adds a registry's metrics and their collector (fdn_registry_stats):
 *   fdn_registry_entries{ns}             gauge: entries of each namespace
 *                                        named in ns_names (0 while it
 *                                        does not exist; not created)
 *   fdn_registry_owners                  gauge: owner records
 *   fdn_registry_operations_total{op}    counter; op is "register",
 *                                        "unregister", "join", "leave",
 *                                        "update", "touch", "evict",
 *                                        "expire" (fdn_registry_stats_t)
 *   fdn_registry_cleanups_total          counter: entries removed because
 *                                        their owner died
 * ns_names (n_ns of them) is borrowed for the call (NULL with n_ns 0 =
 * none, only the registry-wide numbers); each is a namespace name (1 to
 * FDN_REGISTRY_NS_MAX bytes, valid UTF-8 as every label value).  Same
 * rules as above: counters equal the registry's counts when it is
 * quiescent, one registry per hub, remove the collector (or destroy t)
 * before destroying reg.  Errors: FDN_EINVAL (NULL t or reg, NULL
 * ns_names with n_ns > 0, a NULL, empty, too long or non-UTF-8 name;
 * nothing is created), FDN_EEXIST, FDN_ELIMIT, FDN_ENOMEM, as above.
 */
FDN_API int fdn_telemetry_instrument_registry(fdn_telemetry_t *t,
                                              fdn_registry_t *reg,
                                              const char *const *ns_names,
                                              size_t n_ns, uint64_t *id);

#ifdef __cplusplus
}
#endif

#endif /* FOUNDATION_TELEMETRY_H */
