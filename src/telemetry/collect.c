/*
 * telemetry/collect.c — collectors: callbacks that refresh metrics from
 * elsewhere (the runtime's statistics, a registry's counts) just before an
 * export reads them.
 *
 * One lock guards the list and serialises runs: an export runs every
 * collector under it, so two scrapes at once never interleave a
 * collector's updates, and removing a collector (which takes the lock)
 * returns only after any run of it has finished, so its context may then
 * be freed.  A collector runs with the lock held, so the calls that take
 * it notice when they are made from a collector of the same hub (a
 * thread-local pointer to the hub whose collectors this thread runs):
 * adding or removing a collector answers FDN_EBUSY instead of
 * deadlocking, and a collect (an export's, too) runs no collectors, so a
 * collector may export.  It may also create metrics and record.
 *
 * Read-side callers never wait for the lock.  A collector may attach or
 * detach a handler, which (outside a reader) waits for a grace period
 * while it holds the lock; a thread inside a read-side critical section
 * (an event handler exporting, say) that waited for the lock would hold
 * that grace period back, and neither would go on.  So from inside a
 * reader (fdn__rcu_read_ongoing) the calls only try the lock: a collect
 * that finds it held runs no collectors (the export reads the values the
 * running collect is refreshing), and an add or remove that finds it held
 * answers FDN_EBUSY.  Outside a reader they wait as before.
 *
 * A collector added by the library itself (instrument.c) may own its
 * context: its free callback runs once the collector is removed, after
 * its last run, or when the hub is destroyed.
 */
#include "telemetry/internal.h"

#include "internal/rcu.h"

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

/* The hub whose collectors this thread is running, or NULL. */
static _Thread_local const fdn_telemetry_t *tls_collecting;

/* Takes c's lock: waits for it outside a read-side critical section,
 * only tries inside one (see the file comment).  0 if it is held. */
static int lock_collectors(fdn__tel_collectors_t *c)
{
    /* An unregistered thread is in no reader and reads 0. */
    if (fdn__rcu_read_ongoing())
        return pthread_mutex_trylock(&c->lock) == 0;
    pthread_mutex_lock(&c->lock);
    return 1;
}

void fdn__tel_collect(fdn_telemetry_t *t)
{
    if (tls_collecting == t)
        return; /* called from one of t's collectors: they are running */
    fdn__tel_collectors_t *c = &t->collectors;
    if (!lock_collectors(c))
        return; /* a reader, and another thread is running them */
    const fdn_telemetry_t *outer = tls_collecting;
    tls_collecting = t;
    for (struct fdn__tel_collector *x = c->head; x; x = x->next)
        x->fn(t, x->ctx);
    tls_collecting = outer;
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
    if (tls_collecting == t) {
        fdn__free(t->alloc, x);
        return FDN_EBUSY;
    }
    fdn__tel_collectors_t *c = &t->collectors;
    if (!lock_collectors(c)) {
        fdn__free(t->alloc, x);
        return FDN_EBUSY;
    }
    x->id = c->next_id++;
    /* Appended, so collectors run in the order they were added. */
    struct fdn__tel_collector **pp = &c->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    pthread_mutex_unlock(&c->lock);
    if (id)
        *id = x->id;
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
    if (tls_collecting == t)
        return FDN_EBUSY;
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
