/*
 * fdn_prop_helper.c — a tiny shared module for the Python property tests:
 * it gives them owner processes, whose behaviour needs a C callback, and
 * the real layout of every public struct and the value of every constant
 * the tests' cffi declarations restate, so that a header change the
 * declarations do not follow fails the tests loudly instead of reading
 * the wrong bytes.
 */
#include <foundation/registry.h>
#include <foundation/runtime.h>

#include <stddef.h>
#include <string.h>

#define HELPER_API __attribute__((visibility("default")))

HELPER_API int fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid);
HELPER_API size_t fdn_test_layout_count(void);
HELPER_API const char *fdn_test_layout_name(size_t i);
HELPER_API long long fdn_test_layout_value(size_t i);

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
HELPER_API int fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid)
{
    return fdn_spawn(rt, NULL, &idle_behaviour, NULL, NULL, pid);
}

/*
 * The layout table.  Names are "sizeof:T", "offsetof:T.field" (the
 * Python side asks cffi for the same) or "const:NAME" (compared with the
 * constant of that name cffi was told about).
 */
typedef struct layout {
    const char *name;
    long long value;
} layout_t;

#define SIZE(t) {"sizeof:" #t, (long long)sizeof(t)}
#define OFF(t, f) {"offsetof:" #t "." #f, (long long)offsetof(t, f)}
#define CONST(c) {"const:" #c, (long long)(c)}

static const layout_t layout[] = {
    SIZE(fdn_meta_value_t),
    OFF(fdn_meta_value_t, type),
    OFF(fdn_meta_value_t, as),
    SIZE(fdn_meta_field_t),
    OFF(fdn_meta_field_t, name),
    OFF(fdn_meta_field_t, value),
    SIZE(fdn_meta_t),
    OFF(fdn_meta_t, count),
    OFF(fdn_meta_t, fields),

    SIZE(fdn_runtime_opts_t),
    OFF(fdn_runtime_opts_t, size),
    OFF(fdn_runtime_opts_t, schedulers),
    OFF(fdn_runtime_opts_t, max_processes),
    OFF(fdn_runtime_opts_t, batch),
    OFF(fdn_runtime_opts_t, clock),
    OFF(fdn_runtime_opts_t, allocator),
    OFF(fdn_runtime_opts_t, deterministic),
    OFF(fdn_runtime_opts_t, seed),

    SIZE(fdn_msg_t),
    OFF(fdn_msg_t, kind),
    OFF(fdn_msg_t, tag),
    OFF(fdn_msg_t, from),
    OFF(fdn_msg_t, ref),
    OFF(fdn_msg_t, reason),
    OFF(fdn_msg_t, data),
    OFF(fdn_msg_t, size),

    SIZE(fdn_registry_opts_t),
    OFF(fdn_registry_opts_t, size),
    OFF(fdn_registry_opts_t, max_namespaces),
    OFF(fdn_registry_opts_t, owner_rate),
    OFF(fdn_registry_opts_t, owner_burst),
    OFF(fdn_registry_opts_t, sweep_interval_ns),

    SIZE(fdn_registry_field_t),
    OFF(fdn_registry_field_t, name),
    OFF(fdn_registry_field_t, type),
    OFF(fdn_registry_field_t, required),
    OFF(fdn_registry_field_t, indexed),

    SIZE(fdn_registry_ns_opts_t),
    OFF(fdn_registry_ns_opts_t, size),
    OFF(fdn_registry_ns_opts_t, kind),
    OFF(fdn_registry_ns_opts_t, max_entries),
    OFF(fdn_registry_ns_opts_t, max_meta_bytes),
    OFF(fdn_registry_ns_opts_t, on_full),
    OFF(fdn_registry_ns_opts_t, ttl_ns),
    OFF(fdn_registry_ns_opts_t, nfields),
    OFF(fdn_registry_ns_opts_t, fields),
    OFF(fdn_registry_ns_opts_t, strict),

    SIZE(fdn_registry_reply_t),
    OFF(fdn_registry_reply_t, winner),
    OFF(fdn_registry_reply_t, retry_after_ns),
    OFF(fdn_registry_reply_t, failed),

    SIZE(fdn_registry_event_t),
    OFF(fdn_registry_event_t, seq),
    OFF(fdn_registry_event_t, kind),
    OFF(fdn_registry_event_t, reason),
    OFF(fdn_registry_event_t, pid),
    OFF(fdn_registry_event_t, ns),
    OFF(fdn_registry_event_t, key),
    OFF(fdn_registry_event_t, nfields),
    OFF(fdn_registry_event_t, fields),

    CONST(FDN_OK),
    CONST(FDN_EINVAL),
    CONST(FDN_ENOPROC),
    CONST(FDN_EEXIST),
    CONST(FDN_ENOENT),
    CONST(FDN_ELIMIT),
    CONST(FDN_ETIMEDOUT),
    CONST(FDN_ETOOBIG),
    CONST(FDN_ENOTSUP),
    CONST(FDN_REASON_KILL),
    CONST(FDN_MSG_USER),
    CONST(FDN_REGISTRY_KEY_MAX),
    CONST(FDN_META_MAX),
    CONST(FDN_META_NONE),
    CONST(FDN_META_INT),
    CONST(FDN_META_STR),
    CONST(FDN_REGISTRY_UNIQUE),
    CONST(FDN_REGISTRY_DUPLICATE),
    CONST(FDN_REGISTRY_REJECT),
    CONST(FDN_REGISTRY_EVICT_LRU),
    CONST(FDN_REGISTRY_REPLACE),
    CONST(FDN_REGISTRY_MERGE),
    CONST(FDN_REGISTRY_REGISTERED),
    CONST(FDN_REGISTRY_UNREGISTERED),
    CONST(FDN_REGISTRY_UPDATED),
    CONST(FDN_REGISTRY_NONE),
    CONST(FDN_REGISTRY_EXPLICIT),
    CONST(FDN_REGISTRY_DOWN),
    CONST(FDN_REGISTRY_EVICTED),
    CONST(FDN_REGISTRY_EXPIRED),
};

HELPER_API size_t fdn_test_layout_count(void)
{
    return sizeof layout / sizeof layout[0];
}

/* The i-th entry's name, or NULL past the end. */
HELPER_API const char *fdn_test_layout_name(size_t i)
{
    return i < fdn_test_layout_count() ? layout[i].name : NULL;
}

HELPER_API long long fdn_test_layout_value(size_t i)
{
    return i < fdn_test_layout_count() ? layout[i].value : -1;
}
