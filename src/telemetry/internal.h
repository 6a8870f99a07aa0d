/*
 * telemetry/internal.h — the telemetry module's private structures, shared
 * by its files:
 *
 *   slots.c     the per-thread slot a recording thread owns (shards)
 *   telemetry.c the hub: creation, cells, stats, destroy
 *   metric.c    metric creation and option checks; series lookup/creation
 *   record.c    the hot path: counters, gauges, observations; reads,
 *               quantiles, buckets
 *   events.c    handlers, emit, failure events
 *   span.c      spans
 *   from_event.c metrics fed by events
 *   collect.c   collectors
 *   prom.c      the Prometheus text exposition
 *   json.c      the JSON snapshot (jansson)
 *   http.c      the HTTP endpoint (libmicrohttpd)
 *   instrument.c the runtime's and the registry's metrics
 *
 * Shared-field rules are stated at each field: immutable after creation,
 * guarded by a named lock, owner thread only, or atomic.
 */
#ifndef FDN_TELEMETRY_INTERNAL_H
#define FDN_TELEMETRY_INTERNAL_H

#include "foundation/telemetry.h"
#include "internal/common.h"

#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* Slots (slots.c)                                                          */
/* ------------------------------------------------------------------------ */

#define FDN__TEL_SLOTS_MIN 8
#define FDN__TEL_SLOTS_MAX 64

/* Exclusive slots: fixed by fdn__tel_slots_init (idempotent, thread safe)
 * before the first hub exists; immutable afterwards.  Slot index
 * fdn__tel_nslots is the shared slot. */
extern unsigned fdn__tel_nslots;
void fdn__tel_slots_init(void);

/* This thread's exclusive slot + 1, or 0 before its first claim and while
 * it records on the shared slot (thread-local;
 * initial-exec so that the hot path reads it without __tls_get_addr, as
 * the registry's thread state does). */
extern _Thread_local unsigned fdn__tel_my_slot
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
/* Claims a slot for this thread (an exclusive one if free, else the
 * shared one) and returns it.  Called on a thread's first recording, and
 * on every recording of a thread on the shared slot (which scans again
 * for an exclusive slot now and then); it allocates nothing (a pthread key
 * releases the slot at thread exit; the key was created by
 * fdn__tel_slots_init). */
unsigned fdn__tel_slot_claim(void);

static inline unsigned fdn__tel_slot(void)
{
    unsigned s = fdn__tel_my_slot;
    if (__builtin_expect(s != 0, 1))
        return s - 1;
    return fdn__tel_slot_claim();
}

/* Exclusive slots owned now (for tests). */
unsigned fdn__tel_slots_in_use(void);

/* ------------------------------------------------------------------------ */
/* Series and metrics                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Cells of a histogram or summary series, in each slot: counts[nb] (the
 * finite buckets, then +Inf), then sum, min, max (double bits; min starts
 * at +Inf, max at -Inf in every slot).  A counter: one cell.  A gauge: none
 * (the value lives in the series).
 */
#define FDN__TEL_SUM(nb) (nb)
#define FDN__TEL_MIN(nb) ((nb) + 1)
#define FDN__TEL_MAX(nb) ((nb) + 2)

struct fdn_series {
    /* All immutable after publication, except gauge (atomic). */
    fdn_metric_t *metric;
    _Atomic uint64_t *cells; /* slot 0's cells; slot k's at + k * stride */
    size_t stride;           /* cells between slots (the hub's max_cells) */
    uint8_t kind;            /* fdn_metric_kind_t */
    bool is_double;          /* gauge holds a double */
    _Atomic uint64_t gauge;  /* gauge: int64 or double bits */
    uint64_t hash;           /* of the label values */
    char **values;           /* metric->n_labels label values */
};

struct fdn_metric {
    /* Immutable after creation. */
    fdn_telemetry_t *t;
    char *name;
    char *help;
    char *label_names[FDN_METRIC_MAX_LABELS];
    size_t n_labels;
    fdn_metric_kind_t kind;
    bool is_double;
    uint32_t max_series;
    /* Buckets (histograms, summaries).  nb = finite buckets + 1 (+Inf).
     * bounds[i] is bucket i's upper bound (bounds[nb - 1] = +Inf). */
    uint32_t nb;
    double *bounds;
    bool is_log;
    unsigned log_bits;
    int log_e0;              /* exponent of log_min (a power of two) */
    double log_min, log_max; /* rounded to powers of two */
    double *quantiles;       /* summaries */
    size_t n_quantiles;
    uint32_t ncells;         /* cells per slot per series */

    /* Series.  Lookups are lock-free: table and order only grow; a grown
     * array replaces the old one by a release store, and old arrays are
     * kept (on retired) until the metric is freed, so a reader holding
     * one still reads valid memory (a miss there is re-checked under
     * lock).  Creation holds lock. */
    pthread_mutex_t lock;
    struct fdn__tel_table *_Atomic table;
    struct fdn__tel_order *_Atomic order;
    _Atomic uint32_t n_series; /* release after order[n] is written */
    struct fdn__tel_retired *retired; /* guarded by lock */
    _Atomic uint64_t refused;
    fdn_series_t *dflt;        /* the series of a metric without labels */
    /* Its series in the hub's fdn_telemetry_series_refused_total, made
     * with the metric (labelled metrics only, NULL otherwise), so that a
     * refusal is counted there without finding or allocating anything. */
    fdn_series_t *refused_series;
};

struct fdn__tel_table {
    uint32_t mask;             /* capacity - 1 (a power of two) */
    uint32_t used;             /* guarded by the metric's lock */
    _Atomic(fdn_series_t *) slot[];
};
struct fdn__tel_order {
    uint32_t cap;
    _Atomic(fdn_series_t *) at[];
};

/* Frees a metric and its series (the hub's destroy). */
void fdn__tel_metric_free(fdn_metric_t *m);

/* The series at index i in creation order, i < n_series (acquire). */
fdn_series_t *fdn__tel_series_at(const fdn_metric_t *m, uint32_t i);

/* The exposition's name of a kind: "counter", "gauge", "histogram",
 * "summary". */
const char *fdn__tel_kind_name(fdn_metric_kind_t k);

/* Bucket index (0 .. nb - 1) of v (not NaN) in m's buckets. */
uint32_t fdn__tel_bucket_of(const fdn_metric_t *m, double v);

/* A histogram or summary series' merged view: counts[nb] per bucket
 * (not cumulative), count, sum, min, max. */
typedef struct fdn__tel_hist {
    uint64_t *counts; /* caller's array of m->nb */
    uint64_t count;
    double sum, min, max;
} fdn__tel_hist_t;
void fdn__tel_hist_read(const fdn_series_t *s, fdn__tel_hist_t *h);
/* Quantile q from a merged view (rules of fdn_series_quantile). */
double fdn__tel_hist_quantile(const fdn_metric_t *m, const fdn__tel_hist_t *h,
                              double q);

/* ------------------------------------------------------------------------ */
/* Events (events.c)                                                        */
/* ------------------------------------------------------------------------ */

struct fdn__tel_handlers; /* an immutable, RCU-published handler list */

typedef struct fdn__tel_events {
    pthread_mutex_t lock;                      /* attach, detach */
    struct fdn__tel_handlers *_Atomic list;    /* RCU; NULL when empty */
    _Atomic uint64_t n;                        /* handlers attached; written
                                                * under lock, read relaxed */
    uint64_t next_id;                          /* guarded by lock */
    _Atomic uint64_t failures;                 /* a statistic (relaxed) */
    bool has_deferred;                         /* guarded by lock: a list
                                                * was left to call_rcu */
} fdn__tel_events_t;

int fdn__tel_events_init(fdn_telemetry_t *t);
void fdn__tel_events_fini(fdn_telemetry_t *t);

/* Frees an internal handler's ctx once the handler can no longer run
 * (after a grace period, or at the hub's destroy); a is the hub's
 * allocator. */
typedef void (*fdn__tel_release_fn)(const fdn_allocator_t *a, void *ctx);

/* fdn_telemetry_attach with a release function for ctx (NULL: none).
 * When it fails, release is not called: ctx is still the caller's. */
int fdn__tel_attach(fdn_telemetry_t *t, const char *pattern,
                    fdn_telemetry_handler_fn fn, void *ctx,
                    fdn__tel_release_fn release, uint64_t *id);

/* fdn_telemetry_emit with the event's time given (spans pass the time
 * they measured, so time_ns equals their monotonic_time). */
void fdn__tel_emit_at(fdn_telemetry_t *t, const char *name, uint64_t time_ns,
                      const fdn_telemetry_measurement_t *m, size_t n_m,
                      const fdn_telemetry_meta_t *md, size_t n_md);

/* True when no handler is attached: the caller may skip building an
 * event.  Relaxed: a hint read racily by design; a handler attached
 * concurrently may or may not see the event either way, and one
 * attached earlier on this thread is seen (program order). */
static inline bool fdn__tel_is_quiet(fdn__tel_events_t *e)
{
    return atomic_load_explicit(&e->n, memory_order_relaxed) == 0;
}

/* ------------------------------------------------------------------------ */
/* Collectors (collect.c)                                                   */
/* ------------------------------------------------------------------------ */

struct fdn__tel_collector;
typedef struct fdn__tel_collectors {
    pthread_mutex_t lock; /* the list, and one run at a time */
    struct fdn__tel_collector *head;
    uint64_t next_id;     /* guarded by lock */
} fdn__tel_collectors_t;

/* Frees a collector's context: runs once, after the collector's last
 * run, when it is removed or the hub destroyed (then before any metric is
 * freed).  Must not call into the collectors. */
typedef void (*fdn__tel_collector_free_fn)(fdn_telemetry_t *t, void *ctx);
/* fdn_telemetry_collector_add, with free_fn (may be NULL) to free ctx. */
int fdn__tel_collector_add_free(fdn_telemetry_t *t, fdn_telemetry_collect_fn fn,
                                void *ctx, fdn__tel_collector_free_fn free_fn,
                                uint64_t *id);
int fdn__tel_collectors_init(fdn_telemetry_t *t);
void fdn__tel_collectors_fini(fdn_telemetry_t *t);
/* Runs every collector (under the collectors' lock), unless this thread
 * runs collectors already or is inside an RCU read-side critical section
 * (see collect.c). */
void fdn__tel_collect(fdn_telemetry_t *t);
/* On this thread, a collect waiting for the collectors' lock gives up once
 * *flag is set (NULL: waits for good).  For the HTTP server's thread. */
void fdn__tel_collect_give_up_on(const _Atomic bool *flag);
/* The flag this thread's collects give up on (NULL: none): a server's
 * thread, inside its export, has its server's stopping flag here. */
const _Atomic bool *fdn__tel_collect_give_up_flag(void);

/* ------------------------------------------------------------------------ */
/* The hub                                                                  */
/* ------------------------------------------------------------------------ */

struct fdn_telemetry {
    /* Immutable after creation. */
    const fdn_allocator_t *alloc;
    fdn_clock_t *clock;
    uint32_t max_metrics;      /* the caller's + 1 (the hub's own metric) */
    uint32_t max_series;
    size_t stride;             /* cells per slot (max_cells) */
    _Atomic uint64_t *arena;   /* (fdn__tel_nslots + 1) * stride cells */
    size_t arena_bytes;

    /* Metrics: metrics[i] for i < n_metrics (acquire) never changes once
     * set; creation and cells_used are guarded by lock. */
    pthread_mutex_t lock;
    fdn_metric_t **metrics;    /* max_metrics entries */
    _Atomic uint32_t n_metrics;
    uint64_t cells_used;       /* guarded by lock; read racily by stats */

    _Atomic uint64_t misuse;
    _Atomic uint64_t refused;  /* over all metrics */
    fdn_metric_t *refused_metric; /* fdn_telemetry_series_refused_total */

    fdn__tel_events_t events;
    fdn__tel_collectors_t collectors;

    /* Instrumentation claimed (instrument.c): a hub takes one runtime's
     * and one registry's metrics in its life.  Guarded by lock. */
    bool has_runtime;
    bool has_registry;
};

/* Reserves ncells cells in every slot and initialises them (histogram
 * min/max cells to +-Inf); returns slot 0's first cell or NULL when
 * max_cells is reached.  Caller holds t->lock. */
_Atomic uint64_t *fdn__tel_cells_take_locked(fdn_telemetry_t *t,
                                             uint32_t ncells, uint32_t nb,
                                             bool is_hist);

/* Counts a label set refused by m's max_series. */
void fdn__tel_count_refused(fdn_metric_t *m);

/* ------------------------------------------------------------------------ */
/* Formatting shared by prom.c and json.c                                   */
/* ------------------------------------------------------------------------ */

/* Writes v as Prometheus writes a float ("+Inf", "-Inf", "NaN", else the
 * shortest %g form that reads back to the same double) into buf (at least
 * 32 bytes); returns its length. */
size_t fdn__tel_format_double(char *buf, double v);

/* True if s (NUL-terminated) is valid UTF-8: no stray continuation byte,
 * overlong form, surrogate, code point past U+10FFFF or cut sequence. */
bool fdn__tel_utf8_valid(const char *s);

/* A growable text buffer on the hub's allocator. */
typedef struct fdn__tel_buf {
    const fdn_allocator_t *alloc;
    char *p;
    size_t len, cap;
    bool failed; /* an allocation failed; the text is incomplete */
} fdn__tel_buf_t;
/* Appends n bytes of s (or s up to its NUL) and keeps the text
 * NUL-terminated; once an allocation failed, appends nothing more.  The
 * caller frees b->p with b->alloc (also after a failure). */
void fdn__tel_buf_put(fdn__tel_buf_t *b, const char *s, size_t n);
void fdn__tel_buf_puts(fdn__tel_buf_t *b, const char *s);

/* How fdn__tel_buf_put_text escapes. */
typedef enum fdn__tel_escape {
    FDN__TEL_RAW,   /* nothing (JSON: jansson escapes) */
    FDN__TEL_HELP,  /* backslash and newline, as a HELP line wants */
    FDN__TEL_LABEL  /* backslash, newline and double quote (label values) */
} fdn__tel_escape_t;
/* Appends user text s as valid UTF-8 (each byte that starts no valid
 * sequence becomes U+FFFD), escaped as mode says. */
void fdn__tel_buf_put_text(fdn__tel_buf_t *b, const char *s,
                           fdn__tel_escape_t mode);

#endif /* FDN_TELEMETRY_INTERNAL_H */
