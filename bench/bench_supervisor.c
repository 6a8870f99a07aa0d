/*
 * bench/bench_supervisor.c — the supervisor's benchmark, SUP-P1: restart
 * latency.  A one_for_one supervisor with one permanent worker; a driver
 * process kills the worker and measures until its replacement answers a
 * message, 10,000 times.  It mirrors the OTP supervisor workload of
 * bench/peers/supervisor.exs (where the driver is the script's process)
 * and prints RESULT lines that scripts/bench.sh puts beside the BEAM's.
 *
 * Usage: bench_supervisor restart
 *
 * One restart, timed by the driver from just before the kill to the
 * reply: fdn_exit(KILL) on the worker; the worker dies, its link tells the
 * supervisor, which starts a new worker; the new worker's init sends READY
 * (its pid) to the driver; the driver sends it PING and gets PONG.  The
 * restarts are made in rounds of 100, each with a fresh supervisor
 * (intensity 1000 in 1 s) started and stopped by the attached main
 * thread, so that neither side's restart record grows long (OTP keeps a
 * list that each restart walks); starting and stopping the supervisors is
 * not timed.  Reported: p50 and p99 of the 10,000 latencies, and restarts
 * per second over the timed loops.
 */
#include "foundation/supervisor.h"

#include "bench_util.h"

#define SCHEDULERS 2U
#define ROUNDS 100
#define PER_ROUND 100
#define TAG_READY 1u /* worker -> driver: its pid */
#define TAG_PING 2u  /* driver -> worker */
#define TAG_PONG 3u  /* worker -> driver */
#define TAG_DONE 4u  /* driver -> main: a round is over */
#define WAIT_NS (10 * FDN_NS_PER_S)

/* The driver's pid, written by main before any worker runs (starting the
 * supervisor, which spawns the workers, orders it before their reads). */
static fdn_pid_t driver_pid;

static fdn_next_t worker_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)arg;
    *state = NULL;
    fdn_pid_t self = fdn_self(ctx);
    if (fdn_send(ctx, driver_pid, TAG_READY, &self, sizeof self) != FDN_OK)
        return fdn_stop(ctx, FDN_REASON_USER);
    return FDN_CONTINUE;
}

static fdn_next_t worker_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    (void)state;
    if (msg->kind == FDN_MSG_USER && msg->tag == TAG_PING)
        (void)fdn_send(ctx, msg->from, TAG_PONG, NULL, 0);
    return FDN_CONTINUE;
}

static const fdn_behaviour_t worker = {.init = worker_init,
                                       .handle = worker_handle,
                                       .name = "bench-worker"};

/*
 * The driver: owner thread only (its callbacks).  main reads lat, n and
 * timed after a DONE message, which orders them (message passing).
 */
typedef struct driver {
    fdn_pid_t main;
    fdn_pid_t worker;   /* the current incarnation */
    bool is_in_round;
    int left;           /* restarts left in this round */
    uint64_t t0;        /* the current restart's start */
    uint64_t round0;
    uint64_t timed;     /* ns spent in the timed loops */
    uint64_t *lat;
    size_t n;
} driver_t;

static void driver_kill(fdn_ctx_t *ctx, driver_t *d)
{
    d->t0 = bench_now_ns();
    int rc = fdn_exit(fdn_ctx_runtime(ctx), ctx, d->worker, FDN_REASON_KILL);
    if (rc != FDN_OK)
        bench_fail("fdn_exit", rc);
}

static fdn_next_t driver_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t driver_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    driver_t *d = state;
    if (msg->kind != FDN_MSG_USER)
        bench_fail("driver: unexpected message", (int)msg->kind);
    if (msg->tag == TAG_READY) {
        fdn_pid_t pid;
        memcpy(&pid, msg->data, sizeof pid);
        if (!d->is_in_round) { /* a fresh supervisor's first worker */
            d->is_in_round = true;
            d->left = PER_ROUND;
            d->worker = pid;
            d->round0 = bench_now_ns();
            driver_kill(ctx, d);
            return FDN_CONTINUE;
        }
        if (pid == d->worker)
            bench_fail("the same pid again", -1);
        d->worker = pid;
        int rc = fdn_send(ctx, pid, TAG_PING, NULL, 0);
        if (rc != FDN_OK)
            bench_fail("fdn_send", rc);
    } else if (msg->tag == TAG_PONG) {
        d->lat[d->n++] = bench_now_ns() - d->t0;
        if (--d->left > 0) {
            driver_kill(ctx, d);
            return FDN_CONTINUE;
        }
        d->timed += bench_now_ns() - d->round0;
        d->is_in_round = false;
        int rc = fdn_send(ctx, d->main, TAG_DONE, NULL, 0);
        if (rc != FDN_OK)
            bench_fail("fdn_send", rc);
    }
    return FDN_CONTINUE;
}

static const fdn_behaviour_t driver = {.init = driver_init,
                                       .handle = driver_handle,
                                       .name = "bench-driver"};

/* Receives the next message on main, which must be of the given kind. */
static fdn_msg_t *expect(fdn_ctx_t *ctx, fdn_msg_kind_t kind)
{
    fdn_msg_t *m = NULL;
    int rc = fdn_receive(ctx, WAIT_NS, &m);
    if (rc != FDN_OK)
        bench_fail("fdn_receive", rc);
    if (m->kind != kind)
        bench_fail("unexpected message", (int)m->kind);
    return m;
}

/* Checks: SUP-P1 */
static int run_restart(void)
{
    fdn_runtime_t *rt;
    fdn_ctx_t *ctx;
    fdn_runtime_opts_t ro;
    fdn_runtime_opts_init(&ro);
    ro.schedulers = SCHEDULERS;
    int rc = fdn_runtime_create(&ro, &rt);
    if (rc != FDN_OK)
        bench_fail("fdn_runtime_create", rc);
    rc = fdn_attach(rt, &ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    driver_t d = {.main = fdn_self(ctx)};
    d.lat = malloc(ROUNDS * PER_ROUND * sizeof *d.lat);
    if (d.lat == NULL)
        bench_fail("malloc", FDN_ENOMEM);
    rc = fdn_spawn(rt, ctx, &driver, &d, NULL, &driver_pid);
    if (rc != FDN_OK)
        bench_fail("fdn_spawn driver", rc);

    fdn_child_spec_t child = {.id = "w",
                              .behaviour = &worker,
                              .restart = FDN_PERMANENT,
                              .shutdown_ns = FDN_SHUTDOWN_BRUTAL};
    fdn_supervisor_opts_t so;
    fdn_supervisor_opts_init(&so);
    so.strategy = FDN_ONE_FOR_ONE;
    so.intensity = 1000;
    so.period_ns = FDN_NS_PER_S;
    so.children = &child;
    so.nchildren = 1;
    for (int r = 0; r < ROUNDS; r++) {
        fdn_pid_t sup;
        rc = fdn_supervisor_start(NULL, ctx, &so, false, &sup);
        if (rc != FDN_OK)
            bench_fail("fdn_supervisor_start", rc);
        fdn_msg_free(ctx, expect(ctx, FDN_MSG_USER)); /* DONE */
        fdn_supervisor_stats_t st;
        rc = fdn_supervisor_stats(ctx, sup, &st);
        if (rc != FDN_OK || st.restarts != PER_ROUND || st.active != 1)
            bench_fail("supervisor stats", rc);
        fdn_ref_t ref;
        rc = fdn_monitor(ctx, sup, &ref);
        if (rc != FDN_OK)
            bench_fail("fdn_monitor", rc);
        rc = fdn_exit(rt, ctx, sup, FDN_REASON_SHUTDOWN);
        if (rc != FDN_OK)
            bench_fail("fdn_exit supervisor", rc);
        fdn_msg_t *m = expect(ctx, FDN_MSG_DOWN);
        if (m->ref != ref)
            bench_fail("supervisor DOWN", -1);
        fdn_msg_free(ctx, m);
    }
    if (d.n != (size_t)ROUNDS * PER_ROUND)
        bench_fail("restart count", (int)d.n);
    bench_result("sup_restart_rate", (double)d.n / ((double)d.timed / 1e9),
                 "restart/s");
    bench_result("sup_restart_p50",
                 (double)bench_percentile(d.lat, d.n, 50) / 1000.0, "us");
    bench_result("sup_restart_p99",
                 (double)bench_percentile(d.lat, d.n, 99) / 1000.0, "us");
    fdn_detach(ctx);
    fdn_runtime_destroy(rt); /* stops the driver */
    free(d.lat);
    return 0;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "restart") == 0)
        return run_restart();
    fprintf(stderr, "usage: bench_supervisor restart\n");
    return 2;
}
