/*
 * stale.c — runtime unit tests (white-box): messages that reach a slot
 * after its process's death drained the mailbox (their sender checked the
 * pid just before the death) must not stay in the slot for the next life:
 * the next life takes a turn and drops them.  Found by the newcomer
 * review: a bounded process born in such a slot refused every send.
 */
#include "unit/runtime/death.h"
#include "unit/runtime/rt_fixture.h"

static void setup(void)
{
    rt_up(false);
}

static void teardown(void)
{
    rt_down();
}

TestSuite(stale, .init = setup, .fini = teardown);

static fdn_next_t quiet(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)ctx;
    (void)state;
    (void)m;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t quiet_b = {.handle = quiet, .name = "quiet"};

/* A late sender's message, delivered as fdn_send would deliver it to a
 * slot whose pid it validated just before the death. */
static void late_send(fdn_pid_t dead)
{
    struct fdn__proc *p = fdn__table_slot(rt, dead);
    cr_assert_not_null(p);
    struct fdn__msg *m = fdn__msg_new(rt, 0);
    cr_assert_not_null(m);
    m->pub.kind = FDN_MSG_USER;
    m->pub.from = fdn_self(me);
    m->to = dead;
    fdn__deliver(rt, p, m);
}

/* Checks: RT-C9, RT-F4, RT-S2 */
Test(stale, a_new_life_drops_messages_for_the_old_one)
{
    for (int round = 0; round < 2; round++) {
        fdn_pid_t v;
        cr_assert_eq(fdn_spawn(rt, NULL, &quiet_b, NULL, NULL, &v), FDN_OK);
        cr_assert_eq(fdn_exit(rt, me, v, FDN_REASON_KILL), FDN_OK);
        fdn_test_wait_death_complete(rt, v);
        late_send(v);
        late_send(v);
        /* The next spawn takes the slot just freed (the free stack is
         * LIFO and nothing else spawns here). */
        fdn_spawn_opts_t so = {.size = sizeof so,
                               .max_mailbox = round == 0 ? 1 : 0};
        fdn_pid_t s;
        cr_assert_eq(fdn_spawn(rt, NULL, &quiet_b, NULL, &so, &s), FDN_OK);
        cr_assert_eq((uint32_t)s, (uint32_t)v, "the slot is reused");
        cr_assert_neq(s, v);
        /* The late messages are dropped by a turn of the new life, not
         * handled by it, and the mailbox empties. */
        WAIT_FOR(info(s).mailbox_len == 0);
        cr_assert_eq(info(s).handled, 0);
        cr_assert_eq(fdn_send(me, s, 1, NULL, 0), FDN_OK,
                     "a bounded mailbox has room again");
        WAIT_FOR(info(s).handled == 1);
        cr_assert_eq(fdn_exit(rt, me, s, FDN_REASON_KILL), FDN_OK);
        fdn_test_wait_death_complete(rt, s);
    }
}
