/*
 * telemetry/collect.c — collectors: callbacks that refresh metrics from
 * elsewhere (the runtime's statistics, a registry's counts) just before an
 * export reads them.
 *
 * One lock guards the list and serialises runs: an export runs every
 * collector under it, so two scrapes at once never interleave a
 * collector's updates, and removing a collector (which takes the lock)
 * returns only after any run of it has finished, so its context may then
 * be freed.  A collector may create metrics, record, attach and detach
 * handlers, and export.
 *
 * Who may wait for the lock.  Two kinds of caller must never wait for it:
 *  - a thread running collectors (of any hub: tls_in_collector).  It holds
 *    one hub's lock; waiting for its own would deadlock at once, waiting
 *    for another hub's closes a cycle when that hub's collector does the
 *    same (A's collector exports B while B's exports A);
 *  - a thread inside an RCU read-side critical section (an event handler).
 *    A collector that attaches or detaches a handler waits for a grace
 *    period while it holds the lock, and that reader would hold the grace
 *    period back.
 * For them a collect runs no collectors at all (the export reads the
 * values as last refreshed), and add and remove only try the lock,
 * answering FDN_EBUSY when it is held (always, for a collector's own hub).
 * Never running collectors inside a reader also means a collector always
 * runs outside one, so its detach of a handler waits as detach promises
 * and it may free the handler's context afterwards.
 *
 * The HTTP server's thread waits for the lock, but gives up when its
 * server is being stopped (fdn__tel_collect_give_up_on): the stop joins
 * that thread, and may be called by a collector holding the lock, or by a
 * handler holding back a collector's grace period.  It then exports
 * without running collectors.
 *
 * A collector added by the library itself (instrument.c) may own its
 * context: its free callback runs once the collector is removed, after
 * its last run, or when the hub is destroyed.
 */
#include "telemetry/internal.h"

#include "internal/rcu.h"

#include <errno.h>
#include <time.h>

struct fdn__tel_collector {
    struct fdn__tel_collector *next;
    fdn_telemetry_collect_fn fn;
    void *ctx;
    fdn__tel_collector_free_fn free_fn; /* NULL: none */
    uint64_t id;
};

/* Frees x, and its context through its free_fn; no run of x is in
 * progress and none can start. */
static void collector_free(fdn_telemetry_t *t, struct fdn__tel_collector *x)
{
    if (x->free_fn != NULL)
        x->free_fn(t, x->ctx);
    fdn__free(t->alloc, x);
}

int fdn__tel_collectors_init(fdn_telemetry_t *t)
{
    fdn__tel_collectors_t *c = &t->collectors;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return FDN_ESYS;
    c->head = NULL;
    c->next_id = 1;
    return FDN_OK;
}

void fdn__tel_collectors_fini(fdn_telemetry_t *t)
{
    fdn__tel_collectors_t *c = &t->collectors;
    while (c->head) {
        struct fdn__tel_collector *x = c->head;
        c->head = x->next;
        collector_free(t, x);
    }
    pthread_mutex_destroy(&c->lock);
}

/* True while this thread runs collectors, of any hub. */
static _Thread_local bool tls_in_collector;
/* Set on the HTTP server's thread around an export: the flag that says
 * its server is stopping (see the file comment). */
static _Thread_local const _Atomic bool *tls_give_up;

void fdn__tel_collect_give_up_on(const _Atomic bool *flag)
{
    tls_give_up = flag;
}

const _Atomic bool *fdn__tel_collect_give_up_flag(void)
{
    return tls_give_up;
}

/* True when this thread must not wait for a collectors' lock (see the
 * file comment).  An unregistered thread is in no reader and reads 0. */
static bool must_not_wait(void)
{
    return tls_in_collector || fdn__rcu_read_ongoing();
}

/* Takes c's lock as the file comment says: only tries when this thread
 * must not wait; waits in slices of 10 ms, giving up once *tls_give_up
 * is set, on a server's thread; else waits.  False if not taken. */
static bool lock_collectors(fdn__tel_collectors_t *c)
{
    if (must_not_wait())
        return pthread_mutex_trylock(&c->lock) == 0;
    if (tls_give_up == NULL) {
        pthread_mutex_lock(&c->lock);
        return true;
    }
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 10 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        int rc = pthread_mutex_timedlock(&c->lock, &until);
        if (rc == 0)
            return true;
        /* Acquire: pairs with the release store in fdn_telemetry_http_stop
         * (only the flag itself is needed; the order is for clarity). */
        if (rc != ETIMEDOUT ||
            atomic_load_explicit(tls_give_up, memory_order_acquire))
            return false;
    }
}

void fdn__tel_collect(fdn_telemetry_t *t)
{
    if (must_not_wait())
        return; /* inside a collector or a handler: none run */
    fdn__tel_collectors_t *c = &t->collectors;
    if (!lock_collectors(c))
        return; /* a server's thread, and the server is stopping */
    tls_in_collector = true;
    for (struct fdn__tel_collector *x = c->head; x; x = x->next)
        x->fn(t, x->ctx);
    tls_in_collector = false;
    pthread_mutex_unlock(&c->lock);
}

void fdn_telemetry_collect(fdn_telemetry_t *t)
{
    if (t != NULL)
        fdn__tel_collect(t);
}

int fdn__tel_collector_add_free(fdn_telemetry_t *t, fdn_telemetry_collect_fn fn,
                                void *ctx, fdn__tel_collector_free_fn free_fn,
                                uint64_t *id)
{
    if (t == NULL || fn == NULL)
        return FDN_EINVAL;
    struct fdn__tel_collector *x = fdn__alloc(t->alloc, sizeof *x);
    if (x == NULL)
        return FDN_ENOMEM;
    x->fn = fn;
    x->ctx = ctx;
    x->free_fn = free_fn;
    x->next = NULL;
    fdn__tel_collectors_t *c = &t->collectors;
    if (!lock_collectors(c)) {
        fdn__free(t->alloc, x);
        return FDN_EBUSY;
    }
    x->id = c->next_id++;
    /* Under the lock: once it is released x may run, and be removed and
     * freed by another thread. */
    if (id)
        *id = x->id;
    /* Appended, so collectors run in the order they were added. */
    struct fdn__tel_collector **pp = &c->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    pthread_mutex_unlock(&c->lock);
    return FDN_OK;
}

int fdn_telemetry_collector_add(fdn_telemetry_t *t, fdn_telemetry_collect_fn fn,
                                void *ctx, uint64_t *id)
{
    return fdn__tel_collector_add_free(t, fn, ctx, NULL, id);
}

int fdn_telemetry_collector_remove(fdn_telemetry_t *t, uint64_t id)
{
    if (t == NULL)
        return FDN_EINVAL;
    fdn__tel_collectors_t *c = &t->collectors;
    if (!lock_collectors(c))
        return FDN_EBUSY;
    for (struct fdn__tel_collector **pp = &c->head; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct fdn__tel_collector *x = *pp;
            *pp = x->next;
            pthread_mutex_unlock(&c->lock);
            collector_free(t, x);
            return FDN_OK;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return FDN_ENOENT;
}
