/*
 * runtime/internal.h — the runtime's private structures: process slots,
 * messages, schedulers and the runtime object, shared by the src/runtime sources.
 *
 * Field marks: [imm] immutable after init; [own] touched only by the thread
 * currently running the process (scheduler turn, init, or its attached
 * thread); [lock] guarded by the process's lock; [atomic] atomic, orderings
 * at each use; [tbl] touched only by the slot allocator between a slot's
 * release and its next allocation (ordered by the free stack's CAS).
 */
#ifndef FDN_RUNTIME_INTERNAL_H
#define FDN_RUNTIME_INTERNAL_H

#include "foundation/runtime.h"
#include "internal/common.h"
#include "internal/uthash.h"

#include <pthread.h>
#include <stdatomic.h>

#define FDN__CACHELINE 64
#define FDN__PAGE_SHIFT 12
#define FDN__PAGE_SLOTS (1u << FDN__PAGE_SHIFT)
#define FDN__MAX_SEEN 32 /* victims a thief tracks for stuck detection */

/* Run states of a process (the hand-off modelled in specs/models). */
enum {
    FDN__IDLE = 0,    /* not queued; an enqueuer must schedule it */
    FDN__QUEUED = 1,  /* on a run queue (or an attached thread was woken) */
    FDN__RUNNING = 2, /* a thread is handling its messages */
    FDN__DIRTY = 3,   /* running, and a message arrived meanwhile */
    FDN__DEAD = 4,    /* slot has no live process; enqueuers do nothing */
    /* Or'ed into DEAD by a sender whose message reached the slot after the
     * death's drain (it checked the pid just before the death): the next
     * life must take a turn to drop such messages (process.c). */
    FDN__STALE = 16,
    /* Or'ed into every state of an attached thread's process, so a sender
     * learns how to wake it from the same atomic word it CASes. */
    FDN__ATT = 8
};

/* Internal message kinds (beyond the public fdn_msg_kind_t values). */
enum {
    FDN__MSG_SIGEXIT = 100, /* exit signal: from, reason; evaluated on pop */
    FDN__MSG_WAKE = 101,    /* carries nothing; makes the process run */
    FDN__MSG_DOWNMON = 102, /* a monitor fired; filtered by held monitors */
    FDN__MSG_REQTMO = 103   /* a request's timer fired; filtered likewise */
};

/* Message flags. */
enum {
    FDN__MF_OWNED = 1u, /* data is the sender's; free_fn releases it */
    FDN__MF_LINK = 2u   /* SIGEXIT came through a link */
};

/* An intrusive MPSC queue link (Vyukov's queue). */
struct fdn__mq_node {
    _Atomic(struct fdn__mq_node *) next;
};

/* A queued message.  Copied data lives inline after the struct. */
struct fdn__msg {
    struct fdn__mq_node node; /* first member */
    fdn_pid_t to;             /* the intended pid (RT-S2) */
    fdn_free_fn free_fn;      /* owned data destructor (may be NULL) */
    void *free_arg;
    struct fdn__slab *slab;   /* the slab it was cut from, or NULL */
    uint32_t flags;
    fdn_msg_t pub; /* what handlers see */
    _Alignas(16) unsigned char inline_data[];
};

/*
 * A slab of message memory (mailbox.c): a scheduler thread cuts the
 * messages it allocates from its current slab by bumping `used`; a slab
 * lives until every message cut from it is freed, counted in `live`.
 */
#define FDN__SLAB_BYTES (16u * 1024u)
#define FDN__SLAB_MAX_MSG 1024u /* larger messages use the allocator */
#define FDN__SLAB_CACHE 256u    /* empty slabs kept for reuse, per runtime */
struct fdn__slab {
    _Atomic uint64_t live;    /* [atomic] bias - freed (- bias + cut once
                               * retired); see mailbox.c */
    struct fdn__slab *next;   /* on the runtime's empty list (slab_lock) */
    _Alignas(16) unsigned char mem[]; /* messages, 16-byte aligned */
};

/* A monitor record kept on the target's list (under the target's lock).
 * A message monitor carries its DOWN message, allocated when the monitor is
 * made, so a death never needs memory to keep its promises (RT-L2). */
struct fdn__mon {
    struct fdn__mon *next, *prev;
    fdn_ref_t ref;
    fdn_pid_t watcher;     /* message monitors; NONE for callback monitors */
    struct fdn__msg *down; /* message monitors: the DOWN to send */
    fdn_down_fn fn;        /* callback monitors */
    void *arg;
};

/* A monitor this process holds on another: [own] of the watcher, in its
 * hash set `held` keyed by ref (uthash; see signals.c).  A pending request
 * (request.c) is a held monitor on its server with is_request set: the
 * request's ref is the monitor's ref, so a reply, the server's DOWN and
 * the timeout all find it with one lookup. */
struct fdn__held {
    fdn_ref_t ref;
    fdn_pid_t target;
    struct fdn__mon *mon; /* valid while target is alive and not exiting */
    fdn_ref_t timer;      /* requests: the timeout timer, or FDN_REF_NONE */
    bool is_request;
    UT_hash_handle hh;
};

/* A link record ([lock] of the process whose list holds it), with the
 * exit signal this side sends to `other` when it dies, preallocated. */
struct fdn__link {
    struct fdn__link *next;
    fdn_pid_t other;
    struct fdn__msg *sig;
    bool is_down; /* `other` died and its exit signal to us is on its way:
                   * the record stays until we pop that signal, so an
                   * unlink in between makes the signal void (signals.c) */
};

struct fdn__attached;

/*
 * A process-table slot.  Slots are type-stable: a slot's memory lives until
 * the runtime is destroyed, so a stale pid always reaches valid memory and
 * is rejected by comparing pid.  The mailbox persists across the slot's
 * lives; messages addressed to an older life are dropped on pop (RT-S2).
 */
struct fdn__proc {
    /* Line 1: read by senders (and monitors, links), rarely written: a
     * sender's lookup of pid finds it clean in its cache. */
    _Atomic uint64_t pid;          /* [atomic] current pid; 0 when free */
    _Atomic uint64_t kill_pending; /* [atomic] gen << 32 | (reason + 1) */
    struct fdn__mon *mons;         /* [lock] monitors on this process */
    struct fdn__link *links;       /* [lock] */
    /* The behaviour's name for introspection: set (relaxed) before the
     * pid is published, never cleared, so readers race with nothing. */
    _Atomic(const char *) name;
    _Atomic int lock;              /* spinlock for [lock] fields */
    _Atomic uint32_t max_mailbox;  /* [atomic] relaxed: set before publish */
    _Atomic uint32_t nlinks;       /* [atomic] written under lock */
    _Atomic uint32_t nmons;        /* [atomic] written under lock */
    uint32_t slot;                 /* [imm] index in the table */
    _Atomic bool trap_exit;        /* [atomic] relaxed: a per-process flag */
    bool exiting;                  /* [lock] death has begun */
    /* Line 2: what every sender writes (the mailbox's producer end, the
     * run state, the count of messages enqueued) and the run-queue link
     * its scheduler writes. */
    _Alignas(FDN__CACHELINE) _Atomic(struct fdn__mq_node *) tail; /* [atomic] */
    _Atomic int run;               /* [atomic] FDN__IDLE.. run state */
    /* Messages ever enqueued in this slot (wrapping; see mailbox.c).  The
     * queue length is enq - deq. */
    _Atomic uint32_t enq;          /* [atomic] */
    _Atomic uint32_t hwm;          /* [atomic] max by CAS; senders + owner */
    /* Senders waiting for room in a bounded mailbox (fdn_send_wait): an
     * eventcount, see mailbox.c. */
    _Atomic uint32_t room_seq;     /* [atomic] futex word */
    _Atomic uint32_t room_waiters; /* [atomic] */
    _Atomic uint32_t free_next;    /* [atomic] free-stack link (slot + 1) */
    uint32_t gen;                  /* [tbl] generation of the current life */
    struct fdn__proc *rq_next;     /* run-queue link, guarded by that queue */
    /* An attached thread in fdn_send_wait: the receiver whose room it
     * waits for, so a kill or destroy can wake it (attach.c). */
    _Atomic(struct fdn__proc *) waiting_on; /* [atomic] seq_cst */
    /* Line 3: the owner's, so its writes bounce neither line above. */
    _Alignas(FDN__CACHELINE) struct fdn__mq_node *head; /* [own] consumer end */
    /* The mailbox's sentinel node (the dummy node of Vyukov's queue):
     * in the queue whenever it is empty, so push never meets a NULL
     * tail. */
    struct fdn__mq_node sentinel;
    const fdn_behaviour_t *beh;    /* [own] */
    void *state;                   /* [own] */
    struct fdn__held *held;        /* [own] monitors held on others */
    /* Counters the owner writes (relaxed store of load + 1) and any thread
     * may read (fdn_process_info): messages handled, messages popped (the
     * consumer end of the length), held monitors and requests. */
    _Atomic uint64_t handled;      /* [atomic] owner-written */
    _Atomic uint32_t deq;          /* [atomic] owner-written */
    _Atomic uint32_t nheld;        /* [atomic] owner-written: held monitors */
    _Atomic uint32_t nreqs;        /* [atomic] owner-written: pending requests */
    bool is_bounded;               /* [tbl] max_mailbox != 0, for the owner */
};

/* A scheduler: a thread, a run queue and its counters. */
struct fdn__sched {
    _Alignas(FDN__CACHELINE) _Atomic int qlock; /* spinlock for the queue */
    struct fdn__proc *rq_head, *rq_tail;        /* guarded by qlock */
    _Atomic uint32_t rq_len;   /* [atomic] written under qlock, read racily */
    /* The process to run next (a process this scheduler just woke), kept
     * out of the queue so a message hop costs no lock.  [atomic]: the
     * owner and thieves take it with exchange (acq_rel). */
    _Atomic(struct fdn__proc *) next;
    _Atomic uint64_t turns;    /* turns started; owner writes, thieves read */
    uint32_t streak;           /* [own] consecutive turns taken from next */
    uint64_t seen[FDN__MAX_SEEN]; /* [own] victims' turns at the last look */
    fdn_runtime_t *rt;         /* [imm] */
    unsigned id;               /* [imm] */
    pthread_t thread;          /* [imm] */
    /* Counters: written only by this scheduler's thread (relaxed store of
     * load + 1), read by stats readers (relaxed; exact when quiescent). */
    _Alignas(FDN__CACHELINE) _Atomic uint64_t spawned;
    _Atomic uint64_t exited;
    _Atomic uint64_t exited_normal, exited_shutdown, exited_killed;
    _Atomic uint64_t sent;
    _Atomic uint64_t steals;
    _Atomic uint64_t sleeps;
    /* The message slab being cut (mailbox.c), and what was cut from it:
     * kept here, not in the slab, so that cutting writes no line that
     * freeing (on other threads) writes. */
    struct fdn__slab *slab;    /* [own] or NULL */
    uint32_t slab_used, slab_count; /* [own] */
};

struct fdn_ctx {
    fdn_runtime_t *rt;
    struct fdn__proc *p;
    fdn_pid_t self;
    struct fdn__sched *sched;  /* NULL unless on a scheduler thread (and
                                * always NULL when deterministic) */
    fdn_reason_t stop_reason;  /* set by fdn_stop */
    struct fdn__msg *taken;    /* the message being handled, once
                                * fdn__call_hold took it: dispatch does
                                * not free it (reset for each message) */
    bool is_attached;
};

struct fdn__timers;      /* timer.c */
struct fdn__name_source; /* info.c */
struct fdn__det;         /* replay.c */

struct fdn_runtime {
    /* [imm] configuration */
    unsigned nsched;
    uint32_t max_procs;
    uint32_t batch;
    fdn_clock_t *clock;
    const fdn_allocator_t *alloc;
    struct fdn__sched *scheds;
    void *sched_raw;                  /* unaligned block behind scheds */
    void *raw;                        /* unaligned block behind rt */

    /* Process table: a directory of pages, grown under table_lock. */
    _Atomic(struct fdn__proc *) *dir; /* [atomic] page pointers */
    void **page_raw;                  /* under table_lock: unaligned blocks */
    _Atomic uint32_t nslots;          /* [atomic] slots allocated */
    pthread_mutex_t table_lock;
    _Alignas(FDN__CACHELINE) _Atomic uint64_t free_top; /* tag<<32|slot+1 */

    /* Sleep / wake of schedulers (an eventcount; see sched.c). */
    _Alignas(FDN__CACHELINE) _Atomic uint32_t wake_seq;
    _Atomic int sleepers;
    _Atomic uint32_t rr;             /* round robin for foreign pushes */

    _Alignas(FDN__CACHELINE) _Atomic uint64_t next_ref;
    /* Counters for threads that are not schedulers (relaxed RMW). */
    _Atomic uint64_t ext_spawned, ext_exited, ext_sent;
    _Atomic uint64_t ext_exited_normal, ext_exited_shutdown, ext_exited_killed;

    _Atomic int stopping;  /* [atomic] 1 once destroy began */
    _Atomic int sched_exit; /* [atomic] schedulers leave their loops */

    /* Name sources for fdn_process_names (info.c). */
    pthread_rwlock_t names_lock;    /* read: calling them; write: changes */
    struct fdn__name_source *names; /* names_lock */
    uint64_t names_next_id;         /* names_lock (write) */

    /* Deterministic mode (replay.c). */
    bool is_det;                    /* [imm] */
    uint64_t seed;                  /* [imm] */
    struct fdn__det *det;           /* [imm] pointer; its fields: its lock */
    fdn_clock_t *own_clock;         /* [imm] a virtual clock we made, or NULL */
    bool has_table, has_locks;      /* [imm] what create made (for undo) */

    /* Empty message slabs kept for reuse (mailbox.c). */
    pthread_mutex_t slab_lock;
    struct fdn__slab *slab_free;    /* slab_lock */
    uint32_t slab_nfree;            /* slab_lock */

    pthread_mutex_t att_lock;       /* guards the attached list */
    struct fdn__attached *att_list;
    struct fdn__timers *timers;
};

/* ---- counters ------------------------------------------------------------ */
/* A counter only one thread at a time writes (its owner, or the holder of
 * a lock) and any thread reads racily: a relaxed load + store, no RMW.
 * The _release form also publishes what the writer did before it (for
 * counts whose readers compare them: fdn_runtime_stats). */
static inline void fdn__own_add32(_Atomic uint32_t *c, int32_t d)
{
    atomic_store_explicit(
        c, (uint32_t)((int64_t)atomic_load_explicit(c, memory_order_relaxed) + d),
        memory_order_relaxed);
}
static inline void fdn__own_inc64(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}
static inline void fdn__own_inc64_release(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* ---- spinlock ---------------------------------------------------------- */
void fdn__spin_lock(_Atomic int *l);
void fdn__spin_unlock(_Atomic int *l);

/* ---- table.c ----------------------------------------------------------- */
int fdn__table_init(fdn_runtime_t *rt);
void fdn__table_fini(fdn_runtime_t *rt);
/* Allocates a slot for a new life; *out has pid set to 0 and run DEAD. */
int fdn__table_alloc(fdn_runtime_t *rt, struct fdn__proc **out);
/* Returns a dead slot to the free stack (pid already 0). */
void fdn__table_release(fdn_runtime_t *rt, struct fdn__proc *p);
/* The slot a pid names, or NULL when out of range.  Never checks life. */
struct fdn__proc *fdn__table_slot(const fdn_runtime_t *rt, fdn_pid_t pid);
/* The slot if pid is its current life (acquire), else NULL. */
struct fdn__proc *fdn__table_get(const fdn_runtime_t *rt, fdn_pid_t pid);
uint32_t fdn__table_nslots(const fdn_runtime_t *rt);
struct fdn__proc *fdn__table_at(const fdn_runtime_t *rt, uint32_t slot);

/* ---- mailbox.c --------------------------------------------------------- */
void fdn__mq_init(struct fdn__proc *p);
/* Producer side: any thread.  Counts the message in enq (unless the
 * caller reserved it with fdn__mq_reserve) and links it. */
void fdn__mq_push(struct fdn__proc *p, struct fdn__msg *m, bool reserved);
/* For a user message to a bounded mailbox: counts one message in enq if
 * the queue holds fewer than max; FDN_EFULL (nothing counted) otherwise.
 * FDN_OK at once for an unbounded mailbox (then push counts). */
int fdn__mq_reserve(struct fdn__proc *p, bool *reserved);
/* Consumer side: [own].  NULL when empty (or a push is half done).
 * Counts the pop in deq and wakes senders waiting for room. */
struct fdn__msg *fdn__mq_pop(struct fdn__proc *p);
/* The owner's look at its queue length, kept in hwm (start of a turn). */
void fdn__mq_sample(struct fdn__proc *p);
/* Wakes every fdn_send_wait waiting on p (p died or shutdown began). */
void fdn__mq_wake_room(struct fdn__proc *p);
/* A fresh message with room for inline_size bytes of data: cut from the
 * calling scheduler thread's slab when it is small, else from the
 * allocator.  NULL when out of memory. */
struct fdn__msg *fdn__msg_new(fdn_runtime_t *rt, size_t inline_size);
/* The same, for a caller that knows its scheduler (NULL: not one). */
struct fdn__msg *fdn__msg_new_on(fdn_runtime_t *rt, struct fdn__sched *s,
                                 size_t inline_size);
/* A message carrying a copy of data[0..size) (data may be NULL when size
 * is 0), made on scheduler s (NULL: not one).  NULL when out of memory. */
struct fdn__msg *fdn__msg_copy(fdn_runtime_t *rt, struct fdn__sched *s,
                               fdn_msg_kind_t kind, uint32_t tag,
                               fdn_pid_t from, fdn_ref_t ref,
                               const void *data, size_t size);
/* Retires scheduler s's current slab (its thread is done cutting). */
void fdn__slab_retire_current(fdn_runtime_t *rt, struct fdn__sched *s);
/* Frees the cached empty slabs (destroy, after every message is gone). */
void fdn__slabs_fini(fdn_runtime_t *rt);
/* Frees a message: runs the owned-data destructor unless taken. */
void fdn__msg_free(fdn_runtime_t *rt, struct fdn__msg *m);

/* ---- sched.c ----------------------------------------------------------- */
/* The scheduler running on this thread for rt, or NULL. */
struct fdn__sched *fdn__sched_current(const fdn_runtime_t *rt);
/* Puts a QUEUED process where it runs soon: on a scheduler thread, in
 * that scheduler's next slot (displacing its occupant to the queue);
 * elsewhere, on a run queue chosen round robin. */
void fdn__sched_push(fdn_runtime_t *rt, struct fdn__proc *p);
/* Puts a QUEUED process at the tail of a run queue (a turn that used its
 * whole batch yields behind everyone else: RT-L3). */
void fdn__sched_push_tail(fdn_runtime_t *rt, struct fdn__proc *p);
/* A scheduler thread's loop (arg: its struct fdn__sched). */
void *fdn__sched_main(void *arg);
/* Runs one turn of p on sched (p was QUEUED). */
void fdn__sched_run(struct fdn__sched *s, struct fdn__proc *p);
/* Counts for stats: add to the current scheduler's or the external one. */
void fdn__count_spawned(fdn_runtime_t *rt);
void fdn__count_exited(fdn_runtime_t *rt, fdn_reason_t reason);
void fdn__count_sent(fdn_runtime_t *rt);

/* ---- process.c --------------------------------------------------------- */
/* Enqueues m (m->to set) into p and performs the run-state hand-off. */
void fdn__deliver(fdn_runtime_t *rt, struct fdn__proc *p, struct fdn__msg *m);
/* The hand-off alone: makes p take a turn (or look again) even with an
 * empty mailbox, e.g. to act on a kill mark.  Never allocates. */
void fdn__notify(fdn_runtime_t *rt, struct fdn__proc *p);
/* Looks up `to` and delivers; FDN_ENOPROC (m not taken) if dead. */
int fdn__send_msg(fdn_runtime_t *rt, fdn_pid_t to, struct fdn__msg *m);
/* The same for a user message, which a bounded mailbox may refuse with
 * FDN_EFULL (m not taken). */
int fdn__send_user(fdn_runtime_t *rt, fdn_pid_t to, struct fdn__msg *m);
/* Counts a message handed to the program (handler or fdn_receive) and, in
 * a deterministic runtime, adds it to the trace digest.  Owner only. */
void fdn__count_handled(fdn_ctx_t *ctx, const fdn_msg_t *m);
/* Handles one popped message in process context; false if p died. */
bool fdn__dispatch(fdn_ctx_t *ctx, struct fdn__msg *m);
/* Runs the death sequence of ctx's process with reason. */
void fdn__die(fdn_ctx_t *ctx, fdn_reason_t reason);
/* The end-of-turn hand-off: go IDLE, or requeue if work arrived. */
void fdn__finish_turn(fdn_runtime_t *rt, struct fdn__proc *p);
/* The last step of a death: run becomes DEAD, with FDN__STALE if a message
 * may have arrived after the drain. */
void fdn__mark_dead(struct fdn__proc *p);
fdn_ref_t fdn__new_ref(fdn_runtime_t *rt);
/* FDN_OK, FDN_EINVAL (NULL ctx) or FDN_ENOPROC (killed attached thread). */
int fdn__check_ctx(fdn_ctx_t *ctx);
/* Starts a life with no behaviour (attached threads): published with run
 * state RUNNING | FDN__ATT. */
int fdn__life_begin(fdn_runtime_t *rt, struct fdn__proc **out, fdn_pid_t *pid);

/* ---- signals.c --------------------------------------------------------- */
/* Sends an exit signal message from `from` to `to` (link flag as given). */
int fdn__signal_exit(fdn_runtime_t *rt, fdn_pid_t from, fdn_pid_t to,
                     fdn_reason_t reason, bool via_link);
/* Marks an untrappable death (KILLED, or SHUTDOWN at runtime stop) for the
 * life `pid` of slot p.  A mark made for an older life never touches a
 * newer one (RT-S2). */
void fdn__kill_mark(struct fdn__proc *p, fdn_pid_t pid, fdn_reason_t reason);
/* For the owner: true, with *why, if its current life has a kill mark. */
bool fdn__kill_pending(const struct fdn__proc *p, fdn_reason_t *why);
/* Turns a popped SIGEXIT into: 1 = die (reason set), 0 = deliver as
 * FDN_MSG_EXIT (m rewritten), -1 = drop. */
int fdn__signal_eval(fdn_ctx_t *ctx, struct fdn__msg *m, fdn_reason_t *die);
/* For a popped DOWNMON: true if the monitor was still held (m rewritten to
 * FDN_MSG_DOWN, or FDN_MSG_NOREPLY for a request, and the held record
 * removed). */
bool fdn__down_accept(fdn_ctx_t *ctx, struct fdn__msg *m);
/* Makes ctx's process monitor pid under the given fresh ref (a request's
 * ref when is_request); *out (may be NULL) is the held record.  FDN_OK or
 * FDN_ENOMEM (nothing left behind).  A dead pid gives DOWN noproc. */
int fdn__monitor_ref(fdn_ctx_t *ctx, fdn_pid_t pid, fdn_ref_t ref,
                     bool is_request, struct fdn__held **out);
struct fdn__held *fdn__held_find(struct fdn__proc *p, fdn_ref_t ref);
/* Takes h out of p's held set. */
void fdn__held_unlink(fdn_runtime_t *rt, struct fdn__proc *p,
                      struct fdn__held *h);
/* Releases an unlinked h: its monitor on the target, a request's timer. */
void fdn__held_release(fdn_runtime_t *rt, struct fdn__held *h);
/* Links parent and/or makes parent monitor a fresh (unpublished) child.
 * All or nothing: FDN_ENOMEM leaves nothing behind. */
int fdn__spawn_prepare(fdn_ctx_t *parent, struct fdn__proc *child,
                       fdn_pid_t child_pid, bool link, fdn_ref_t *monref);
/* The parts of death that concern monitors and links (after terminate). */
void fdn__signals_on_death(fdn_ctx_t *ctx, fdn_reason_t reason);

/* ---- replay.c ---------------------------------------------------------- */
/* Sets up deterministic mode for rt (opts already copied). */
int fdn__det_init(fdn_runtime_t *rt, uint64_t seed);
void fdn__det_fini(fdn_runtime_t *rt);
/* Grows the ready set to hold every table slot; called before a new life
 * is published so that a push never needs memory.  FDN_ENOMEM. */
int fdn__det_reserve(fdn_runtime_t *rt);
/* Adds a QUEUED process to the ready set. */
void fdn__det_push(fdn_runtime_t *rt, struct fdn__proc *p);
/* Runs one turn of one ready process (PRNG choice); false if none. */
bool fdn__det_step(fdn_runtime_t *rt);
/* One step of progress for a waiter with a runtime-clock deadline (or
 * FDN_INFINITY): runs due timers and a turn if any is ready, else moves
 * the clock to the next timer.  FDN_OK (progress), FDN_ETIMEDOUT (the
 * clock reached the deadline), FDN_EDEADLK (nothing can happen). */
int fdn__det_progress(fdn_runtime_t *rt, uint64_t deadline);
/* Mixes one event into the trace digest. */
void fdn__det_trace(fdn_runtime_t *rt, fdn_pid_t self, const fdn_msg_t *m);

/* ---- info.c ------------------------------------------------------------ */
/* Frees the name sources left at destroy. */
void fdn__names_fini(fdn_runtime_t *rt);
/* True if p is an attached thread's process (its run state says so). */
bool fdn__is_attached_proc(const struct fdn__proc *p);

/* ---- attach.c ---------------------------------------------------------- */
void fdn__attached_wake(struct fdn__proc *p);
/* For an attached ctx, on its thread: FDN_OK, or FDN_ENOPROC if its
 * process was killed (the death runs now if it has not yet). */
int fdn__attached_check(fdn_ctx_t *ctx);
/* Wakes attached process p if it sleeps in fdn_send_wait (kill, destroy).
 * The caller made its change visible (kill mark, `stopping`) and then
 * issued a seq_cst fence. */
void fdn__attached_kick(struct fdn__proc *p);
/*
 * Held calls: a server that must answer a CALL without allocating (it may
 * act first and answer later, and must never fail to answer) keeps the
 * request message itself and turns it into the reply.
 *
 * fdn__call_hold takes request, the FDN_MSG_CALL that ctx's process is
 * handling right now (only during handle, never on an attached thread),
 * out of the dispatcher's hands: it is not freed when the handler returns.
 * The caller owns it until fdn__call_answer or fdn__msg_free.  NULL if
 * request is not a CALL or ctx is attached.
 *
 * fdn__call_answer rewrites held call m in place into the reply (tag, a
 * copy of data[0..size)) and sends it to the caller.  It never allocates:
 * size must be at most the request's data size (FDN_ETOOBIG otherwise,
 * and m stays held).  Otherwise m is consumed: delivered, or freed when
 * the caller is gone (FDN_ENOPROC).  Any thread that owns m.
 */
struct fdn__msg *fdn__call_hold(fdn_ctx_t *ctx, const fdn_msg_t *request);
int fdn__call_answer(fdn_ctx_t *ctx, struct fdn__msg *m, uint32_t tag,
                     const void *data, size_t size);
/* Wakes every attached thread for shutdown and waits until none is left. */
void fdn__attached_shutdown(fdn_runtime_t *rt);

/* ---- timer.c ----------------------------------------------------------- */
int fdn__timers_start(fdn_runtime_t *rt);
void fdn__timers_stop(fdn_runtime_t *rt);
/* Arms a timer that sends m (built by the caller, m->pub.ref kept) to `to`
 * after delay_ns; *tref is the timer's own ref.  Takes m on FDN_OK only.
 * FDN_ENOMEM, FDN_ELIMIT, FDN_ESHUTDOWN. */
int fdn__timer_arm(fdn_runtime_t *rt, fdn_pid_t to, uint64_t delay_ns,
                   struct fdn__msg *m, fdn_ref_t *tref);
/* Deterministic mode, which has no timer thread: sends what is due on the
 * runtime clock now; the earliest pending deadline (false if none). */
void fdn__timers_fire(fdn_runtime_t *rt);
bool fdn__timers_next(fdn_runtime_t *rt, uint64_t *deadline);

/* ---- request.c --------------------------------------------------------- */
/* Filters a popped REPLY or REQTMO for ctx's process: true (m rewritten
 * for delivery; the request is over) if its request was pending, false if
 * it must be dropped (RT-S12). */
bool fdn__request_accept(fdn_ctx_t *ctx, struct fdn__msg *m);

/* Futex helpers (Linux). */
void fdn__futex_wait(void *addr, uint32_t expected,
                     uint64_t timeout_ns);
void fdn__futex_wake(void *addr, int n);

#endif /* FDN_RUNTIME_INTERNAL_H */
