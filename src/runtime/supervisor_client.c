/*
 * supervisor_client.c — the client calls of supervisor.h: synchronous
 * calls (fdn_call) from attached threads to a supervisor process, in the
 * protocol of supervisor_internal.h.
 *
 * Each request is built so that the supervisor can answer in place (it is
 * at least as large as its reply), and everything the call allocates on
 * this side happens before the request is sent, so a failed call changes
 * nothing.  Queries wait at most 5 s (they are answered at once by a
 * supervisor; the limit only catches a pid that is not one); changes wait
 * without a limit, since they may wait for children to stop.
 *
 * Threads: the calling attached thread only; nothing here is shared.
 */
#include "runtime/supervisor_internal.h"

#include <string.h>

/* How long queries wait for the supervisor. */
#define SUP_QUERY_TIMEOUT_NS (5 * FDN_NS_PER_S)

/* An id request fits on the stack up to this size. */
#define SUP_STACK_REQ 256

/* FDN_OK if ctx may make a call: an attached thread's context. */
static int check_caller(const fdn_ctx_t *ctx, fdn_pid_t sup)
{
    if (ctx == NULL || sup == FDN_PID_NONE)
        return FDN_EINVAL;
    if (!ctx->is_attached)
        return FDN_ETHREAD; /* a process callback must not block */
    return FDN_OK;
}

/*
 * Sends a CALL to sup and returns the reply's status (its tag, negated).
 * On FDN_OK with out_size > 0 the reply must carry exactly out_size bytes,
 * copied to out (FDN_EINVAL otherwise: sup is not a supervisor).  With
 * reply != NULL the reply itself is returned instead, to be freed.
 */
static int sup_call(fdn_ctx_t *ctx, fdn_pid_t sup, uint32_t tag,
                    const void *data, size_t size, uint64_t timeout_ns,
                    void *out, size_t out_size, fdn_msg_t **reply)
{
    fdn_msg_t *r = NULL;
    int rc = fdn_call(ctx, sup, tag, data, size, timeout_ns, &r);
    if (rc != FDN_OK)
        return rc;
    /* A supervisor answers with a status; anything else (sup is some
     * other server that answered the CALL) is not one. */
    rc = r->tag <= (uint32_t)INT32_MAX && fdn__is_status(-(int)r->tag)
             ? -(int)r->tag
             : FDN_EINVAL;
    if (rc == FDN_OK && reply != NULL) {
        *reply = r;
        return FDN_OK;
    }
    if (rc == FDN_OK && out_size > 0) {
        if (r->size == out_size)
            memcpy(out, r->data, out_size);
        else
            rc = FDN_EINVAL;
    }
    fdn_msg_free(ctx, r);
    return rc;
}

/* A call whose request names a child by id.  *pid_out (if non-NULL)
 * receives the pid the reply carries. */
static int id_call(fdn_ctx_t *ctx, fdn_pid_t sup, uint32_t tag,
                   const char *id, uint64_t timeout_ns, fdn_pid_t *pid_out)
{
    int rc = check_caller(ctx, sup);
    if (rc != FDN_OK)
        return rc;
    if (id == NULL)
        return FDN_EINVAL;
    size_t len = strlen(id);
    /* The header alone (8 bytes) holds the largest reply, a pid. */
    size_t size = sizeof(struct fdn__sup_id_req) + len;
    _Alignas(16) unsigned char stack[SUP_STACK_REQ];
    const fdn_allocator_t *a = fdn_runtime_allocator(fdn_ctx_runtime(ctx));
    unsigned char *buf = stack;
    if (size > sizeof stack) {
        buf = fdn__alloc(a, size);
        if (buf == NULL)
            return FDN_ENOMEM;
    }
    struct fdn__sup_id_req hdr = {.id_len = len};
    memcpy(buf, &hdr, sizeof hdr);
    memcpy(buf + sizeof hdr, id, len);
    fdn_pid_t pid = FDN_PID_NONE;
    rc = sup_call(ctx, sup, tag, buf, size, timeout_ns, &pid,
                  pid_out != NULL ? sizeof pid : 0, NULL);
    if (buf != stack)
        fdn__free(a, buf);
    if (rc == FDN_OK && pid_out != NULL)
        *pid_out = pid;
    return rc;
}

FDN_API int fdn_supervisor_which(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 const char *id, fdn_pid_t *out)
{
    if (out == NULL)
        return FDN_EINVAL;
    return id_call(ctx, sup, FDN__SUP_CALL_WHICH, id, SUP_QUERY_TIMEOUT_NS,
                   out);
}

#define FIXED_REPLY_MAX 64
_Static_assert(sizeof(fdn_supervisor_stats_t) <= FIXED_REPLY_MAX &&
                   sizeof(fdn_supervisor_counts_t) <= FIXED_REPLY_MAX,
               "a fixed query's reply fits its buffer");

/* A query whose reply is a struct of `size` bytes, copied to out.  The
 * request carries a zeroed struct of that size: room for the reply. */
static int fixed_query(fdn_ctx_t *ctx, fdn_pid_t sup, uint32_t tag, void *out,
                       size_t size)
{
    int rc = check_caller(ctx, sup);
    if (rc != FDN_OK)
        return rc;
    if (out == NULL)
        return FDN_EINVAL;
    _Alignas(16) unsigned char buf[FIXED_REPLY_MAX];
    memset(buf, 0, size);
    rc = sup_call(ctx, sup, tag, buf, size, SUP_QUERY_TIMEOUT_NS, buf, size,
                  NULL);
    if (rc == FDN_OK)
        memcpy(out, buf, size);
    return rc;
}

FDN_API int fdn_supervisor_stats(fdn_ctx_t *ctx, fdn_pid_t sup,
                                 fdn_supervisor_stats_t *out)
{
    return fixed_query(ctx, sup, FDN__SUP_CALL_STATS, out, sizeof *out);
}

FDN_API int fdn_supervisor_count_children(fdn_ctx_t *ctx, fdn_pid_t sup,
                                          fdn_supervisor_counts_t *out)
{
    return fixed_query(ctx, sup, FDN__SUP_CALL_COUNT, out, sizeof *out);
}

/* Builds the caller's array from a WHICH_CHILDREN reply.  FDN_EINVAL if
 * the reply is malformed (not a supervisor), FDN_ENOMEM. */
static int unpack_children(const fdn_allocator_t *a, const fdn_msg_t *r,
                           fdn_child_info_t **out, size_t *count)
{
    struct fdn__sup_list_hdr hdr;
    const size_t esz = sizeof(struct fdn__sup_list_entry);
    if (r->size < sizeof hdr)
        return FDN_EINVAL;
    memcpy(&hdr, r->data, sizeof hdr);
    if (hdr.count > (r->size - sizeof hdr) / esz ||
        hdr.id_bytes != r->size - sizeof hdr - hdr.count * esz)
        return FDN_EINVAL;
    size_t n = (size_t)hdr.count;
    if (n == 0) {
        *out = NULL;
        *count = 0;
        return FDN_OK;
    }
    size_t bytes = n * sizeof(fdn_child_info_t) + (size_t)hdr.id_bytes;
    fdn_child_info_t *info = fdn__alloc(a, bytes);
    if (info == NULL)
        return FDN_ENOMEM;
    const unsigned char *e = (const unsigned char *)r->data + sizeof hdr;
    const char *src = (const char *)(e + n * esz);
    char *ids = (char *)(info + n);
    size_t left = (size_t)hdr.id_bytes;
    for (size_t i = 0; i < n; i++, e += esz) {
        struct fdn__sup_list_entry le;
        memcpy(&le, e, sizeof le);
        if (le.id_len >= left || src[le.id_len] != '\0') {
            fdn__free(a, info);
            return FDN_EINVAL;
        }
        memcpy(ids, src, (size_t)le.id_len + 1);
        info[i].id = ids;
        info[i].pid = le.pid;
        info[i].type = (fdn_child_type_t)le.type;
        info[i].restart = (fdn_restart_t)le.restart;
        ids += le.id_len + 1;
        src += le.id_len + 1;
        left -= (size_t)le.id_len + 1;
    }
    *out = info;
    *count = n;
    return FDN_OK;
}

FDN_API int fdn_supervisor_which_children(fdn_ctx_t *ctx, fdn_pid_t sup,
                                          fdn_child_info_t **out,
                                          size_t *count)
{
    int rc = check_caller(ctx, sup);
    if (rc != FDN_OK)
        return rc;
    if (out == NULL || count == NULL)
        return FDN_EINVAL;
    fdn_msg_t *r = NULL;
    rc = sup_call(ctx, sup, FDN__SUP_CALL_WHICH_CHILDREN, NULL, 0,
                  SUP_QUERY_TIMEOUT_NS, NULL, 0, &r);
    if (rc != FDN_OK)
        return rc;
    rc = unpack_children(fdn_runtime_allocator(fdn_ctx_runtime(ctx)), r, out,
                         count);
    fdn_msg_free(ctx, r);
    return rc;
}

FDN_API void fdn_supervisor_children_free(fdn_runtime_t *rt,
                                          fdn_child_info_t *children)
{
    if (rt == NULL || children == NULL)
        return;
    fdn__free(fdn_runtime_allocator(rt), children);
}

FDN_API int fdn_supervisor_start_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                       const fdn_child_spec_t *spec,
                                       fdn_pid_t *out)
{
    int rc = check_caller(ctx, sup);
    if (rc != FDN_OK)
        return rc;
    size_t size;
    rc = fdn__sup_measure_child(spec, &size);
    if (rc != FDN_OK)
        return rc;
    const fdn_allocator_t *a = fdn_runtime_allocator(fdn_ctx_runtime(ctx));
    struct fdn__sup_spec *packed = fdn__alloc(a, size);
    if (packed == NULL)
        return FDN_ENOMEM;
    fdn__sup_pack_child(spec, packed);
    fdn_pid_t pid = FDN_PID_NONE;
    /* The packed spec is larger than the pid the reply carries. */
    rc = sup_call(ctx, sup, FDN__SUP_CALL_START_CHILD, packed, size,
                  FDN_INFINITY, &pid, sizeof pid, NULL);
    fdn__free(a, packed);
    if (rc == FDN_OK && out != NULL)
        *out = pid;
    return rc;
}

FDN_API int fdn_supervisor_terminate_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                           const char *id)
{
    return id_call(ctx, sup, FDN__SUP_CALL_TERMINATE, id, FDN_INFINITY, NULL);
}

FDN_API int fdn_supervisor_restart_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                         const char *id, fdn_pid_t *out)
{
    fdn_pid_t pid = FDN_PID_NONE;
    int rc = id_call(ctx, sup, FDN__SUP_CALL_RESTART, id, FDN_INFINITY, &pid);
    if (rc == FDN_OK && out != NULL)
        *out = pid;
    return rc;
}

FDN_API int fdn_supervisor_delete_child(fdn_ctx_t *ctx, fdn_pid_t sup,
                                        const char *id)
{
    return id_call(ctx, sup, FDN__SUP_CALL_DELETE, id, FDN_INFINITY, NULL);
}
