/*
 * telemetry/telemetry.c — the hub: creation and destruction, the cell
 * arena every series' shards live in, statistics.
 *
 * The arena is one anonymous mapping of (slots + 1) * max_cells 8-byte
 * cells, reserved with MAP_NORESERVE: slot k's cells are the k-th stretch
 * of max_cells.  A series takes the same offset in every stretch, so its
 * cells in slot k are at cells + k * stride.  Cells are handed out by a
 * bump pointer under the hub's lock and never reused (series live until
 * the hub dies).  Taking cells writes them, so their pages are faulted in
 * then, never on the hot path.
 */
#include "telemetry/internal.h"

#include <math.h>
#include <sys/mman.h>

static void *tel_alloc(const fdn_allocator_t *a, size_t n)
{
    return fdn__zalloc(a, n);
}

int fdn_telemetry_create(const fdn_telemetry_opts_t *opts,
                         fdn_telemetry_t **out)
{
    if (out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    if (opts != NULL) {
        if (opts->size < offsetof(fdn_telemetry_opts_t, max_metrics) ||
            opts->size > sizeof o)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
        o.size = sizeof o;
    }
    if (o.max_metrics == 0)
        o.max_metrics = 1024;
    if (o.max_series == 0)
        o.max_series = 1000;
    if (o.max_cells == 0)
        o.max_cells = 1u << 20;
    if (o.max_cells > (1u << 28) || o.max_metrics > (1u << 20))
        return FDN_EINVAL;
    fdn__tel_slots_init();

    const fdn_allocator_t *a = o.allocator ? o.allocator
                                           : fdn_allocator_default();
    fdn_telemetry_t *t = tel_alloc(a, sizeof *t);
    if (t == NULL)
        return FDN_ENOMEM;
    t->alloc = a;
    t->clock = o.clock ? o.clock : fdn_clock_monotonic();
    /* One more than asked, for the hub's own refused-series counter, which
     * the caller's limit does not count. */
    t->max_metrics = o.max_metrics + 1;
    t->max_series = o.max_series;
    t->stride = o.max_cells;
    int rc = FDN_ENOMEM;
    t->metrics = tel_alloc(a, sizeof *t->metrics * t->max_metrics);
    if (t->metrics == NULL)
        goto fail_hub;
    t->arena_bytes = (size_t)(fdn__tel_nslots + 1) * t->stride * 8;
    void *arena = mmap(NULL, t->arena_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED) {
        rc = FDN_ESYS;
        goto fail_metrics;
    }
    t->arena = arena;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        rc = FDN_ESYS;
        goto fail_arena;
    }
    rc = fdn__tel_events_init(t);
    if (rc != FDN_OK)
        goto fail_lock;
    rc = fdn__tel_collectors_init(t);
    if (rc != FDN_OK)
        goto fail_events;

    /* The hub's own metric: label sets refused by max_series, by metric. */
    static const char *const refused_labels[] = {"metric"};
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER,
                         "fdn_telemetry_series_refused_total",
                         "Label sets refused because the metric had "
                         "max_series series.");
    mo.label_names = refused_labels;
    mo.n_labels = 1;
    mo.max_series = o.max_metrics;
    rc = fdn_metric_create(t, &mo, &t->refused_metric);
    if (rc != FDN_OK)
        goto fail_collectors;
    *out = t;
    return FDN_OK;

fail_collectors:
    fdn__tel_collectors_fini(t);
fail_events:
    fdn__tel_events_fini(t);
fail_lock:
    pthread_mutex_destroy(&t->lock);
fail_arena:
    munmap(arena, t->arena_bytes);
fail_metrics:
    fdn__free(a, t->metrics);
fail_hub:
    fdn__free(a, t);
    return rc;
}

void fdn_telemetry_destroy(fdn_telemetry_t *t)
{
    if (t == NULL)
        return;
    fdn__tel_collectors_fini(t);
    fdn__tel_events_fini(t);
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        fdn__tel_metric_free(t->metrics[i]);
    pthread_mutex_destroy(&t->lock);
    munmap((void *)t->arena, t->arena_bytes);
    fdn__free(t->alloc, t->metrics);
    fdn__free(t->alloc, t);
}

_Atomic uint64_t *fdn__tel_cells_take_locked(fdn_telemetry_t *t,
                                             uint32_t ncells, uint32_t nb,
                                             bool is_hist)
{
    if (ncells == 0)
        return NULL;
    if (t->cells_used + ncells > t->stride)
        return NULL;
    _Atomic uint64_t *cells = t->arena + t->cells_used;
    t->cells_used += ncells;
    union {
        double d;
        uint64_t u;
    } pinf = {.d = INFINITY}, ninf = {.d = -INFINITY};
    for (unsigned k = 0; k <= fdn__tel_nslots; k++) {
        _Atomic uint64_t *c = cells + (size_t)k * t->stride;
        /* Relaxed: the cells are published with the series (a release
         * store of the series pointer, in metric.c). */
        for (uint32_t i = 0; i < ncells; i++)
            atomic_store_explicit(&c[i], 0, memory_order_relaxed);
        if (is_hist) {
            atomic_store_explicit(&c[FDN__TEL_MIN(nb)], pinf.u,
                                  memory_order_relaxed);
            atomic_store_explicit(&c[FDN__TEL_MAX(nb)], ninf.u,
                                  memory_order_relaxed);
        }
    }
    return cells;
}

void fdn_telemetry_stats(const fdn_telemetry_t *t, fdn_telemetry_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (t == NULL)
        return;
    fdn_telemetry_t *mt = (fdn_telemetry_t *)t;
    pthread_mutex_lock(&mt->lock);
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_acquire);
    /* The hub's own refusal counter is not counted, as max_metrics does
     * not count it. */
    for (uint32_t i = 0; i < n; i++) {
        if (t->metrics[i] == t->refused_metric)
            continue;
        out->metrics++;
        out->series += fdn_metric_series_count(t->metrics[i]);
    }
    out->cells_used = t->cells_used;
    pthread_mutex_unlock(&mt->lock);
    out->cells_max = t->stride;
    /* Relaxed: statistics, read racily by design. */
    out->series_refused = atomic_load_explicit(&t->refused,
                                               memory_order_relaxed);
    out->handlers = atomic_load_explicit(&t->events.n, memory_order_relaxed);
    out->handler_failures = atomic_load_explicit(&t->events.failures,
                                                 memory_order_relaxed);
    out->misuse = atomic_load_explicit(&t->misuse, memory_order_relaxed);
    out->slots = fdn__tel_nslots;
}

void fdn_telemetry_free(fdn_telemetry_t *t, void *buf)
{
    if (t == NULL || buf == NULL)
        return;
    fdn__free(t->alloc, buf);
}
