/*
 * adversarial.c — regressions for defects an adversarial review found:
 * destroy under allocation failure, sizes that wrap, and a killed attached
 * thread that kept making monitors and links.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdint.h>

static fdn_runtime_t *rt;
static atomic_int att_ready;
static atomic_int att_rc;

static void *blocked_receiver(void *arg)
{
    (void)arg;
    fdn_ctx_t *c;
    cr_assert_eq(fdn_attach(rt, &c), FDN_OK);
    atomic_store(&att_ready, 1);
    fdn_msg_t *m;
    int rc;
    while ((rc = fdn_receive(c, FDN_INFINITY, &m)) == FDN_OK)
        fdn_msg_free(c, m);
    atomic_store(&att_rc, rc);
    fdn_detach(c);
    return NULL;
}

static fdn_next_t idle_handle(fdn_ctx_t *c, void *s, const fdn_msg_t *m)
{
    (void)c;
    (void)s;
    (void)m;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t idle = {.handle = idle_handle};

/* Destroy used to allocate a wake-up message per attached thread and per
 * live process; with allocation failing it hung forever.
 * Checks: RT-L6, RT-F1, RT-F3 */
Test(adversarial, destroy_completes_while_every_allocation_fails)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fa);
    o.schedulers = 2;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    for (int i = 0; i < 50; i++) {
        fdn_pid_t p;
        cr_assert_eq(fdn_spawn(rt, NULL, &idle, NULL, NULL, &p), FDN_OK);
    }
    atomic_store(&att_ready, 0);
    pthread_t t;
    pthread_create(&t, NULL, blocked_receiver, NULL);
    while (!atomic_load(&att_ready))
        sched_yield();
    fdn_failing_allocator_arm(fa, 1, true); /* every allocation fails now */
    fdn_runtime_destroy(rt);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&att_rc), FDN_ESHUTDOWN);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

/* Checks: RT-C1, RT-S10 */
Test(adversarial, sizes_that_would_wrap_are_enomem)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    fdn_ctx_t *c;
    cr_assert_eq(fdn_attach(rt, &c), FDN_OK);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &idle, NULL, NULL, &p), FDN_OK);
    static char byte;
    size_t huge[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        cr_assert_eq(fdn_send(c, p, 1, &byte, huge[i]), FDN_ENOMEM);
        fdn_ref_t ref;
        cr_assert_eq(fdn_send_after(rt, NULL, p, 1, 1, &byte, huge[i], &ref),
                     FDN_ENOMEM);
        fdn_msg_t *r;
        cr_assert_eq(fdn_call(c, p, 1, &byte, huge[i], FDN_NS_PER_S, &r),
                     FDN_ENOMEM);
    }
    cr_assert_eq(fdn_exit(rt, NULL, p, FDN_REASON_KILL), FDN_OK);
    fdn_detach(c);
    fdn_runtime_destroy(rt);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

static void *killed_attached(void *arg)
{
    fdn_pid_t *out = arg;
    fdn_ctx_t *c;
    cr_assert_eq(fdn_attach(rt, &c), FDN_OK);
    __atomic_store_n(&out[0], fdn_self(c), __ATOMIC_RELEASE);
    fdn_msg_t *m;
    while (fdn_receive(c, FDN_INFINITY, &m) == FDN_OK)
        fdn_msg_free(c, m);
    /* Killed: nothing may be made in the dead process's name. */
    fdn_ref_t ref;
    atomic_store(&att_rc, fdn_monitor(c, out[1], &ref) == FDN_ENOPROC &&
                              fdn_link(c, out[1]) == FDN_ENOPROC &&
                              fdn_send(c, out[1], 1, NULL, 0) == FDN_ENOPROC);
    fdn_detach(c);
    return NULL;
}

/* Checks: RT-I3, RT-C1 */
Test(adversarial, killed_attached_ctx_makes_nothing)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    fdn_pid_t pids[2] = {0, 0};
    cr_assert_eq(fdn_spawn(rt, NULL, &idle, NULL, NULL, &pids[1]), FDN_OK);
    atomic_store(&att_rc, 0);
    pthread_t t;
    pthread_create(&t, NULL, killed_attached, pids);
    while (__atomic_load_n(&pids[0], __ATOMIC_ACQUIRE) == 0)
        sched_yield();
    cr_assert_eq(fdn_exit(rt, NULL, pids[0], FDN_REASON_KILL), FDN_OK);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&att_rc), 1);
    cr_assert_eq(fdn_exit(rt, NULL, pids[1], FDN_REASON_KILL), FDN_OK);
    fdn_runtime_destroy(rt);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}
