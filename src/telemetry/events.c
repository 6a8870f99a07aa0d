/*
 * telemetry/events.c — event handlers: attach, detach, emit, and the
 * failure event that reports a handler which returned non-zero.
 *
 * Design.  The handlers of a hub form an immutable list: an array of
 * pointers to immutable handler records, in attach order, published by one
 * atomic pointer (t->events.list, NULL when empty).  Attach and detach
 * serialise on t->events.lock, build a new array, publish it with a release
 * store and retire the old one; they never modify a published array.  Emit
 * reads the pointer with an acquire load inside an RCU read-side critical
 * section (urcu-memb, through internal/rcu.h) and walks that snapshot: no
 * lock, no allocation, no write to shared memory.  Emitting with no handler
 * attached is one relaxed load of the handler count, t->events.n.
 *
 * Each handler record also carries is_detached, set (under the lock) when
 * it is detached.  Emit skips a handler whose flag it sees set, so a
 * handler detached on this thread (by itself, by another handler, or
 * because it failed) is never called again on this thread, even by an
 * outer emit still walking an older snapshot.  Other threads may see the
 * flag late; for them the guarantee comes from the grace period below.
 *
 * Reclamation.  A retired array, and the handler records it held that the
 * new array dropped (its "dead" chain), are freed after a grace period, so
 * no emitter still walking the old snapshot touches freed memory.  Outside
 * any read-side critical section, attach and detach wait for the grace
 * period themselves (fdn__rcu_synchronize, with the lock released) and free
 * at once: that is what makes detach's promise (TEL-S6) hold, since every
 * emit that could have been running the handler has ended when
 * synchronize returns, and every emit that starts afterwards sees the new
 * array (and the flag).  Inside a read-side critical section (a handler
 * attaching or detaching, a failure handled during emit, or any caller
 * inside another module's reader) waiting would deadlock, so the old array
 * goes to call_rcu and the call returns at once; the hub remembers that
 * callbacks may be pending (has_deferred) and its destroy waits for them
 * with fdn__rcu_barrier before freeing what they use.  The test is
 * fdn__rcu_read_ongoing(), not a per-hub depth: a handler of one hub
 * detaching from another must not wait either.
 *
 * Detach never fails for want of memory: the last detach needs no array,
 * and when a smaller array cannot be allocated the record stays in the
 * published one as a zombie (flag set, count decremented), skipped by
 * emit and dropped by the next attach or detach that rebuilds the array.
 *
 * Failures.  A handler returning non-zero is detached as above (deferred:
 * emit is a reader), counted in t->events.failures, and reported by
 * emitting "telemetry.handler.failure" (handler_id, pattern, event,
 * error); the rest of the event's handlers still run.  Only the thread
 * whose detach removed the handler counts and reports it, so a handler
 * failing on two threads at once is reported once.  A handler that fails
 * on a failure event itself is detached and counted but not reported, so
 * a failure event never causes another (TEL-F5); a failure of another
 * event that a failure handler emits is reported as usual, and since each
 * report needs one more handler that failed and is now detached, nesting
 * is bounded by the handlers attached.
 *
 * Progress: emit and is_listened are wait-free apart from the handlers
 * they run (and the detach of a handler that failed, which takes the
 * lock but never waits for a grace period); attach and detach take the
 * lock and, outside a read-side section, wait for one grace period,
 * which ends once the emits running at the time have returned.
 */
#include "telemetry/internal.h"

#include "internal/rcu.h"

#include <stddef.h>

#define FAILURE_EVENT "telemetry.handler.failure"

enum { MATCH_EXACT = 1, MATCH_PREFIX = 2, MATCH_ALL = 3 };

struct fdn__tel_handler {
    /* Immutable once published, except is_detached and next_dead. */
    uint64_t id;
    fdn_telemetry_handler_fn fn;
    void *ctx;
    fdn__tel_release_fn release; /* NULL for the application's handlers */
    uint8_t match;               /* MATCH_* */
    size_t len;                  /* bytes of the name, or of the prefix
                                  * without its ".*" */
    _Atomic bool is_detached;    /* set once, under the events lock */
    /* Guarded by the events lock while the record is in the published
     * array; owned by the retired array whose dead chain holds it. */
    struct fdn__tel_handler *next_dead;
    char pattern[];              /* as attached, NUL-terminated */
};

struct fdn__tel_handlers {
    /* Immutable once published, except rcu and dead. */
    struct rcu_head rcu;         /* liburcu's, once queued by call_rcu */
    const fdn_allocator_t *alloc;
    struct fdn__tel_handler *dead; /* records freed with this array: set
                                    * when it is retired (under the lock),
                                    * then read only by its reclaimer */
    size_t n;
    struct fdn__tel_handler *at[];
};

/* ------------------------------------------------------------------------ */
/* Patterns                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Checks a pattern (TEL-C5) and says how it matches: "*" matches all;
 * "a.b.*" is the prefix "a.b" (len 3); anything else is an exact name.
 * Segments between dots must not be empty, and "*" may only be the whole
 * pattern or its whole last segment.
 */
static int parse_pattern(const char *p, uint8_t *match, size_t *len)
{
    if (p == NULL)
        return FDN_EINVAL;
    size_t n = strnlen(p, FDN_TELEMETRY_NAME_MAX + 1);
    if (n == 0 || n > FDN_TELEMETRY_NAME_MAX)
        return FDN_EINVAL;
    if (n == 1 && p[0] == '*') {
        *match = MATCH_ALL;
        *len = 0;
        return FDN_OK;
    }
    size_t seg = 0; /* bytes of the segment so far */
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '.') {
            if (seg == 0)
                return FDN_EINVAL;
            seg = 0;
        } else if (c == '*') {
            /* Only as the whole last segment: right after a dot (seg ==
             * 0) and at the end.  A "*" at i == 0 is either the whole
             * pattern, taken above, or followed by more bytes; the test
             * of i also keeps i - 1 below from wrapping. */
            if (seg != 0 || i != n - 1 || i == 0)
                return FDN_EINVAL;
            *match = MATCH_PREFIX;
            *len = i - 1;
            return FDN_OK;
        } else {
            seg++;
        }
    }
    if (seg == 0)
        return FDN_EINVAL; /* a trailing dot */
    *match = MATCH_EXACT;
    *len = n;
    return FDN_OK;
}

/* True if h's pattern matches name (len bytes). */
static inline bool matches(const struct fdn__tel_handler *h,
                           const char *name, size_t len)
{
    switch (h->match) {
    case MATCH_EXACT:
        return len == h->len && memcmp(name, h->pattern, len) == 0;
    case MATCH_PREFIX:
        /* "a.b.*" matches "a.b" and "a.b.<rest>", never "a.bc". */
        return len >= h->len && memcmp(name, h->pattern, h->len) == 0 &&
               (len == h->len || name[h->len] == '.');
    default:
        return true;
    }
}

/* The length of a good event name, or 0 for a bad one (NULL, empty, over
 * FDN_TELEMETRY_NAME_MAX). */
static inline size_t name_len(const char *name)
{
    if (name == NULL)
        return 0;
    size_t n = strnlen(name, FDN_TELEMETRY_NAME_MAX + 1);
    return n > FDN_TELEMETRY_NAME_MAX ? 0 : n;
}

/* ------------------------------------------------------------------------ */
/* Lists and their reclamation                                              */
/* ------------------------------------------------------------------------ */

static void handler_free(const fdn_allocator_t *a, struct fdn__tel_handler *h)
{
    if (h->release != NULL)
        h->release(a, h->ctx);
    fdn__free(a, h);
}

/* Frees a retired array and its dead chain (no reader can reach them). */
static void list_free(struct fdn__tel_handlers *l)
{
    const fdn_allocator_t *a = l->alloc;
    while (l->dead != NULL) {
        struct fdn__tel_handler *h = l->dead;
        l->dead = h->next_dead;
        handler_free(a, h);
    }
    fdn__free(a, l);
}

static void list_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    list_free(caa_container_of(head, struct fdn__tel_handlers, rcu));
    fdn__rcu_callback_end();
}

/*
 * Publishes a new array: the live handlers of the current one, in order,
 * then add (may be NULL).  On success *old receives the array to retire
 * (NULL if there was none), with the records the new array dropped (those
 * detached) on its dead chain.  When the array cannot be allocated nothing
 * changes and FDN_ENOMEM is returned.  Caller holds the lock.
 */
static int rebuild_locked(fdn_telemetry_t *t, struct fdn__tel_handler *add,
                          struct fdn__tel_handlers **old)
{
    fdn__tel_events_t *e = &t->events;
    /* Relaxed: only writers store list, and they hold the lock, which
     * orders the last store before this load. */
    struct fdn__tel_handlers *cur =
        atomic_load_explicit(&e->list, memory_order_relaxed);
    size_t live = add != NULL ? 1 : 0;
    for (size_t i = 0; cur != NULL && i < cur->n; i++)
        /* Relaxed: the flag is written only under the lock we hold. */
        if (!atomic_load_explicit(&cur->at[i]->is_detached,
                                  memory_order_relaxed))
            live++;
    struct fdn__tel_handlers *l = NULL;
    if (live > 0) {
        l = fdn__alloc(t->alloc, sizeof *l + live * sizeof l->at[0]);
        if (l == NULL)
            return FDN_ENOMEM;
        l->alloc = t->alloc;
        l->dead = NULL;
        l->n = 0;
        for (size_t i = 0; cur != NULL && i < cur->n; i++)
            if (!atomic_load_explicit(&cur->at[i]->is_detached,
                                      memory_order_relaxed))
                l->at[l->n++] = cur->at[i];
        if (add != NULL)
            l->at[l->n++] = add;
    }
    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        struct fdn__tel_handler *h = cur->at[i];
        if (atomic_load_explicit(&h->is_detached, memory_order_relaxed)) {
            h->next_dead = cur->dead;
            cur->dead = h;
        }
    }
    /* Release: pairs with the acquire loads of list in emit_slow and
     * fdn_telemetry_is_listened, so a reader that sees the new array sees
     * it, and every record it points to, whole. */
    atomic_store_explicit(&e->list, l, memory_order_release);
    *old = cur;
    return FDN_OK;
}

/*
 * Waits until no emitter can still be running what was just unlinked, and
 * frees old (may be NULL); or, for a caller inside a read-side critical
 * section (is_reader), leaves old to call_rcu and returns at once.  Called
 * without the lock: an emitter may be waiting for it inside its critical
 * section (a handler attaching), and synchronize would wait for that
 * emitter.
 */
static void retire(struct fdn__tel_handlers *old, bool is_reader)
{
    if (is_reader) {
        if (old != NULL)
            fdn__rcu_call(&old->rcu, list_free_rcu);
        return;
    }
    fdn__rcu_synchronize();
    if (old != NULL)
        list_free(old);
}

/* ------------------------------------------------------------------------ */
/* Attach and detach                                                        */
/* ------------------------------------------------------------------------ */

int fdn__tel_events_init(fdn_telemetry_t *t)
{
    fdn__tel_events_t *e = &t->events;
    if (pthread_mutex_init(&e->lock, NULL) != 0)
        return FDN_ESYS;
    /* Relaxed: the hub is not yet shared; its publication orders these. */
    atomic_store_explicit(&e->list, NULL, memory_order_relaxed);
    atomic_store_explicit(&e->n, 0, memory_order_relaxed);
    atomic_store_explicit(&e->failures, 0, memory_order_relaxed);
    e->next_id = 1;
    e->has_deferred = false;
    return FDN_OK;
}

void fdn__tel_events_fini(fdn_telemetry_t *t)
{
    fdn__tel_events_t *e = &t->events;
    /* No other call races with destroy, so the lock is not needed; the
     * caller's own synchronisation orders every earlier attach and
     * detach before this. */
    if (e->has_deferred)
        fdn__rcu_barrier(); /* callbacks that free old arrays are done */
    struct fdn__tel_handlers *l =
        atomic_load_explicit(&e->list, memory_order_relaxed);
    if (l != NULL) {
        for (size_t i = 0; i < l->n; i++)
            handler_free(t->alloc, l->at[i]);
        fdn__free(t->alloc, l);
    }
    atomic_store_explicit(&e->list, NULL, memory_order_relaxed);
    atomic_store_explicit(&e->n, 0, memory_order_relaxed);
    pthread_mutex_destroy(&e->lock);
}

int fdn__tel_attach(fdn_telemetry_t *t, const char *pattern,
                    fdn_telemetry_handler_fn fn, void *ctx,
                    fdn__tel_release_fn release, uint64_t *id)
{
    uint8_t match;
    size_t len;
    if (t == NULL || fn == NULL || parse_pattern(pattern, &match, &len) != 0)
        return FDN_EINVAL;
    size_t plen = strlen(pattern);
    struct fdn__tel_handler *h = fdn__alloc(t->alloc, sizeof *h + plen + 1);
    if (h == NULL)
        return FDN_ENOMEM;
    h->fn = fn;
    h->ctx = ctx;
    h->release = release;
    h->match = match;
    h->len = len;
    atomic_init(&h->is_detached, false);
    h->next_dead = NULL;
    memcpy(h->pattern, pattern, plen + 1);

    fdn__rcu_thread_enter();
    bool is_reader = fdn__rcu_read_ongoing() != 0;
    fdn__tel_events_t *e = &t->events;
    struct fdn__tel_handlers *old = NULL;
    pthread_mutex_lock(&e->lock);
    /* The id is set before the record is published; it is consumed only
     * when the attach succeeds. */
    uint64_t my_id = e->next_id;
    h->id = my_id;
    /* *id too, before the release store that publishes h: a handler that
     * reads the id its attacher stored (to detach itself) may run on
     * another thread as soon as h is published. */
    uint64_t id_before = id != NULL ? *id : 0;
    if (id != NULL)
        *id = my_id;
    if (rebuild_locked(t, h, &old) != FDN_OK) {
        /* A failed call changes nothing: h was never published, so no
         * handler saw the id. */
        if (id != NULL)
            *id = id_before;
        pthread_mutex_unlock(&e->lock);
        fdn__free(t->alloc, h);
        return FDN_ENOMEM;
    }
    e->next_id++;
    /* Relaxed: the count is a hint for the empty fast path (see
     * fdn__tel_is_quiet); the list itself is ordered by its release
     * store above.  Writers are serialised by the lock. */
    atomic_store_explicit(&e->n,
                          atomic_load_explicit(&e->n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (is_reader && old != NULL)
        e->has_deferred = true;
    pthread_mutex_unlock(&e->lock);
    /* The first attach retires nothing and need not wait for anyone. */
    if (old != NULL)
        retire(old, is_reader);
    return FDN_OK;
}

int fdn_telemetry_attach(fdn_telemetry_t *t, const char *pattern,
                         fdn_telemetry_handler_fn fn, void *ctx, uint64_t *id)
{
    return fdn__tel_attach(t, pattern, fn, ctx, NULL, id);
}

/*
 * Detaches handler id (see the file comment for the waiting rule).
 * FDN_ENOENT if no attached handler has that id.
 */
static int detach_id(fdn_telemetry_t *t, uint64_t id)
{
    fdn__rcu_thread_enter();
    bool is_reader = fdn__rcu_read_ongoing() != 0;
    fdn__tel_events_t *e = &t->events;
    pthread_mutex_lock(&e->lock);
    /* Relaxed: writers hold the lock (see rebuild_locked). */
    struct fdn__tel_handlers *cur =
        atomic_load_explicit(&e->list, memory_order_relaxed);
    struct fdn__tel_handler *h = NULL;
    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        if (cur->at[i]->id == id &&
            !atomic_load_explicit(&cur->at[i]->is_detached,
                                  memory_order_relaxed)) {
            h = cur->at[i];
            break;
        }
    }
    if (h == NULL) {
        pthread_mutex_unlock(&e->lock);
        /* Already detached (it failed, or another detach won) or never
         * attached: still wait, outside a reader, as a detach that found
         * it would have, so that a caller told ENOENT may free ctx too:
         * the failed handler may still be running on another thread, and
         * the winning detach may have been deferred. */
        if (!is_reader)
            fdn__rcu_synchronize();
        return FDN_ENOENT;
    }
    /* Relaxed: emitters on this thread see it by program order; emitters
     * on other threads that start after the grace period below see it by
     * RCU's guarantee (a store before synchronize is visible to every
     * critical section that begins after it returns), and those already
     * running are waited for.  Emitters on other threads while a deferred
     * detach is pending may still call h, as the header allows. */
    atomic_store_explicit(&h->is_detached, true, memory_order_relaxed);
    atomic_store_explicit(&e->n,
                          atomic_load_explicit(&e->n, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    struct fdn__tel_handlers *old = NULL;
    /* On FDN_ENOMEM h stays in the published array as a zombie, skipped
     * by emit and dropped by the next rebuild; old stays NULL. */
    (void)rebuild_locked(t, NULL, &old);
    if (is_reader && old != NULL)
        e->has_deferred = true;
    pthread_mutex_unlock(&e->lock);
    retire(old, is_reader);
    return FDN_OK;
}

int fdn_telemetry_detach(fdn_telemetry_t *t, uint64_t id)
{
    if (t == NULL)
        return FDN_EINVAL;
    return detach_id(t, id);
}

/* ------------------------------------------------------------------------ */
/* Emit                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Handles handler h's failure (it returned rc) during an emit of name:
 * detaches it (deferred: we are a reader), counts it and reports it,
 * unless another thread detached it first.
 */
static void handler_failed(fdn_telemetry_t *t,
                           const struct fdn__tel_handler *h,
                           const char *name, int rc)
{
    if (detach_id(t, h->id) != FDN_OK)
        return;
    /* Relaxed: a statistic. */
    atomic_fetch_add_explicit(&t->events.failures, 1, memory_order_relaxed);
    if (strcmp(name, FAILURE_EVENT) == 0)
        return; /* a failure event never reports another */
    /* h stays valid until this critical section ends, so its pattern can
     * be borrowed by the failure event. */
    fdn_telemetry_meta_t md[4] = {
        FDN_TMETA_U("handler_id", h->id),
        FDN_TMETA_S("pattern", h->pattern),
        FDN_TMETA_S("event", name),
        FDN_TMETA_I("error", rc),
    };
    fdn_telemetry_emit(t, FAILURE_EVENT, NULL, 0, md, 4);
}

/* Runs the matching handlers (the slow path of emit: some handler is
 * attached).  has_time false: the time is read at the first match. */
static __attribute__((noinline)) void
emit_slow(fdn_telemetry_t *t, const char *name, bool has_time,
          uint64_t time_ns, const fdn_telemetry_measurement_t *m, size_t n_m,
          const fdn_telemetry_meta_t *md, size_t n_md)
{
    size_t len = name_len(name);
    if (len == 0 || (n_m > 0 && m == NULL) || (n_md > 0 && md == NULL))
        return;
    fdn_telemetry_event_t ev = {
        .name = name,
        .time_ns = time_ns,
        .measurements = m,
        .n_measurements = n_m,
        .metadata = md,
        .n_metadata = n_md,
    };
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    /* Acquire: pairs with the release store in rebuild_locked. */
    struct fdn__tel_handlers *l =
        atomic_load_explicit(&t->events.list, memory_order_acquire);
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct fdn__tel_handler *h = l->at[i];
        if (!matches(h, name, len))
            continue;
        /* Relaxed: see detach_id. */
        if (atomic_load_explicit(&h->is_detached, memory_order_relaxed))
            continue;
        if (!has_time) {
            /* Reported, never decided on: the coarse clock (4 ns here
             * against 18 ns for CLOCK_MONOTONIC; a virtual clock reads
             * exactly).  Spans pass their own exact time. */
            ev.time_ns = fdn__clock_now_coarse(t->clock);
            has_time = true;
        }
        int rc = h->fn(&ev, h->ctx);
        if (rc != 0)
            handler_failed(t, h, name, rc);
    }
    fdn__rcu_read_unlock();
}

void fdn_telemetry_emit(fdn_telemetry_t *t, const char *name,
                        const fdn_telemetry_measurement_t *m, size_t n_m,
                        const fdn_telemetry_meta_t *md, size_t n_md)
{
    if (t == NULL || fdn__tel_is_quiet(&t->events))
        return;
    emit_slow(t, name, false, 0, m, n_m, md, n_md);
}

void fdn__tel_emit_at(fdn_telemetry_t *t, const char *name, uint64_t time_ns,
                      const fdn_telemetry_measurement_t *m, size_t n_m,
                      const fdn_telemetry_meta_t *md, size_t n_md)
{
    if (t == NULL || fdn__tel_is_quiet(&t->events))
        return;
    emit_slow(t, name, true, time_ns, m, n_m, md, n_md);
}

bool fdn_telemetry_is_listened(fdn_telemetry_t *t, const char *name)
{
    if (t == NULL || fdn__tel_is_quiet(&t->events))
        return false;
    size_t len = name_len(name);
    if (len == 0)
        return false;
    bool is_listened = false;
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    /* Acquire: pairs with the release store in rebuild_locked. */
    struct fdn__tel_handlers *l =
        atomic_load_explicit(&t->events.list, memory_order_acquire);
    for (size_t i = 0; l != NULL && i < l->n && !is_listened; i++)
        is_listened = matches(l->at[i], name, len) &&
                      !atomic_load_explicit(&l->at[i]->is_detached,
                                            memory_order_relaxed);
    fdn__rcu_read_unlock();
    return is_listened;
}
