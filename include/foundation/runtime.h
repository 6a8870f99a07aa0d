/*
 * foundation/runtime.h — lightweight processes for C: what the BEAM gives
 * Erlang, at native speed.
 *
 * A process is an event-driven actor: a behaviour (init / handle / terminate),
 * private state and a mailbox.  It handles one message at a time and never
 * runs on two threads at once.  Scheduler threads (one per online CPU by
 * default) run ready processes in batches of at most `batch` messages per
 * turn and steal work from each other; idle schedulers sleep on a futex.
 *
 * A pid (fdn_pid_t) names a slot of the process table plus a generation.  A
 * pid is never reused within a runtime's life, so a stale pid never reaches a
 * newer process; fdn_alive() is O(1).
 *
 * Death.  A process dies when its handler returns fdn_stop(ctx, reason), when
 * init fails, when it is sent an exit signal it does not trap (FDN_REASON_KILL
 * can never be trapped), or when a linked process dies abnormally and it does
 * not trap exits.  On death, in this order: terminate runs; every callback
 * monitor runs (fdn_monitor_fn: services such as the registry release what
 * the process owned); the pid stops being alive; the monitors and pending
 * requests it held are released; every DOWN message and every link exit
 * signal is sent.  So a process that receives DOWN or EXIT
 * for P finds fdn_alive(P) false and never again sees P in a service that
 * cleans up through callback monitors.
 *
 * A memory fault in user code takes the whole program down, as a crashing NIF
 * takes down the BEAM.  A handler that blocks its thread blocks that
 * scheduler; use attached threads for blocking work.
 *
 * Contexts.  Every call made "as a process" takes the fdn_ctx_t the runtime
 * passed to the callback, or the one fdn_attach() returned to an attached
 * thread.  A ctx is only valid on the thread and during the callback it was
 * given to (an attached thread's ctx: until fdn_detach).  Calls that take an
 * fdn_runtime_t may run on any thread.
 *
 * Which calls run concurrently with which: all functions may run concurrently
 * from any threads with each other, under the ctx rule above, except that
 * fdn_runtime_destroy must not race with any other call on that runtime.
 */
#ifndef FOUNDATION_RUNTIME_H
#define FOUNDATION_RUNTIME_H

#include "foundation/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fdn_runtime fdn_runtime_t;
typedef struct fdn_ctx fdn_ctx_t;

/* A process id: (generation << 32) | slot.  FDN_PID_NONE is never a pid. */
typedef uint64_t fdn_pid_t;
#define FDN_PID_NONE ((fdn_pid_t)0)

/* A unique reference (monitors, timers, calls).  Never 0 when valid. */
typedef uint64_t fdn_ref_t;
#define FDN_REF_NONE ((fdn_ref_t)0)

/*
 * Exit reasons.  Values below FDN_REASON_USER are the runtime's; a program
 * uses any value >= FDN_REASON_USER for its own reasons and gets the same
 * value back in DOWN, EXIT, and supervisor decisions (preserved end to end).
 * Every reason except FDN_REASON_NORMAL is abnormal for links; NORMAL and
 * SHUTDOWN do not restart transient children.
 */
typedef int64_t fdn_reason_t;
#define FDN_REASON_NORMAL ((fdn_reason_t)0)   /* finished its work */
#define FDN_REASON_SHUTDOWN ((fdn_reason_t)1) /* asked to stop in order */
#define FDN_REASON_KILL ((fdn_reason_t)2)     /* untrappable exit signal */
#define FDN_REASON_KILLED ((fdn_reason_t)3)   /* died of FDN_REASON_KILL */
#define FDN_REASON_NOPROC ((fdn_reason_t)4)   /* target did not exist */
#define FDN_REASON_INIT_FAILED ((fdn_reason_t)5)  /* init returned an error */
#define FDN_REASON_MAX_RESTARTS ((fdn_reason_t)6) /* supervisor gave up */
#define FDN_REASON_USER ((fdn_reason_t)1000)
/* A short name for a runtime reason ("normal", "killed"); "user" for
 * reasons >= FDN_REASON_USER; "unknown" for other values. */
FDN_API const char *fdn_reason_name(fdn_reason_t reason);

/* ------------------------------------------------------------------------ */
/* Runtime                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct fdn_runtime_opts {
    size_t size;             /* sizeof(fdn_runtime_opts_t) */
    unsigned schedulers;     /* 0 = number of online CPUs */
    uint32_t max_processes;  /* 0 = 1 << 22; the table grows up to this */
    uint32_t batch;          /* messages per turn; 0 = 64 */
    fdn_clock_t *clock;      /* keeps; NULL = fdn_clock_monotonic() (or,
                              * when deterministic, a virtual clock at 0
                              * that the runtime owns) */
    const fdn_allocator_t *allocator; /* keeps; NULL = default */
    /* Deterministic replay (see "Deterministic runtimes" below): no
     * scheduler or timer threads; the waiting attached thread runs the
     * ready processes one message at a time in an order drawn from a PRNG
     * seeded by `seed` (0 = pick one; the environment variable FDN_SEED,
     * if set, overrides both).  Needs a virtual clock (or NULL). */
    bool deterministic;
    uint64_t seed;
} fdn_runtime_opts_t;

/* Fills opts with the defaults above.  Inline, so that it writes the
 * struct as the caller was compiled to know it: a program built against an
 * older, shorter fdn_runtime_opts_t keeps working with a newer library,
 * which reads only opts->size bytes.  NULL does nothing. */
static inline void fdn_runtime_opts_init(fdn_runtime_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_processes = 1u << 22;
    opts->batch = 64;
}

/*
 * Starts a runtime: scheduler threads and a timer thread (none when
 * deterministic).  opts may be NULL.  Errors: FDN_EINVAL (bad opts, or a
 * real clock with deterministic), FDN_ENOMEM, FDN_ESYS (thread creation).
 */
FDN_API int fdn_runtime_create(const fdn_runtime_opts_t *opts,
                               fdn_runtime_t **out);

/*
 * Stops every process with reason FDN_REASON_SHUTDOWN (terminate callbacks
 * run; links and monitors fire as usual), wakes attached threads (their
 * receives return FDN_ESHUTDOWN), waits for attached threads to detach
 * (every 5 s it prints on stderr how many it still waits for: a thread that
 * never detaches makes this wait forever), joins every thread and frees
 * everything, pending messages and timers included.  NULL does nothing.
 * Must not be called from a process or an attached thread of this runtime.
 */
FDN_API void fdn_runtime_destroy(fdn_runtime_t *rt);

/* The clock and allocator the runtime uses (borrowed; never NULL for a
 * runtime, NULL for a NULL rt). */
FDN_API fdn_clock_t *fdn_runtime_clock(const fdn_runtime_t *rt);
FDN_API const fdn_allocator_t *fdn_runtime_allocator(const fdn_runtime_t *rt);

/* Live processes (attached threads included); exact when quiescent, 0
 * only when every process has exited; 0 for a NULL rt. */
FDN_API uint64_t fdn_runtime_process_count(const fdn_runtime_t *rt);

typedef struct fdn_runtime_stats {
    uint64_t spawned;        /* processes ever started (attach included) */
    uint64_t exited;         /* processes ever ended */
    uint64_t live;           /* spawned - exited */
    uint64_t messages_sent;  /* messages enqueued */
    uint64_t steals;         /* successful work steals */
    uint64_t sleeps;         /* times a scheduler went to sleep */
    uint64_t table_slots;    /* process-table slots allocated */
    /* exited, by reason: NORMAL, SHUTDOWN, KILLED, and every other reason
     * (custom ones, INIT_FAILED, MAX_RESTARTS, ...); they sum to exited. */
    uint64_t exited_normal, exited_shutdown, exited_killed, exited_other;
    uint64_t runnable;       /* processes waiting on run queues, summed */
    unsigned schedulers;     /* scheduler threads */
} fdn_runtime_stats_t;
/* Counters, summed over schedulers; exact when quiescent, and consistent
 * while processes come and go (exited <= spawned, the exits by reason sum
 * to exited).  Any thread.  NULL out does nothing; NULL rt zeroes out. */
FDN_API void fdn_runtime_stats(const fdn_runtime_t *rt,
                               fdn_runtime_stats_t *out);
/* The length of scheduler i's run queue (its next slot included), read
 * racily; 0 for i >= schedulers. */
FDN_API uint32_t fdn_runtime_runq_len(const fdn_runtime_t *rt, unsigned i);

/* O(1).  True from the publication of pid by fdn_spawn / fdn_attach until
 * its death is under way: it turns false after terminate and the callback
 * monitors ran and before any DOWN or link exit signal about the death is
 * sent (RT-S11), so a process told of a death always finds the pid dead. */
FDN_API bool fdn_alive(const fdn_runtime_t *rt, fdn_pid_t pid);

/* ------------------------------------------------------------------------ */
/* Deterministic runtimes                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A runtime created with opts.deterministic runs on the thread that waits:
 * while an attached thread is in fdn_receive, fdn_call or fdn_send_wait
 * (or calls fdn_runtime_run), it fires the timers that are due, runs one
 * turn of one message of a ready process chosen by the PRNG, and repeats;
 * when nothing is ready it moves the virtual clock to the next timer's
 * deadline (or to its own receive deadline, then FDN_ETIMEDOUT).  Receive
 * and call timeouts are on the runtime's virtual clock.  When nothing is
 * ready and no timer is pending, a wait without a deadline returns
 * FDN_EDEADLK: nothing could ever answer it.
 *
 * The same program with the same seed makes the same handler calls in the
 * same order, so a failing concurrent test that prints its seed replays
 * exactly with FDN_SEED=<seed>.  This holds when one attached thread
 * drives the runtime and no other thread touches it.  Other threads are
 * safe but make the order depend on them, and a wait on one thread may
 * then see "nothing ready" while another thread runs the turn it waits
 * for: it moves the clock on (a timeout, or FDN_EDEADLK) instead of
 * waiting for that thread.  FDN_SEED is read when the runtime is created;
 * a value that is not a nonzero number is ignored.
 */

/* The seed in use (opts.seed, FDN_SEED, or the one picked); 0 unless
 * deterministic. */
FDN_API uint64_t fdn_runtime_seed(const fdn_runtime_t *rt);
/* A running hash of every handler call so far (pid, message kind, tag,
 * sender) and every message fdn_receive returned; equal digests mean equal
 * runs.  0 unless deterministic. */
FDN_API uint64_t fdn_runtime_trace_digest(const fdn_runtime_t *rt);
/*
 * Runs ready processes (and timers due now, without moving the clock)
 * until none is ready or max_turns turns ran (0 = no limit); *turns (may
 * be NULL) gets the count.  Any thread.  FDN_ENOTSUP unless deterministic;
 * FDN_EINVAL for NULL rt.
 */
FDN_API int fdn_runtime_run(fdn_runtime_t *rt, uint64_t max_turns,
                            uint64_t *turns);

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

typedef enum fdn_msg_kind {
    FDN_MSG_USER = 1,  /* fdn_send / fdn_send_owned / timers */
    FDN_MSG_DOWN = 2,  /* a monitor fired: ref, from = the pid, reason */
    FDN_MSG_EXIT = 3,  /* a trapped exit signal: from, reason */
    FDN_MSG_CALL = 4,  /* a request (fdn_call, fdn_request): fdn_reply */
    FDN_MSG_REPLY = 5, /* the answer to an fdn_request: ref, from, data */
    FDN_MSG_TIMEOUT = 6, /* an fdn_request got no reply in time: ref */
    FDN_MSG_NOREPLY = 7  /* the server of an fdn_request died first: ref,
                          * from = the server, reason = its exit reason */
} fdn_msg_kind_t;

/*
 * A received message.  In a handler, the message and its data are valid
 * until the handler returns; on an attached thread, until fdn_msg_free.
 * fdn_msg_take() keeps the data alive beyond that.
 */
typedef struct fdn_msg {
    fdn_msg_kind_t kind;
    uint32_t tag;        /* the sender's tag (USER, CALL) */
    fdn_pid_t from;      /* sender, dead process (DOWN/EXIT), or NONE */
    fdn_ref_t ref;       /* monitor ref (DOWN), call ref, timer ref */
    fdn_reason_t reason; /* DOWN and EXIT */
    const void *data;    /* payload (may be NULL when size == 0) */
    size_t size;
} fdn_msg_t;

/* A destructor for zero-copy message data. */
typedef void (*fdn_free_fn)(void *data, size_t size, void *arg);

/*
 * Sends a copy of data[0..size) with tag to `to`.  Messages from one sender
 * to one receiver arrive in the order sent.  Errors: FDN_ENOPROC if `to` is
 * FDN_PID_NONE or known dead (a process that dies concurrently silently
 * drops the message, as in Erlang) or if ctx is an attached thread whose
 * process was killed; FDN_EINVAL (NULL ctx, NULL data with size > 0);
 * FDN_ENOMEM; FDN_EFULL if `to` has a bounded mailbox (max_mailbox) that
 * holds max_mailbox or more messages (nothing is sent).  Any thread
 * holding a ctx.
 */
FDN_API int fdn_send(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                     const void *data, size_t size);

/*
 * A service's notification: sends a copy of data[0..size) with tag to `to`
 * from outside any process (from = FDN_PID_NONE, kind FDN_MSG_USER), as
 * the registry does for its listeners.  Like a DOWN message it is never
 * refused by a bounded mailbox, so nothing is lost.  Notifications sent
 * by one thread to one receiver arrive in the order sent; senders that
 * must agree on an order across threads serialise their sends.  Errors:
 * FDN_ENOPROC (to dead, or FDN_PID_NONE), FDN_EINVAL (NULL rt, NULL data
 * with size > 0), FDN_ENOMEM.  Any thread, including monitor callbacks.
 */
FDN_API int fdn_runtime_notify(fdn_runtime_t *rt, fdn_pid_t to, uint32_t tag,
                               const void *data, size_t size);

/*
 * Zero-copy send: on FDN_OK the runtime takes data and calls
 * free_fn(data, size, arg) when the message is dropped or handled (unless the
 * receiver took it with fdn_msg_take).  On error nothing is taken.  free_fn
 * may be NULL: then nothing tells the sender when the message is done, so
 * data must outlive every possible reader (static or reference-counted
 * data).  Errors as fdn_send.
 */
FDN_API int fdn_send_owned(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                           void *data, size_t size, fdn_free_fn free_fn,
                           void *arg);

/*
 * fdn_send that waits, up to timeout_ns (FDN_INFINITY = forever), for room
 * in a full bounded mailbox instead of failing with FDN_EFULL.  The waiting
 * thread sleeps and is woken when the receiver takes a message (or dies).
 * Only attached threads may call it (a handler must not block its
 * scheduler): from a process callback it returns FDN_ETHREAD and sends
 * nothing.
 * Errors: as fdn_send, plus FDN_ETIMEDOUT (still full at the deadline;
 * nothing sent), FDN_ENOPROC (the receiver died meanwhile, or the caller
 * was killed: woken at once), FDN_ESHUTDOWN (the runtime is being
 * destroyed), FDN_EDEADLK (deterministic runtimes: nothing could make
 * room).  To an unbounded mailbox it is fdn_send.
 */
FDN_API int fdn_send_wait(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                          const void *data, size_t size, uint64_t timeout_ns);

/*
 * Takes ownership of a received message's data: the runtime will no longer
 * free it; the caller must.  Owned data (fdn_send_owned): returns the
 * sender's pointer, to be released as the sender arranged.  Copied data
 * (fdn_send): the copy lives inside the message, so this returns a fresh
 * copy made with the runtime allocator, released with
 * fdn_runtime_allocator(rt)->release(...->ctx, p); NULL if that
 * allocation fails.  Returns NULL if there is no data.
 */
FDN_API void *fdn_msg_take(fdn_ctx_t *ctx, const fdn_msg_t *msg);

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

/* What handle returns: keep running, or stop (fdn_stop sets the reason). */
typedef enum fdn_next { FDN_CONTINUE = 0, FDN_STOP = 1 } fdn_next_t;

typedef struct fdn_behaviour {
    /* Runs synchronously inside fdn_spawn, on the spawning thread, with the
     * new process's ctx.  Sets *state.  Return FDN_CONTINUE to start, or
     * fdn_stop(ctx, reason) to fail the spawn (FDN_EINIT).  May be NULL. */
    fdn_next_t (*init)(fdn_ctx_t *ctx, void *arg, void **state);
    /* One message.  Required. */
    fdn_next_t (*handle)(fdn_ctx_t *ctx, void *state, const fdn_msg_t *msg);
    /* Runs once when the process dies for any reason (kill included), after
     * its last message and before monitors and links fire.  It may send.
     * Frees state.  May be NULL. */
    void (*terminate)(fdn_ctx_t *ctx, void *state, fdn_reason_t reason);
    const char *name; /* for diagnostics; may be NULL */
} fdn_behaviour_t;

typedef struct fdn_spawn_opts {
    size_t size;          /* sizeof(fdn_spawn_opts_t) */
    bool link;            /* link to the spawning ctx's process first */
    bool trap_exit;       /* start with trap_exit on */
    fdn_ref_t *monitor;   /* if non-NULL: the spawner monitors the child
                           * before init runs; the ref is stored here */
    /* 0 = unbounded.  n > 0: user messages (fdn_send, fdn_send_owned,
     * fdn_call, fdn_request) sent while n or more messages are queued are
     * refused with FDN_EFULL.  Runtime messages (DOWN, EXIT, replies,
     * request timeouts, and the messages of fdn_send_after timers) are
     * never refused, so they may take the queue past n: no signal is ever
     * lost. */
    uint32_t max_mailbox;
} fdn_spawn_opts_t;

/*
 * Starts a process running behaviour b (kept: b must outlive the process)
 * with init(ctx, arg, &state).  ctx may be NULL (spawn from a plain thread;
 * then opts->link and opts->monitor must be unset) — rt is then required;
 * otherwise rt may be NULL.  On FDN_OK *out is the pid.
 * Errors: FDN_EINVAL, FDN_ENOMEM, FDN_ELIMIT (table full), FDN_ESHUTDOWN,
 * FDN_EINIT (init stopped; if linked or monitored, the spawner also gets the
 * exit signal or DOWN, as in Erlang's spawn_link), FDN_ENOPROC (ctx is an
 * attached thread whose process was killed).
 */
FDN_API int fdn_spawn(fdn_runtime_t *rt, fdn_ctx_t *ctx,
                      const fdn_behaviour_t *b, void *arg,
                      const fdn_spawn_opts_t *opts, fdn_pid_t *out);

/* Records reason as the stop reason and returns FDN_STOP. */
FDN_API fdn_next_t fdn_stop(fdn_ctx_t *ctx, fdn_reason_t reason);

/* The pid of ctx's process (FDN_PID_NONE for NULL). */
FDN_API fdn_pid_t fdn_self(const fdn_ctx_t *ctx);
/* The runtime ctx belongs to (NULL for NULL). */
FDN_API fdn_runtime_t *fdn_ctx_runtime(const fdn_ctx_t *ctx);

/* Turns trapping of exit signals on or off for ctx's process; returns the
 * previous setting.  While on, exit signals (except KILL) arrive as
 * FDN_MSG_EXIT messages. */
FDN_API bool fdn_trap_exit(fdn_ctx_t *ctx, bool on);

/*
 * Sends an exit signal with reason to pid (Erlang's exit/2).  NORMAL is
 * ignored by a non-trapping target other than the caller itself; KILL kills
 * even a trapping process, which then dies with FDN_REASON_KILLED.  Other
 * reasons kill a non-trapping target with that reason and reach a trapping
 * one as FDN_MSG_EXIT.  Errors: FDN_ENOPROC, FDN_EINVAL, FDN_ENOMEM (not
 * for KILL, which never allocates).  ctx may be NULL (signal from no
 * process; rt required).
 */
FDN_API int fdn_exit(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t pid,
                     fdn_reason_t reason);

/* Links ctx's process and pid (idempotent; linking to oneself does
 * nothing).  Errors: FDN_ENOPROC (pid is dead, dying or NONE, or ctx is an
 * attached thread whose process was killed), FDN_EINVAL (NULL ctx),
 * FDN_ENOMEM. */
FDN_API int fdn_link(fdn_ctx_t *ctx, fdn_pid_t pid);
/* Removes the link if any.  FDN_OK either way for a valid pid; FDN_EINVAL
 * for a NULL ctx or FDN_PID_NONE.  Once it
 * returns, the link has no effect on the caller (until linked again), even
 * if pid already died and its exit signal is queued: that signal is
 * dropped.  An EXIT message a trapping caller already holds (set aside by
 * fdn_call) is still delivered, as in Erlang. */
FDN_API int fdn_unlink(fdn_ctx_t *ctx, fdn_pid_t pid);

/*
 * Monitors pid: exactly one FDN_MSG_DOWN (ref, from = pid, reason) will
 * arrive, unless fdn_demonitor removes the monitor first.  A dead or unknown
 * pid gives DOWN with FDN_REASON_NOPROC at once (for a pid whose death
 * has begun, once it is no longer alive).  Errors: FDN_ENOMEM,
 * FDN_EINVAL, FDN_ENOPROC (ctx is an attached thread whose process was
 * killed).
 */
FDN_API int fdn_monitor(fdn_ctx_t *ctx, fdn_pid_t pid, fdn_ref_t *ref);
/* Removes a monitor; its DOWN is never delivered afterwards (one already in
 * the mailbox is dropped).  FDN_ENOENT if ref is not an active monitor of
 * ctx's process (already delivered, or never existed). */
FDN_API int fdn_demonitor(fdn_ctx_t *ctx, fdn_ref_t ref);

/*
 * A callback monitor, for services: fn(arg, pid, reason) runs exactly once
 * when pid dies, on the dying process's thread, after its terminate and
 * before any DOWN message or link signal about it is sent.  fn must be short
 * and must not block or call fdn_monitor_fn_cancel.  If pid is already dead,
 * returns FDN_ENOPROC and fn never runs.  Errors: FDN_ENOPROC, FDN_ENOMEM,
 * FDN_EINVAL.  Any thread.
 */
typedef void (*fdn_down_fn)(void *arg, fdn_pid_t pid, fdn_reason_t reason);
FDN_API int fdn_monitor_fn(fdn_runtime_t *rt, fdn_pid_t pid, fdn_down_fn fn,
                           void *arg, fdn_ref_t *ref);
/* Cancels a callback monitor.  On return fn is not running and never will
 * (if it already ran or is running, waits for it and returns FDN_ENOENT). */
FDN_API int fdn_monitor_fn_cancel(fdn_runtime_t *rt, fdn_pid_t pid,
                                  fdn_ref_t ref);

/* ------------------------------------------------------------------------ */
/* Calls                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Synchronous request: sends an FDN_MSG_CALL (tag, a copy of data) to `to`
 * and waits up to timeout_ns for the reply.  Only attached threads may wait
 * (FDN_ETHREAD from a process callback).  While waiting, other messages stay
 * queued in order.  On FDN_OK *reply holds the reply; release it with
 * fdn_msg_free.  Errors: FDN_ETIMEDOUT (the request may still be handled;
 * its late reply is dropped, never delivered; also when the server could
 * not send its reply, e.g. its fdn_reply failed with FDN_ENOMEM), FDN_ENOPROC (to is dead or
 * died before replying), FDN_EFULL (to's bounded mailbox is full; nothing
 * sent), FDN_ESHUTDOWN, FDN_ENOMEM, FDN_EINVAL (also for a call to
 * oneself, which could never be answered), FDN_EDEADLK (deterministic
 * runtimes: nothing could answer; see "Deterministic runtimes").  In a
 * deterministic runtime the timeout is on its virtual clock.
 */
FDN_API int fdn_call(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                     const void *data, size_t size, uint64_t timeout_ns,
                     fdn_msg_t **reply);
/* Replies to an FDN_MSG_CALL with a copy of data.  FDN_ENOPROC if the caller
 * is gone; FDN_EINVAL if request is not a CALL. */
FDN_API int fdn_reply(fdn_ctx_t *ctx, const fdn_msg_t *request, uint32_t tag,
                      const void *data, size_t size);

/*
 * Asynchronous request, for processes (attached threads may use it too):
 * sends an FDN_MSG_CALL (tag, a copy of data, ref = *ref) to `to` and
 * returns at once.  The caller's process later receives exactly one of,
 * all with msg->ref == *ref:
 *   FDN_MSG_REPLY    the server's fdn_reply (from = server, its data);
 *   FDN_MSG_TIMEOUT  timeout_ns passed on the runtime clock with no reply
 *                    (FDN_INFINITY: never);
 *   FDN_MSG_NOREPLY  the server died first (from = server, reason = its
 *                    exit reason).
 * The ref is an alias: once one of those arrived, or fdn_request_cancel
 * succeeded, a late reply to it is dropped and freed, never delivered
 * (its sender's fdn_reply still returns FDN_OK, as in Erlang).  While a
 * request is pending, the caller monitors the server, and a process that
 * dies with requests pending leaves nothing behind.
 * Errors: FDN_EINVAL (NULL ctx or ref, NULL data with size > 0, `to` is
 * the caller), FDN_ENOPROC (`to` is dead or NONE), FDN_EFULL (the
 * server's bounded mailbox is full), FDN_ENOMEM, FDN_ESHUTDOWN.  On error
 * nothing is sent and nothing will arrive.
 */
FDN_API int fdn_request(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                        const void *data, size_t size, uint64_t timeout_ns,
                        fdn_ref_t *ref);
/* Gives up a pending request: nothing more arrives for ref (a reply,
 * timeout or noreply already queued is dropped).  FDN_OK, or FDN_ENOENT if
 * ref is not a pending request of ctx's process; FDN_EINVAL for NULL. */
FDN_API int fdn_request_cancel(fdn_ctx_t *ctx, fdn_ref_t ref);

/* ------------------------------------------------------------------------ */
/* Attached threads                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Makes the calling OS thread a process with a mailbox (e.g. main()).  The
 * thread then uses *ctx for sends, monitors, links, calls and fdn_receive.
 * Errors: FDN_EBUSY (thread already attached), FDN_ENOMEM, FDN_ELIMIT,
 * FDN_ESHUTDOWN.
 */
FDN_API int fdn_attach(fdn_runtime_t *rt, fdn_ctx_t **ctx);
/* Ends the attached process with FDN_REASON_NORMAL (links and monitors
 * fire), drops its mailbox and frees ctx.  Only on the attaching thread. */
FDN_API void fdn_detach(fdn_ctx_t *ctx);
/*
 * Waits up to timeout_ns (0 = poll, FDN_INFINITY = forever) for the next
 * message.  On FDN_OK *msg is the message; release it with fdn_msg_free.
 * Errors: FDN_ETIMEDOUT, FDN_ESHUTDOWN, FDN_ETHREAD (not an attached ctx),
 * FDN_EINVAL, FDN_EDEADLK (deterministic runtimes only: nothing is ready,
 * no timer is pending and the wait has no deadline).  If the attached
 * process was killed by an exit signal, returns FDN_ENOPROC from then on
 * (detach still required); any other call on the ctx does the same, and
 * the first such call runs the death (DOWNs, link signals) at once.
 */
FDN_API int fdn_receive(fdn_ctx_t *ctx, uint64_t timeout_ns, fdn_msg_t **msg);
/* Releases a message returned by fdn_receive or fdn_call.  NULL is fine. */
FDN_API void fdn_msg_free(fdn_ctx_t *ctx, fdn_msg_t *msg);

/* ------------------------------------------------------------------------ */
/* Introspection                                                            */
/* ------------------------------------------------------------------------ */

/*
 * Fills pids[0..cap) with live pids and sets *count to the number of live
 * processes found (which may exceed cap: call again with a bigger array).
 * A process alive for the whole call is listed exactly once; one born or
 * dead during the call may or may not be.  O(table slots).  Any thread.
 * Errors: FDN_EINVAL (NULL rt or count, NULL pids with cap > 0).
 */
FDN_API int fdn_processes(const fdn_runtime_t *rt, fdn_pid_t *pids,
                          size_t cap, size_t *count);

typedef enum fdn_proc_status {
    FDN_STATUS_WAITING = 0,  /* alive, nothing to do (mailbox empty) */
    FDN_STATUS_RUNNABLE = 1, /* on a run queue, or woken attached thread */
    FDN_STATUS_RUNNING = 2,  /* a thread is running its handler or receive */
    FDN_STATUS_EXITING = 3   /* its death has begun */
} fdn_proc_status_t;

typedef struct fdn_process_info {
    size_t size;             /* sizeof(fdn_process_info_t), set by caller */
    fdn_pid_t pid;
    const char *name;        /* behaviour name (static), "attached", or "" */
    fdn_proc_status_t status;
    bool is_attached;
    bool trap_exit;
    uint32_t max_mailbox;    /* 0 = unbounded */
    uint32_t mailbox_len;    /* queued messages (exact when quiescent; for
                              * an attached thread, not counting those a
                              * pending fdn_call set aside) */
    uint32_t mailbox_hwm;    /* the largest length seen this life: by each
                              * sender to a bounded mailbox, and by the
                              * process at the start of each turn */
    uint64_t handled;        /* messages passed to its handler (or, for an
                              * attached thread, returned by fdn_receive) */
    uint32_t links;
    uint32_t monitors;       /* monitors this process holds on others */
    uint32_t monitored_by;   /* message and callback monitors on it */
    uint32_t requests;       /* pending fdn_request calls */
    size_t memory;           /* bytes the runtime holds for it: its slot,
                              * link, monitor and request records, and the
                              * headers of its queued messages (payload
                              * bytes are the program's and not counted) */
} fdn_process_info_t;

/*
 * Reports on a live pid.  Safe from any thread while the process runs;
 * each field is read atomically (so the set is a near-snapshot, exact when
 * the process is quiescent).  info->size must be set by the caller.
 * Errors: FDN_EINVAL (NULL, bad size), FDN_ENOPROC (dead or NONE).
 */
FDN_API int fdn_process_info(const fdn_runtime_t *rt, fdn_pid_t pid,
                             fdn_process_info_t *info);

/*
 * Names that services hold for processes (the registry's keys), gathered
 * for introspection without the runtime depending on any service.  A
 * service adds a name source: fn(arg, pid, emit, emit_arg) calls
 * emit(emit_arg, ns, name) once per name pid holds (both strings are
 * borrowed for the call).  fn must not block and must not call
 * fdn_runtime_name_source_remove.
 */
typedef void (*fdn_name_emit_fn)(void *emit_arg, const char *ns,
                                 const char *name);
typedef void (*fdn_name_source_fn)(void *arg, fdn_pid_t pid,
                                   fdn_name_emit_fn emit, void *emit_arg);
/* Adds a source; *id names it for removal.  FDN_EINVAL, FDN_ENOMEM. */
FDN_API int fdn_runtime_name_source_add(fdn_runtime_t *rt,
                                        fdn_name_source_fn fn, void *arg,
                                        uint64_t *id);
/* Removes a source; on return fn is not running and never will.
 * FDN_ENOENT for an unknown id. */
FDN_API int fdn_runtime_name_source_remove(fdn_runtime_t *rt, uint64_t id);
/* Calls emit once for every name any source reports for pid (none for a
 * dead pid).  Any thread.  FDN_EINVAL for NULL rt or emit. */
FDN_API int fdn_process_names(fdn_runtime_t *rt, fdn_pid_t pid,
                              fdn_name_emit_fn emit, void *emit_arg);

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * After delay_ns on the runtime clock, sends a USER message (tag, a copy of
 * data, ref = *ref, from = FDN_PID_NONE) to `to`.  Errors: FDN_EINVAL,
 * FDN_ENOMEM, FDN_ESHUTDOWN, FDN_ELIMIT (2^24 timers pending).  Any thread
 * (ctx may be NULL; rt required then).
 */
FDN_API int fdn_send_after(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t to,
                           uint64_t delay_ns, uint32_t tag, const void *data,
                           size_t size, fdn_ref_t *ref);
/* Cancels a timer.  FDN_OK if it had not fired (it never will), FDN_ENOENT
 * if it already fired or never existed. */
FDN_API int fdn_cancel_timer(fdn_runtime_t *rt, fdn_ref_t ref);

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_RUNTIME_H */
