/*
 * telemetry/span.c — spans: a start event, then a stop or exception event
 * carrying the duration, with process-unique ids and parent links.
 *
 * A span lives in the caller's storage.  Each thread keeps its open spans
 * in a chain through fdn_span_t.outer, innermost first, headed by a
 * thread-local pointer; a span without an explicit parent takes the head
 * as its parent.  The chain is the thread's alone (owner thread only), so
 * a span must end on the thread that started it: a span that is not in
 * the calling thread's chain was started elsewhere and gets FDN_ETHREAD.
 * A span that ends while inner spans are still open is unlinked from the
 * middle of the chain; the inner ones stay open and keep their parent id.
 * is_open is stored and, outside the owner, loaded atomically (relaxed:
 * it orders nothing else), so a stop from the wrong thread reads it
 * without a data race and answers FDN_ETHREAD.
 *
 * Ids come from one process-wide counter, starting at 1 and taken with a
 * relaxed fetch-add: only uniqueness is needed, which the read-modify-
 * write on one atomic gives without ordering anything else.  At a billion
 * spans a second it would take 584 years to wrap to 0.
 *
 * Durations and times are read from the hub's clock, so a virtual clock
 * gives exact durations in tests.  The event's time_ns is the same reading
 * as its monotonic_time measurement.
 */
#include "telemetry/internal.h"

#define SPAN_LONGEST_SUFFIX (sizeof ".exception" - 1)
#define SPAN_NAME_MAX (FDN_TELEMETRY_NAME_MAX - SPAN_LONGEST_SUFFIX)
#define SPAN_FIXED_META 4 /* span_id, parent_id, kind, reason */

/* Process-wide: the next span id. */
static _Atomic uint64_t next_span_id = 1;

/* Owner thread only: this thread's innermost open span (the head of the
 * chain through outer), NULL if none.  Initial-exec, as the slot index in
 * slots.c, so span calls read it without __tls_get_addr. */
static _Thread_local fdn_span_t *current_span
    __attribute__((tls_model("initial-exec")));

/* The length of a span name, or 0 if it is NULL, empty or too long to
 * take the longest suffix within FDN_TELEMETRY_NAME_MAX. */
static size_t span_name_len(const char *name)
{
    if (name == NULL)
        return 0;
    size_t n = strnlen(name, SPAN_NAME_MAX + 1);
    return n > SPAN_NAME_MAX ? 0 : n;
}

/* The link of this thread's chain that points to span (current_span or
 * an outer field), or NULL if span is not in the chain.  Reads only the
 * chain, which is this thread's. */
static fdn_span_t **chain_link(const fdn_span_t *span)
{
    fdn_span_t **link = &current_span;
    while (*link != NULL && *link != span)
        link = &(*link)->outer;
    return *link != NULL ? link : NULL;
}

/*
 * Emits "<span name><suffix>" with measurements m and the metadata
 * span_id, parent_id, then fixed[0 .. n_fixed) (kind, reason), then the
 * caller's md.  The name and counts were checked by the caller.
 */
static void span_emit(const fdn_span_t *span, const char *suffix,
                      uint64_t now, const fdn_telemetry_measurement_t *m,
                      size_t n_m, const fdn_telemetry_meta_t *fixed,
                      size_t n_fixed, const fdn_telemetry_meta_t *md,
                      size_t n_md)
{
    fdn_telemetry_t *t = span->telemetry;
    /* Skip building an event nobody would receive. */
    if (fdn__tel_is_quiet(&t->events))
        return;
    char name[FDN_TELEMETRY_NAME_MAX + 1];
    size_t len = strlen(span->name);
    size_t slen = strlen(suffix);
    memcpy(name, span->name, len);
    memcpy(name + len, suffix, slen + 1);
    fdn_telemetry_meta_t all[SPAN_FIXED_META + FDN_SPAN_MAX_META];
    size_t k = 0;
    all[k++] = FDN_TMETA_U("span_id", span->id);
    all[k++] = FDN_TMETA_U("parent_id", span->parent_id);
    for (size_t i = 0; i < n_fixed; i++)
        all[k++] = fixed[i];
    for (size_t i = 0; i < n_md; i++)
        all[k++] = md[i];
    fdn__tel_emit_at(t, name, now, m, n_m, all, k);
}

int fdn_span_start(fdn_telemetry_t *t, fdn_span_t *span, const char *name,
                   const fdn_span_t *parent, const fdn_telemetry_meta_t *md,
                   size_t n_md)
{
    if (t == NULL || span == NULL || span_name_len(name) == 0 ||
        (n_md > 0 && md == NULL) || n_md > FDN_SPAN_MAX_META)
        return FDN_EINVAL;
    /* A span already open on this thread would make the chain a cycle.
     * The chain is walked rather than span->is_open read, since the
     * caller's storage need not be initialised before start. */
    if (span == parent || chain_link(span) != NULL)
        return FDN_EINVAL;
    uint64_t parent_id = 0;
    if (parent != NULL)
        parent_id = parent->id;
    else if (current_span != NULL)
        parent_id = current_span->id;
    uint64_t now = fdn_clock_now(t->clock);
    span->telemetry = t;
    span->name = name;
    /* Relaxed: see the file comment (uniqueness only). */
    span->id = atomic_fetch_add_explicit(&next_span_id, 1,
                                         memory_order_relaxed);
    span->parent_id = parent_id;
    span->start_ns = now;
    span->outer = current_span;
    __atomic_store_n(&span->is_open, true, __ATOMIC_RELAXED);
    /* Current before the start event, so a handler of it that starts a
     * span of its own makes it a child of this one. */
    current_span = span;
    fdn_telemetry_measurement_t m[1] = {
        {.name = "monotonic_time", .value = (double)now},
    };
    span_emit(span, ".start", now, m, 1, NULL, 0, md, n_md);
    return FDN_OK;
}

/* Ends span (stop or exception): checks it, unlinks it from this thread's
 * chain, and emits the event with suffix and fixed metadata.  The chain is
 * searched before any field of span is read: a span in it was started on
 * this thread, so its fields are this thread's to read; a span open on
 * another thread is being written there.  Only is_open is read for a span
 * outside the chain, with an atomic load (every store to it is atomic), to
 * tell a span already ended (FDN_EINVAL) from one open elsewhere
 * (FDN_ETHREAD). */
static int span_end(fdn_span_t *span, const char *suffix,
                    const fdn_telemetry_meta_t *fixed, size_t n_fixed,
                    const fdn_telemetry_meta_t *md, size_t n_md)
{
    if (span == NULL || (n_md > 0 && md == NULL) || n_md > FDN_SPAN_MAX_META)
        return FDN_EINVAL;
    fdn_span_t **link = chain_link(span);
    if (link == NULL)
        return __atomic_load_n(&span->is_open, __ATOMIC_RELAXED)
                   ? FDN_ETHREAD
                   : FDN_EINVAL;
    *link = span->outer;
    span->outer = NULL;
    __atomic_store_n(&span->is_open, false, __ATOMIC_RELAXED);
    uint64_t now = fdn_clock_now(span->telemetry->clock);
    /* The clock is monotonic; the guard only keeps a misbehaving clock
     * from producing a huge unsigned duration. */
    uint64_t duration = now >= span->start_ns ? now - span->start_ns : 0;
    fdn_telemetry_measurement_t m[2] = {
        {.name = "duration", .value = (double)duration},
        {.name = "monotonic_time", .value = (double)now},
    };
    span_emit(span, suffix, now, m, 2, fixed, n_fixed, md, n_md);
    return FDN_OK;
}

int fdn_span_stop(fdn_span_t *span, const fdn_telemetry_meta_t *md,
                  size_t n_md)
{
    return span_end(span, ".stop", NULL, 0, md, n_md);
}

int fdn_span_exception(fdn_span_t *span, const char *kind, const char *reason,
                       const fdn_telemetry_meta_t *md, size_t n_md)
{
    fdn_telemetry_meta_t fixed[2] = {
        FDN_TMETA_S("kind", kind != NULL ? kind : ""),
        FDN_TMETA_S("reason", reason != NULL ? reason : ""),
    };
    return span_end(span, ".exception", fixed, 2, md, n_md);
}

uint64_t fdn_span_current_id(void)
{
    return current_span != NULL ? current_span->id : 0;
}
