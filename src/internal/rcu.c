/*
 * internal/rcu.c — lazy per-thread registration with liburcu (urcu-memb) and
 * unregistration at thread exit through a pthread key destructor; and, in
 * TSan builds, the two marker objects the RCU annotations in rcu.h use.
 */
#include "internal/rcu.h"

#include "internal/common.h"

#include <pthread.h>
#include <stdbool.h>

#if FDN_RCU_TSAN
/* Only their addresses matter: TSan keys the release/acquire clocks of the
 * annotations in rcu.h by address.  See rcu.h for the argument. */
char fdn__rcu_tsan_grace;
char fdn__rcu_tsan_done;
#endif

/* Created once; its destructor unregisters a thread that registered. */
static pthread_key_t rcu_exit_key;
static pthread_once_t rcu_exit_key_once = PTHREAD_ONCE_INIT;

/* Owner thread only: true while this thread is registered by us. */
static _Thread_local bool is_thread_registered;

/*
 * Runs at thread exit (glibc runs key destructors before it frees the
 * thread's TLS, so liburcu's own thread-local reader state is still valid
 * here).  A thread never exits inside a read-side critical section of ours,
 * so unregistering cannot break a reader.
 */
static void rcu_thread_exit(void *value)
{
    (void)value;
    if (is_thread_registered) {
        urcu_memb_unregister_thread();
        is_thread_registered = false;
    }
}

static void rcu_make_exit_key(void)
{
    if (pthread_key_create(&rcu_exit_key, rcu_thread_exit) != 0)
        FDN_PANIC("pthread_key_create failed for the RCU exit key");
}

void fdn__rcu_thread_enter(void)
{
    if (is_thread_registered)
        return;
    if (pthread_once(&rcu_exit_key_once, rcu_make_exit_key) != 0)
        FDN_PANIC("pthread_once failed for the RCU exit key");
    urcu_memb_register_thread();
    is_thread_registered = true;
    /* A non-NULL value makes the destructor run at exit.  setspecific can
     * only fail for want of memory for the key's second-level array, which
     * glibc needs only for keys beyond the first 32: the thread would then
     * stay registered after exit, which liburcu tolerates badly, so treat it
     * as a broken invariant. */
    if (pthread_setspecific(rcu_exit_key, &is_thread_registered) != 0)
        FDN_PANIC("pthread_setspecific failed for the RCU exit key");
}
