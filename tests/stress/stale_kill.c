/*
 * stale_kill.c — a KILL aimed at a pid that dies concurrently must never
 * kill the next life of the same slot (regression: the kill mark used to
 * live on the slot without the life's generation).
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

static fdn_runtime_t *rt;
static _Atomic fdn_pid_t target;
static _Atomic int stop;
static _Atomic long wrong_kills, right_kills;

static fdn_next_t idle_handle(fdn_ctx_t *c, void *s, const fdn_msg_t *m)
{
    (void)c;
    (void)s;
    (void)m;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t idle = {.handle = idle_handle};

/* Odd generations are the only ones ever targeted. */
static void on_down(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    (void)arg;
    if (reason != FDN_REASON_KILLED)
        return;
    if (((uint32_t)(pid >> 32)) % 2 == 0)
        atomic_fetch_add(&wrong_kills, 1);
    else
        atomic_fetch_add(&right_kills, 1);
}

static void *killer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        fdn_pid_t p = atomic_load(&target);
        if (p)
            fdn_exit(rt, NULL, p, FDN_REASON_KILL);
        else
            sched_yield();
    }
    return NULL;
}

/* Checks: RT-S2, RT-S4 */
Test(stale_kill, kill_never_reaches_a_later_life)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.max_processes = 1;
    o.schedulers = 1;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, killer, NULL);
    long lives = getenv("FDN_STALE_KILL_LIVES") ? atol(getenv("FDN_STALE_KILL_LIVES")) : 50000;
    for (long i = 0; i < lives; i++) {
        fdn_pid_t p;
        int rc;
        while ((rc = fdn_spawn(rt, NULL, &idle, NULL, NULL, &p)) == FDN_ELIMIT)
            ;
        cr_assert_eq(rc, FDN_OK);
        fdn_ref_t ref;
        (void)fdn_monitor_fn(rt, p, on_down, NULL, &ref); /* may be dead */
        if ((uint32_t)(p >> 32) % 2 == 1)
            atomic_store(&target, p);
        fdn_exit(rt, NULL, p, FDN_REASON_USER + 1);
        while (fdn_alive(rt, p))
            sched_yield();
        atomic_store(&target, 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    fdn_runtime_destroy(rt);
    cr_log_info("kills of targeted lives: %ld", atomic_load(&right_kills));
    cr_assert_eq(atomic_load(&wrong_kills), 0, "%ld untargeted lives were killed",
                 atomic_load(&wrong_kills));
}
