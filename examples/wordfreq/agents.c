/*
 * agents.c — the processes of wordfreq: mappers count the words of chunks,
 * the coordinator hands chunks out and re-dispatches the work of mappers that
 * die, the reducer merges each chunk's result exactly once, and the chaos
 * process kills random mappers.  main.c starts and stops them; the protocol
 * is described at the top of main.c.  Each agent records what it does in
 * the job's metrics (wf_shared_t.metrics) as it does it, so /metrics shows
 * the job's progress while it runs.
 */
#include "wordfreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chunks a mapper asks for when it starts: two, so that it has the next
 * chunk queued while it reports the current one. */
#define WF_WINDOW 2u

/* WF_TAG_CHUNK payload: which chunk to count (an index into the corpus). */
typedef struct wf_chunk_msg {
    uint32_t id;
} wf_chunk_msg_t;

/* WF_TAG_READY payload: how many more chunks the mapper asks for. */
typedef struct wf_ready_msg {
    uint32_t index;
    uint32_t credits;
} wf_ready_msg_t;

/* WF_TAG_RESULT payload, sent zero-copy: the word table of one chunk. */
typedef struct wf_result {
    uint32_t chunk;
    wf_word_t *table;
} wf_result_t;

/* The destructor of a result message: runs when the runtime drops it (for
 * instance if the reducer is gone), or when the reducer is done with it. */
static void wf_result_free(void *data, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    wf_result_t *res = data;
    wf_words_free(&res->table);
    free(res);
}

/* ------------------------------------------------------------------------ */
/* Mapper                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct wf_mapper {
    const wf_shared_t *shared;
    uint32_t index;
    fdn_pid_t coordinator;
    fdn_pid_t reducer;
    char *scratch; /* lower-casing buffer, reused across chunks */
    size_t scratch_cap;
} wf_mapper_t;

/* Registers as "mapper-<index>" with capability "map", then tells the
 * coordinator it is ready.  Runs on every (re)start by the supervisor. */
static fdn_next_t wf_mapper_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    wf_mapper_arg_t *a = arg;
    fdn_registry_ns_t *ns = a->shared->ns;
    *state = NULL;
    if (atomic_exchange_explicit(&a->started, true, memory_order_relaxed))
        fdn_counter_inc(a->shared->metrics->restarts);
    wf_mapper_t *m = calloc(1, sizeof *m);
    if (!m)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    m->shared = a->shared;
    m->index = a->index;
    if (fdn_registry_lookup(ns, "coordinator", &m->coordinator, NULL) !=
            FDN_OK ||
        fdn_registry_lookup(ns, "reducer", &m->reducer, NULL) != FDN_OK) {
        free(m);
        return fdn_stop(ctx, WF_REASON_SETUP);
    }
    char key[32];
    snprintf(key, sizeof key, "mapper-%u", a->index);
    fdn_meta_t meta;
    memset(&meta, 0, sizeof meta);
    if (fdn_meta_set_str(&meta, "capability", "map") != FDN_OK ||
        fdn_meta_set_int(&meta, "index", a->index) != FDN_OK ||
        fdn_registry_register(ns, key, fdn_self(ctx), &meta, NULL) !=
            FDN_OK) {
        free(m);
        return fdn_stop(ctx, WF_REASON_SETUP);
    }
    wf_ready_msg_t ready = {.index = a->index, .credits = WF_WINDOW};
    if (fdn_send(ctx, m->coordinator, WF_TAG_READY, &ready, sizeof ready) !=
        FDN_OK) {
        fdn_registry_unregister(ns, key, fdn_self(ctx));
        free(m);
        return fdn_stop(ctx, WF_REASON_SETUP);
    }
    *state = m;
    return FDN_CONTINUE;
}

/* Counts one chunk, sends its table to the reducer without copying it, and
 * asks the coordinator for one more chunk. */
static fdn_next_t wf_mapper_handle(fdn_ctx_t *ctx, void *state,
                                   const fdn_msg_t *msg)
{
    wf_mapper_t *m = state;
    if (msg->kind != FDN_MSG_USER || msg->tag != WF_TAG_CHUNK ||
        msg->size != sizeof(wf_chunk_msg_t))
        return FDN_CONTINUE;
    wf_chunk_msg_t cm;
    memcpy(&cm, msg->data, sizeof cm);
    if (cm.id >= m->shared->corpus->nchunks)
        return FDN_CONTINUE;
    const wf_chunk_t *chunk = &m->shared->corpus->chunks[cm.id];

    wf_result_t *res = malloc(sizeof *res);
    if (!res)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    res->chunk = cm.id;
    res->table = NULL;
    fdn_clock_t *clock = fdn_runtime_clock(fdn_ctx_runtime(ctx));
    uint64_t t0 = fdn_clock_now(clock);
    if (wf_words_count(&res->table, chunk->bytes, chunk->len, &m->scratch,
                       &m->scratch_cap) != 0) {
        /* Dying makes the supervisor restart this mapper and the
         * coordinator re-dispatch the chunk. */
        wf_result_free(res, sizeof *res, NULL);
        return fdn_stop(ctx, WF_REASON_NOMEM);
    }
    fdn_metric_observe(m->shared->metrics->map_seconds,
                       (double)(fdn_clock_now(clock) - t0) / 1e9);
    int rc = fdn_send_owned(ctx, m->reducer, WF_TAG_RESULT, res, sizeof *res,
                            wf_result_free, NULL);
    if (rc != FDN_OK) {
        /* Not taken: still ours.  A dead reducer fails the job (main
         * monitors it); out of memory restarts this mapper. */
        wf_result_free(res, sizeof *res, NULL);
        if (rc == FDN_ENOMEM)
            return fdn_stop(ctx, WF_REASON_NOMEM);
    }
    wf_ready_msg_t more = {.index = m->index, .credits = 1};
    if (fdn_send(ctx, m->coordinator, WF_TAG_READY, &more, sizeof more) ==
        FDN_ENOMEM)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    return FDN_CONTINUE;
}

static void wf_mapper_terminate(fdn_ctx_t *ctx, void *state,
                                fdn_reason_t reason)
{
    (void)ctx;
    (void)reason;
    wf_mapper_t *m = state;
    if (!m)
        return;
    free(m->scratch);
    free(m);
}

const fdn_behaviour_t wf_mapper_behaviour = {
    .init = wf_mapper_init,
    .handle = wf_mapper_handle,
    .terminate = wf_mapper_terminate,
    .name = "wordfreq-mapper",
};

/* ------------------------------------------------------------------------ */
/* Reducer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct wf_reducer {
    const wf_shared_t *shared;
    wf_word_t *table;     /* merged totals, until main takes them */
    uint8_t *counted;     /* one bit per chunk: already merged */
    uint64_t merged;
    uint64_t duplicates;
    fdn_pid_t coordinator;
} wf_reducer_t;

static fdn_next_t wf_reducer_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    const wf_shared_t *shared = arg;
    *state = NULL;
    wf_reducer_t *r = calloc(1, sizeof *r);
    if (!r)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    r->shared = shared;
    r->counted = calloc(shared->corpus->nchunks / 8 + 1, 1);
    if (!r->counted) {
        free(r);
        return fdn_stop(ctx, WF_REASON_NOMEM);
    }
    fdn_meta_t meta;
    memset(&meta, 0, sizeof meta);
    if (fdn_meta_set_str(&meta, "capability", "reduce") != FDN_OK ||
        fdn_registry_register(shared->ns, "reducer", fdn_self(ctx), &meta,
                              NULL) != FDN_OK) {
        free(r->counted);
        free(r);
        return fdn_stop(ctx, WF_REASON_SETUP);
    }
    *state = r;
    return FDN_CONTINUE;
}

/* Merges a chunk result unless that chunk was merged before, and
 * acknowledges the chunk to the coordinator either way. */
static fdn_next_t wf_reducer_result(fdn_ctx_t *ctx, wf_reducer_t *r,
                                    const fdn_msg_t *msg)
{
    if (msg->size != sizeof(wf_result_t))
        return FDN_CONTINUE;
    /* Take the result: its entries move into the totals. */
    wf_result_t *res = fdn_msg_take(ctx, msg);
    if (!res)
        return FDN_CONTINUE;
    uint32_t id = res->chunk;
    if (id >= r->shared->corpus->nchunks) {
        wf_result_free(res, sizeof *res, NULL);
        return FDN_CONTINUE;
    }
    uint8_t bit = (uint8_t)(1u << (id % 8));
    const wf_metrics_t *mx = r->shared->metrics;
    if (r->counted[id / 8] & bit) {
        /* A re-dispatched chunk whose first result had already arrived. */
        r->duplicates++;
        fdn_counter_inc(mx->duplicates);
    } else {
        uint64_t words = wf_words_total(res->table);
        if (wf_words_merge(&r->table, &res->table) != 0) {
            wf_result_free(res, sizeof *res, NULL);
            return fdn_stop(ctx, WF_REASON_NOMEM);
        }
        r->counted[id / 8] |= bit;
        r->merged++;
        fdn_counter_inc(mx->merged);
        fdn_counter_add(mx->words, words);
    }
    wf_result_free(res, sizeof *res, NULL);
    if (r->coordinator == FDN_PID_NONE &&
        fdn_registry_lookup(r->shared->ns, "coordinator", &r->coordinator,
                            NULL) != FDN_OK)
        return fdn_stop(ctx, WF_REASON_SETUP);
    if (fdn_send(ctx, r->coordinator, WF_TAG_ACK, &id, sizeof id) ==
        FDN_ENOMEM)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    return FDN_CONTINUE;
}

static fdn_next_t wf_reducer_handle(fdn_ctx_t *ctx, void *state,
                                    const fdn_msg_t *msg)
{
    wf_reducer_t *r = state;
    if (msg->kind == FDN_MSG_USER && msg->tag == WF_TAG_RESULT)
        return wf_reducer_result(ctx, r, msg);
    if (msg->kind == FDN_MSG_CALL && msg->tag == WF_TAG_TAKE) {
        /* Hand the totals to main: after a successful reply they are
         * main's, and this process never touches them again. */
        wf_reduce_reply_t reply = {.table = r->table,
                                   .merged = r->merged,
                                   .duplicates = r->duplicates};
        if (fdn_reply(ctx, msg, WF_TAG_TAKE, &reply, sizeof reply) == FDN_OK)
            r->table = NULL;
    }
    return FDN_CONTINUE;
}

static void wf_reducer_terminate(fdn_ctx_t *ctx, void *state,
                                 fdn_reason_t reason)
{
    (void)ctx;
    (void)reason;
    wf_reducer_t *r = state;
    if (!r)
        return;
    wf_words_free(&r->table);
    free(r->counted);
    free(r);
}

const fdn_behaviour_t wf_reducer_behaviour = {
    .init = wf_reducer_init,
    .handle = wf_reducer_handle,
    .terminate = wf_reducer_terminate,
    .name = "wordfreq-reducer",
};

/* ------------------------------------------------------------------------ */
/* Coordinator                                                              */
/* ------------------------------------------------------------------------ */

enum { WF_QUEUED = 0, WF_ASSIGNED = 1, WF_ACKED = 2 };

typedef struct wf_chunk_state {
    fdn_pid_t holder; /* the mapper it was last sent to (while ASSIGNED) */
    uint8_t state;
} wf_chunk_state_t;

/* A live mapper the coordinator monitors. */
typedef struct wf_mapper_rec {
    fdn_pid_t pid;
    fdn_ref_t ref;
    uint32_t credits; /* chunks it asked for and has not been sent */
} wf_mapper_rec_t;

typedef struct wf_coord {
    const wf_shared_t *shared;
    wf_chunk_state_t *chunks;
    size_t nchunks;
    uint32_t *queue; /* stack of QUEUED (or since-acked) chunk ids */
    size_t nqueue;
    wf_mapper_rec_t *mappers;
    size_t nmappers, cap_mappers;
    size_t next_mapper; /* round-robin start for dispatch */
    bool done_sent;
    wf_coord_stats_t stats;
} wf_coord_t;

static fdn_next_t wf_coord_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    const wf_shared_t *shared = arg;
    *state = NULL;
    wf_coord_t *c = calloc(1, sizeof *c);
    if (!c)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    c->shared = shared;
    c->nchunks = shared->corpus->nchunks;
    /* Every chunk is in the queue at most once (only QUEUED chunks are
     * pushed, and a chunk leaves QUEUED when popped), so nchunks slots
     * suffice. */
    c->chunks = calloc(c->nchunks + 1, sizeof *c->chunks);
    c->queue = calloc(c->nchunks + 1, sizeof *c->queue);
    if (!c->chunks || !c->queue) {
        free(c->chunks);
        free(c->queue);
        free(c);
        return fdn_stop(ctx, WF_REASON_NOMEM);
    }
    /* Pushed in reverse so chunks go out in file order. */
    for (size_t i = 0; i < c->nchunks; i++)
        c->queue[i] = (uint32_t)(c->nchunks - 1 - i);
    c->nqueue = c->nchunks;
    fdn_meta_t meta;
    memset(&meta, 0, sizeof meta);
    if (fdn_meta_set_str(&meta, "capability", "coordinate") != FDN_OK ||
        fdn_registry_register(shared->ns, "coordinator", fdn_self(ctx), &meta,
                              NULL) != FDN_OK) {
        free(c->chunks);
        free(c->queue);
        free(c);
        return fdn_stop(ctx, WF_REASON_SETUP);
    }
    *state = c;
    return FDN_CONTINUE;
}

static wf_mapper_rec_t *wf_coord_find(wf_coord_t *c, fdn_pid_t pid)
{
    for (size_t i = 0; i < c->nmappers; i++)
        if (c->mappers[i].pid == pid)
            return &c->mappers[i];
    return NULL;
}

/* Sends queued chunks to mappers that asked for work, round robin.  Returns
 * 0, or -1 if out of memory. */
static int wf_coord_dispatch(fdn_ctx_t *ctx, wf_coord_t *c)
{
    while (c->nqueue > 0 && c->nmappers > 0) {
        wf_mapper_rec_t *target = NULL;
        for (size_t k = 0; k < c->nmappers; k++) {
            size_t i = (c->next_mapper + k) % c->nmappers;
            if (c->mappers[i].credits > 0) {
                target = &c->mappers[i];
                c->next_mapper = i + 1;
                break;
            }
        }
        if (!target)
            return 0;
        uint32_t id = c->queue[--c->nqueue];
        if (c->chunks[id].state == WF_ACKED)
            continue; /* acknowledged after it was re-queued */
        wf_chunk_msg_t cm = {.id = id};
        int rc = fdn_send(ctx, target->pid, WF_TAG_CHUNK, &cm, sizeof cm);
        if (rc == FDN_ENOMEM) {
            c->nqueue++;
            return -1;
        }
        /* On FDN_ENOPROC the mapper is dead: its DOWN is on the way and
         * re-queues the chunk like any other it held. */
        c->chunks[id].state = WF_ASSIGNED;
        c->chunks[id].holder = target->pid;
        target->credits--;
        c->stats.dispatched++;
        fdn_counter_inc(c->shared->metrics->dispatched);
    }
    return 0;
}

/* A mapper asks for work; the first time, the coordinator monitors it. */
static int wf_coord_ready(fdn_ctx_t *ctx, wf_coord_t *c, const fdn_msg_t *msg)
{
    if (msg->size != sizeof(wf_ready_msg_t))
        return 0;
    wf_ready_msg_t ready;
    memcpy(&ready, msg->data, sizeof ready);
    wf_mapper_rec_t *rec = wf_coord_find(c, msg->from);
    if (!rec) {
        if (c->nmappers == c->cap_mappers) {
            size_t cap = c->cap_mappers ? c->cap_mappers * 2 : 8;
            wf_mapper_rec_t *bigger =
                realloc(c->mappers, cap * sizeof *bigger);
            if (!bigger)
                return -1;
            c->mappers = bigger;
            c->cap_mappers = cap;
        }
        rec = &c->mappers[c->nmappers];
        rec->pid = msg->from;
        rec->credits = 0;
        /* Monitoring before the first dispatch: whatever it is sent from
         * now on, its DOWN will bring back (a dead pid gives noproc). */
        if (fdn_monitor(ctx, msg->from, &rec->ref) != FDN_OK)
            return -1;
        c->nmappers++;
        c->stats.mappers_seen++;
    }
    rec->credits += ready.credits;
    return wf_coord_dispatch(ctx, c);
}

/* A mapper died: re-queue every chunk it held that is not acknowledged. */
static int wf_coord_down(fdn_ctx_t *ctx, wf_coord_t *c, const fdn_msg_t *msg)
{
    wf_mapper_rec_t *rec = wf_coord_find(c, msg->from);
    if (!rec || rec->ref != msg->ref)
        return 0;
    *rec = c->mappers[--c->nmappers];
    for (size_t id = 0; id < c->nchunks; id++) {
        wf_chunk_state_t *s = &c->chunks[id];
        if (s->state == WF_ASSIGNED && s->holder == msg->from) {
            s->state = WF_QUEUED;
            s->holder = FDN_PID_NONE;
            c->queue[c->nqueue++] = (uint32_t)id;
            c->stats.redispatched++;
            fdn_counter_inc(c->shared->metrics->redispatched);
        }
    }
    return wf_coord_dispatch(ctx, c);
}

/* The reducer counted a chunk (perhaps again). */
static void wf_coord_ack(fdn_ctx_t *ctx, wf_coord_t *c, const fdn_msg_t *msg)
{
    uint32_t id;
    if (msg->size != sizeof id)
        return;
    memcpy(&id, msg->data, sizeof id);
    if (id >= c->nchunks || c->chunks[id].state == WF_ACKED)
        return;
    c->chunks[id].state = WF_ACKED;
    c->chunks[id].holder = FDN_PID_NONE;
    c->stats.acked++;
    if (c->stats.acked == c->nchunks && !c->done_sent) {
        /* main is an attached thread waiting in fdn_receive. */
        if (fdn_send(ctx, c->shared->main_pid, WF_TAG_DONE, NULL, 0) ==
            FDN_OK)
            c->done_sent = true;
    }
}

static fdn_next_t wf_coord_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *msg)
{
    wf_coord_t *c = state;
    int rc = 0;
    if (msg->kind == FDN_MSG_USER && msg->tag == WF_TAG_READY)
        rc = wf_coord_ready(ctx, c, msg);
    else if (msg->kind == FDN_MSG_USER && msg->tag == WF_TAG_ACK)
        wf_coord_ack(ctx, c, msg);
    else if (msg->kind == FDN_MSG_DOWN)
        rc = wf_coord_down(ctx, c, msg);
    else if (msg->kind == FDN_MSG_CALL && msg->tag == WF_TAG_STATS)
        fdn_reply(ctx, msg, WF_TAG_STATS, &c->stats, sizeof c->stats);
    return rc == 0 ? FDN_CONTINUE : fdn_stop(ctx, WF_REASON_NOMEM);
}

static void wf_coord_terminate(fdn_ctx_t *ctx, void *state,
                               fdn_reason_t reason)
{
    (void)ctx;
    (void)reason;
    wf_coord_t *c = state;
    if (!c)
        return;
    free(c->chunks);
    free(c->queue);
    free(c->mappers);
    free(c);
}

const fdn_behaviour_t wf_coordinator_behaviour = {
    .init = wf_coord_init,
    .handle = wf_coord_handle,
    .terminate = wf_coord_terminate,
    .name = "wordfreq-coordinator",
};

/* ------------------------------------------------------------------------ */
/* Chaos                                                                    */
/* ------------------------------------------------------------------------ */

/* Most strikes one late tick may make to catch up with the schedule. */
#define WF_CHAOS_BURST 8u

typedef struct wf_chaos {
    const wf_shared_t *shared;
    uint64_t period_ns;
    uint64_t next_ns; /* when the next strike is due, on the runtime clock */
    uint64_t rng;   /* splitmix64 state, seeded by --seed */
    uint64_t started_ns;
    wf_chaos_stats_t stats;
    fdn_ref_t timer;
    fdn_pid_t *last_victim; /* per index: the last pid killed there */
} wf_chaos_t;

/* splitmix64: a small, well-mixed generator; the seed replays a run's
 * choice of victims (their timing still depends on the schedulers). */
static uint64_t wf_chaos_next(wf_chaos_t *k)
{
    uint64_t z = (k->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Arms the timer for the next due strike.  Strikes follow a fixed
 * schedule (next_ns advances by the period) rather than "a period after the
 * last tick", so a late tick does not lower the rate. */
static int wf_chaos_arm(fdn_ctx_t *ctx, wf_chaos_t *k)
{
    fdn_runtime_t *rt = fdn_ctx_runtime(ctx);
    uint64_t now = fdn_clock_now(fdn_runtime_clock(rt));
    uint64_t delay = k->next_ns > now ? k->next_ns - now : 0;
    return fdn_send_after(rt, ctx, fdn_self(ctx), delay, WF_TAG_TICK, NULL,
                          0, &k->timer);
}

static fdn_next_t wf_chaos_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    const wf_chaos_arg_t *a = arg;
    *state = NULL;
    wf_chaos_t *k = calloc(1, sizeof *k);
    if (!k)
        return fdn_stop(ctx, WF_REASON_NOMEM);
    k->shared = a->shared;
    double period = 1e9 / a->rate;
    k->period_ns = period < 1.0 ? 1 : (uint64_t)period;
    k->started_ns = fdn_clock_now(fdn_runtime_clock(fdn_ctx_runtime(ctx)));
    k->next_ns = k->started_ns + k->period_ns;
    k->rng = a->seed;
    k->last_victim = calloc(a->shared->agents, sizeof *k->last_victim);
    if (!k->last_victim || wf_chaos_arm(ctx, k) != FDN_OK) {
        free(k->last_victim);
        free(k);
        return fdn_stop(ctx, WF_REASON_NOMEM);
    }
    *state = k;
    return FDN_CONTINUE;
}

/* Kills the mapper registered as "mapper-<random index>", if one is
 * registered right now; a strike on one being restarted is counted as
 * skipped, so the report shows how many strikes missed. */
static void wf_chaos_strike(fdn_ctx_t *ctx, wf_chaos_t *k)
{
    uint32_t index = (uint32_t)(wf_chaos_next(k) % k->shared->agents);
    char key[32];
    snprintf(key, sizeof key, "mapper-%u", index);
    k->stats.strikes++;
    fdn_pid_t victim;
    /* A mapper killed on an earlier tick may not have finished dying (its
     * entry goes when it does); killing it again would count one death
     * twice.  Pids are never reused, so that test is exact. */
    if (fdn_registry_lookup(k->shared->ns, key, &victim, NULL) != FDN_OK ||
        victim == k->last_victim[index] ||
        fdn_exit(fdn_ctx_runtime(ctx), ctx, victim, FDN_REASON_KILL) !=
            FDN_OK) {
        k->stats.skipped++;
        fdn_counter_inc(k->shared->metrics->strikes_skipped);
        return;
    }
    k->last_victim[index] = victim;
    k->stats.kills++;
    fdn_counter_inc(k->shared->metrics->kills);
}

static fdn_next_t wf_chaos_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *msg)
{
    wf_chaos_t *k = state;
    if (msg->kind == FDN_MSG_USER && msg->tag == WF_TAG_TICK &&
        msg->ref == k->timer) {
        k->timer = FDN_REF_NONE;
        /* Catch up on strikes that fell due while this process waited for
         * a scheduler, but at most WF_CHAOS_BURST at once: past that the
         * schedule restarts from now. */
        uint64_t now = fdn_clock_now(fdn_runtime_clock(fdn_ctx_runtime(ctx)));
        unsigned burst = 0;
        while (k->next_ns <= now && burst < WF_CHAOS_BURST) {
            wf_chaos_strike(ctx, k);
            k->next_ns += k->period_ns;
            burst++;
        }
        if (k->next_ns <= now) {
            /* Every strike still due is given up, and counted. */
            uint64_t dropped = (now - k->next_ns) / k->period_ns + 1;
            k->stats.dropped += dropped;
            fdn_counter_add(k->shared->metrics->strikes_dropped, dropped);
            k->next_ns = now + k->period_ns;
        }
        if (wf_chaos_arm(ctx, k) != FDN_OK)
            return fdn_stop(ctx, WF_REASON_NOMEM);
    } else if (msg->kind == FDN_MSG_CALL && msg->tag == WF_TAG_STOP) {
        /* Reply with the final counts and stop: no kill follows it. */
        k->stats.active_ns =
            fdn_clock_now(fdn_runtime_clock(fdn_ctx_runtime(ctx))) -
            k->started_ns;
        fdn_reply(ctx, msg, WF_TAG_STOP, &k->stats, sizeof k->stats);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

static void wf_chaos_terminate(fdn_ctx_t *ctx, void *state,
                               fdn_reason_t reason)
{
    (void)reason;
    wf_chaos_t *k = state;
    if (!k)
        return;
    if (k->timer != FDN_REF_NONE)
        fdn_cancel_timer(fdn_ctx_runtime(ctx), k->timer);
    free(k->last_victim);
    free(k);
}

const fdn_behaviour_t wf_chaos_behaviour = {
    .init = wf_chaos_init,
    .handle = wf_chaos_handle,
    .terminate = wf_chaos_terminate,
    .name = "wordfreq-chaos",
};
