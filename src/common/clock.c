/*
 * clock.c — the monotonic clock and virtual clocks for tests.
 *
 * A virtual clock's time is an atomic read without locks; advancing takes
 * the clock's mutex (which also guards the listener list), adds to the time
 * with release order (paired with the acquire load in fdn_clock_now, so a
 * thread that sees the new time also sees what the advancer wrote before),
 * then calls the listeners while still holding the mutex so that unlisten
 * can never return while a listener runs.
 */
#include "internal/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MAX_LISTENERS 16

struct fdn_clock {
    bool is_virtual;             /* immutable */
    _Atomic uint64_t now_ns;     /* virtual time; atomic */
    pthread_mutex_t lock;        /* guards listeners */
    struct {
        fdn__clock_listener_fn fn;
        void *arg;
    } listeners[MAX_LISTENERS];  /* guarded by lock */
    int nlisteners;              /* guarded by lock */
};

static fdn_clock_t monotonic_clock = {.is_virtual = false};

FDN_API fdn_clock_t *fdn_clock_monotonic(void) { return &monotonic_clock; }

FDN_API int fdn_clock_virtual_create(uint64_t start_ns, fdn_clock_t **out)
{
    if (out == NULL)
        return FDN_EINVAL;
    fdn_clock_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return FDN_ENOMEM;
    c->is_virtual = true;
    atomic_init(&c->now_ns, start_ns);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return FDN_ESYS;
    }
    *out = c;
    return FDN_OK;
}

FDN_API void fdn_clock_destroy(fdn_clock_t *clock)
{
    if (clock == NULL || !clock->is_virtual)
        return;
    pthread_mutex_destroy(&clock->lock);
    free(clock);
}

FDN_API int fdn_clock_advance(fdn_clock_t *clock, uint64_t delta_ns)
{
    if (clock == NULL || !clock->is_virtual)
        return FDN_EINVAL;
    pthread_mutex_lock(&clock->lock);
    atomic_fetch_add_explicit(&clock->now_ns, delta_ns, memory_order_release);
    for (int i = 0; i < clock->nlisteners; i++)
        clock->listeners[i].fn(clock->listeners[i].arg);
    pthread_mutex_unlock(&clock->lock);
    return FDN_OK;
}

FDN_API uint64_t fdn_clock_now(const fdn_clock_t *clock)
{
    if (clock == NULL || !clock->is_virtual) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * FDN_NS_PER_S + (uint64_t)ts.tv_nsec;
    }
    /* Pairs with the release add in fdn_clock_advance. */
    return atomic_load_explicit(&clock->now_ns, memory_order_acquire);
}

uint64_t fdn__clock_now_coarse(const fdn_clock_t *clock)
{
    if (clock == NULL || !clock->is_virtual) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t)ts.tv_sec * FDN_NS_PER_S + (uint64_t)ts.tv_nsec;
    }
    return fdn_clock_now(clock);
}

FDN_API bool fdn_clock_is_virtual(const fdn_clock_t *clock)
{
    return clock != NULL && clock->is_virtual;
}

int fdn__clock_listen(fdn_clock_t *clock, fdn__clock_listener_fn fn,
                      void *arg)
{
    if (!clock->is_virtual)
        return FDN_OK;
    int rc = FDN_OK;
    pthread_mutex_lock(&clock->lock);
    if (clock->nlisteners == MAX_LISTENERS) {
        rc = FDN_ELIMIT;
    } else {
        clock->listeners[clock->nlisteners].fn = fn;
        clock->listeners[clock->nlisteners].arg = arg;
        clock->nlisteners++;
    }
    pthread_mutex_unlock(&clock->lock);
    return rc;
}

void fdn__clock_unlisten(fdn_clock_t *clock, fdn__clock_listener_fn fn,
                         void *arg)
{
    if (!clock->is_virtual)
        return;
    pthread_mutex_lock(&clock->lock);
    for (int i = 0; i < clock->nlisteners; i++) {
        if (clock->listeners[i].fn == fn && clock->listeners[i].arg == arg) {
            clock->listeners[i] = clock->listeners[clock->nlisteners - 1];
            clock->nlisteners--;
            break;
        }
    }
    pthread_mutex_unlock(&clock->lock);
}
