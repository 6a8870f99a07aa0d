/*
 * bench/bench_rt.h — helpers for benchmarks that run on the process
 * runtime: start a runtime with the benchmarks' scheduler count and attach
 * main, receive on main with a bound, send or fail, and wait until a run's
 * processes are gone.
 *
 * Static inline, like bench_util.h, so each benchmark stays one .c file.
 * Every failure goes through bench_fail: a benchmark never prints a figure
 * for work it did not do.
 */
#ifndef FOUNDATION_BENCH_RT_H
#define FOUNDATION_BENCH_RT_H

#include "foundation/runtime.h"

#include "bench_util.h"

/* Both sides of every comparison run on 2 schedulers (the BEAM with
 * +S 2:2, CAF with scheduler.max-threads = 2). */
#define BENCH_SCHEDULERS 2U

/* Creates a runtime with BENCH_SCHEDULERS schedulers (and allocator, if
 * given) and attaches the calling thread, which gets *ctx. */
static inline fdn_runtime_t *bench_rt_start(const fdn_allocator_t *allocator,
                                            fdn_ctx_t **ctx)
{
    fdn_runtime_opts_t opts;
    fdn_runtime_t *rt = NULL;
    int rc;

    fdn_runtime_opts_init(&opts);
    opts.schedulers = BENCH_SCHEDULERS;
    opts.allocator = allocator;
    rc = fdn_runtime_create(&opts, &rt);
    if (rc != FDN_OK)
        bench_fail("fdn_runtime_create", rc);
    rc = fdn_attach(rt, ctx);
    if (rc != FDN_OK)
        bench_fail("fdn_attach", rc);
    return rt;
}

/* Detaches main and destroys the runtime. */
static inline void bench_rt_stop(fdn_runtime_t *rt, fdn_ctx_t *ctx)
{
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

/* Receives one message on the attached main thread, waiting at most a
 * minute, so that a lost message fails the benchmark instead of hanging
 * it.  The caller frees it with fdn_msg_free. */
static inline fdn_msg_t *bench_rt_receive(fdn_ctx_t *ctx)
{
    fdn_msg_t *msg = NULL;
    int rc = fdn_receive(ctx, 60 * FDN_NS_PER_S, &msg);
    if (rc != FDN_OK)
        bench_fail("fdn_receive", rc);
    return msg;
}

/* Receives one message and checks its tag; copies its data (exactly size
 * bytes, or fails) into out, which may be NULL when size is 0. */
static inline void bench_rt_expect(fdn_ctx_t *ctx, uint32_t tag, void *out,
                                   size_t size)
{
    fdn_msg_t *msg = bench_rt_receive(ctx);
    if (msg->tag != tag || msg->size != size)
        bench_fail("main received an unexpected message", (int)msg->tag);
    if (size > 0)
        memcpy(out, msg->data, size);
    fdn_msg_free(ctx, msg);
}

static inline void bench_rt_send(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                                 const void *data, size_t size)
{
    int rc = fdn_send(ctx, to, tag, data, size);
    if (rc != FDN_OK)
        bench_fail("fdn_send", rc);
}

static inline fdn_pid_t bench_rt_spawn(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                                       const fdn_behaviour_t *b, void *arg)
{
    fdn_pid_t pid = FDN_PID_NONE;
    int rc = fdn_spawn(rt, ctx, b, arg, NULL, &pid);
    if (rc != FDN_OK)
        bench_fail("fdn_spawn", rc);
    return pid;
}

/* Waits (bounded, 30 s) until only the attached main thread is alive, so
 * that one run's dying processes do not overlap the next run and state
 * handed to processes by pointer can be reused. */
static inline void bench_rt_wait_quiescent(fdn_runtime_t *rt)
{
    uint64_t deadline = bench_now_ns() + 30 * FDN_NS_PER_S;
    while (fdn_runtime_process_count(rt) > 1) {
        if (bench_now_ns() > deadline)
            bench_fail("waiting for processes to exit", -1);
        usleep(200);
    }
}

/* An init that uses its argument as the process state (the benchmark
 * keeps it alive until the process has exited). */
static inline fdn_next_t bench_rt_state_init(fdn_ctx_t *ctx, void *arg,
                                             void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

#endif /* FOUNDATION_BENCH_RT_H */
