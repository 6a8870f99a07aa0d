/*
 * supervisor_internal.h — what the supervisor's files share: packed child
 * specs (supervisor_spec.c), the supervisor's state (supervisor.c) and the
 * call protocol between the client calls (supervisor_client.c) and the
 * supervisor process (supervisor_calls.c).  "sup" is the module's short
 * name in internal identifiers (fdn__sup_*).
 *
 * Packed specs.  A child spec, with its id and (for a supervisor child)
 * its whole options tree, is copied into one position-independent block:
 * every offset in it is relative to the record that holds it, and a
 * child's record with everything under it is a contiguous slice of its
 * parent's block.  So one memcpy copies a spec into a message (the
 * start_child request) and out of it, or a child's slice into a block of
 * its own (a supervisor keeps one block per child).  Layout:
 *
 *     [struct fdn__sup_spec][id, NUL, padding][child 0][child 1]...
 *
 * each part aligned to FDN__SUP_ALIGN; the top level of
 * fdn_supervisor_start is packed as a supervisor record with an empty id.
 *
 * Threads: a packed block is written once by the thread that packs it and
 * then only read; a sup_t belongs to its supervisor process (its
 * callbacks, one at a time), so nothing here is shared between threads.
 */
#ifndef FDN_RUNTIME_SUPERVISOR_INTERNAL_H
#define FDN_RUNTIME_SUPERVISOR_INTERNAL_H

#include "foundation/supervisor.h"
#include "runtime/internal.h"

#define FDN__SUP_ALIGN 16
#define FDN__SUP_MAX_DEPTH 32u        /* nesting levels of supervisors */
#define FDN__SUP_MAX_CHILDREN (UINT32_MAX - 1u)

/* A supervisor's options, as packed (and as a sup_t keeps them). */
struct fdn__sup_conf {
    fdn_strategy_t strategy;
    uint32_t intensity;
    uint64_t period_ns;
    uint64_t backoff_min_ns;   /* 0 = no backoff */
    uint64_t backoff_max_ns;
    fdn_jitter_fn jitter;      /* NULL = the built-in generator */
    void *jitter_arg;
    size_t nchildren;
    size_t children_off;       /* first child record, from this record */
};

/* A packed child spec (see the file comment). */
struct fdn__sup_spec {
    size_t total;              /* bytes of the record and all under it */
    size_t id_len;             /* strlen of the id */
    const fdn_behaviour_t *behaviour; /* workers */
    void *arg;
    uint64_t shutdown_ns;      /* resolved: never FDN_SHUTDOWN_DEFAULT */
    fdn_restart_t restart;
    fdn_child_type_t type;
    struct fdn__sup_conf conf; /* FDN_SUPERVISOR only; zero otherwise */
};

/* Where the id of a record starts. */
#define FDN__SUP_REC                                                         \
    ((sizeof(struct fdn__sup_spec) + FDN__SUP_ALIGN - 1) &                   \
     ~(size_t)(FDN__SUP_ALIGN - 1))

static inline const char *fdn__sup_spec_id(const struct fdn__sup_spec *sp)
{
    return (const char *)sp + FDN__SUP_REC;
}
static inline const struct fdn__sup_spec *
fdn__sup_spec_first(const struct fdn__sup_spec *sp)
{
    return (const struct fdn__sup_spec *)(const void *)((const char *)sp +
                                                        sp->conf.children_off);
}
static inline const struct fdn__sup_spec *
fdn__sup_spec_next(const struct fdn__sup_spec *sp)
{
    return (const struct fdn__sup_spec *)(const void *)((const char *)sp +
                                                        sp->total);
}

/*
 * Checks opts (as fdn_supervisor_start documents) and sets *size to the
 * bytes of its packed form: FDN_OK or FDN_EINVAL.  fdn__sup_pack_opts
 * then writes it into out (*size bytes, aligned for any type).
 */
int fdn__sup_measure_opts(const fdn_supervisor_opts_t *opts, size_t *size);
void fdn__sup_pack_opts(const fdn_supervisor_opts_t *opts,
                        struct fdn__sup_spec *out);
/* The same for one child spec. */
int fdn__sup_measure_child(const fdn_child_spec_t *spec, size_t *size);
void fdn__sup_pack_child(const fdn_child_spec_t *spec,
                         struct fdn__sup_spec *out);
/* Checks that size bytes at p hold a packed child spec that could have
 * come from fdn__sup_pack_child (bounds and NUL only). */
bool fdn__sup_spec_is_sane(const void *p, size_t size);

/* ------------------------------------------------------------------------ */
/* The supervisor's state                                                   */
/* ------------------------------------------------------------------------ */

typedef enum fdn__sup_child_state {
    FDN__CHILD_DOWN = 0, /* not running */
    FDN__CHILD_RUNNING,  /* running; an exit is a failure */
    FDN__CHILD_STOPPING  /* asked to stop; waiting for its exit */
} fdn__sup_child_state_t;

typedef struct fdn__sup_child {
    struct fdn__sup_spec *spec; /* owned: the packed copy */
    fdn_pid_t pid;              /* current incarnation, or FDN_PID_NONE */
    fdn__sup_child_state_t state;
    fdn_ref_t down_ref;    /* monitor kept when linking failed, or NONE */
    fdn_ref_t kill_timer;  /* kill deadline while STOPPING, or NONE */
    fdn_ref_t delay_timer; /* backoff: a restart waits for it, or NONE */
    struct fdn__msg *stop_call; /* terminate_child waiting for this stop */
    uint64_t started_at;   /* runtime time of the last start attempt */
    uint32_t streak;       /* backoff: consecutive restarts (k) */
    bool to_stop;          /* plan: stop it (reverse index order) */
    bool to_start;         /* plan: start it (index order) */
} fdn__sup_child_t;

typedef struct fdn__sup {
    const fdn_allocator_t *alloc;
    fdn_runtime_t *rt;
    fdn_pid_t self;        /* set by init */
    fdn_pid_t parent;      /* the linked starter, or FDN_PID_NONE */
    struct fdn__sup_conf conf; /* children_off and nchildren unused */
    fdn__sup_child_t *children;
    size_t nchildren;
    size_t cap;
    /* Times of the restarts within the last period: a ring buffer. */
    uint64_t *stamps;
    uint32_t stamp_cap;
    uint32_t stamp_head;
    uint32_t stamp_count;
    uint64_t restarts;     /* restarts made so far */
    uint64_t rng;          /* the built-in jitter generator's state */
    bool is_shutting_down;
    bool is_retry_pending; /* a CONTINUE to itself is on its way */
    bool is_initializing;  /* init is starting the children */
    /* Children a child supervisor that failed to start left behind, for
     * this one's init to stop before its own (one allocation, or NULL). */
    struct fdn__sup_reaper *orphans;
    fdn_reason_t exit_reason;
    /* Calls that change children, waiting for the supervisor to be idle:
     * held CALL messages linked through their mailbox node. */
    struct fdn__msg *calls_head;
    struct fdn__msg *calls_tail;
} fdn__sup_t;

/* Builds the state of a supervisor from packed spec sp (a supervisor
 * record): copies its options and one block per child.  FDN_OK or
 * FDN_ENOMEM (nothing allocated). */
int fdn__sup_create(fdn_runtime_t *rt, const struct fdn__sup_spec *sp,
                    fdn_pid_t parent, fdn__sup_t **out);
/* Frees s, its children's specs and its orphans record (not its held
 * calls).  NULL is fine. */
void fdn__sup_free(fdn__sup_t *s);
/* Appends a DOWN child with a copy of packed spec sp.  FDN_OK,
 * FDN_ENOMEM or FDN_ELIMIT; nothing changes on error. */
int fdn__sup_append_child(fdn__sup_t *s, const struct fdn__sup_spec *sp);
/* Removes child i (DOWN, no timers, no call) and frees its spec. */
void fdn__sup_remove_child(fdn__sup_t *s, size_t i);
/* The index of the child with id[0..len), or s->nchildren. */
size_t fdn__sup_find_id(const fdn__sup_t *s, const char *id, size_t len);

/* supervisor.c, for the calls: */
/* Starts DOWN child i; FDN_OK (RUNNING) or the spawn error (still DOWN). */
int fdn__sup_start_child(fdn_ctx_t *ctx, fdn__sup_t *s, size_t i);
/* Asks RUNNING child i to stop by its shutdown; it becomes STOPPING. */
void fdn__sup_begin_stop(fdn_ctx_t *ctx, fdn__sup_t *s, size_t i);
/* Makes progress on the plan; returns what the handler should return. */
fdn_next_t fdn__sup_advance(fdn_ctx_t *ctx, fdn__sup_t *s);
/* True while the supervisor is stopping children or about to retry a
 * start: calls that change children wait. */
bool fdn__sup_is_busy(const fdn__sup_t *s);

/* supervisor_calls.c: */
/* Handles a CALL (held or answered at once). */
fdn_next_t fdn__sup_on_call(fdn_ctx_t *ctx, fdn__sup_t *s,
                            const fdn_msg_t *msg);
/* Handles waiting calls while the supervisor is idle. */
fdn_next_t fdn__sup_drain_calls(fdn_ctx_t *ctx, fdn__sup_t *s);
/* Child i, stopped by fdn_supervisor_terminate_child, is down: answers. */
void fdn__sup_answer_stop(fdn_ctx_t *ctx, fdn__sup_t *s, size_t i);
/* Frees every held call (the supervisor is dying: callers get
 * FDN_ENOPROC from their monitor). */
void fdn__sup_drop_calls(fdn__sup_t *s);

/* ------------------------------------------------------------------------ */
/* The call protocol                                                        */
/* ------------------------------------------------------------------------ */

/*
 * CALL tags.  A reply's tag is the status, negated (0 = FDN_OK).  Every
 * request is at least as large as its reply so that the supervisor answers
 * in place (fdn__call_answer), without allocating; only the list of
 * children may need a larger reply, and if it cannot be allocated the
 * answer is FDN_ENOMEM, in place.
 *   WHICH, TERMINATE, RESTART, DELETE: struct fdn__sup_id_req;
 *     WHICH and RESTART reply with an fdn_pid_t.
 *   STATS, COUNT: zeroed bytes the size of the reply struct.
 *   WHICH_CHILDREN: empty; reply: struct fdn__sup_list_hdr, then count
 *     struct fdn__sup_list_entry, then the ids, each NUL-terminated.
 *   START_CHILD: a packed child spec; reply: an fdn_pid_t.
 */
#define FDN__SUP_CALL_WHICH UINT32_C(0x53555101)
#define FDN__SUP_CALL_STATS UINT32_C(0x53555102)
#define FDN__SUP_CALL_WHICH_CHILDREN UINT32_C(0x53555103)
#define FDN__SUP_CALL_COUNT UINT32_C(0x53555104)
#define FDN__SUP_CALL_START_CHILD UINT32_C(0x53555105)
#define FDN__SUP_CALL_TERMINATE UINT32_C(0x53555106)
#define FDN__SUP_CALL_RESTART UINT32_C(0x53555107)
#define FDN__SUP_CALL_DELETE UINT32_C(0x53555108)

struct fdn__sup_id_req {
    uint64_t id_len;
    char id[]; /* id_len bytes, no NUL */
};

struct fdn__sup_list_hdr {
    uint64_t count;
    uint64_t id_bytes; /* all ids with their NULs */
};

struct fdn__sup_list_entry {
    fdn_pid_t pid;
    uint64_t id_len;
    int32_t type;
    int32_t restart;
};

#endif /* FDN_RUNTIME_SUPERVISOR_INTERNAL_H */
