/*
 * request.c — asynchronous request/reply between processes, with replies
 * addressed to aliases that die when the request is over.
 *
 * A pending request is a held monitor of the requester on the server,
 * marked is_request, whose ref is the request's ref (the alias).  The CALL
 * carries that ref; the server's fdn_reply sends a REPLY with it; an
 * optional timer sends the requester an internal REQTMO with it; and if
 * the server dies first, the monitor's DOWN carries it.  Whichever of the
 * three the requester pops first finds the held record, ends the request
 * (the record leaves the held set, the monitor leaves the server, the
 * timer is cancelled) and is delivered as REPLY, TIMEOUT or NOREPLY; the
 * other two find no record later and are dropped, as is any message for a
 * cancelled request (RT-S12).  All of this runs on the requester's own
 * thread ([own] held set), so there is no race between the three: the
 * first one popped wins.
 *
 * Nothing here allocates at the end of a request: every message that can
 * end it was allocated when it was made.
 */
#include "runtime/internal.h"

FDN_API int fdn_request(fdn_ctx_t *ctx, fdn_pid_t to, uint32_t tag,
                        const void *data, size_t size, uint64_t timeout_ns,
                        fdn_ref_t *ref)
{
    if (ref == NULL || (data == NULL && size != 0))
        return FDN_EINVAL;
    int crc = fdn__check_ctx(ctx);
    if (crc != FDN_OK)
        return crc;
    if (to == ctx->self)
        return FDN_EINVAL; /* it could never be answered */
    if (to == FDN_PID_NONE)
        return FDN_ENOPROC;
    fdn_runtime_t *rt = ctx->rt;
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire))
        return FDN_ESHUTDOWN;
    if (fdn__table_get(rt, to) == NULL)
        return FDN_ENOPROC;
    fdn_ref_t r = fdn__new_ref(rt);
    struct fdn__msg *req =
        fdn__msg_copy(rt, ctx->sched, FDN_MSG_CALL, tag, ctx->self, r, data, size);
    struct fdn__msg *tmo = NULL;
    if (req != NULL && timeout_ns != FDN_INFINITY &&
        (tmo = fdn__msg_copy(rt, ctx->sched, (fdn_msg_kind_t)FDN__MSG_REQTMO,
                             0, to, r, NULL, 0)) == NULL) {
        fdn__msg_free(rt, req);
        req = NULL;
    }
    if (req == NULL)
        return FDN_ENOMEM;
    /* Monitor before the CALL leaves, so no death after it is missed. */
    struct fdn__held *h;
    int rc = fdn__monitor_ref(ctx, to, r, true, &h);
    if (rc != FDN_OK) {
        fdn__msg_free(rt, req);
        fdn__msg_free(rt, tmo);
        return rc;
    }
    if (tmo != NULL) {
        tmo->to = ctx->self;
        rc = fdn__timer_arm(rt, ctx->self, timeout_ns, tmo, &h->timer);
        if (rc != FDN_OK) {
            fdn__msg_free(rt, tmo);
            goto undo;
        }
    }
    rc = fdn__send_user(rt, to, req);
    if (rc == FDN_OK) {
        *ref = r;
        return FDN_OK;
    }
undo:
    /* Unlinking the record makes any DOWN already queued for it (the
     * server died meanwhile) a dead alias, dropped unseen; release
     * cancels the timer (freeing its message). */
    fdn__held_unlink(rt, ctx->p, h);
    fdn__held_release(rt, h);
    fdn__msg_free(rt, req);
    return rc;
}

FDN_API int fdn_request_cancel(fdn_ctx_t *ctx, fdn_ref_t ref)
{
    if (ctx == NULL || ctx->p == NULL)
        return FDN_EINVAL;
    struct fdn__held *h = fdn__held_find(ctx->p, ref);
    if (h == NULL || !h->is_request)
        return FDN_ENOENT;
    fdn__held_unlink(ctx->rt, ctx->p, h);
    fdn__held_release(ctx->rt, h);
    return FDN_OK;
}

bool fdn__request_accept(fdn_ctx_t *ctx, struct fdn__msg *m)
{
    struct fdn__held *h = fdn__held_find(ctx->p, m->pub.ref);
    if (h == NULL || !h->is_request)
        return false;
    if ((int)m->pub.kind == FDN__MSG_REQTMO) {
        h->timer = FDN_REF_NONE; /* it fired: this is its message */
        m->pub.kind = FDN_MSG_TIMEOUT;
    }
    fdn__held_unlink(ctx->rt, ctx->p, h);
    fdn__held_release(ctx->rt, h);
    return true;
}
