/*
 * regress.c — regression tests for classic process-registry bugs
 * (specs/registry.md, section "Regressions" lists them): batch
 * entries that outlive their owner, a monitor dropped with the first of
 * several names, residue left by a refused registration, and races that
 * leave a key with no owner or with a dead one.
 */
#include "unit/registry/reg_helpers.h"
#include "unit/runtime/death.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

static fdn_registry_ns_t *reg_ns_kind(fdn_registry_t *reg, const char *name,
                                      fdn_registry_kind_t kind)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = kind;
    fdn_registry_ns_t *ns = NULL;
    cr_assert_eq(fdn_registry_namespace_opts(reg, name, &o, &ns), FDN_OK);
    return ns;
}

/* Waits (bounded) until the registry holds owner records for n pids. */
static void expect_owner_count(fdn_registry_t *reg, uint64_t n)
{
    cr_assert(REG_POLL_UNTIL(fdn_registry_owner_count(reg) == n),
              "owner records: %llu, want %llu",
              (unsigned long long)fdn_registry_owner_count(reg),
              (unsigned long long)n);
}


/* Checks: REG-S9 REG-L1 */
Test(registry_regress, r1_batch_entries_all_removed_at_owner_death)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *a, *b;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &b), FDN_OK);
    fdn_pid_t bystander = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(a, "keep", bystander, NULL, NULL),
                 FDN_OK);

    enum { NA = 16, NB = 5 };
    char names[NA][16];
    const char *keys[NA];
    fdn_meta_t metas[NA];
    for (int i = 0; i < NA; i++) {
        snprintf(names[i], sizeof names[i], "batch-%d", i);
        keys[i] = names[i];
        memset(&metas[i], 0, sizeof metas[i]);
        cr_assert_eq(fdn_meta_set_int(&metas[i], "i", i), FDN_OK);
    }

    /* Round 0: the owner's only entries come from batches (its record is
     * made by a batch); round 1: it also holds a single registration made
     * first. */
    for (int round = 0; round < 2; round++) {
        fdn_pid_t p = reg_spawn_idle(fx.rt);
        if (round == 1)
            cr_assert_eq(fdn_registry_register(a, "solo", p, NULL, NULL),
                         FDN_OK);
        fdn_registry_reply_t reply;
        cr_assert_eq(fdn_registry_register_batch(a, keys, metas, NA, p,
                                                 &reply),
                     FDN_OK);
        cr_assert_eq(fdn_registry_register_batch(b, keys, NULL, NB, p,
                                                 &reply),
                     FDN_OK);
        /* A refused batch adds nothing and keeps the record intact. */
        const char *clash[3] = {"fresh-1", "keep", "fresh-2"};
        cr_assert_eq(fdn_registry_register_batch(a, clash, NULL, 3, p,
                                                 &reply),
                     FDN_EEXIST);
        cr_assert_eq(reply.failed, 1);
        cr_assert_eq(fdn_registry_lookup(a, "fresh-1", NULL, NULL),
                     FDN_ENOENT);
        int held = NA + NB + round;
        cr_assert_eq(fdn_registry_keys(fx.reg, p, NULL, NULL), held);
        cr_assert_eq(fdn_registry_count(a), (uint64_t)(1 + NA + round));
        cr_assert_eq(fdn_registry_count(b), NB);
        for (int i = 0; i < NA; i++) {
            fdn_pid_t got;
            fdn_meta_t m;
            cr_assert_eq(fdn_registry_lookup(a, keys[i], &got, &m), FDN_OK);
            cr_assert_eq(got, p);
            cr_assert_eq(fdn_meta_get(&m, "i")->as.i, i);
        }
        expect_owner_count(fx.reg, 2);

        reg_kill(fx.rt, p);
        /* fdn_alive turned false after the cleanup ran: exact now. */
        cr_assert_eq(fdn_registry_count(a), 1, "round %d: %llu left", round,
                     (unsigned long long)fdn_registry_count(a));
        cr_assert_eq(fdn_registry_count(b), 0);
        for (int i = 0; i < NA; i++)
            cr_assert_eq(fdn_registry_lookup(a, keys[i], NULL, NULL),
                         FDN_ENOENT, "round %d: %s survived", round,
                         keys[i]);
        for (int i = 0; i < NB; i++)
            cr_assert_eq(fdn_registry_lookup(b, keys[i], NULL, NULL),
                         FDN_ENOENT);
        cr_assert_eq(fdn_registry_lookup(a, "solo", NULL, NULL), FDN_ENOENT);
        cr_assert_eq(fdn_registry_keys(fx.reg, p, NULL, NULL), 0);
        expect_owner_count(fx.reg, 1);
    }
    cr_assert_eq(fdn_registry_total(fx.reg), 1);
    reg_kill(fx.rt, bystander);
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    expect_owner_count(fx.reg, 0);
    reg_fixture_down(&fx);
}


/* Checks: REG-L1 */
Test(registry_regress, r2_unregistering_one_name_keeps_the_monitor)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *u1, *u2, *g;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "u1", &u1), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "u2", &u2), FDN_OK);
    g = reg_ns_kind(fx.reg, "groups", FDN_REGISTRY_DUPLICATE);
    fdn_pid_t other = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_join(g, "g2", other, NULL, NULL), FDN_OK);

    /* Two names, one dropped: the other still goes with the owner. */
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(u1, "a", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u1, "b", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(u1, "a", p), FDN_OK);
    /* A refused unregister (wrong owner) changes nothing either. */
    cr_assert_eq(fdn_registry_unregister(u1, "b", other), FDN_ENOENT);
    reg_kill(fx.rt, p);
    cr_assert_eq(fdn_registry_lookup(u1, "b", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_count(u1), 0);

    /* Down to zero names and up again before the death. */
    p = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(u1, "a", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(u1, "a", p), FDN_OK);
    cr_assert_eq(fdn_registry_register(u1, "c", p, NULL, NULL), FDN_OK);
    reg_kill(fx.rt, p);
    cr_assert_eq(fdn_registry_lookup(u1, "c", NULL, NULL), FDN_ENOENT);

    /* Three names dropped in another order, across namespaces. */
    p = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(u1, "x", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u2, "y", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u1, "z", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(u1, "z", p), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(u1, "x", p), FDN_OK);
    cr_assert_eq(fdn_registry_keys(fx.reg, p, NULL, NULL), 1);
    reg_kill(fx.rt, p);
    cr_assert_eq(fdn_registry_lookup(u2, "y", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_count(u2), 0);

    /* Groups: leaving one keeps the other membership tied to the owner. */
    p = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_join(g, "g1", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(g, "g2", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_leave(g, "g1", p), FDN_OK);
    reg_kill(fx.rt, p);
    fdn_pid_t members[4];
    size_t found = 0;
    cr_assert_eq(fdn_registry_members(g, "g2", members, 4, &found), FDN_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(members[0], other);
    cr_assert_eq(fdn_registry_get(g, "g2", p, NULL, NULL), FDN_ENOENT);

    cr_assert_eq(fdn_registry_total(fx.reg), 1);
    expect_owner_count(fx.reg, 1);
    reg_kill(fx.rt, other);
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    expect_owner_count(fx.reg, 0);
    reg_fixture_down(&fx);
}


enum { TAG_U = 41, TAG_G = 42 };

/* The next listener event, which must come within 5 s with tag. */
static void next_event(fdn_ctx_t *ctx, uint32_t tag, fdn_registry_event_t *ev)
{
    fdn_msg_t *msg = NULL;
    int rc = fdn_receive(ctx, 5 * FDN_NS_PER_S, &msg);
    cr_assert_eq(rc, FDN_OK, "no event: %s", fdn_errname(rc));
    cr_assert_eq(msg->kind, FDN_MSG_USER);
    cr_assert_eq(msg->tag, tag);
    cr_assert_geq(msg->size, offsetof(fdn_registry_event_t, fields));
    cr_assert_leq(msg->size, sizeof *ev);
    memset(ev, 0, sizeof *ev);
    memcpy(ev, msg->data, msg->size);
    fdn_msg_free(ctx, msg);
}

/* What a refused write must leave as it was. */
struct residue {
    uint64_t owners, total, count_u, count_g;
};

static struct residue residue_now(reg_fixture_t *fx, fdn_registry_ns_t *u,
                                  fdn_registry_ns_t *g)
{
    struct residue r = {fdn_registry_owner_count(fx->reg),
                        fdn_registry_total(fx->reg), fdn_registry_count(u),
                        fdn_registry_count(g)};
    return r;
}

static void expect_no_residue(reg_fixture_t *fx, fdn_registry_ns_t *u,
                              fdn_registry_ns_t *g, const struct residue *was,
                              fdn_pid_t loser, const char *what)
{
    struct residue now = residue_now(fx, u, g);
    cr_assert_eq(now.owners, was->owners, "%s: owner records %llu -> %llu",
                 what, (unsigned long long)was->owners,
                 (unsigned long long)now.owners);
    cr_assert_eq(now.total, was->total, "%s", what);
    cr_assert_eq(now.count_u, was->count_u, "%s", what);
    cr_assert_eq(now.count_g, was->count_g, "%s", what);
    cr_assert_eq(fdn_registry_keys(fx->reg, loser, NULL, NULL), 0, "%s",
                 what);
}

/* Checks: REG-S10 */
Test(registry_regress, r3_refused_registration_leaves_no_residue)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(fx.rt, &ctx), FDN_OK);
    fdn_pid_t me = fdn_self(ctx);

    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "role", FDN_META_STR, true,
                                            false),
                 FDN_OK);
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "u", &o, &u), FDN_OK);
    fdn_registry_ns_t *g = reg_ns_kind(fx.reg, "g", FDN_REGISTRY_DUPLICATE);
    cr_assert_eq(fdn_registry_subscribe(u, me, TAG_U), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(g, me, TAG_G), FDN_OK);

    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_str(&m, "role", "winner"), FDN_OK);
    fdn_pid_t w = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(u, "k", w, &m, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(g, "grp", w, NULL, NULL), FDN_OK);
    fdn_registry_event_t ev;
    next_event(ctx, TAG_U, &ev);
    cr_assert_eq(ev.seq, 1);
    cr_assert_eq(ev.kind, FDN_REGISTRY_REGISTERED);
    next_event(ctx, TAG_G, &ev);
    cr_assert_eq(ev.seq, 1);

    struct residue was = residue_now(&fx, u, g);
    cr_assert_eq(was.owners, 1);

    /* A fresh pid loses: no owner record, no entry, no event. */
    fdn_pid_t q = reg_spawn_idle(fx.rt);
    fdn_pid_t winner = FDN_PID_NONE;
    cr_assert_eq(fdn_registry_register(u, "k", q, &m, &winner), FDN_EEXIST);
    cr_assert_eq(winner, w);
    expect_no_residue(&fx, u, g, &was, q, "register lost");
    fdn_registry_reply_t reply;
    memset(&reply, 0, sizeof reply);
    cr_assert_eq(fdn_registry_register_ex(u, "k", q, &m, &reply),
                 FDN_EEXIST);
    cr_assert_eq(reply.winner, w);
    expect_no_residue(&fx, u, g, &was, q, "register_ex lost");
    /* The winner itself registering again: refused, nothing added. */
    cr_assert_eq(fdn_registry_register(u, "k", w, &m, &winner), FDN_EEXIST);
    cr_assert_eq(winner, w);
    expect_no_residue(&fx, u, g, &was, q, "winner again");

    /* A batch refused at its second key leaves none of them. */
    const char *batch[3] = {"q1", "k", "q2"};
    fdn_meta_t bm[3] = {m, m, m};
    cr_assert_eq(fdn_registry_register_batch(u, batch, bm, 3, q, &reply),
                 FDN_EEXIST);
    cr_assert_eq(reply.failed, 1);
    cr_assert_eq(fdn_registry_lookup(u, "q1", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_lookup(u, "q2", NULL, NULL), FDN_ENOENT);
    expect_no_residue(&fx, u, g, &was, q, "batch lost");

    /* Refusals other than a lost race: schema, kind, a dead pid. */
    cr_assert_eq(fdn_registry_register(u, "no-role", q, NULL, NULL),
                 FDN_ESCHEMA);
    expect_no_residue(&fx, u, g, &was, q, "schema");
    cr_assert_eq(fdn_registry_join(u, "k2", q, NULL, NULL), FDN_ENOTSUP);
    cr_assert_eq(fdn_registry_register(g, "k2", q, NULL, NULL), FDN_ENOTSUP);
    expect_no_residue(&fx, u, g, &was, q, "wrong kind");
    fdn_pid_t dead = reg_spawn_idle(fx.rt);
    reg_kill(fx.rt, dead);
    cr_assert_eq(fdn_registry_register(u, "k3", dead, &m, NULL),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_registry_join(g, "grp", dead, NULL, NULL), FDN_ENOPROC);
    expect_no_residue(&fx, u, g, &was, dead, "dead pid");

    /* A duplicate membership is refused the same way. */
    cr_assert_eq(fdn_registry_join(g, "grp", w, NULL, &reply), FDN_EEXIST);
    expect_no_residue(&fx, u, g, &was, q, "join twice");

    /* No event was sent for any of it: the next ones follow on at once. */
    cr_assert_eq(fdn_registry_unregister(u, "k", w), FDN_OK);
    next_event(ctx, TAG_U, &ev);
    cr_assert_eq(ev.seq, 2, "a refused write sent an event");
    cr_assert_eq(ev.kind, FDN_REGISTRY_UNREGISTERED);
    cr_assert_eq(ev.reason, FDN_REGISTRY_EXPLICIT);
    cr_assert_str_eq(ev.key, "k");
    cr_assert_eq(ev.pid, w);
    cr_assert_eq(fdn_registry_leave(g, "grp", w), FDN_OK);
    next_event(ctx, TAG_G, &ev);
    cr_assert_eq(ev.seq, 2, "a refused join sent an event");
    cr_assert_eq(ev.kind, FDN_REGISTRY_UNREGISTERED);
    fdn_msg_t *msg = NULL;
    cr_assert_eq(fdn_receive(ctx, 0, &msg), FDN_ETIMEDOUT);

    /* The loser may now win: the refusals left nothing in its way. */
    cr_assert_eq(fdn_registry_register(u, "k", q, &m, NULL), FDN_OK);
    next_event(ctx, TAG_U, &ev);
    cr_assert_eq(ev.seq, 3);
    cr_assert_eq(ev.pid, q);

    cr_assert_eq(fdn_registry_unsubscribe(u, me), FDN_OK);
    cr_assert_eq(fdn_registry_unsubscribe(g, me), FDN_OK);
    fdn_detach(ctx);
    reg_kill(fx.rt, w);
    reg_kill(fx.rt, q);
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    expect_owner_count(fx.reg, 0);
    reg_fixture_down(&fx);
}


enum { R4_RACERS = 6, R4_ROUNDS = 150 };

/* One round's shared state; main sets it up between the two barriers. */
struct r4_race {
    fdn_registry_ns_t *ns, *groups;
    pthread_barrier_t go, done;
    fdn_pid_t pids[R4_RACERS];
    fdn_pid_t joiner;              /* every racer joins it to "grp" */
    int rc[R4_RACERS];
    fdn_pid_t winner[R4_RACERS];
    int join_rc[R4_RACERS];
    bool is_over;
};

struct r4_racer {
    struct r4_race *race;
    int id;
};

static void *r4_register(void *arg)
{
    struct r4_racer *me = arg;
    struct r4_race *r = me->race;
    for (;;) {
        pthread_barrier_wait(&r->go);
        if (r->is_over)
            return NULL;
        r->winner[me->id] = FDN_PID_NONE;
        r->rc[me->id] = fdn_registry_register(r->ns, "hot", r->pids[me->id],
                                              NULL, &r->winner[me->id]);
        r->join_rc[me->id] =
            fdn_registry_join(r->groups, "grp", r->joiner, NULL, NULL);
        pthread_barrier_wait(&r->done);
    }
}

/* Checks: REG-S1 REG-S4 */
Test(registry_regress, r4_racing_registers_leave_exactly_one_owner)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    static struct r4_race r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "race", &r.ns), FDN_OK);
    r.groups = reg_ns_kind(fx.reg, "race-groups", FDN_REGISTRY_DUPLICATE);
    pthread_barrier_init(&r.go, NULL, R4_RACERS + 1);
    pthread_barrier_init(&r.done, NULL, R4_RACERS + 1);
    /* Half the racers keep their pid (an owner record exists after the
     * first win), half get a fresh one every round (records race to be
     * made). */
    for (int i = 0; i < R4_RACERS; i += 2)
        r.pids[i] = reg_spawn_idle(fx.rt);
    struct r4_racer args[R4_RACERS];
    pthread_t th[R4_RACERS];
    for (int i = 0; i < R4_RACERS; i++) {
        args[i].race = &r;
        args[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, r4_register, &args[i]), 0);
    }
    int wins_by[R4_RACERS] = {0};
    for (int round = 0; round < R4_ROUNDS; round++) {
        for (int i = 1; i < R4_RACERS; i += 2)
            r.pids[i] = reg_spawn_idle(fx.rt);
        r.joiner = reg_spawn_idle(fx.rt);
        pthread_barrier_wait(&r.go);
        pthread_barrier_wait(&r.done);

        int ok = 0, won = -1, joined = 0;
        for (int i = 0; i < R4_RACERS; i++) {
            if (r.rc[i] == FDN_OK) {
                ok++;
                won = i;
            }
            joined += r.join_rc[i] == FDN_OK;
        }
        cr_assert_eq(ok, 1, "round %d: %d winners", round, ok);
        for (int i = 0; i < R4_RACERS; i++) {
            if (i == won)
                continue;
            cr_assert_eq(r.rc[i], FDN_EEXIST, "round %d racer %d: %s", round,
                         i, fdn_errname(r.rc[i]));
            cr_assert_eq(r.winner[i], r.pids[won]);
        }
        for (int i = 0; i < R4_RACERS; i++)
            cr_assert(r.join_rc[i] == FDN_OK || r.join_rc[i] == FDN_EEXIST,
                      "round %d racer %d join: %s", round, i,
                      fdn_errname(r.join_rc[i]));
        cr_assert_eq(joined, 1, "round %d: %d joins of one pid", round,
                     joined);
        wins_by[won]++;
        fdn_pid_t got = FDN_PID_NONE;
        cr_assert_eq(fdn_registry_lookup(r.ns, "hot", &got, NULL), FDN_OK);
        cr_assert_eq(got, r.pids[won]);
        size_t found = 0;
        cr_assert_eq(fdn_registry_members(r.groups, "grp", NULL, 0, &found),
                     FDN_OK);
        cr_assert_eq(found, 1);
        cr_assert_eq(fdn_registry_keys(fx.reg, r.pids[won], NULL, NULL), 1);
        /* Fresh losers hold no record: at most the kept pids, a fresh
         * winner and the joiner have one. */
        for (int i = 1; i < R4_RACERS; i += 2)
            if (i != won)
                cr_assert_eq(fdn_registry_keys(fx.reg, r.pids[i], NULL, NULL),
                             0);
        cr_assert_leq(fdn_registry_owner_count(fx.reg),
                      (uint64_t)(R4_RACERS / 2 + 2), "round %d: %llu records",
                      round,
                      (unsigned long long)fdn_registry_owner_count(fx.reg));

        /* Free the key for the next round: the winner unregisters (even
         * rounds) or dies (odd rounds, only a fresh one can). */
        if (round % 2 == 0 || won % 2 == 0) {
            cr_assert_eq(fdn_registry_unregister(r.ns, "hot", r.pids[won]),
                         FDN_OK);
        }
        for (int i = 1; i < R4_RACERS; i += 2)
            cr_assert_eq(fdn_exit(fx.rt, NULL, r.pids[i], FDN_REASON_KILL),
                         FDN_OK);
        cr_assert_eq(fdn_exit(fx.rt, NULL, r.joiner, FDN_REASON_KILL),
                     FDN_OK);
        for (int i = 1; i < R4_RACERS; i += 2)
            cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, r.pids[i])));
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, r.joiner)));
        cr_assert_eq(fdn_registry_count(r.ns), 0, "round %d", round);
        cr_assert_eq(fdn_registry_count(r.groups), 0, "round %d", round);
    }
    r.is_over = true;
    pthread_barrier_wait(&r.go);
    for (int i = 0; i < R4_RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r.go);
    pthread_barrier_destroy(&r.done);
    fprintf(stderr, "r4: wins by racer:");
    for (int i = 0; i < R4_RACERS; i++)
        fprintf(stderr, " %d", wins_by[i]);
    fprintf(stderr, "\n");
    for (int i = 0; i < R4_RACERS; i += 2)
        reg_kill(fx.rt, r.pids[i]);
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    expect_owner_count(fx.reg, 0);
    reg_fixture_down(&fx);
}

/* A writer racing its owner's death: register, batch and join. */
struct r4_dying {
    fdn_registry_ns_t *ns, *groups;
    fdn_pid_t pid;
    pthread_barrier_t *start;
    int ok, noproc, other;
};

static void *r4_write_while_dying(void *arg)
{
    struct r4_dying *d = arg;
    char key[24], k2[24];
    pthread_barrier_wait(d->start);
    for (int i = 0; i < 300; i++) {
        int rc;
        snprintf(key, sizeof key, "k%d", i);
        if (i % 3 == 0) {
            rc = fdn_registry_register(d->ns, key, d->pid, NULL, NULL);
        } else if (i % 3 == 1) {
            snprintf(k2, sizeof k2, "b%d", i);
            const char *keys[2] = {key, k2};
            rc = fdn_registry_register_batch(d->ns, keys, NULL, 2, d->pid,
                                             NULL);
        } else {
            rc = fdn_registry_join(d->groups, key, d->pid, NULL, NULL);
        }
        if (rc == FDN_OK)
            d->ok++;
        else if (rc == FDN_ENOPROC)
            d->noproc++;
        else
            d->other++;
    }
    return NULL;
}

/* Counts the entries of the pid in arg[0] into arg[1] (no assertion in
 * here: foreach runs it inside a read-side critical section). */
static void r4_count_pid(void *arg, const char *key, fdn_pid_t pid,
                         const fdn_meta_field_t *fields, uint32_t nfields)
{
    (void)key;
    (void)fields;
    (void)nfields;
    fdn_pid_t *a = arg;
    if (pid == a[0])
        a[1]++;
}

/* Checks: REG-S1 REG-S4 */
Test(registry_regress, r4_register_racing_death_never_leaves_a_dead_entry)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns, *groups;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    groups = reg_ns_kind(fx.reg, "groups", FDN_REGISTRY_DUPLICATE);
    int oks = 0, noprocs = 0;
    for (int round = 0; round < 60; round++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct r4_dying d = {.ns = ns, .groups = groups, .start = &start};
        d.pid = reg_spawn_idle(fx.rt);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, r4_write_while_dying, &d), 0);
        pthread_barrier_wait(&start);
        /* Vary the moment of the kill a little from round to round. */
        for (volatile int spin = 0; spin < (round % 8) * 2000; spin++)
            ;
        cr_assert_eq(fdn_exit(fx.rt, NULL, d.pid, FDN_REASON_KILL), FDN_OK);
        pthread_join(t, NULL);
        pthread_barrier_destroy(&start);
        fdn_test_wait_death_complete(fx.rt, d.pid);
        cr_assert_eq(d.other, 0, "round %d: unexpected codes", round);
        oks += d.ok;
        noprocs += d.noproc;
        /* Either the owner is alive or its entries are gone: it is dead,
         * so nothing of it may remain, whatever the writes returned. */
        cr_assert_eq(fdn_registry_count(ns), 0, "round %d: %llu left",
                     round, (unsigned long long)fdn_registry_count(ns));
        cr_assert_eq(fdn_registry_count(groups), 0, "round %d", round);
        fdn_pid_t tally[2] = {d.pid, 0};
        fdn_registry_foreach(ns, r4_count_pid, tally);
        fdn_registry_foreach(groups, r4_count_pid, tally);
        cr_assert_eq(tally[1], 0, "round %d: entries of the dead pid", round);
        cr_assert_eq(fdn_registry_keys(fx.reg, d.pid, NULL, NULL), 0);
        expect_owner_count(fx.reg, 0);
    }
    fprintf(stderr, "r4 death race: %d writes won, %d refused (ENOPROC)\n",
            oks, noprocs);
    reg_fixture_down(&fx);
}
