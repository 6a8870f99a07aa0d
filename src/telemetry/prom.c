/*
 * telemetry/prom.c — the Prometheus text exposition (format 0.0.4), and the
 * text helpers json.c shares: the growable buffer, shortest round-trip
 * doubles, UTF-8 repair and escaping.
 *
 * The exposition reads the metrics without locks: metrics[i] for i below
 * an acquire load of n_metrics, and each metric's series below an acquire
 * load of its n_series (the release stores that pair with them are in
 * metric.c).  A metric or series created during an export is either seen
 * whole or not at all.  Each histogram or summary series is read once into
 * a merged view, and every line of it (buckets, _sum, _count, quantiles)
 * comes from that one view, so the +Inf bucket always equals _count
 * (TEL-I3) even while writers record.
 *
 * Help text is written as valid UTF-8: a byte that starts no valid
 * sequence becomes U+FFFD, since Prometheus's parser refuses invalid
 * UTF-8, and JSON has no way to say it.  Label values need no repair:
 * fdn_metric_series refuses invalid UTF-8 (fdn__tel_utf8_valid), because
 * two values differing only in bad bytes would be repaired into one label
 * set.  Then help escapes backslash and newline, label values also double
 * quote (TEL-S7).
 */
#include "telemetry/internal.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Buffer                                                                   */
/* ------------------------------------------------------------------------ */

void fdn__tel_buf_put(fdn__tel_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    /* One byte beyond the text is always kept for the NUL. */
    if (b->cap - b->len < n + 1) {
        size_t want = b->len + n + 1;
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < want)
            cap *= 2;
        char *p = fdn__alloc(b->alloc, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        if (b->len > 0)
            memcpy(p, b->p, b->len);
        fdn__free(b->alloc, b->p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void fdn__tel_buf_puts(fdn__tel_buf_t *b, const char *s)
{
    fdn__tel_buf_put(b, s, strlen(s));
}

/* Length (2 to 4) of the valid UTF-8 sequence at p (n bytes left), or 0
 * when p starts none (a stray continuation byte, an overlong form, a
 * surrogate, past U+10FFFF, or cut short).  ASCII is handled by the
 * caller. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

bool fdn__tel_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t step = utf8_seq(p + i, n - i);
        if (step == 0)
            return false;
        i += step;
    }
    return true;
}

void fdn__tel_buf_put_text(fdn__tel_buf_t *b, const char *s,
                           fdn__tel_escape_t mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t run = 0; /* bytes at p that need no change, not yet written */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *rep = NULL;
        size_t step = 1;
        if (c < 0x80) {
            if (c == '\\' && mode != FDN__TEL_RAW)
                rep = "\\\\";
            else if (c == '\n' && mode != FDN__TEL_RAW)
                rep = "\\n";
            else if (c == '"' && mode == FDN__TEL_LABEL)
                rep = "\\\"";
        } else {
            step = utf8_seq(p + i, n - i);
            if (step == 0) {
                rep = "\xef\xbf\xbd"; /* U+FFFD */
                step = 1;
            }
        }
        if (rep == NULL) {
            run += step;
            i += step;
            continue;
        }
        fdn__tel_buf_put(b, (const char *)p + i - run, run);
        fdn__tel_buf_puts(b, rep);
        run = 0;
        i += step;
    }
    fdn__tel_buf_put(b, (const char *)p + n - run, run);
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                  */
/* ------------------------------------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    /* (locale_t)0 when it fails: the thread's locale is then used, which
     * is the "C" one unless the program called setlocale. */
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

size_t fdn__tel_format_double(char *buf, double v)
{
    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    /* A program that set a locale with a decimal comma must still get
     * "0.5": format and read back in the "C" locale, on this thread only. */
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    if (old)
        uselocale(old);
    return (size_t)n;
}

static void put_double(fdn__tel_buf_t *b, double v)
{
    char num[32];
    fdn__tel_buf_put(b, num, fdn__tel_format_double(num, v));
}

static void put_u64(fdn__tel_buf_t *b, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    fdn__tel_buf_put(b, num, (size_t)n);
}

static void put_i64(fdn__tel_buf_t *b, int64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    fdn__tel_buf_put(b, num, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Writes the start of a sample line: name, suffix, then the series' labels
 * and the extra label (le or quantile; NULL for none) with value x.
 */
static void put_head(fdn__tel_buf_t *b, const fdn_metric_t *m,
                     const fdn_series_t *s, const char *suffix,
                     const char *extra, double x)
{
    fdn__tel_buf_puts(b, m->name);
    fdn__tel_buf_puts(b, suffix);
    if (m->n_labels == 0 && extra == NULL) {
        fdn__tel_buf_put(b, " ", 1);
        return;
    }
    fdn__tel_buf_put(b, "{", 1);
    for (size_t i = 0; i < m->n_labels; i++) {
        if (i > 0)
            fdn__tel_buf_put(b, ",", 1);
        fdn__tel_buf_puts(b, m->label_names[i]);
        fdn__tel_buf_put(b, "=\"", 2);
        fdn__tel_buf_put_text(b, s->values[i], FDN__TEL_LABEL);
        fdn__tel_buf_put(b, "\"", 1);
    }
    if (extra != NULL) {
        if (m->n_labels > 0)
            fdn__tel_buf_put(b, ",", 1);
        fdn__tel_buf_puts(b, extra);
        fdn__tel_buf_put(b, "=\"", 2);
        put_double(b, x);
        fdn__tel_buf_put(b, "\"", 1);
    }
    fdn__tel_buf_put(b, "} ", 2);
}

/* Histogram or summary lines of one series from its merged view h. */
static void put_hist(fdn__tel_buf_t *b, const fdn_metric_t *m,
                     const fdn_series_t *s, const fdn__tel_hist_t *h)
{
    if (m->kind == FDN_METRIC_HISTOGRAM) {
        uint64_t cum = 0;
        for (uint32_t i = 0; i < m->nb; i++) {
            cum += h->counts[i];
            /* Log-linear histograms have thousands of buckets, most of
             * them empty: only those that count something are listed
             * (cumulative counts stay right), and +Inf always. */
            if (m->is_log && h->counts[i] == 0 && i != m->nb - 1)
                continue;
            put_head(b, m, s, "_bucket", "le", m->bounds[i]);
            put_u64(b, cum);
            fdn__tel_buf_put(b, "\n", 1);
        }
    } else {
        for (size_t i = 0; i < m->n_quantiles; i++) {
            put_head(b, m, s, "", "quantile", m->quantiles[i]);
            put_double(b, fdn__tel_hist_quantile(m, h, m->quantiles[i]));
            fdn__tel_buf_put(b, "\n", 1);
        }
    }
    put_head(b, m, s, "_sum", NULL, 0);
    put_double(b, h->sum);
    fdn__tel_buf_put(b, "\n", 1);
    put_head(b, m, s, "_count", NULL, 0);
    put_u64(b, h->count);
    fdn__tel_buf_put(b, "\n", 1);
}

/* Every line of metric m.  Returns FDN_ENOMEM when its scratch array
 * could not be allocated (the buffer's own failures are in b->failed). */
static int put_metric(fdn__tel_buf_t *b, const fdn_metric_t *m)
{
    fdn__tel_buf_puts(b, "# HELP ");
    fdn__tel_buf_puts(b, m->name);
    fdn__tel_buf_put(b, " ", 1);
    fdn__tel_buf_put_text(b, m->help, FDN__TEL_HELP);
    fdn__tel_buf_puts(b, "\n# TYPE ");
    fdn__tel_buf_puts(b, m->name);
    fdn__tel_buf_put(b, " ", 1);
    fdn__tel_buf_puts(b, fdn__tel_kind_name(m->kind));
    fdn__tel_buf_put(b, "\n", 1);

    uint64_t stack[64];
    uint64_t *counts = stack;
    bool has_buckets = m->kind == FDN_METRIC_HISTOGRAM ||
                       m->kind == FDN_METRIC_SUMMARY;
    if (has_buckets && m->nb > 64) {
        counts = fdn__alloc(b->alloc, sizeof *counts * m->nb);
        if (counts == NULL)
            return FDN_ENOMEM;
    }
    /* Acquire: pairs with the release store of n_series in metric.c, so
     * every series below n is complete. */
    uint32_t n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    for (uint32_t i = 0; i < n && !b->failed; i++) {
        const fdn_series_t *s = fdn__tel_series_at(m, i);
        switch (m->kind) {
        case FDN_METRIC_COUNTER:
            put_head(b, m, s, "", NULL, 0);
            put_u64(b, fdn_counter_value(s));
            break;
        case FDN_METRIC_GAUGE: {
            fdn_series_value_t v;
            (void)fdn_series_read(s, &v);
            put_head(b, m, s, "", NULL, 0);
            if (s->is_double)
                put_double(b, v.gauge);
            else
                put_i64(b, v.gauge_int);
            break;
        }
        default: {
            fdn__tel_hist_t h = {.counts = counts};
            fdn__tel_hist_read(s, &h);
            put_hist(b, m, s, &h);
            continue; /* put_hist ended its lines */
        }
        }
        fdn__tel_buf_put(b, "\n", 1);
    }
    if (counts != stack)
        fdn__free(b->alloc, counts);
    return FDN_OK;
}

int fdn_telemetry_prometheus(fdn_telemetry_t *t, char **out, size_t *len)
{
    if (t == NULL || out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    if (len)
        *len = 0;
    fdn__tel_collect(t);
    fdn__tel_buf_t b = {.alloc = t->alloc};
    /* Acquire: pairs with the release store of n_metrics in
     * fdn_metric_create, so metrics[i] is complete for every i < n. */
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_acquire);
    int rc = FDN_OK;
    for (uint32_t i = 0; i < n && rc == FDN_OK && !b.failed; i++)
        rc = put_metric(&b, t->metrics[i]);
    fdn__tel_buf_put(&b, "", 0); /* a NUL-terminated "" when empty */
    if (rc != FDN_OK || b.failed) {
        fdn__free(t->alloc, b.p);
        return FDN_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return FDN_OK;
}
