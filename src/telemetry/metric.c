/*
 * telemetry/metric.c — metrics: option checks, bucket layouts, and the
 * series of each metric (finding one lock-free, creating one under the
 * metric's lock).
 *
 * Series lookup.  A metric's series sit in an open-addressing table of
 * atomic pointers (linear probing, load factor at most 1/2) and in an array
 * in creation order.  Both only grow: creation, under the metric's lock,
 * writes a fully built series into an empty table slot with a release store
 * (pairs with the acquire loads of lookups), then appends it to the order
 * array and publishes the new count with a release store (pairs with the
 * acquire load in fdn__tel_series_at).  A full table or array is replaced
 * by a bigger copy, published by a release store; the old copy is kept on
 * the metric's retired list until the metric is freed, so a reader still
 * holding it reads valid memory.  A reader that misses in an old copy
 * takes the lock and looks again in the current one, so a miss is never
 * wrong.  Lookups allocate nothing and never wait: progress is wait-free.
 */
#include "telemetry/internal.h"

#include <float.h>
#include <math.h>

struct fdn__tel_retired {
    struct fdn__tel_retired *next;
    void *block;
};

static const double default_quantiles[] = {0.5, 0.9, 0.99, 0.999};

/* ------------------------------------------------------------------------ */
/* Names and options                                                        */
/* ------------------------------------------------------------------------ */

static bool is_metric_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > FDN_METRIC_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '_' || c == ':' || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool is_label_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > FDN_METRIC_NAME_MAX)
        return false;
    if (s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '_' || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static int check_opts(const fdn_metric_opts_t *o)
{
    if (o->kind < FDN_METRIC_COUNTER || o->kind > FDN_METRIC_SUMMARY)
        return FDN_EINVAL;
    if (!is_metric_name(o->name))
        return FDN_EINVAL;
    if (o->n_labels > FDN_METRIC_MAX_LABELS ||
        (o->n_labels > 0 && o->label_names == NULL))
        return FDN_EINVAL;
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *l = o->label_names[i];
        if (!is_label_name(l))
            return FDN_EINVAL;
        if (o->kind == FDN_METRIC_HISTOGRAM && strcmp(l, "le") == 0)
            return FDN_EINVAL;
        if (o->kind == FDN_METRIC_SUMMARY && strcmp(l, "quantile") == 0)
            return FDN_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(l, o->label_names[j]) == 0)
                return FDN_EINVAL;
    }
    bool has_buckets = o->kind == FDN_METRIC_HISTOGRAM ||
                       o->kind == FDN_METRIC_SUMMARY;
    /* Options of another kind are refused, not ignored: a caller who set
     * them meant something the metric would not do. */
    bool sets_log = o->log_bits != 0 || o->log_min != 0 || o->log_max != 0;
    bool sets_explicit = o->buckets != NULL || o->n_buckets != 0;
    bool sets_quantiles = o->quantiles != NULL || o->n_quantiles != 0;
    if (o->is_double && o->kind != FDN_METRIC_GAUGE)
        return FDN_EINVAL;
    if (!has_buckets)
        return sets_log || sets_explicit || sets_quantiles ? FDN_EINVAL
                                                           : FDN_OK;
    if (o->kind == FDN_METRIC_HISTOGRAM && sets_quantiles)
        return FDN_EINVAL;
    if (o->kind == FDN_METRIC_SUMMARY && sets_explicit)
        return FDN_EINVAL;
    if (o->buckets != NULL && sets_log)
        return FDN_EINVAL; /* explicit and log-linear at once */
    if (o->kind == FDN_METRIC_HISTOGRAM && o->buckets != NULL) {
        if (o->n_buckets == 0 || o->n_buckets > FDN_METRIC_MAX_BUCKETS)
            return FDN_EINVAL;
        for (size_t i = 0; i < o->n_buckets; i++) {
            if (!isfinite(o->buckets[i]))
                return FDN_EINVAL;
            if (i > 0 && !(o->buckets[i] > o->buckets[i - 1]))
                return FDN_EINVAL;
        }
    } else {
        if (o->kind == FDN_METRIC_HISTOGRAM && o->n_buckets != 0)
            return FDN_EINVAL; /* a count without a list */
        if (o->log_bits > 8)
            return FDN_EINVAL;
        /* Each bound left at 0 takes its default, then the pair is
         * checked. */
        double lo = o->log_min != 0 ? o->log_min : 0x1p-20;
        double hi = o->log_max != 0 ? o->log_max : 0x1p20;
        if (!isfinite(lo) || !isfinite(hi) || !(lo >= DBL_MIN) ||
            !(hi > lo) || hi > 0x1p1000)
            return FDN_EINVAL;
    }
    if (o->kind == FDN_METRIC_SUMMARY) {
        if (o->n_quantiles > FDN_METRIC_MAX_QUANTILES ||
            (o->quantiles == NULL) != (o->n_quantiles == 0))
            return FDN_EINVAL;
        for (size_t i = 0; i < o->n_quantiles; i++) {
            if (!(o->quantiles[i] >= 0.0 && o->quantiles[i] <= 1.0))
                return FDN_EINVAL;
            for (size_t j = 0; j < i; j++)
                if (o->quantiles[j] == o->quantiles[i])
                    return FDN_EINVAL; /* Prometheus would keep one */
        }
    }
    return FDN_OK;
}

static char *dup_str(const fdn_allocator_t *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fdn__alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Sets up m's buckets from o (checked).  Allocates bounds. */
static int setup_buckets(fdn_metric_t *m, const fdn_metric_opts_t *o,
                         const fdn_allocator_t *a)
{
    if (o->kind == FDN_METRIC_HISTOGRAM && o->buckets != NULL) {
        m->nb = (uint32_t)o->n_buckets + 1;
        m->bounds = fdn__alloc(a, sizeof(double) * m->nb);
        if (m->bounds == NULL)
            return FDN_ENOMEM;
        memcpy(m->bounds, o->buckets, sizeof(double) * o->n_buckets);
        m->bounds[m->nb - 1] = INFINITY;
        return FDN_OK;
    }
    m->is_log = true;
    m->log_bits = o->log_bits ? o->log_bits
                              : (o->kind == FDN_METRIC_SUMMARY ? 5u : 3u);
    double lo = o->log_min != 0 ? o->log_min : 0x1p-20;
    double hi = o->log_max != 0 ? o->log_max : 0x1p20;
    int e0, e1;
    /* frexp: lo = f * 2^e with f in [0.5, 1): floor(log2 lo) = e - 1. */
    (void)frexp(lo, &e0);
    e0 -= 1;
    (void)frexp(hi, &e1);
    if (ldexp(1.0, e1 - 1) == hi)
        e1 -= 1; /* already a power of two */
    uint64_t nlog = (uint64_t)(e1 - e0) << m->log_bits;
    if (nlog + 2 > FDN_METRIC_MAX_BUCKETS)
        return FDN_EINVAL;
    m->log_e0 = e0;
    m->log_min = ldexp(1.0, e0);
    m->log_max = ldexp(1.0, e1);
    m->nb = (uint32_t)nlog + 2;
    m->bounds = fdn__alloc(a, sizeof(double) * m->nb);
    if (m->bounds == NULL)
        return FDN_ENOMEM;
    m->bounds[0] = m->log_min;
    uint32_t per = 1u << m->log_bits;
    for (uint32_t j = 0; j < (uint32_t)nlog; j++) {
        int e = e0 + (int)(j / per);
        uint32_t k = j % per;
        m->bounds[1 + j] = ldexp(1.0 + (double)(k + 1) / per, e);
    }
    m->bounds[m->nb - 1] = INFINITY;
    if (o->kind == FDN_METRIC_SUMMARY) {
        const double *q = o->quantiles ? o->quantiles : default_quantiles;
        size_t nq = o->quantiles ? o->n_quantiles : 4;
        m->quantiles = fdn__alloc(a, sizeof(double) * (nq ? nq : 1));
        if (m->quantiles == NULL)
            return FDN_ENOMEM;
        memcpy(m->quantiles, q, sizeof(double) * nq);
        m->n_quantiles = nq;
    }
    return FDN_OK;
}

/* ------------------------------------------------------------------------ */
/* Series tables                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t hash_values(const char *const *v, size_t n)
{
    /* FNV-1a, 64-bit, with a 0xff separator (never in a C string's
     * bytes before its NUL... it may be: the separator only mixes). */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3ull;
        h = (h ^ 0xff) * 0x100000001b3ull;
    }
    h ^= h >> 29;
    return h ? h : 1;
}

static bool values_equal(const fdn_series_t *s, const char *const *v,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], v[i]) != 0)
            return false;
    return true;
}

static fdn_series_t *table_find(const struct fdn__tel_table *tb, uint64_t h,
                                const char *const *v, size_t n)
{
    for (uint32_t i = (uint32_t)h & tb->mask;; i = (i + 1) & tb->mask) {
        /* Acquire: pairs with the release store in table_put, so the
         * series' fields and its cells' initial values are visible. */
        fdn_series_t *s = atomic_load_explicit(&tb->slot[i],
                                               memory_order_acquire);
        if (s == NULL)
            return NULL;
        if (s->hash == h && values_equal(s, v, n))
            return s;
    }
}

static void table_put(struct fdn__tel_table *tb, fdn_series_t *s)
{
    uint32_t i = (uint32_t)s->hash & tb->mask;
    while (atomic_load_explicit(&tb->slot[i], memory_order_relaxed) != NULL)
        i = (i + 1) & tb->mask;
    /* Release: pairs with the acquire load in table_find. */
    atomic_store_explicit(&tb->slot[i], s, memory_order_release);
    tb->used++;
}

static struct fdn__tel_table *table_new(const fdn_allocator_t *a,
                                        uint32_t cap)
{
    struct fdn__tel_table *tb =
        fdn__zalloc(a, sizeof *tb + sizeof(tb->slot[0]) * cap);
    if (tb)
        tb->mask = cap - 1;
    return tb;
}

static struct fdn__tel_order *order_new(const fdn_allocator_t *a,
                                        uint32_t cap)
{
    struct fdn__tel_order *o =
        fdn__zalloc(a, sizeof *o + sizeof(o->at[0]) * cap);
    if (o)
        o->cap = cap;
    return o;
}

fdn_series_t *fdn__tel_series_at(const fdn_metric_t *m, uint32_t i)
{
    /* Acquire: pairs with the release store of the new array in
     * series_create; the array loaded after n_series was (see the file
     * comment) holds index i. */
    struct fdn__tel_order *o = atomic_load_explicit(&m->order,
                                                    memory_order_acquire);
    return atomic_load_explicit(&o->at[i], memory_order_acquire);
}

uint64_t fdn_metric_series_count(const fdn_metric_t *m)
{
    if (m == NULL)
        return 0;
    return atomic_load_explicit(&m->n_series, memory_order_acquire);
}

uint64_t fdn_metric_refused(const fdn_metric_t *m)
{
    if (m == NULL)
        return 0;
    /* Relaxed: a statistic. */
    return atomic_load_explicit(&m->refused, memory_order_relaxed);
}

/* Puts block on m's retired list using record r (allocated by the caller
 * beforehand, so that retiring cannot fail).  Caller holds m->lock. */
static void retire(fdn_metric_t *m, struct fdn__tel_retired *r, void *block)
{
    r->block = block;
    r->next = m->retired;
    m->retired = r;
}

static void series_free(const fdn_allocator_t *a, fdn_series_t *s)
{
    if (s == NULL)
        return;
    fdn__free(a, s);
}

/* Builds a series of m for values v (n of them, checked) and publishes
 * it.  Caller holds m->lock and has checked it is absent and allowed. */
static int series_create_locked(fdn_metric_t *m, const char *const *v,
                                size_t n, uint64_t h, fdn_series_t **out)
{
    fdn_telemetry_t *t = m->t;
    const fdn_allocator_t *a = t->alloc;
    uint32_t count = atomic_load_explicit(&m->n_series, memory_order_relaxed);
    struct fdn__tel_table *tb = atomic_load_explicit(&m->table,
                                                     memory_order_relaxed);
    struct fdn__tel_order *ord = atomic_load_explicit(&m->order,
                                                      memory_order_relaxed);
    /* Grow first, so that a failure leaves nothing behind. */
    struct fdn__tel_table *ntb = NULL;
    struct fdn__tel_order *nord = NULL;
    if ((tb->used + 1) * 2 > tb->mask + 1) {
        ntb = table_new(a, (tb->mask + 1) * 2);
        if (ntb == NULL)
            return FDN_ENOMEM;
    }
    if (count + 1 > ord->cap) {
        nord = order_new(a, ord->cap * 2);
        if (nord == NULL)
            goto nomem;
    }
    size_t len = sizeof(fdn_series_t) + sizeof(char *) * n;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    fdn_series_t *s = fdn__zalloc(a, len);
    struct fdn__tel_retired *rtb = ntb ? fdn__alloc(a, sizeof *rtb) : NULL;
    struct fdn__tel_retired *rord = nord ? fdn__alloc(a, sizeof *rord) : NULL;
    if (s == NULL || (ntb && rtb == NULL) || (nord && rord == NULL))
        goto nomem_all;
    _Atomic uint64_t *cells = NULL;
    if (m->ncells > 0) {
        pthread_mutex_lock(&t->lock);
        cells = fdn__tel_cells_take_locked(t, m->ncells, m->nb,
                                           m->kind == FDN_METRIC_HISTOGRAM ||
                                               m->kind == FDN_METRIC_SUMMARY);
        pthread_mutex_unlock(&t->lock);
        if (cells == NULL)
            goto nomem_all;
    }
    s->metric = m;
    s->cells = cells;
    s->stride = t->stride;
    s->kind = (uint8_t)m->kind;
    s->is_double = m->is_double;
    s->hash = h;
    s->values = (char **)(s + 1);
    char *p = (char *)(s->values + n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        s->values[i] = p;
        p += l;
    }
    if (ntb != NULL) {
        retire(m, rtb, tb);
        for (uint32_t i = 0; i <= tb->mask; i++) {
            fdn_series_t *o = atomic_load_explicit(&tb->slot[i],
                                                   memory_order_relaxed);
            if (o != NULL)
                table_put(ntb, o);
        }
        /* Release: pairs with the acquire load of m->table in lookups. */
        atomic_store_explicit(&m->table, ntb, memory_order_release);
        tb = ntb;
    }
    if (nord != NULL) {
        retire(m, rord, ord);
        for (uint32_t i = 0; i < count; i++)
            atomic_store_explicit(
                &nord->at[i],
                atomic_load_explicit(&ord->at[i], memory_order_relaxed),
                memory_order_relaxed);
        /* Release: pairs with the acquire in fdn__tel_series_at. */
        atomic_store_explicit(&m->order, nord, memory_order_release);
        ord = nord;
    }
    table_put(tb, s);
    atomic_store_explicit(&ord->at[count], s, memory_order_release);
    /* Release: pairs with the acquire loads of n_series (readers then load
     * the order array, which is ord or a later copy holding index count). */
    atomic_store_explicit(&m->n_series, count + 1, memory_order_release);
    *out = s;
    return FDN_OK;
nomem_all:
    series_free(a, s);
    fdn__free(a, rtb);
    fdn__free(a, rord);
nomem:
    fdn__free(a, ntb);
    fdn__free(a, nord);
    return FDN_ENOMEM;
}

void fdn__tel_count_refused(fdn_metric_t *m)
{
    fdn_telemetry_t *t = m->t;
    /* Relaxed: statistics. */
    atomic_fetch_add_explicit(&m->refused, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
    if (m->refused_series != NULL)
        fdn_counter_inc(m->refused_series);
}

int fdn_metric_series(fdn_metric_t *m, const char *const *values, size_t n,
                      fdn_series_t **out)
{
    if (m == NULL || out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    if (n != m->n_labels || (n > 0 && values == NULL))
        return FDN_EINVAL;
    if (n == 0) {
        *out = m->dflt;
        return FDN_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (values[i] == NULL ||
            strnlen(values[i], FDN_METRIC_LABEL_VALUE_MAX + 1) >
                FDN_METRIC_LABEL_VALUE_MAX)
            return FDN_EINVAL;
    uint64_t h = hash_values(values, n);
    /* Acquire: pairs with the release store of a grown table. */
    struct fdn__tel_table *tb = atomic_load_explicit(&m->table,
                                                     memory_order_acquire);
    fdn_series_t *s = table_find(tb, h, values, n);
    if (s != NULL) {
        *out = s;
        return FDN_OK;
    }
    /* Checked only for a new label set: a found one was checked when it
     * was created.  Invalid UTF-8 is refused rather than repaired at
     * export, where two values differing only in bad bytes would become
     * one label set and Prometheus would keep only one of them. */
    for (size_t i = 0; i < n; i++)
        if (!fdn__tel_utf8_valid(values[i]))
            return FDN_EINVAL;
    pthread_mutex_lock(&m->lock);
    tb = atomic_load_explicit(&m->table, memory_order_relaxed);
    s = table_find(tb, h, values, n);
    int rc = FDN_OK;
    if (s == NULL) {
        uint32_t count = atomic_load_explicit(&m->n_series,
                                              memory_order_relaxed);
        if (count >= m->max_series)
            rc = FDN_ELIMIT;
        else
            rc = series_create_locked(m, values, n, h, &s);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc == FDN_ELIMIT)
        fdn__tel_count_refused(m);
    if (rc == FDN_OK)
        *out = s;
    return rc;
}

fdn_series_t *fdn_metric_default(fdn_metric_t *m)
{
    return m ? m->dflt : NULL;
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

void fdn__tel_metric_free(fdn_metric_t *m)
{
    if (m == NULL)
        return;
    const fdn_allocator_t *a = m->t->alloc;
    uint32_t n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    if (m->order != NULL)
        for (uint32_t i = 0; i < n; i++)
            series_free(a, fdn__tel_series_at(m, i));
    while (m->retired) {
        struct fdn__tel_retired *r = m->retired;
        m->retired = r->next;
        fdn__free(a, r->block);
        fdn__free(a, r);
    }
    fdn__free(a, atomic_load_explicit(&m->table, memory_order_relaxed));
    fdn__free(a, atomic_load_explicit(&m->order, memory_order_relaxed));
    pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; i < m->n_labels; i++)
        fdn__free(a, m->label_names[i]);
    fdn__free(a, m->name);
    fdn__free(a, m->help);
    fdn__free(a, m->bounds);
    fdn__free(a, m->quantiles);
    fdn__free(a, m);
}

static fdn_metric_t *find_locked(fdn_telemetry_t *t, const char *name)
{
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(t->metrics[i]->name, name) == 0)
            return t->metrics[i];
    return NULL;
}

/* True if name is one of the sample names a metric base of kind k writes
 * besides base itself: base_bucket, base_sum and base_count for a
 * histogram, base_sum and base_count for a summary. */
static bool is_sample_name(const char *name, const char *base,
                           fdn_metric_kind_t k)
{
    if (k != FDN_METRIC_HISTOGRAM && k != FDN_METRIC_SUMMARY)
        return false;
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0)
        return false;
    const char *rest = name + n;
    return strcmp(rest, "_sum") == 0 || strcmp(rest, "_count") == 0 ||
           (k == FDN_METRIC_HISTOGRAM && strcmp(rest, "_bucket") == 0);
}

/* True if a metric named name of kind k would write a sample name that a
 * metric of t already writes, or the other way round (a histogram "lat"
 * and a gauge "lat_count" would make one exposition with two families
 * claiming lat_count, which Prometheus rejects).  Caller holds t->lock. */
static bool name_clashes_locked(fdn_telemetry_t *t, const char *name,
                                fdn_metric_kind_t k)
{
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        const fdn_metric_t *x = t->metrics[i];
        if (strcmp(x->name, name) == 0 ||
            is_sample_name(name, x->name, x->kind) ||
            is_sample_name(x->name, name, k))
            return true;
    }
    return false;
}

fdn_metric_t *fdn_metric_find(fdn_telemetry_t *t, const char *name)
{
    if (t == NULL || name == NULL)
        return NULL;
    pthread_mutex_lock(&t->lock);
    fdn_metric_t *m = find_locked(t, name);
    pthread_mutex_unlock(&t->lock);
    return m;
}

/* FDN_EEXIST if o's name clashes with a metric of t, FDN_ELIMIT if t has
 * max_metrics metrics, else FDN_OK.  Holds t's lock. */
static int create_checks_locked(fdn_telemetry_t *t, const fdn_metric_opts_t *o)
{
    if (name_clashes_locked(t, o->name, o->kind))
        return FDN_EEXIST;
    if (atomic_load_explicit(&t->n_metrics, memory_order_relaxed) >=
        t->max_metrics)
        return FDN_ELIMIT;
    return FDN_OK;
}

int fdn_metric_create(fdn_telemetry_t *t, const fdn_metric_opts_t *opts,
                      fdn_metric_t **out)
{
    if (t == NULL || opts == NULL || out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    fdn_metric_opts_t o;
    memset(&o, 0, sizeof o);
    if (opts->size < offsetof(fdn_metric_opts_t, max_series) ||
        opts->size > sizeof o)
        return FDN_EINVAL;
    memcpy(&o, opts, opts->size);
    int rc = check_opts(&o);
    if (rc != FDN_OK)
        return rc;
    const fdn_allocator_t *a = t->alloc;
    fdn_metric_t *m = fdn__zalloc(a, sizeof *m);
    if (m == NULL)
        return FDN_ENOMEM;
    m->t = t;
    m->kind = o.kind;
    m->is_double = o.kind == FDN_METRIC_GAUGE && o.is_double;
    m->max_series = o.n_labels == 0 ? 1
                                    : (o.max_series ? o.max_series
                                                    : t->max_series);
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        fdn__free(a, m);
        return FDN_ESYS;
    }
    rc = FDN_ENOMEM;
    m->name = dup_str(a, o.name);
    m->help = dup_str(a, o.help ? o.help : "");
    if (m->name == NULL || m->help == NULL)
        goto fail;
    for (size_t i = 0; i < o.n_labels; i++) {
        m->label_names[i] = dup_str(a, o.label_names[i]);
        if (m->label_names[i] == NULL)
            goto fail;
        m->n_labels = i + 1;
    }
    if (o.kind == FDN_METRIC_HISTOGRAM || o.kind == FDN_METRIC_SUMMARY) {
        rc = setup_buckets(m, &o, a);
        if (rc != FDN_OK)
            goto fail;
        m->ncells = m->nb + 3;
        rc = FDN_ENOMEM;
    } else if (o.kind == FDN_METRIC_COUNTER) {
        m->ncells = 1;
    }
    struct fdn__tel_table *tb = table_new(a, 8);
    struct fdn__tel_order *ord = order_new(a, 4);
    atomic_init(&m->table, tb);
    atomic_init(&m->order, ord);
    fdn_series_t *dflt = NULL;
    if (o.n_labels == 0)
        dflt = fdn__zalloc(a, sizeof *dflt);
    if (tb == NULL || ord == NULL || (o.n_labels == 0 && dflt == NULL)) {
        fdn__free(a, dflt);
        goto fail;
    }

    /* A labelled metric can refuse label sets: its refusal counter's
     * series is made now (TEL-S3), so counting never fails.  The checks
     * below are made first as well, so that a metric refused for them
     * leaves no such series behind (only a racing create could, with 0;
     * the series is the refused metric's, taken before t's lock, as the
     * lock order is metric, then hub). */
    if (o.n_labels > 0 && t->refused_metric != NULL) {
        pthread_mutex_lock(&t->lock);
        rc = create_checks_locked(t, &o);
        pthread_mutex_unlock(&t->lock);
        if (rc != FDN_OK)
            goto fail;
        const char *name = o.name;
        rc = fdn_metric_series(t->refused_metric, &name, 1,
                               &m->refused_series);
        if (rc != FDN_OK)
            goto fail;
    }
    pthread_mutex_lock(&t->lock);
    rc = create_checks_locked(t, &o);
    if (rc != FDN_OK)
        goto fail_locked;
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_relaxed);
    /* Cells of the default series are taken now, under the same lock, so
     * that a metric without labels can never fail to record. */
    _Atomic uint64_t *cells = NULL;
    if (o.n_labels == 0 && m->ncells > 0) {
        cells = fdn__tel_cells_take_locked(
            t, m->ncells, m->nb,
            o.kind == FDN_METRIC_HISTOGRAM || o.kind == FDN_METRIC_SUMMARY);
        if (cells == NULL) {
            rc = FDN_ENOMEM;
            goto fail_locked;
        }
    }
    if (o.n_labels == 0) {
        fdn_series_t *s = dflt;
        dflt = NULL; /* the metric's from here */
        s->metric = m;
        s->cells = cells;
        s->stride = t->stride;
        s->kind = (uint8_t)m->kind;
        s->is_double = m->is_double;
        s->hash = hash_values(NULL, 0);
        s->values = NULL;
        table_put(tb, s);
        atomic_store_explicit(&ord->at[0], s, memory_order_relaxed);
        atomic_store_explicit(&m->n_series, 1, memory_order_relaxed);
        m->dflt = s;
    }
    t->metrics[n] = m;
    /* Release: pairs with the acquire loads of n_metrics by exporters, so
     * the metric (and its default series) is complete when seen. */
    atomic_store_explicit(&t->n_metrics, n + 1, memory_order_release);
    pthread_mutex_unlock(&t->lock);
    *out = m;
    return FDN_OK;

fail_locked:
    pthread_mutex_unlock(&t->lock);
    fdn__free(a, dflt);
fail:
    fdn__tel_metric_free(m);
    return rc;
}

const char *fdn_metric_name(const fdn_metric_t *m)
{
    return m ? m->name : NULL;
}

fdn_metric_kind_t fdn_metric_kind(const fdn_metric_t *m)
{
    return m ? m->kind : (fdn_metric_kind_t)0;
}
