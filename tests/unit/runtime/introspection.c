/*
 * introspection.c — runtime unit tests: fdn_processes, fdn_process_info,
 * name sources and fdn_process_names, runtime statistics by exit reason.
 */
#include "unit/runtime/rt_fixture.h"
#include "unit/on_valgrind.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_STOP = 1, T_NOP = 2, T_LINK = 3, T_MON = 4 };

static void setup(void)
{
    rt_up(false);
}

static void teardown(void)
{
    rt_down();
}

TestSuite(introspection, .init = setup, .fini = teardown);

/* A worker: stops with the reason in a T_STOP payload; links to or
 * monitors the pid in a T_LINK / T_MON payload. */
static fdn_next_t worker(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind != FDN_MSG_USER)
        return FDN_CONTINUE;
    if (m->tag == T_STOP) {
        fdn_reason_t r;
        memcpy(&r, m->data, sizeof r);
        return fdn_stop(ctx, r);
    }
    if (m->tag == T_LINK || m->tag == T_MON) {
        fdn_pid_t to;
        memcpy(&to, m->data, sizeof to);
        fdn_ref_t ref;
        if (m->tag == T_LINK)
            fdn_link(ctx, to);
        else
            fdn_monitor(ctx, to, &ref);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t worker_b = {.handle = worker, .name = "worker"};

static fdn_pid_t spawn_worker(bool trap)
{
    fdn_spawn_opts_t so = {.size = sizeof so, .trap_exit = trap};
    fdn_pid_t pid;
    cr_assert_eq(fdn_spawn(rt, NULL, &worker_b, NULL, &so, &pid), FDN_OK);
    return pid;
}

static void stop_with(fdn_pid_t pid, fdn_reason_t r)
{
    cr_assert_eq(fdn_send(me, pid, T_STOP, &r, sizeof r), FDN_OK);
}


static int cmp_pid(const void *a, const void *b)
{
    fdn_pid_t x = *(const fdn_pid_t *)a, y = *(const fdn_pid_t *)b;
    return x < y ? -1 : x > y;
}

/* Checks: RT-C12, RT-C1 */
Test(introspection, processes_lists_every_live_pid_once)
{
    enum { N = 100 };
    fdn_pid_t want[N + 1];
    for (int i = 0; i < N; i++)
        want[i] = spawn_worker(false);
    want[N] = fdn_self(me);
    size_t count = 0;
    cr_assert_eq(fdn_processes(rt, NULL, 0, &count), FDN_OK);
    cr_assert_eq(count, N + 1);
    fdn_pid_t got[N + 10];
    cr_assert_eq(fdn_processes(rt, got, N + 10, &count), FDN_OK);
    cr_assert_eq(count, N + 1);
    qsort(want, N + 1, sizeof want[0], cmp_pid);
    qsort(got, count, sizeof got[0], cmp_pid);
    for (int i = 0; i <= N; i++)
        cr_assert_eq(got[i], want[i], "pid %d differs", i);
    /* A short array: filled, and the count says how many there are. */
    fdn_pid_t few[5];
    cr_assert_eq(fdn_processes(rt, few, 5, &count), FDN_OK);
    cr_assert_eq(count, N + 1);
    for (int i = 0; i < 5; i++)
        cr_assert(fdn_alive(rt, few[i]));
    cr_assert_eq(fdn_processes(NULL, got, 1, &count), FDN_EINVAL);
    cr_assert_eq(fdn_processes(rt, NULL, 1, &count), FDN_EINVAL);
    cr_assert_eq(fdn_processes(rt, got, 1, NULL), FDN_EINVAL);
    /* The dead are not listed. */
    for (int i = 0; i <= N; i++)
        if (want[i] != fdn_self(me))
            stop_with(want[i], FDN_REASON_NORMAL);
    WAIT_FOR(fdn_runtime_process_count(rt) == 1);
    cr_assert_eq(fdn_processes(rt, got, N + 10, &count), FDN_OK);
    cr_assert_eq(count, 1);
    cr_assert_eq(got[0], fdn_self(me));
}

/* Checks: RT-C13, RT-C1 */
Test(introspection, process_info_reports_the_process)
{
    fdn_pid_t a = spawn_worker(true), b = spawn_worker(false);
    fdn_process_info_t i = info(a);
    cr_assert_eq(i.size, sizeof i);
    cr_assert_eq(i.pid, a);
    cr_assert_str_eq(i.name, "worker");
    cr_assert(!i.is_attached);
    cr_assert(i.trap_exit);
    cr_assert_eq(info(b).trap_exit, false);
    cr_assert_eq(i.max_mailbox, 0);
    cr_assert_eq(i.links, 0);
    cr_assert_eq(i.monitors, 0);
    cr_assert_eq(i.monitored_by, 0);
    cr_assert_eq(i.requests, 0);
    cr_assert_eq(i.handled, 0);
    WAIT_FOR(info(a).status == FDN_STATUS_WAITING);
    size_t base = info(a).memory;
    cr_assert_gt(base, 0);

    /* a links to b and monitors b; the test monitors a. */
    cr_assert_eq(fdn_send(me, a, T_LINK, &b, sizeof b), FDN_OK);
    cr_assert_eq(fdn_send(me, a, T_MON, &b, sizeof b), FDN_OK);
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, a, &mref), FDN_OK);
    /* handled counts a message as its handler starts: wait for effects. */
    WAIT_FOR(info(a).handled == 2 && info(a).monitors == 1 &&
             info(a).links == 1);
    i = info(a);
    cr_assert_eq(i.links, 1);
    cr_assert_eq(i.monitors, 1);
    cr_assert_eq(i.monitored_by, 1);
    cr_assert_gt(i.memory, base, "link and monitor records are counted");
    fdn_process_info_t ib = info(b);
    cr_assert_eq(ib.links, 1);
    cr_assert_eq(ib.monitored_by, 1);
    cr_assert_eq(ib.monitors, 0);
    for (int k = 0; k < 10; k++)
        cr_assert_eq(fdn_send(me, a, T_NOP, NULL, 0), FDN_OK);
    WAIT_FOR(info(a).handled == 12);
    WAIT_FOR(info(a).mailbox_len == 0);
    cr_assert_eq(info(fdn_self(me)).is_attached, true);
    cr_assert_str_eq(info(fdn_self(me)).name, "attached");
    cr_assert_eq(info(fdn_self(me)).monitors, 1);

    /* b dies: a (trapping) gets the EXIT and the DOWN; its counts fall. */
    stop_with(b, FDN_REASON_USER);
    WAIT_FOR(!fdn_alive(rt, b));
    WAIT_FOR(info(a).handled == 14 && info(a).links == 0);
    i = info(a);
    cr_assert_eq(i.links, 0);
    cr_assert_eq(i.monitors, 0);
    fdn_process_info_t dead = {.size = sizeof dead};
    cr_assert_eq(fdn_process_info(rt, b, &dead), FDN_ENOPROC);
    cr_assert_eq(fdn_process_info(rt, FDN_PID_NONE, &dead), FDN_ENOPROC);
    dead.size = 0;
    cr_assert_eq(fdn_process_info(rt, a, &dead), FDN_EINVAL);
    dead.size = sizeof dead + 1;
    cr_assert_eq(fdn_process_info(rt, a, &dead), FDN_EINVAL);
    cr_assert_eq(fdn_process_info(NULL, a, &i), FDN_EINVAL);
    cr_assert_eq(fdn_process_info(rt, a, NULL), FDN_EINVAL);
    /* A caller built against a shorter struct gets only its fields. */
    fdn_process_info_t part;
    memset(&part, 0xab, sizeof part);
    part.size = offsetof(fdn_process_info_t, status);
    cr_assert_eq(fdn_process_info(rt, a, &part), FDN_OK);
    cr_assert_eq(part.pid, a);
    cr_assert_eq(part.mailbox_len, 0xababababu, "fields past size untouched");

    stop_with(a, FDN_REASON_NORMAL);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    fdn_msg_free(me, m);
}

/* Checks: RT-C14, RT-C1 */
Test(introspection, stats_count_exits_by_reason)
{
    fdn_runtime_stats_t s0, s1;
    fdn_runtime_stats(rt, &s0);
    cr_assert_eq(s0.schedulers, 2);
    cr_assert_eq(s0.live, 1);
    fdn_reason_t reasons[] = {FDN_REASON_NORMAL, FDN_REASON_NORMAL,
                              FDN_REASON_SHUTDOWN, FDN_REASON_USER,
                              FDN_REASON_USER + 1, FDN_REASON_INIT_FAILED};
    enum { NR = sizeof reasons / sizeof reasons[0] };
    fdn_pid_t p[NR + 2];
    for (int i = 0; i < NR + 2; i++)
        p[i] = spawn_worker(false);
    for (int i = 0; i < NR; i++)
        stop_with(p[i], reasons[i]);
    cr_assert_eq(fdn_exit(rt, me, p[NR], FDN_REASON_KILL), FDN_OK);
    cr_assert_eq(fdn_exit(rt, me, p[NR + 1], FDN_REASON_KILL), FDN_OK);
    WAIT_FOR(fdn_runtime_process_count(rt) == 1);
    fdn_runtime_stats(rt, &s1);
    cr_assert_eq(s1.spawned - s0.spawned, NR + 2);
    cr_assert_eq(s1.exited - s0.exited, NR + 2);
    cr_assert_eq(s1.exited_normal - s0.exited_normal, 2);
    cr_assert_eq(s1.exited_shutdown - s0.exited_shutdown, 1);
    cr_assert_eq(s1.exited_killed - s0.exited_killed, 2);
    cr_assert_eq(s1.exited_other - s0.exited_other, 3);
    cr_assert_eq(s1.exited, s1.exited_normal + s1.exited_shutdown +
                                s1.exited_killed + s1.exited_other);
    /* The stops are messages; kills are marks, not messages. */
    cr_assert_geq(s1.messages_sent - s0.messages_sent, NR);
    WAIT_FOR((fdn_runtime_stats(rt, &s1), s1.runnable == 0));
    cr_assert_eq(fdn_runtime_runq_len(rt, 0) + fdn_runtime_runq_len(rt, 1), 0);
    cr_assert_eq(fdn_runtime_runq_len(rt, 2), 0, "no such scheduler");
    cr_assert_eq(fdn_runtime_runq_len(NULL, 0), 0);
}

/* ---- name sources ---------------------------------------------------- */

struct names {
    fdn_pid_t pid; /* the one pid this source names */
    const char *name;
    _Atomic int calls;
};

static void source(void *arg, fdn_pid_t pid, fdn_name_emit_fn emit,
                   void *emit_arg)
{
    struct names *n = arg;
    atomic_fetch_add(&n->calls, 1);
    if (pid == n->pid)
        emit(emit_arg, "test", n->name);
}

struct seen {
    int count;
    char last[64];
};

static void collect(void *arg, const char *ns, const char *name)
{
    struct seen *s = arg;
    s->count++;
    snprintf(s->last, sizeof s->last, "%s/%s", ns, name);
}

/* Checks: RT-C13, RT-C1 */
Test(introspection, names_come_from_every_source)
{
    fdn_pid_t a = spawn_worker(false), b = spawn_worker(false);
    struct names n1 = {.pid = a, .name = "alpha"};
    struct names n2 = {.pid = a, .name = "beta"};
    uint64_t id1, id2;
    cr_assert_eq(fdn_runtime_name_source_add(rt, source, &n1, &id1), FDN_OK);
    cr_assert_eq(fdn_runtime_name_source_add(rt, source, &n2, &id2), FDN_OK);
    cr_assert_neq(id1, id2);
    struct seen s = {0};
    cr_assert_eq(fdn_process_names(rt, a, collect, &s), FDN_OK);
    cr_assert_eq(s.count, 2);
    memset(&s, 0, sizeof s);
    cr_assert_eq(fdn_process_names(rt, b, collect, &s), FDN_OK);
    cr_assert_eq(s.count, 0);
    cr_assert_eq(fdn_runtime_name_source_remove(rt, id2), FDN_OK);
    cr_assert_eq(fdn_runtime_name_source_remove(rt, id2), FDN_ENOENT);
    memset(&s, 0, sizeof s);
    cr_assert_eq(fdn_process_names(rt, a, collect, &s), FDN_OK);
    cr_assert_eq(s.count, 1);
    cr_assert_str_eq(s.last, "test/alpha");
    /* A dead pid has no names; the sources are not even asked. */
    stop_with(a, FDN_REASON_NORMAL);
    WAIT_FOR(!fdn_alive(rt, a));
    int calls = atomic_load(&n1.calls);
    memset(&s, 0, sizeof s);
    cr_assert_eq(fdn_process_names(rt, a, collect, &s), FDN_OK);
    cr_assert_eq(s.count, 0);
    cr_assert_eq(atomic_load(&n1.calls), calls);
    cr_assert_eq(fdn_process_names(rt, b, NULL, &s), FDN_EINVAL);
    cr_assert_eq(fdn_runtime_name_source_add(rt, NULL, &n1, &id2), FDN_EINVAL);
    cr_assert_eq(fdn_runtime_name_source_add(rt, source, &n1, NULL),
                 FDN_EINVAL);
    /* Left in place: destroy frees it (teardown checks the bytes). */
    stop_with(b, FDN_REASON_NORMAL);
    WAIT_FOR(fdn_runtime_process_count(rt) == 1);
}

/* ---- info under concurrency ------------------------------------------ */

struct prober {
    _Atomic bool is_done;
    _Atomic uint64_t loops;
    uint64_t reads, noproc, insane;
};

static void *probe_main(void *arg)
{
    struct prober *pr = arg;
    fdn_pid_t pids[256];
    while (!atomic_load_explicit(&pr->is_done, memory_order_acquire)) {
        size_t n = 0;
        if (fdn_processes(rt, pids, 256, &n) != FDN_OK)
            break;
        for (size_t i = 0; i < n && i < 256; i++) {
            fdn_process_info_t in = {.size = sizeof in};
            int rc = fdn_process_info(rt, pids[i], &in);
            if (rc == FDN_ENOPROC) {
                pr->noproc++;
                continue;
            }
            pr->reads++;
            if (rc != FDN_OK || in.pid != pids[i] || in.mailbox_len > 100000 ||
                in.links > 4 || in.name == NULL)
                pr->insane++;
        }
        atomic_fetch_add_explicit(&pr->loops, 1, memory_order_relaxed);
    }
    return NULL;
}

static fdn_next_t chain_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_USER && m->tag == T_NOP) {
        /* Spawn a linked child that dies at once, then stop. */
        fdn_spawn_opts_t so = {.size = sizeof so, .link = true};
        fdn_pid_t c;
        if (fdn_spawn(NULL, ctx, &worker_b, NULL, &so, &c) == FDN_OK) {
            fdn_reason_t r = FDN_REASON_NORMAL;
            fdn_send(ctx, c, T_STOP, &r, sizeof r);
        }
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

/* fdn_process_info from another thread while processes are born, link and
 * die: every reading is of the pid asked for, with sane values. */
/* Checks: RT-C13, RT-C12 */
Test(introspection, info_is_safe_while_processes_churn)
{
    static const fdn_behaviour_t chain = {.handle = chain_handle, .name = "c"};
    struct prober pr = {0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, probe_main, &pr), 0);
    WAIT_FOR(atomic_load(&pr.loops) > 0);
    uint64_t loops0 = atomic_load(&pr.loops);
    /* At least 200 rounds, and on until the prober has looked 50 times
     * during the churn (it may be starved of a core for a while). */
    for (int round = 0;
         round < 200 || atomic_load(&pr.loops) - loops0 < 50; round++) {
        cr_assert_lt(round, 1000000);
        fdn_pid_t p[20];
        for (int i = 0; i < 20; i++) {
            cr_assert_eq(fdn_spawn(rt, NULL, &chain, NULL, NULL, &p[i]), FDN_OK);
            cr_assert_eq(fdn_send(me, p[i], T_NOP, NULL, 0), FDN_OK);
        }
        WAIT_FOR(fdn_runtime_process_count(rt) == 1);
    }
    atomic_store_explicit(&pr.is_done, true, memory_order_release);
    pthread_join(th, NULL);
    cr_log_info("info reads %" PRIu64 ", noproc %" PRIu64, pr.reads, pr.noproc);
    cr_assert_gt(pr.reads, 50, "the attached test thread is read every loop");
    cr_assert_eq(pr.insane, 0);
}

/* ---- stats under churn ------------------------------------------------- */

static fdn_next_t stop_at_once(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)arg;
    (void)state;
    (void)ctx;
    return FDN_CONTINUE;
}

static fdn_next_t die_on_msg(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    (void)m;
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

struct churn {
    _Atomic bool is_done;
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    static const fdn_behaviour_t b = {
        .init = stop_at_once, .handle = die_on_msg, .name = "churn"};
    fdn_ctx_t *ctx;
    if (fdn_attach(rt, &ctx) != FDN_OK)
        return NULL;
    while (!atomic_load_explicit(&c->is_done, memory_order_acquire)) {
        fdn_pid_t p;
        if (fdn_spawn(rt, NULL, &b, NULL, NULL, &p) == FDN_OK)
            fdn_send(ctx, p, 1, NULL, 0);
    }
    fdn_detach(ctx);
    return NULL;
}

/* Readings taken while processes come and go stay consistent: exits never
 * pass spawns (live never wraps), the by-reason counts sum to exited
 * (found by the newcomer review: live read as 2^64 - 5). */
/* Checks: RT-C14 */
Test(introspection, stats_stay_consistent_under_churn)
{
    struct churn c = {0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, churn_main, &c), 0);
    uint64_t readings = 0, bad = 0, last_spawned = 0;
    /* Under valgrind spawning is ~50x slower: fewer processes, more
     * time. */
    uint64_t want = FDN_TEST_ON_VALGRIND() ? 100 : 1000;
    uint64_t grace = (FDN_TEST_ON_VALGRIND() ? 120 : 10) * FDN_NS_PER_S;
    uint64_t t_end = now_ns() + 300 * FDN_NS_PER_MS;
    fdn_runtime_stats_t first_bad;
    memset(&first_bad, 0, sizeof first_bad);
    while (now_ns() < t_end || last_spawned < want) {
        fdn_runtime_stats_t st;
        fdn_runtime_stats(rt, &st);
        readings++;
        if (st.exited > st.spawned || st.live > 1000000 ||
            st.exited_normal + st.exited_shutdown + st.exited_killed +
                    st.exited_other != st.exited) {
            if (bad == 0)
                first_bad = st;
            bad++;
        }
        last_spawned = st.spawned;
        cr_assert_lt(now_ns(), t_end + grace, "%" PRIu64 " spawned",
                     last_spawned);
    }
    atomic_store_explicit(&c.is_done, true, memory_order_release);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_log_info("%" PRIu64 " readings, %" PRIu64 " processes", readings,
                last_spawned);
    cr_assert_eq(bad, 0,
                 "%" PRIu64 " inconsistent readings; the first: spawned %" PRIu64
                 " exited %" PRIu64 " live %" PRIu64 " normal %" PRIu64
                 " shutdown %" PRIu64 " killed %" PRIu64 " other %" PRIu64,
                 bad, first_bad.spawned, first_bad.exited, first_bad.live,
                 first_bad.exited_normal, first_bad.exited_shutdown,
                 first_bad.exited_killed, first_bad.exited_other);
    WAIT_FOR(fdn_runtime_process_count(rt) == 1);
    /* NULL arguments. */
    fdn_runtime_stats_t st;
    memset(&st, 0xff, sizeof st);
    fdn_runtime_stats(NULL, &st);
    cr_assert_eq(st.spawned, 0);
    fdn_runtime_stats(rt, NULL);
    cr_assert_eq(fdn_runtime_process_count(NULL), 0);
    cr_assert_null(fdn_runtime_clock(NULL));
    cr_assert_null(fdn_runtime_allocator(NULL));
}
