/*
 * supervisor_calls.c — the supervisor's side of the client calls: queries
 * (which, stats, which_children, count_children) and changes (start,
 * terminate, restart and delete a child).
 *
 * Answers never fail for lack of memory.  Every CALL is held
 * (fdn__call_hold) and answered in place (fdn__call_answer): the client
 * sized each request to hold its reply (supervisor_internal.h).  Only the
 * list of children can be larger than its request; if that reply cannot
 * be allocated, the answer is FDN_ENOMEM, in place.  So a change either
 * happens and is answered FDN_OK, or fails, changes nothing and says why.
 *
 * Order.  Queries are answered at once, even in the middle of a plan.  A
 * change runs only when the supervisor is idle (no child being stopped, no
 * retry pending: fdn__sup_is_busy) and no earlier change waits; otherwise
 * it joins the queue of held calls, linked through their mailbox nodes,
 * which fdn__sup_drain_calls runs in order after each message.
 * terminate_child answers when the child's exit arrives: its held call
 * waits in the child record (stop_call) meanwhile.  Held calls are freed
 * if the supervisor dies; their callers' monitors then report FDN_ENOPROC.
 *
 * Threads: these run on the supervisor process's callbacks only.
 */
#include "runtime/supervisor_internal.h"

#include <string.h>

typedef fdn__sup_t sup_t;
typedef fdn__sup_child_t sup_child_t;

/* Answers held call m with status and data (consumes m).  In place when
 * the reply fits the request; otherwise a new reply, or FDN_ENOMEM in
 * place if that cannot be allocated. */
static void answer(fdn_ctx_t *ctx, struct fdn__msg *m, int status,
                   const void *data, size_t size)
{
    uint32_t tag = (uint32_t)-status;
    if (size <= m->pub.size) {
        (void)fdn__call_answer(ctx, m, tag, data, size);
        return;
    }
    int rc = fdn_reply(ctx, &m->pub, tag, data, size);
    if (rc == FDN_ENOMEM) {
        (void)fdn__call_answer(ctx, m, (uint32_t)-FDN_ENOMEM, NULL, 0);
        return;
    }
    fdn__msg_free(fdn_ctx_runtime(ctx), m); /* answered, or caller gone */
}

/* The id of an id request, or NULL if the request is malformed. */
static const char *request_id(const fdn_msg_t *msg, size_t *len)
{
    const struct fdn__sup_id_req *req = msg->data;
    if (msg->size < sizeof *req || req->id_len != msg->size - sizeof *req)
        return NULL;
    *len = (size_t)req->id_len;
    return req->id;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_alive(const sup_child_t *c)
{
    return c->state != FDN__CHILD_DOWN;
}

static void on_which(fdn_ctx_t *ctx, const sup_t *s, struct fdn__msg *m)
{
    size_t len;
    const char *id = request_id(&m->pub, &len);
    if (id == NULL) {
        answer(ctx, m, FDN_EINVAL, NULL, 0);
        return;
    }
    size_t i = fdn__sup_find_id(s, id, len);
    if (i == s->nchildren || s->children[i].state != FDN__CHILD_RUNNING) {
        answer(ctx, m, FDN_ENOENT, NULL, 0);
        return;
    }
    fdn_pid_t pid = s->children[i].pid;
    answer(ctx, m, FDN_OK, &pid, sizeof pid);
}

static void on_stats(fdn_ctx_t *ctx, const sup_t *s, struct fdn__msg *m)
{
    fdn_supervisor_stats_t st = {.restarts = s->restarts,
                                 .children = (uint32_t)s->nchildren};
    for (size_t i = 0; i < s->nchildren; i++)
        if (is_alive(&s->children[i]))
            st.active++;
    answer(ctx, m, FDN_OK, &st, sizeof st);
}

static void on_count(fdn_ctx_t *ctx, const sup_t *s, struct fdn__msg *m)
{
    fdn_supervisor_counts_t n = {.specs = (uint32_t)s->nchildren};
    for (size_t i = 0; i < s->nchildren; i++) {
        const sup_child_t *c = &s->children[i];
        if (is_alive(c))
            n.active++;
        if (c->spec->type == FDN_SUPERVISOR)
            n.supervisors++;
        else
            n.workers++;
    }
    answer(ctx, m, FDN_OK, &n, sizeof n);
}

static void on_which_children(fdn_ctx_t *ctx, const sup_t *s,
                              struct fdn__msg *m)
{
    struct fdn__sup_list_hdr hdr = {.count = s->nchildren, .id_bytes = 0};
    for (size_t i = 0; i < s->nchildren; i++)
        hdr.id_bytes += s->children[i].spec->id_len + 1;
    size_t size = sizeof hdr + s->nchildren * sizeof(struct fdn__sup_list_entry) +
                  (size_t)hdr.id_bytes;
    unsigned char *buf = fdn__alloc(s->alloc, size);
    if (buf == NULL) {
        answer(ctx, m, FDN_ENOMEM, NULL, 0);
        return;
    }
    memcpy(buf, &hdr, sizeof hdr);
    unsigned char *e = buf + sizeof hdr;
    char *ids = (char *)(e + s->nchildren * sizeof(struct fdn__sup_list_entry));
    for (size_t i = 0; i < s->nchildren; i++) {
        const sup_child_t *c = &s->children[i];
        struct fdn__sup_list_entry le = {
            .pid = is_alive(c) ? c->pid : FDN_PID_NONE,
            .id_len = c->spec->id_len,
            .type = (int32_t)c->spec->type,
            .restart = (int32_t)c->spec->restart};
        memcpy(e, &le, sizeof le);
        e += sizeof le;
        memcpy(ids, fdn__sup_spec_id(c->spec), c->spec->id_len + 1);
        ids += c->spec->id_len + 1;
    }
    answer(ctx, m, FDN_OK, buf, size);
    fdn__free(s->alloc, buf);
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_change(uint32_t tag)
{
    return tag == FDN__SUP_CALL_START_CHILD ||
           tag == FDN__SUP_CALL_TERMINATE || tag == FDN__SUP_CALL_RESTART ||
           tag == FDN__SUP_CALL_DELETE;
}

static void on_start_child(fdn_ctx_t *ctx, sup_t *s, struct fdn__msg *m)
{
    const struct fdn__sup_spec *sp = m->pub.data;
    if (!fdn__sup_spec_is_sane(sp, m->pub.size)) {
        answer(ctx, m, FDN_EINVAL, NULL, 0);
        return;
    }
    if (fdn__sup_find_id(s, fdn__sup_spec_id(sp), sp->id_len) !=
        s->nchildren) {
        answer(ctx, m, FDN_EEXIST, NULL, 0);
        return;
    }
    int rc = fdn__sup_append_child(s, sp);
    if (rc != FDN_OK) {
        answer(ctx, m, rc, NULL, 0);
        return;
    }
    size_t i = s->nchildren - 1;
    rc = fdn__sup_start_child(ctx, s, i);
    if (rc != FDN_OK) {
        fdn__sup_remove_child(s, i); /* the spec is not kept */
        answer(ctx, m, rc, NULL, 0);
        return;
    }
    fdn_pid_t pid = s->children[i].pid;
    answer(ctx, m, FDN_OK, &pid, sizeof pid);
}

/* Returns true if the call was answered (false: it waits for the stop). */
static bool on_terminate(fdn_ctx_t *ctx, sup_t *s, struct fdn__msg *m,
                         size_t i)
{
    sup_child_t *c = &s->children[i];
    if (c->state == FDN__CHILD_RUNNING) {
        c->stop_call = m;
        c->to_start = false;
        fdn__sup_begin_stop(ctx, s, i);
        return false;
    }
    /* Not running (the supervisor is idle, so not stopping either): cancel
     * a restart that waits for its backoff delay. */
    if (c->delay_timer != FDN_REF_NONE) {
        (void)fdn_cancel_timer(s->rt, c->delay_timer);
        c->delay_timer = FDN_REF_NONE;
    }
    c->to_start = false;
    answer(ctx, m, FDN_OK, NULL, 0);
    return true;
}

/* Runs change m (the supervisor is idle).  Consumes m. */
static fdn_next_t run_change(fdn_ctx_t *ctx, sup_t *s, struct fdn__msg *m)
{
    uint32_t tag = m->pub.tag;
    if (tag == FDN__SUP_CALL_START_CHILD) {
        on_start_child(ctx, s, m);
        return FDN_CONTINUE;
    }
    size_t len;
    const char *id = request_id(&m->pub, &len);
    if (id == NULL) {
        answer(ctx, m, FDN_EINVAL, NULL, 0);
        return FDN_CONTINUE;
    }
    size_t i = fdn__sup_find_id(s, id, len);
    if (i == s->nchildren) {
        answer(ctx, m, FDN_ENOENT, NULL, 0);
        return FDN_CONTINUE;
    }
    sup_child_t *c = &s->children[i];
    bool is_stopped = c->state == FDN__CHILD_DOWN && !c->to_start;
    if (tag == FDN__SUP_CALL_TERMINATE) {
        if (on_terminate(ctx, s, m, i))
            return fdn__sup_advance(ctx, s); /* children after it may go */
        return FDN_CONTINUE;
    }
    if (tag == FDN__SUP_CALL_RESTART) {
        if (!is_stopped) {
            answer(ctx, m, FDN_EBUSY, NULL, 0);
            return FDN_CONTINUE;
        }
        int rc = fdn__sup_start_child(ctx, s, i);
        fdn_pid_t pid = rc == FDN_OK ? c->pid : FDN_PID_NONE;
        answer(ctx, m, rc, &pid, rc == FDN_OK ? sizeof pid : 0);
        return FDN_CONTINUE;
    }
    /* FDN__SUP_CALL_DELETE */
    if (!is_stopped) {
        answer(ctx, m, FDN_EBUSY, NULL, 0);
        return FDN_CONTINUE;
    }
    fdn__sup_remove_child(s, i);
    answer(ctx, m, FDN_OK, NULL, 0);
    return FDN_CONTINUE;
}

static void enqueue(sup_t *s, struct fdn__msg *m)
{
    /* Relaxed: the node is this process's own until the message is sent
     * again (fdn__call_answer's delivery re-initialises it). */
    atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
    if (s->calls_tail != NULL)
        atomic_store_explicit(&s->calls_tail->node.next, &m->node,
                              memory_order_relaxed);
    else
        s->calls_head = m;
    s->calls_tail = m;
}

static struct fdn__msg *dequeue(sup_t *s)
{
    struct fdn__msg *m = s->calls_head;
    if (m == NULL)
        return NULL;
    /* Relaxed: see enqueue.  The node is the message's first member. */
    s->calls_head = (struct fdn__msg *)atomic_load_explicit(
        &m->node.next, memory_order_relaxed);
    if (s->calls_head == NULL)
        s->calls_tail = NULL;
    return m;
}

fdn_next_t fdn__sup_on_call(fdn_ctx_t *ctx, sup_t *s, const fdn_msg_t *msg)
{
    struct fdn__msg *m = fdn__call_hold(ctx, msg);
    if (m == NULL)
        return FDN_CONTINUE; /* cannot happen: a CALL in a handler */
    switch (msg->tag) {
    case FDN__SUP_CALL_WHICH:
        on_which(ctx, s, m);
        return FDN_CONTINUE;
    case FDN__SUP_CALL_STATS:
        on_stats(ctx, s, m);
        return FDN_CONTINUE;
    case FDN__SUP_CALL_COUNT:
        on_count(ctx, s, m);
        return FDN_CONTINUE;
    case FDN__SUP_CALL_WHICH_CHILDREN:
        on_which_children(ctx, s, m);
        return FDN_CONTINUE;
    default:
        break;
    }
    if (!is_change(msg->tag)) {
        answer(ctx, m, FDN_ENOTSUP, NULL, 0);
        return FDN_CONTINUE;
    }
    if (s->calls_head != NULL || fdn__sup_is_busy(s)) {
        enqueue(s, m);
        return FDN_CONTINUE;
    }
    return run_change(ctx, s, m);
}

fdn_next_t fdn__sup_drain_calls(fdn_ctx_t *ctx, sup_t *s)
{
    while (s->calls_head != NULL && !fdn__sup_is_busy(s)) {
        if (run_change(ctx, s, dequeue(s)) == FDN_STOP)
            return FDN_STOP;
    }
    return FDN_CONTINUE;
}

void fdn__sup_answer_stop(fdn_ctx_t *ctx, sup_t *s, size_t i)
{
    sup_child_t *c = &s->children[i];
    struct fdn__msg *m = c->stop_call;
    c->stop_call = NULL;
    answer(ctx, m, FDN_OK, NULL, 0);
}

void fdn__sup_drop_calls(sup_t *s)
{
    struct fdn__msg *m;
    while ((m = dequeue(s)) != NULL)
        fdn__msg_free(s->rt, m);
    for (size_t i = 0; i < s->nchildren; i++) {
        if (s->children[i].stop_call != NULL) {
            fdn__msg_free(s->rt, s->children[i].stop_call);
            s->children[i].stop_call = NULL;
        }
    }
}
