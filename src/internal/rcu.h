/*
 * internal/rcu.h — lazy registration of threads with liburcu (flavour
 * urcu-memb), shared by every module that uses RCU.
 *
 * Any thread may call into a module that reads RCU-protected data: scheduler
 * threads, attached threads, plain pthreads of the application.  Rather than
 * asking each of them to register, a module calls fdn__rcu_thread_enter()
 * before its first read-side critical section; the first call on a thread
 * registers it, and a pthread key destructor unregisters it when the thread
 * exits.  urcu-memb is the flavour that allows this: a registered thread that
 * is not inside a read-side critical section never delays a grace period, so
 * registered threads need not announce quiescent states.
 *
 * Caveat: liburcu forbids registering a thread twice, so an application
 * thread that registered itself with urcu-memb must not call into modules
 * that use this helper.  The library's own threads are not affected.
 */
#ifndef FDN_INTERNAL_RCU_H
#define FDN_INTERNAL_RCU_H

#include <urcu/urcu-memb.h>

/* Registers the calling thread with urcu-memb if it is not yet registered;
 * it is unregistered automatically when the thread exits.  Cheap after the
 * first call on a thread (one thread-local test).  Any thread. */
void fdn__rcu_thread_enter(void);

#endif /* FDN_INTERNAL_RCU_H */
