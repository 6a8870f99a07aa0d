/*
 * fdn_prop_helper.c — a tiny shared module for the Python property tests:
 * it gives them owner processes, whose behaviour needs a C callback.
 */
#include <foundation/runtime.h>

int fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid);

/* An owner that ignores every message. */
static fdn_next_t idle_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return FDN_CONTINUE;
}

static const fdn_behaviour_t idle_behaviour = {
    .handle = idle_handle,
    .name = "prop-idle",
};

/* Spawns an idle process from a plain thread; returns fdn_spawn's code. */
__attribute__((visibility("default"))) int
fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid)
{
    return fdn_spawn(rt, NULL, &idle_behaviour, NULL, NULL, pid);
}

