/*
 * internal/rcu.h — the one gateway from the library to liburcu (flavour
 * urcu-memb): lazy registration of threads, and wrappers for every RCU
 * operation that carry ThreadSanitizer annotations in TSan builds.
 *
 * Registration.  Any thread may call into a module that reads RCU-protected
 * data: scheduler threads, attached threads, plain pthreads of the
 * application.  Rather than asking each of them to register, a module calls
 * fdn__rcu_thread_enter() before its first read-side critical section; the
 * first call on a thread registers it, and a pthread key destructor
 * unregisters it when the thread exits.  urcu-memb is the flavour that
 * allows this: a registered thread that is not inside a read-side critical
 * section never delays a grace period, so registered threads need not
 * announce quiescent states.
 *
 * Caveat: liburcu forbids registering a thread twice, so an application
 * thread that registered itself with urcu-memb must not call into modules
 * that use this helper.  The library's own threads are not affected.
 *
 * Why the wrappers.  liburcu (0.13, as packaged by Debian 12) is not built
 * with TSan.  It orders a grace period against readers with membarrier(2),
 * futexes and plain atomics inside uninstrumented code, and it publishes
 * hash-table nodes with rcu_assign_pointer / rcu_dereference inside
 * uninstrumented code too.  TSan sees none of these, so it reports every
 * reader-versus-reclaimer pair and every publisher-versus-reader pair as a
 * data race although liburcu orders them.  The wrappers below re-state
 * those orderings to TSan with __tsan_release / __tsan_acquire; outside TSan
 * builds they compile to the plain liburcu calls.  Modules must use only
 * these wrappers (never urcu_memb_* directly), so no edge is missed.
 *
 * The argument, edge by edge (G and D are two marker addresses in rcu.c):
 *
 * 1. Readers before reclaimer.  liburcu guarantees that an RCU callback
 *    queued by call_rcu at time t runs only after every read-side critical
 *    section that was running at t has ended, and that synchronize_rcu
 *    returns only after every critical section running when it was called
 *    has ended.  Every read unlock releases G just before it unlocks, and
 *    every callback acquires G first thing (fdn__rcu_callback_begin), as
 *    does fdn__rcu_synchronize after liburcu returns.  TSan's release joins
 *    into G's clock, so the acquire inherits every unlock that happened
 *    before it in real time, which includes every reader that could still
 *    hold a reference to the object: those readers' accesses now
 *    happen-before its free.
 * 2. Updater before reclaimer.  fdn__rcu_call releases G before queuing, so
 *    the updater's unlink and everything before it happen-before the
 *    callback, which acquired G.
 * 3. Callbacks before barrier.  Every callback releases D as its last step
 *    (fdn__rcu_callback_end); fdn__rcu_barrier, which returns only after
 *    every callback queued before it has finished, acquires D afterwards.
 *    So a teardown that frees what callbacks use (allocators, tables) is
 *    ordered after them.
 * 4. Publisher before reader.  A node's initialisation happens before the
 *    lock-free insert that publishes it; fdn__rcu_publish(node) releases
 *    the node's own address before the insert, and fdn__rcu_subscribe(node)
 *    acquires it wherever our code first touches a node it got from the
 *    table (match functions, iteration, lookups).  That models the
 *    release/consume pair liburcu performs in uninstrumented code.
 *
 * These edges over-approximate (an acquire of G also inherits unlocks of
 * unrelated readers), so TSan may miss a race that only RCU was supposed to
 * prevent; it never reports a false one on these paths.  Everything else in
 * our code (mutexes, C11 atomics) stays fully checked: no suppression
 * covers our own functions.
 *
 * Thread rules: every function here may be called from any thread; the
 * read-side ones need fdn__rcu_thread_enter() first on that thread.
 */
#ifndef FDN_INTERNAL_RCU_H
#define FDN_INTERNAL_RCU_H

#include <stdint.h>

#include <urcu/list.h>
#include <urcu/urcu-memb.h>

/* FDN_RCU_TSAN is 1 when this translation unit is built with TSan:
 * gcc defines __SANITIZE_THREAD__, clang answers __has_feature. */
#if defined(__SANITIZE_THREAD__)
#define FDN_RCU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FDN_RCU_TSAN 1
#endif
#endif
#ifndef FDN_RCU_TSAN
#define FDN_RCU_TSAN 0
#endif

#if FDN_RCU_TSAN
/* The TSan runtime's annotation entry points (its names, not ours). */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* Marker addresses, defined in rcu.c: G (grace) and D (callbacks done). */
extern char fdn__rcu_tsan_grace;
extern char fdn__rcu_tsan_done;
#endif

/* Registers the calling thread with urcu-memb if it is not yet registered;
 * it is unregistered automatically when the thread exits.  Cheap after the
 * first call on a thread (one thread-local test).  Any thread. */
void fdn__rcu_thread_enter(void);

/* Enters a read-side critical section (nests).  Registered threads only. */
static inline void fdn__rcu_read_lock(void)
{
    urcu_memb_read_lock();
}

/* Leaves a read-side critical section.  Under TSan releases G first (edge
 * 1 in the file comment), so this reader's accesses happen-before any later
 * callback or synchronize. */
static inline void fdn__rcu_read_unlock(void)
{
#if FDN_RCU_TSAN
    __tsan_release(&fdn__rcu_tsan_grace);
#endif
    urcu_memb_read_unlock();
}

/* True when the calling (registered) thread is inside a read-side
 * critical section.  Used to skip work that must not run inside one, such
 * as resizing a hash table. */
static inline int fdn__rcu_read_ongoing(void)
{
    return urcu_memb_read_ongoing();
}

/* Queues fn(head) to run after a grace period, on liburcu's call_rcu
 * thread.  fn must start with fdn__rcu_callback_begin() and end with
 * fdn__rcu_callback_end().  Under TSan releases G first (edge 2). */
static inline void fdn__rcu_call(struct rcu_head *head,
                                 void (*fn)(struct rcu_head *head))
{
#if FDN_RCU_TSAN
    __tsan_release(&fdn__rcu_tsan_grace);
#endif
    urcu_memb_call_rcu(head, fn);
}

/* First statement of every RCU callback: acquires G (edges 1 and 2). */
static inline void fdn__rcu_callback_begin(void)
{
#if FDN_RCU_TSAN
    __tsan_acquire(&fdn__rcu_tsan_grace);
#endif
}

/* Last statement of every RCU callback: releases D (edge 3). */
static inline void fdn__rcu_callback_end(void)
{
#if FDN_RCU_TSAN
    __tsan_release(&fdn__rcu_tsan_done);
#endif
}

/* Waits for a grace period.  Must not be called inside a read-side
 * critical section.  Under TSan then acquires G (edge 1). */
static inline void fdn__rcu_synchronize(void)
{
    urcu_memb_synchronize_rcu();
#if FDN_RCU_TSAN
    __tsan_acquire(&fdn__rcu_tsan_grace);
#endif
}

/* Waits until every callback queued before the call has run.  Must not be
 * called inside a read-side critical section.  Under TSan then acquires D
 * (edge 3). */
static inline void fdn__rcu_barrier(void)
{
    urcu_memb_barrier();
#if FDN_RCU_TSAN
    __tsan_acquire(&fdn__rcu_tsan_done);
#endif
}

/* Call on a fully initialised node just before the lock-free insert that
 * publishes it (edge 4).  Does nothing outside TSan builds. */
static inline void fdn__rcu_publish(const void *node)
{
#if FDN_RCU_TSAN
    __tsan_release((void *)(uintptr_t)node);
#else
    (void)node;
#endif
}

/* Call on a node obtained from a lock-free structure before reading its
 * fields (edge 4).  Does nothing outside TSan builds. */
static inline void fdn__rcu_subscribe(const void *node)
{
#if FDN_RCU_TSAN
    __tsan_acquire((void *)(uintptr_t)node);
#else
    (void)node;
#endif
}

/*
 * RCU lists of struct cds_list_head.  The same algorithm as liburcu's
 * rculist.h (writers, serialised by a lock, link a node only once it is
 * whole, and never change a removed node's next, so a reader standing on
 * it walks on), but written with __atomic builtins instead of volatile
 * accesses: the link that publishes a node is a release store and a
 * reader's step an acquire load, which TSan checks as it checks any C11
 * atomic (rculist.h's volatile stores race, for TSan, with every reader).
 * On x86-64 both are plain moves; on arm64 they cost what rculist.h's
 * barriers cost.  Readers run inside a read-side critical section and may
 * read only next; prev is the writers'.
 */
static inline void fdn__rcu_list_add_tail(struct cds_list_head *node,
                                          struct cds_list_head *head)
{
    node->next = head;
    node->prev = head->prev;
    __atomic_store_n(&head->prev->next, node, __ATOMIC_RELEASE);
    head->prev = node;
}

static inline void fdn__rcu_list_del(struct cds_list_head *node)
{
    node->next->prev = node->prev;
    /* Release, so that a reader that steps over node onto node->next
     * still synchronises with node->next's publication. */
    __atomic_store_n(&node->prev->next, node->next, __ATOMIC_RELEASE);
}

/* Puts node in old's place; old's next stays, for readers on it. */
static inline void fdn__rcu_list_replace(struct cds_list_head *old,
                                         struct cds_list_head *node)
{
    node->next = old->next;
    node->prev = old->prev;
    __atomic_store_n(&node->prev->next, node, __ATOMIC_RELEASE);
    node->next->prev = node;
}

/* A reader's step: the node after l (the head when l is the last). */
static inline struct cds_list_head *
fdn__rcu_list_next(struct cds_list_head *l)
{
    return __atomic_load_n(&l->next, __ATOMIC_ACQUIRE);
}

#endif /* FDN_INTERNAL_RCU_H */
