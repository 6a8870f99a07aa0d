/*
 * telemetry/http.c — the HTTP endpoint: libmicrohttpd serving
 * GET/HEAD /metrics (the Prometheus text) and /metrics.json (the JSON
 * snapshot).
 *
 * One daemon per fdn_telemetry_http_start, with one internal polling
 * thread of libmicrohttpd's: every request is answered on that thread, one
 * at a time (exports run one collector pass at a time anyway), so stopping
 * the daemon (which joins the thread) waits for any request in flight.
 * Idle connections are closed after a timeout so one slow client cannot
 * hold the thread for ever.
 *
 * Answers, in this order: without the configured bearer token, 401 (and no
 * metrics) whatever was asked; a method other than GET or HEAD, 405 with
 * Allow; a path other than the two, 404; else 200.  libmicrohttpd drops
 * the body of HEAD answers itself.  The token is compared in time that
 * depends only on the configured token's length.
 *
 * The address is parsed here (inet_pton), so a bad literal is FDN_EINVAL
 * before anything starts; anything libmicrohttpd then refuses (the port is
 * taken, the address is not local) is FDN_ESYS, and it has then started
 * nothing.
 */
#include "telemetry/internal.h"

#include "internal/rcu.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#define CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_JSON "application/json"
/* Seconds an idle connection is kept. */
#define IDLE_TIMEOUT_S 10u

struct fdn_telemetry_http {
    /* Immutable after start. */
    fdn_telemetry_t *t;
    struct MHD_Daemon *daemon;
    char *token; /* NULL: no token needed */
    size_t token_len;
    uint16_t port;
    /* Set by stop before it joins the server's thread: a scrape waiting
     * for the collectors' lock gives up (see collect.c). */
    _Atomic bool stopping;
};

/* True when the request carries "Authorization: Bearer <token>".  The
 * scheme is case-insensitive (RFC 7235); the token is compared byte by
 * byte over the configured token's whole length whatever matches. */
static bool is_authorized(const fdn_telemetry_http_t *h,
                          struct MHD_Connection *conn)
{
    if (h->token == NULL)
        return true;
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    /* "Bearer" 1*SP token (RFC 6750). */
    const char *got = v + 7;
    while (*got == ' ')
        got++;
    size_t got_len = strlen(got);
    unsigned char diff = got_len != h->token_len;
    for (size_t i = 0; i < h->token_len; i++) {
        unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)h->token[i]);
    }
    return diff == 0;
}

/* Queues a response holding a copy of body (len bytes) with status and
 * content type; header (may be NULL) is one more header, with value. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
                              const char *type, const char *body, size_t len,
                              const char *header, const char *value)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO; /* libmicrohttpd closes the connection */
    enum MHD_Result ok = MHD_add_response_header(
        r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES && header != NULL)
        ok = MHD_add_response_header(r, header, value);
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn,
                                   unsigned status, const char *text,
                                   const char *header, const char *value)
{
    return answer(conn, status, "text/plain; charset=utf-8", text,
                  strlen(text), header, value);
}

/* libmicrohttpd's request handler (on its thread). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    const fdn_telemetry_http_t *h = cls;
    if (!is_authorized(h, conn))
        return answer_text(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized\n",
                           MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "method not allowed\n", MHD_HTTP_HEADER_ALLOW,
                           "GET, HEAD");
    bool is_text = strcmp(url, "/metrics") == 0;
    if (!is_text && strcmp(url, "/metrics.json") != 0)
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL,
                           NULL);
    char *body;
    size_t len;
    /* Also marks this thread as h's, for fdn_telemetry_http_stop. */
    fdn__tel_collect_give_up_on(&h->stopping);
    int rc = is_text ? fdn_telemetry_prometheus(h->t, &body, &len)
                     : fdn_telemetry_json(h->t, &body, &len);
    fdn__tel_collect_give_up_on(NULL);
    if (rc != FDN_OK)
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "out of memory\n", NULL, NULL);
    enum MHD_Result ok = answer(conn, MHD_HTTP_OK,
                                is_text ? CONTENT_TYPE_TEXT
                                        : CONTENT_TYPE_JSON,
                                body, len, NULL, NULL);
    fdn_telemetry_free(h->t, body);
    return ok;
}

/* libmicrohttpd's error log: silent (errors reach the caller as codes). */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls, (void)fmt, (void)ap;
}

int fdn_telemetry_http_start(fdn_telemetry_t *t,
                             const fdn_telemetry_http_opts_t *opts,
                             fdn_telemetry_http_t **out)
{
    if (out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    if (t == NULL)
        return FDN_EINVAL;
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    if (opts != NULL) {
        if (opts->size < offsetof(fdn_telemetry_http_opts_t, port) ||
            opts->size > sizeof o)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
    }
    /* An empty token would let an empty "Bearer " in: refused rather than
     * taken as "no token". */
    if (o.token != NULL && o.token[0] == '\0')
        return FDN_EINVAL;
    const char *addr = o.address ? o.address : "127.0.0.1";
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    struct sockaddr *sa;
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(o.port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(o.port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        return FDN_EINVAL;
    }

    fdn_telemetry_http_t *h = fdn__zalloc(t->alloc, sizeof *h);
    if (h == NULL)
        return FDN_ENOMEM;
    h->t = t;
    atomic_init(&h->stopping, false);
    if (o.token != NULL) {
        h->token_len = strlen(o.token);
        h->token = fdn__alloc(t->alloc, h->token_len + 1);
        if (h->token == NULL) {
            fdn__free(t->alloc, h);
            return FDN_ENOMEM;
        }
        memcpy(h->token, o.token, h->token_len + 1);
    }
    h->daemon = MHD_start_daemon(
        flags, o.port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
        MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL, MHD_OPTION_END);
    if (h->daemon == NULL) {
        fdn__free(t->alloc, h->token);
        fdn__free(t->alloc, h);
        return FDN_ESYS;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : o.port;
    *out = h;
    return FDN_OK;
}

uint16_t fdn_telemetry_http_port(const fdn_telemetry_http_t *h)
{
    return h ? h->port : 0;
}

int fdn_telemetry_http_stop(fdn_telemetry_http_t *h)
{
    if (h == NULL)
        return FDN_OK;
    /* Stop joins the server's thread, so it must not run where that
     * thread may be waiting for this one: on that thread itself (a
     * collector run by its scrape: the thread's give-up flag is h's), or
     * inside a read-side critical
     * section (a handler), which may hold back the grace period a
     * collector run by the scrape waits for while it holds the
     * collectors' lock. */
    if (fdn__tel_collect_give_up_flag() == &h->stopping ||
        fdn__rcu_read_ongoing())
        return FDN_EBUSY;
    /* Release: pairs with the acquire load in collect.c's wait.  A
     * scrape waiting for the collectors' lock (held by the caller, if it
     * is a collector on another thread) gives up and answers without
     * them. */
    atomic_store_explicit(&h->stopping, true, memory_order_release);
    /* Joins libmicrohttpd's thread: a request in flight is answered
     * first, and none starts after. */
    MHD_stop_daemon(h->daemon);
    const fdn_allocator_t *a = h->t->alloc;
    fdn__free(a, h->token);
    fdn__free(a, h);
    return FDN_OK;
}
