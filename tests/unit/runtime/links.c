/*
 * links.c — runtime unit tests: exit propagation through chains and cycles
 * of links, with trap_exit and KILL (RT-S5, RT-S4).  The model
 * specs/models/links.pml checks the same protocol exhaustively on small
 * configurations; these tests run it on the real runtime.
 *
 * Every process here is a "node": it obeys commands the test thread sends
 * as USER messages (link to a pid, stop with a reason, answer a ping) and
 * reports every EXIT message it receives to the test thread.  The test
 * thread monitors every node, so it learns each death and its reason from
 * the DOWN.  A test lists the DOWNs and EXIT reports it expects, in any
 * order, waits for exactly those, then waits until each dead node's death
 * is complete (so every signal it sent is queued) and pings the survivors:
 * a pong that is the very next message proves a survivor is alive and got
 * nothing more than what was expected.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include "unit/runtime/death.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum {
    CMD_LINK = 1, /* payload: a pid; answers REP_RC */
    CMD_STOP,     /* payload: a reason; the handler stops with it */
    CMD_PING,     /* answers REP_PONG */
    CMD_BLOCK,    /* the handler waits until `gate_open` (bounded) */
    CMD_UNLINK,   /* payload: a pid; answers REP_RC */
    REP_RC,       /* payload: the int result of the command */
    REP_PONG,
    REP_EXIT      /* payload: struct exit_rep, an EXIT the node received */
};

struct exit_rep {
    fdn_pid_t from;
    fdn_reason_t reason;
};

enum { MAX_NODES = 8 };

struct node {
    fdn_pid_t pid;
    fdn_ref_t mon; /* the test thread's monitor on it */
};

static fdn_failing_allocator_t *fa;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;
/* The test thread's pid: written before any node is spawned (the spawn
 * publishes it), then only read. */
static fdn_pid_t test_pid;
static struct node nodes[MAX_NODES];
static int nnodes;

/* CMD_BLOCK's gate.  Release/acquire pairs: the node stores is_blocked
 * and loads gate_open; the test thread the other way round. */
static _Atomic bool gate_open, is_blocked;

static void wait_complete(fdn_pid_t pid)
{
    fdn_test_wait_death_complete(rt, pid);
}

static void setup(void)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    test_pid = fdn_self(me);
    nnodes = 0;
}

static void teardown(void)
{
    /* Whatever a test left running is killed, and its death completed,
     * before the test thread leaves. */
    for (int i = 0; i < nnodes; i++)
        if (fdn_alive(rt, nodes[i].pid))
            (void)fdn_exit(rt, NULL, nodes[i].pid, FDN_REASON_KILL);
    for (int i = 0; i < nnodes; i++)
        wait_complete(nodes[i].pid);
    fdn_detach(me);
    cr_expect_eq(fdn_runtime_process_count(rt), 0);
    fdn_runtime_destroy(rt);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

TestSuite(links, .init = setup, .fini = teardown);

/* ---- the node process -------------------------------------------------- */

static void report(fdn_ctx_t *ctx, uint32_t tag, const void *data, size_t size)
{
    /* The test thread may be gone when a node dies late: ignore errors. */
    (void)fdn_send(ctx, test_pid, tag, data, size);
}

static fdn_next_t node_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_EXIT) {
        struct exit_rep r = {.from = m->from, .reason = m->reason};
        report(ctx, REP_EXIT, &r, sizeof r);
        return FDN_CONTINUE;
    }
    if (m->kind != FDN_MSG_USER)
        return FDN_CONTINUE;
    switch (m->tag) {
    case CMD_LINK: {
        fdn_pid_t pid;
        memcpy(&pid, m->data, sizeof pid);
        int rc = fdn_link(ctx, pid);
        report(ctx, REP_RC, &rc, sizeof rc);
        return FDN_CONTINUE;
    }
    case CMD_STOP: {
        fdn_reason_t why;
        memcpy(&why, m->data, sizeof why);
        return fdn_stop(ctx, why);
    }
    case CMD_PING:
        report(ctx, REP_PONG, NULL, 0);
        return FDN_CONTINUE;
    case CMD_BLOCK:
        atomic_store_explicit(&is_blocked, true, memory_order_release);
        for (int i = 0; i < 10000 &&
                        !atomic_load_explicit(&gate_open, memory_order_acquire);
             i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        return FDN_CONTINUE;
    case CMD_UNLINK: {
        fdn_pid_t pid;
        memcpy(&pid, m->data, sizeof pid);
        int rc = fdn_unlink(ctx, pid);
        report(ctx, REP_RC, &rc, sizeof rc);
        return FDN_CONTINUE;
    }
    default:
        return FDN_CONTINUE;
    }
}

static const fdn_behaviour_t node_behaviour = {.handle = node_handle,
                                               .name = "link-node"};

/* ---- helpers for the test thread --------------------------------------- */

/* Spawns a node, trapping exits or not, monitored by the test thread;
 * returns its index. */
static int spawn_node(bool traps)
{
    cr_assert(nnodes < MAX_NODES);
    fdn_spawn_opts_t o = {.size = sizeof o, .trap_exit = traps};
    struct node *n = &nodes[nnodes];
    cr_assert_eq(fdn_spawn(rt, NULL, &node_behaviour, NULL, &o, &n->pid),
                 FDN_OK);
    cr_assert_eq(fdn_monitor(me, n->pid, &n->mon), FDN_OK);
    return nnodes++;
}

/* Receives the next message (waiting at most 10 s); the caller frees it. */
static fdn_msg_t *next_msg(void)
{
    fdn_msg_t *m = NULL;
    cr_assert_eq(fdn_receive(me, 10 * FDN_NS_PER_S, &m), FDN_OK,
                 "no message arrived");
    return m;
}

/* Makes node a link to node b, from a's handler. */
static void link_nodes(int a, int b)
{
    cr_assert_eq(fdn_send(me, nodes[a].pid, CMD_LINK, &nodes[b].pid,
                          sizeof nodes[b].pid),
                 FDN_OK);
    fdn_msg_t *m = next_msg();
    cr_assert_eq(m->kind, FDN_MSG_USER);
    cr_assert_eq(m->tag, REP_RC);
    cr_assert_eq(m->from, nodes[a].pid);
    int rc;
    memcpy(&rc, m->data, sizeof rc);
    fdn_msg_free(me, m);
    cr_assert_eq(rc, FDN_OK, "link %d-%d: %s", a, b, fdn_errname(rc));
}

static void stop_node(int i, fdn_reason_t why)
{
    cr_assert_eq(fdn_send(me, nodes[i].pid, CMD_STOP, &why, sizeof why),
                 FDN_OK);
}

/* Pings node i; the pong must be the next message the test thread gets. */
static void ping(int i)
{
    cr_assert_eq(fdn_send(me, nodes[i].pid, CMD_PING, NULL, 0), FDN_OK);
    fdn_msg_t *m = next_msg();
    cr_assert_eq(m->kind, FDN_MSG_USER, "node %d: kind %d instead of a pong",
                 i, (int)m->kind);
    cr_assert_eq(m->tag, REP_PONG, "node %d: tag %u instead of a pong", i,
                 m->tag);
    cr_assert_eq(m->from, nodes[i].pid);
    fdn_msg_free(me, m);
    cr_assert(fdn_alive(rt, nodes[i].pid));
}

/* An event the test expects: a DOWN of a node, or an EXIT a trapping node
 * reports, with the dead node it came from. */
struct ev {
    bool is_exit;
    int node;  /* the node that died (DOWN) or that got the EXIT */
    int from;  /* EXIT: the node it came from */
    fdn_reason_t reason;
};

static struct ev down(int node, fdn_reason_t reason)
{
    return (struct ev){.is_exit = false, .node = node, .reason = reason};
}

static struct ev exit_at(int node, int from, fdn_reason_t reason)
{
    return (struct ev){.is_exit = true, .node = node, .from = from,
                       .reason = reason};
}

/* Receives exactly the n expected events, in any order, each once; any
 * other message fails the test. */
static void expect_events(const struct ev *evs, int n)
{
    bool seen[2 * MAX_NODES * MAX_NODES] = {false};
    cr_assert(n <= (int)(sizeof seen / sizeof seen[0]));
    for (int got = 0; got < n; got++) {
        fdn_msg_t *m = next_msg();
        int match = -1;
        for (int k = 0; k < n && match < 0; k++) {
            const struct ev *e = &evs[k];
            if (seen[k])
                continue;
            if (!e->is_exit && m->kind == FDN_MSG_DOWN &&
                m->ref == nodes[e->node].mon) {
                cr_assert_eq(m->from, nodes[e->node].pid);
                cr_assert_eq(m->reason, e->reason,
                             "node %d died with %lld, want %lld", e->node,
                             (long long)m->reason, (long long)e->reason);
                match = k;
            } else if (e->is_exit && m->kind == FDN_MSG_USER &&
                       m->tag == REP_EXIT && m->from == nodes[e->node].pid) {
                struct exit_rep r;
                cr_assert_eq(m->size, sizeof r);
                memcpy(&r, m->data, sizeof r);
                if (r.from != nodes[e->from].pid)
                    continue;
                cr_assert_eq(r.reason, e->reason,
                             "node %d got EXIT from %d with %lld, want %lld",
                             e->node, e->from, (long long)r.reason,
                             (long long)e->reason);
                match = k;
            }
        }
        cr_assert(match >= 0,
                  "unexpected message: kind %d tag %u from %llx reason %lld",
                  (int)m->kind, m->tag, (unsigned long long)m->from,
                  (long long)m->reason);
        seen[match] = true;
        fdn_msg_free(me, m);
    }
}

/* A chain a[0]-a[1]-...-a[n-1]. */
static void chain(const int *a, int n)
{
    for (int i = 0; i + 1 < n; i++)
        link_nodes(a[i], a[i + 1]);
}

/* ---- tests ------------------------------------------------------------- */

/* Checks: RT-S5, RT-S6 */
Test(links, chain_stops_at_a_trapping_process)
{
    /* A-B-C-D, B traps.  D dies abnormally: C dies with the same reason, B
     * takes C's signal as one EXIT and survives, A is never signalled. */
    int a = spawn_node(false), b = spawn_node(true), c = spawn_node(false),
        d = spawn_node(false);
    chain((int[]){a, b, c, d}, 4);
    const fdn_reason_t why = FDN_REASON_USER + 1;
    stop_node(d, why);
    const struct ev evs[] = {down(d, why), down(c, why), exit_at(b, c, why)};
    expect_events(evs, 3);
    wait_complete(nodes[d].pid);
    wait_complete(nodes[c].pid);
    /* Both deaths are complete: a second EXIT for B, or a signal for A,
     * would be queued ahead of these pings. */
    ping(b);
    ping(a);
    /* The link A-B is still there: B dying abnormally takes A along. */
    stop_node(b, FDN_REASON_SHUTDOWN);
    const struct ev rest[] = {down(b, FDN_REASON_SHUTDOWN),
                              down(a, FDN_REASON_SHUTDOWN)};
    expect_events(rest, 2);
}

/* Checks: RT-S5, RT-S6 */
Test(links, chain_without_trapping_all_die_with_the_reason)
{
    const fdn_reason_t reasons[] = {FDN_REASON_SHUTDOWN, FDN_REASON_USER + 5,
                                    INT64_MAX};
    for (size_t r = 0; r < sizeof reasons / sizeof reasons[0]; r++) {
        nnodes = 0;
        int n[4];
        for (int i = 0; i < 4; i++)
            n[i] = spawn_node(false);
        chain(n, 4);
        /* Start at an end one round, in the middle the next. */
        int first = r % 2 == 0 ? n[3] : n[1];
        stop_node(first, reasons[r]);
        struct ev evs[4];
        for (int i = 0; i < 4; i++)
            evs[i] = down(n[i], reasons[r]);
        expect_events(evs, 4);
        for (int i = 0; i < 4; i++)
            wait_complete(nodes[n[i]].pid);
        cr_assert_eq(fdn_runtime_process_count(rt), 1, "only the test thread");
    }
}

/* Checks: RT-S5 */
Test(links, cycle_terminates)
{
    /* A-B-C-D-A, nobody traps: every death reaches two processes, some of
     * them already dying; each dies once and every death completes. */
    int n[4];
    for (int i = 0; i < 4; i++)
        n[i] = spawn_node(false);
    chain(n, 4);
    link_nodes(n[3], n[0]);
    const fdn_reason_t why = FDN_REASON_USER + 7;
    stop_node(n[2], why);
    struct ev evs[4];
    for (int i = 0; i < 4; i++)
        evs[i] = down(n[i], why);
    expect_events(evs, 4);
    for (int i = 0; i < 4; i++)
        wait_complete(nodes[n[i]].pid);
    cr_assert_eq(fdn_runtime_process_count(rt), 1, "only the test thread");
}

/* Checks: RT-S5 */
Test(links, cycle_with_a_trapping_process_gives_it_one_exit_per_link)
{
    /* A-B-C-D-A, B traps.  D dies: A and C die, B gets exactly two EXITs,
     * one from each of them, and survives. */
    int a = spawn_node(false), b = spawn_node(true), c = spawn_node(false),
        d = spawn_node(false);
    chain((int[]){a, b, c, d}, 4);
    link_nodes(d, a);
    const fdn_reason_t why = FDN_REASON_USER + 8;
    stop_node(d, why);
    const struct ev evs[] = {down(d, why), down(a, why), down(c, why),
                             exit_at(b, a, why), exit_at(b, c, why)};
    expect_events(evs, 5);
    wait_complete(nodes[a].pid);
    wait_complete(nodes[c].pid);
    wait_complete(nodes[d].pid);
    ping(b);
}

/* Checks: RT-S5 */
Test(links, normal_exit_through_a_chain_kills_nobody)
{
    /* A-B-C-D, nobody traps, and W (trapping) also linked to D.  D exits
     * NORMAL: C drops the signal, W takes it as an EXIT, nobody dies. */
    int a = spawn_node(false), b = spawn_node(false), c = spawn_node(false),
        d = spawn_node(false), w = spawn_node(true);
    chain((int[]){a, b, c, d}, 4);
    link_nodes(w, d);
    stop_node(d, FDN_REASON_NORMAL);
    const struct ev evs[] = {down(d, FDN_REASON_NORMAL),
                             exit_at(w, d, FDN_REASON_NORMAL)};
    expect_events(evs, 2);
    /* D's signal to C is queued ahead of the ping. */
    wait_complete(nodes[d].pid);
    ping(c);
    ping(b);
    ping(a);
    ping(w);
    /* The rest of the chain is intact: an abnormal exit of C still
     * propagates to B and A. */
    stop_node(c, FDN_REASON_USER + 2);
    const struct ev rest[] = {down(c, FDN_REASON_USER + 2),
                              down(b, FDN_REASON_USER + 2),
                              down(a, FDN_REASON_USER + 2)};
    expect_events(rest, 3);
}

/* Checks: RT-S4, RT-S5 */
Test(links, kill_of_a_trapping_process_kills_its_links_with_killed)
{
    /* T traps and is linked to X (X-Y further on, neither trapping) and to
     * W (trapping).  KILL kills T anyway, with KILLED; KILLED then travels
     * the links as an ordinary reason: X and Y die with it, W gets it as an
     * EXIT and survives. */
    int t = spawn_node(true), x = spawn_node(false), y = spawn_node(false),
        w = spawn_node(true);
    link_nodes(t, x);
    link_nodes(x, y);
    link_nodes(w, t);
    cr_assert_eq(fdn_exit(rt, me, nodes[t].pid, FDN_REASON_KILL), FDN_OK);
    const struct ev evs[] = {down(t, FDN_REASON_KILLED),
                             down(x, FDN_REASON_KILLED),
                             down(y, FDN_REASON_KILLED),
                             exit_at(w, t, FDN_REASON_KILLED)};
    expect_events(evs, 4);
    wait_complete(nodes[t].pid);
    wait_complete(nodes[x].pid);
    wait_complete(nodes[y].pid);
    ping(w);
}

/* Checks: RT-S5 */
Test(links, a_handler_stopping_with_kill_sends_killed_through_links)
{
    /* A process whose handler stops with FDN_REASON_KILL dies with KILL,
     * but its links receive KILLED, which is trappable: W gets an EXIT and
     * survives, X (not trapping) dies with KILLED. */
    int s = spawn_node(false), x = spawn_node(false), w = spawn_node(true);
    link_nodes(s, x);
    link_nodes(w, s);
    stop_node(s, FDN_REASON_KILL);
    const struct ev evs[] = {down(s, FDN_REASON_KILL),
                             down(x, FDN_REASON_KILLED),
                             exit_at(w, s, FDN_REASON_KILLED)};
    expect_events(evs, 3);
    wait_complete(nodes[s].pid);
    wait_complete(nodes[x].pid);
    ping(w);
}

/*
 * Unlink as in Erlang: once fdn_unlink returns, the link has no effect on
 * the caller, even when the other side already died and its exit signal
 * is queued.  a is held in a handler while b dies, so a's mailbox holds
 * [UNLINK b, b's exit signal]; a unlinks, then pops the signal, which must
 * be void.  (Before the fix the death had already taken a's link record,
 * unlink found nothing, and the signal killed a.)
 */
/* Checks: RT-S5 */
Test(links, unlink_voids_a_signal_already_queued)
{
    int a = spawn_node(false), b = spawn_node(false);
    link_nodes(a, b);
    atomic_store_explicit(&gate_open, false, memory_order_relaxed);
    atomic_store_explicit(&is_blocked, false, memory_order_relaxed);
    cr_assert_eq(fdn_send(me, nodes[a].pid, CMD_BLOCK, NULL, 0), FDN_OK);
    for (int i = 0; i < 10000 &&
                    !atomic_load_explicit(&is_blocked, memory_order_acquire);
         i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(atomic_load_explicit(&is_blocked, memory_order_acquire));
    cr_assert_eq(fdn_send(me, nodes[a].pid, CMD_UNLINK, &nodes[b].pid,
                          sizeof nodes[b].pid),
                 FDN_OK);
    stop_node(b, FDN_REASON_USER + 3);
    struct ev evs[] = {down(b, FDN_REASON_USER + 3)};
    expect_events(evs, 1);
    wait_complete(nodes[b].pid); /* its signal to a is queued now */
    fdn_process_info_t info = {.size = sizeof info};
    cr_assert_eq(fdn_process_info(rt, nodes[a].pid, &info), FDN_OK);
    cr_assert_eq(info.links, 0, "a down link is not counted");
    atomic_store_explicit(&gate_open, true, memory_order_release);
    fdn_msg_t *m = next_msg();
    cr_assert_eq(m->tag, REP_RC);
    int rc;
    memcpy(&rc, m->data, sizeof rc);
    fdn_msg_free(me, m);
    cr_assert_eq(rc, FDN_OK);
    ping(a); /* alive, and nothing else arrived first */
    stop_node(a, FDN_REASON_NORMAL);
    struct ev evs2[] = {down(a, FDN_REASON_NORMAL)};
    expect_events(evs2, 1);
}
