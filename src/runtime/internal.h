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
    /* Or'ed into every state of an attached thread's process, so a sender
     * learns how to wake it from the same atomic word it CASes. */
    FDN__ATT = 8
};

/* Internal message kinds (beyond the public fdn_msg_kind_t values). */
enum {
    FDN__MSG_SIGEXIT = 100, /* exit signal: from, reason; evaluated on pop */
    FDN__MSG_WAKE = 101,    /* carries nothing; makes the process run */
    FDN__MSG_DOWNMON = 102  /* a monitor fired; filtered by held monitors */
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
    uint32_t flags;
    fdn_msg_t pub; /* what handlers see */
    _Alignas(16) unsigned char inline_data[];
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

/* A monitor this process holds on another ([own] list of the watcher). */
struct fdn__held {
    struct fdn__held *next;
    fdn_ref_t ref;
    fdn_pid_t target;
    struct fdn__mon *mon; /* valid while target is alive and not exiting */
};

/* A link record ([lock] of the process whose list holds it), with the
 * exit signal this side sends to `other` when it dies, preallocated. */
struct fdn__link {
    struct fdn__link *next;
    fdn_pid_t other;
    struct fdn__msg *sig;
};

struct fdn__attached;

/*
 * A process-table slot.  Slots are type-stable: a slot's memory lives until
 * the runtime is destroyed, so a stale pid always reaches valid memory and
 * is rejected by comparing pid.  The mailbox persists across the slot's
 * lives; messages addressed to an older life are dropped on pop (RT-S2).
 */
struct fdn__proc {
    /* Line 1: what other threads touch (senders, monitors, links). */
    _Atomic uint64_t pid;          /* [atomic] current pid; 0 when free */
    _Atomic int run;               /* [atomic] FDN__IDLE.. run state */
    _Atomic int lock;              /* spinlock for [lock] fields */
    _Atomic uint64_t kill_pending; /* [atomic] gen << 32 | (reason + 1) */
    _Atomic(struct fdn__mq_node *) tail; /* [atomic] mailbox producer end */
    struct fdn__mq_node stub;      /* mailbox stub node */
    struct fdn__mon *mons;         /* [lock] monitors on this process */
    struct fdn__link *links;       /* [lock] */
    _Atomic bool trap_exit;        /* [atomic] relaxed: a per-process flag */
    bool exiting;                  /* [lock] death has begun */
    /* Line 2: the owner's, so consumer writes do not bounce line 1. */
    _Alignas(FDN__CACHELINE) struct fdn__mq_node *head; /* [own] consumer end */
    struct fdn__proc *rq_next;     /* run-queue link, guarded by that queue */
    const fdn_behaviour_t *beh;    /* [own] */
    void *state;                   /* [own] */
    struct fdn__held *held;        /* [own] monitors held on others */
    _Atomic uint32_t free_next;    /* [atomic] free-stack link (slot + 1) */
    uint32_t gen;                  /* [tbl] generation of the current life */
    uint32_t slot;                 /* [imm] index in the table */
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
    _Atomic uint64_t sent;
    _Atomic uint64_t steals;
    _Atomic uint64_t sleeps;
};

struct fdn_ctx {
    fdn_runtime_t *rt;
    struct fdn__proc *p;
    fdn_pid_t self;
    struct fdn__sched *sched;  /* NULL unless on a scheduler thread */
    fdn_reason_t stop_reason;  /* set by fdn_stop */
    struct fdn__msg *taken;    /* the message being handled, once
                                * fdn__call_hold took it: dispatch does
                                * not free it (reset for each message) */
    bool is_attached;
};

struct fdn__timers; /* timer.c */

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

    _Atomic int stopping;  /* [atomic] 1 once destroy began */
    _Atomic int sched_exit; /* [atomic] schedulers leave their loops */

    pthread_mutex_t att_lock;       /* guards the attached list */
    struct fdn__attached *att_list;
    struct fdn__timers *timers;
};

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
/* Producer side: any thread.  Release on the link store. */
void fdn__mq_push(struct fdn__proc *p, struct fdn__msg *m);
/* Consumer side: [own].  NULL when empty (or a push is half done). */
struct fdn__msg *fdn__mq_pop(struct fdn__proc *p);
struct fdn__msg *fdn__msg_new(fdn_runtime_t *rt, size_t inline_size);
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
/* Runs one turn of p on sched (p was QUEUED). */
void fdn__sched_run(struct fdn__sched *s, struct fdn__proc *p);
/* Counts for stats: add to the current scheduler's or the external one. */
void fdn__count_spawned(fdn_runtime_t *rt);
void fdn__count_exited(fdn_runtime_t *rt);
void fdn__count_sent(fdn_runtime_t *rt);

/* ---- process.c --------------------------------------------------------- */
/* Enqueues m (m->to set) into p and performs the run-state hand-off. */
void fdn__deliver(fdn_runtime_t *rt, struct fdn__proc *p, struct fdn__msg *m);
/* The hand-off alone: makes p take a turn (or look again) even with an
 * empty mailbox, e.g. to act on a kill mark.  Never allocates. */
void fdn__notify(fdn_runtime_t *rt, struct fdn__proc *p);
/* Looks up `to` and delivers; FDN_ENOPROC (m not taken) if dead. */
int fdn__send_msg(fdn_runtime_t *rt, fdn_pid_t to, struct fdn__msg *m);
/* Handles one popped message in process context; false if p died. */
bool fdn__dispatch(fdn_ctx_t *ctx, struct fdn__msg *m);
/* Runs the death sequence of ctx's process with reason. */
void fdn__die(fdn_ctx_t *ctx, fdn_reason_t reason);
/* The end-of-turn hand-off: go IDLE, or requeue if work arrived. */
void fdn__finish_turn(fdn_runtime_t *rt, struct fdn__proc *p);
fdn_ref_t fdn__new_ref(fdn_runtime_t *rt);
/* FDN_OK, FDN_EINVAL (NULL ctx) or FDN_ENOPROC (killed attached thread). */
int fdn__check_ctx(const fdn_ctx_t *ctx);
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
 * FDN_MSG_DOWN and the held record removed). */
bool fdn__down_accept(fdn_ctx_t *ctx, struct fdn__msg *m);
/* Links parent and/or makes parent monitor a fresh (unpublished) child.
 * All or nothing: FDN_ENOMEM leaves nothing behind. */
int fdn__spawn_prepare(fdn_ctx_t *parent, struct fdn__proc *child,
                       fdn_pid_t child_pid, bool link, fdn_ref_t *monref);
/* The parts of death that concern monitors and links (after terminate). */
void fdn__signals_on_death(fdn_ctx_t *ctx, fdn_reason_t reason);

/* ---- attach.c ---------------------------------------------------------- */
void fdn__attached_wake(struct fdn__proc *p);
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

/* Futex helpers (Linux). */
void fdn__futex_wait(void *addr, uint32_t expected,
                     uint64_t timeout_ns);
void fdn__futex_wake(void *addr, int n);

#endif /* FDN_RUNTIME_INTERNAL_H */
