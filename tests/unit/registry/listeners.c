/*
 * listeners.c — subscriptions to a namespace's changes: every change
 * reported, in order, with a gap-free seq and the reason an entry left.
 */
#include "unit/registry/reg_helpers.h"
#include "unit/on_valgrind.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define TAG_EVENT 77u

static reg_fixture_t fx;

static void setup(void) { reg_fixture_up(&fx, 2); }
static void teardown(void) { reg_fixture_down(&fx); }

/* Receives the next registry event on ctx (waiting up to 2 s). */
static bool next_event(fdn_ctx_t *ctx, fdn_registry_event_t *ev)
{
    fdn_msg_t *m = NULL;
    if (fdn_receive(ctx, 2 * FDN_NS_PER_S, &m) != FDN_OK)
        return false;
    cr_assert_eq(m->kind, FDN_MSG_USER);
    cr_assert_eq(m->tag, TAG_EVENT);
    cr_assert_eq(m->from, FDN_PID_NONE);
    cr_assert_geq(m->size, offsetof(fdn_registry_event_t, fields));
    memset(ev, 0, sizeof *ev);
    memcpy(ev, m->data, m->size);
    cr_assert_eq(m->size, offsetof(fdn_registry_event_t, fields) +
                              ev->nfields * sizeof(fdn_meta_field_t));
    fdn_msg_free(ctx, m);
    return true;
}

static bool no_event(fdn_ctx_t *ctx)
{
    fdn_msg_t *m = NULL;
    if (fdn_receive(ctx, 20 * FDN_NS_PER_MS, &m) != FDN_OK)
        return true;
    fdn_msg_free(ctx, m);
    return false;
}

static void expect(fdn_ctx_t *ctx, uint64_t seq, fdn_registry_event_kind_t k,
                   fdn_registry_reason_t why, const char *key, fdn_pid_t pid)
{
    fdn_registry_event_t ev;
    cr_assert(next_event(ctx, &ev), "no event %llu", (unsigned long long)seq);
    cr_assert_eq(ev.seq, seq);
    cr_assert_eq(ev.kind, k, "seq %llu: kind %d, expected %d",
                 (unsigned long long)seq, ev.kind, k);
    cr_assert_eq(ev.reason, why, "seq %llu: reason %d, expected %d",
                 (unsigned long long)seq, ev.reason, why);
    cr_assert_str_eq(ev.key, key);
    cr_assert_eq(ev.pid, pid);
}

/* Checks: REG-S8 REG-C13 */
Test(registry_listeners, every_change_in_order_with_reasons,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.max_entries = 2;
    o.on_full = FDN_REGISTRY_EVICT_LRU;
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "svc", &o, &ns), FDN_OK);
    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(fx.rt, &ctx), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(ns, fdn_self(ctx), TAG_EVENT), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(ns, fdn_self(ctx), TAG_EVENT),
                 FDN_EEXIST);

    fdn_pid_t a = reg_spawn_idle(fx.rt), b = reg_spawn_idle(fx.rt);
    fdn_meta_t m = {0};
    cr_assert_eq(fdn_meta_set_int(&m, "load", 3), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "x", a, &m, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "y", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_meta_set_int(&m, "load", 4), FDN_OK);
    cr_assert_eq(fdn_registry_update(ns, "x", a, &m, FDN_REGISTRY_MERGE),
                 FDN_OK);
    /* A third entry evicts the least recently seen: y (x was updated). */
    cr_assert_eq(fdn_registry_register(ns, "z", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(ns, "z", b), FDN_OK);
    /* A refused registration reports nothing. */
    cr_assert_eq(fdn_registry_register(ns, "x", b, NULL, NULL), FDN_EEXIST);
    reg_kill(fx.rt, a);

    expect(ctx, 1, FDN_REGISTRY_REGISTERED, FDN_REGISTRY_NONE, "x", a);
    expect(ctx, 2, FDN_REGISTRY_REGISTERED, FDN_REGISTRY_NONE, "y", b);
    fdn_registry_event_t ev;
    cr_assert(next_event(ctx, &ev));
    cr_assert_eq(ev.seq, 3);
    cr_assert_eq(ev.kind, FDN_REGISTRY_UPDATED);
    cr_assert_eq(ev.nfields, 1);
    cr_assert_eq(ev.fields[0].value.as.i, 4);
    cr_assert_str_eq(ev.ns, "svc");
    expect(ctx, 4, FDN_REGISTRY_REGISTERED, FDN_REGISTRY_NONE, "z", b);
    expect(ctx, 5, FDN_REGISTRY_UNREGISTERED, FDN_REGISTRY_EVICTED, "y", b);
    expect(ctx, 6, FDN_REGISTRY_UNREGISTERED, FDN_REGISTRY_EXPLICIT, "z", b);
    expect(ctx, 7, FDN_REGISTRY_UNREGISTERED, FDN_REGISTRY_DOWN, "x", a);
    cr_assert(no_event(ctx));

    /* Unsubscribed: nothing more arrives. */
    cr_assert_eq(fdn_registry_unsubscribe(ns, fdn_self(ctx)), FDN_OK);
    cr_assert_eq(fdn_registry_unsubscribe(ns, fdn_self(ctx)), FDN_ENOENT);
    cr_assert_eq(fdn_registry_register(ns, "w", b, NULL, NULL), FDN_OK);
    cr_assert(no_event(ctx));
    fdn_detach(ctx);
}

struct collector {
    fdn_registry_ns_t *ns;
    _Atomic bool ready;
    int n;
    fdn_registry_event_t ev[20];
};

/* A second listener on its own thread (one ctx per thread). */
static void *collect_loop(void *arg)
{
    struct collector *c = arg;
    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(fx.rt, &ctx), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(c->ns, fdn_self(ctx), TAG_EVENT),
                 FDN_OK);
    atomic_store(&c->ready, true);
    while (c->n < 20 && next_event(ctx, &c->ev[c->n]))
        c->n++;
    fdn_detach(ctx);
    return NULL;
}

/* Checks: REG-S8 */
Test(registry_listeners, listeners_see_the_same_sequence,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "plain", &ns), FDN_OK);
    struct collector col = {.ns = ns};
    pthread_t th;
    pthread_create(&th, NULL, collect_loop, &col);
    fdn_ctx_t *c1;
    cr_assert_eq(fdn_attach(fx.rt, &c1), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(ns, fdn_self(c1), TAG_EVENT), FDN_OK);
    cr_assert(REG_POLL_UNTIL(atomic_load(&col.ready)));
    fdn_pid_t a = reg_spawn_idle(fx.rt);
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, a, NULL, NULL), FDN_OK);
    }
    fdn_registry_event_t e1[20];
    for (int i = 0; i < 20; i++)
        cr_assert(next_event(c1, &e1[i]));
    fdn_detach(c1);
    pthread_join(th, NULL);
    cr_assert_eq(col.n, 20);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(e1[i].seq, (uint64_t)i + 1);
        cr_assert_eq(col.ev[i].seq, e1[i].seq);
        cr_assert_str_eq(col.ev[i].key, e1[i].key);
    }
}

/* Checks: REG-L4 REG-C13 */
Test(registry_listeners, a_dead_listener_is_dropped, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &ns), FDN_OK);
    fdn_pid_t l = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_subscribe(ns, l, TAG_EVENT), FDN_OK);
    reg_kill(fx.rt, l);
    /* Its subscription ended with it. */
    cr_assert(REG_POLL_UNTIL(fdn_registry_unsubscribe(ns, l) == FDN_ENOENT));
    cr_assert_eq(fdn_registry_subscribe(ns, l, TAG_EVENT), FDN_ENOPROC);
    cr_assert_eq(fdn_registry_subscribe(ns, FDN_PID_NONE, TAG_EVENT),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_subscribe(NULL, l, TAG_EVENT), FDN_EINVAL);
    /* Writes go on. */
    fdn_pid_t a = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(ns, "k", a, NULL, NULL), FDN_OK);
}

struct churn {
    fdn_registry_ns_t *ns;
    fdn_pid_t owner;
    int id;
    _Atomic bool *stop;
};

static void *churn_loop(void *arg)
{
    struct churn *c = arg;
    char key[16];
    snprintf(key, sizeof key, "c%d", c->id);
    while (!atomic_load(c->stop)) {
        cr_assert_eq(fdn_registry_register(c->ns, key, c->owner, NULL, NULL),
                     FDN_OK);
        cr_assert_eq(fdn_registry_unregister(c->ns, key, c->owner), FDN_OK);
    }
    return NULL;
}

/* Receives the next event if one is queued within 50 ms. */
static bool drain_event(fdn_ctx_t *ctx, fdn_registry_event_t *ev)
{
    fdn_msg_t *m = NULL;
    if (fdn_receive(ctx, 50 * FDN_NS_PER_MS, &m) != FDN_OK)
        return false;
    memset(ev, 0, sizeof *ev);
    memcpy(ev, m->data, m->size);
    fdn_msg_free(ctx, m);
    return true;
}

/*
 * A plain namespace turns locked when a listener subscribes while writers
 * run: from then on every change is reported, in order — per key the
 * events alternate registered / unregistered, the last is unregistered
 * (each writer ends with one), and seq has no gap.
 */
/* Checks: REG-S8 */
Test(registry_listeners, subscribing_under_load_misses_nothing,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "busy", &ns), FDN_OK);
    _Atomic bool stop = false;
    struct churn c[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (struct churn){ns, reg_spawn_idle(fx.rt), i, &stop};
        pthread_create(&th[i], NULL, churn_loop, &c[i]);
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(fx.rt, &ctx), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(ns, fdn_self(ctx), TAG_EVENT), FDN_OK);
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int last[2] = {0, 0};
    uint64_t first = 0, n = 0;
    fdn_registry_event_t ev;
    while (drain_event(ctx, &ev)) {
        if (n == 0)
            first = ev.seq;
        cr_assert_eq(ev.seq, first + n, "gap: %llu after %llu",
                     (unsigned long long)ev.seq,
                     (unsigned long long)(first + n - 1));
        n++;
        int id = ev.key[1] - '0';
        cr_assert(ev.key[0] == 'c' && (id == 0 || id == 1));
        cr_assert_neq((int)ev.kind, last[id], "key %s: two %d in a row",
                      ev.key, (int)ev.kind);
        last[id] = (int)ev.kind;
    }
    cr_assert_gt(n, 0);
    for (int i = 0; i < 2; i++)
        cr_assert(last[i] == 0 || last[i] == FDN_REGISTRY_UNREGISTERED);
    cr_assert_eq(fdn_registry_count(ns), 0);
    fprintf(stderr, "REG-S8: %llu events after subscribing under load\n",
                (unsigned long long)n);
    fdn_detach(ctx);
}

struct sub_race {
    fdn_registry_ns_t *ns;
    _Atomic fdn_pid_t target;
    _Atomic bool stop;
};

/* Subscribes whatever pid is the current target, over and over: most
 * calls race the target's death or find it subscribed already. */
static void *subscribe_loop(void *arg)
{
    struct sub_race *r = arg;
    while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
        fdn_pid_t p = atomic_load_explicit(&r->target, memory_order_acquire);
        if (p != FDN_PID_NONE)
            (void)fdn_registry_subscribe(r->ns, p, 1);
    }
    return NULL;
}

/* Checks: REG-L4 REG-C13 REG-F3
 * Found by the newcomer review (under TSan): a subscribe that lost to
 * the listener's death freed its record while the death's monitor
 * callback had read it, with no happens-before between the two
 * (fdn_monitor_fn_cancel answered FDN_ENOENT for a completed death
 * without an acquire).  Listeners die while two threads subscribe them;
 * the namespace keeps working and ends with no listener. */
Test(registry_listeners, subscribing_a_dying_listener, .init = setup,
     .fini = teardown)
{
    static struct sub_race r;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &r.ns), FDN_OK);
    atomic_store(&r.target, FDN_PID_NONE);
    atomic_store(&r.stop, false);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, subscribe_loop, &r), 0);
    fdn_pid_t owner = reg_spawn_idle(fx.rt);
    /* Under valgrind the subscribers' busy loops starve the killer. */
    int rounds = FDN_TEST_ON_VALGRIND() ? 20 : 500;
    for (int round = 0; round < rounds; round++) {
        fdn_pid_t p = reg_spawn_idle(fx.rt);
        atomic_store_explicit(&r.target, p, memory_order_release);
        for (volatile int spin = 0; spin < (round % 50) * 100; spin++)
            ;
        reg_kill(fx.rt, p);
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, p)));
    }
    atomic_store_explicit(&r.stop, true, memory_order_release);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* Every subscription went with its listener: a write reaches no one
     * and unsubscribing the last target finds nothing. */
    cr_assert_eq(fdn_registry_register(r.ns, "k", owner, NULL, NULL),
                 FDN_OK);
    fdn_pid_t last = atomic_load(&r.target);
    cr_assert(REG_POLL_UNTIL(fdn_registry_unsubscribe(r.ns, last) ==
                             FDN_ENOENT));
}
