/*
 * http.c — the HTTP endpoint, spoken to by a raw socket client:
 * status codes, content types, the bearer token, the bind address, errors
 * at start, and stopping while a request runs.
 */
#include "unit/telemetry/export_helpers.h"

#include "unit/on_valgrind.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* A tiny HTTP client                                                       */
/* ------------------------------------------------------------------------ */

typedef struct http_resp {
    int status;
    char head[4096]; /* status line and headers, NUL-terminated */
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
} http_resp_t;

/* Connects to addr:port (IPv4 or IPv6 literal); the socket, or -errno. */
static int dial(const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sl = sizeof *sin;
    } else {
        cr_assert_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sl = sizeof *sin6;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/*
 * Sends "<method> <path> HTTP/1.1" with Host, Connection: close and the
 * extra header lines (each ending "\r\n"; may be ""), then reads the
 * whole answer into r.  Returns 0, or -errno when it could not connect.
 */
static int http_to(const char *addr, uint16_t port, const char *method,
                   const char *path, const char *extra, http_resp_t *r)
{
    memset(r, 0, sizeof *r);
    int fd = dial(addr, port);
    if (fd < 0)
        return fd;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                     "%s\r\n",
                     method, path, extra);
    cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        cr_assert_geq(got, 0, "recv: %s", strerror(errno));
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(end, "no header end in: %s", buf);
    size_t hl = (size_t)(end - buf) + 2;
    cr_assert_lt(hl, sizeof r->head);
    memcpy(r->head, buf, hl);
    r->head[hl] = '\0';
    cr_assert_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1, "%s", buf);
    r->body_len = len - hl - 2;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, end + 4, r->body_len + 1);
    free(buf);
    return 0;
}

static void http(uint16_t port, const char *method, const char *path,
                 const char *extra, http_resp_t *r)
{
    int rc = http_to("127.0.0.1", port, method, path, extra, r);
    cr_assert_eq(rc, 0, "connect: %s", strerror(-rc));
}

static void resp_free(http_resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* The value of header name in r ("" when absent). */
static const char *header(const http_resp_t *r, const char *name,
                          char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL;
         p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 2 + n + 1;
            while (*v == ' ')
                v++;
            size_t l = strcspn(v, "\r");
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            break;
        }
    }
    return out;
}

/* Entries of a /proc/self directory (threads, file descriptors). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */
/* ------------------------------------------------------------------------ */

/* A hub with a counter and a histogram, for serving. */
static void served_up(tel_fx_t *fx)
{
    tel_up(fx);
    fdn_counter_add(fdn_metric_default(tel_metric(
                        fx->t, FDN_METRIC_COUNTER, "t_requests_total",
                        "Requests.", NULL, 0)),
                    3);
    static const double b[] = {1};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_wait_seconds", "W.");
    o.buckets = b;
    o.n_buckets = 1;
    fdn_metric_observe(fdn_metric_default(tel_create(fx->t, &o)), 0.5);
}

static fdn_telemetry_http_t *start(fdn_telemetry_t *t, const char *addr,
                                   uint16_t port, const char *token)
{
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    o.address = addr;
    o.port = port;
    o.token = token;
    fdn_telemetry_http_t *h = NULL;
    int rc = fdn_telemetry_http_start(t, &o, &h);
    cr_assert_eq(rc, FDN_OK, "http_start: %s", fdn_errname(rc));
    cr_assert_not_null(h);
    cr_assert_gt(fdn_telemetry_http_port(h), 0);
    return h;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* Checks: TEL-C10, TEL-C8 */
Test(telemetry_http, metrics_and_json_with_their_content_types)
{
    tel_fx_t fx;
    served_up(&fx);
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, NULL);
    uint16_t port = fdn_telemetry_http_port(h);
    http_resp_t r;
    char v[256];

    http(port, "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200, "%s", r.head);
    cr_assert_str_eq(header(&r, "Content-Type", v, sizeof v),
                     "text/plain; version=0.0.4; charset=utf-8");
    char *want = tel_expo(fx.t);
    cr_assert_str_eq(r.body, want);
    cr_assert_eq(r.body_len, strlen(want));
    cr_assert_not_null(strstr(r.body, "\nt_requests_total 3\n"));
    cr_assert_not_null(
        strstr(r.body, "\nt_wait_seconds_bucket{le=\"+Inf\"} 1\n"));
    resp_free(&r);

    /* A query string does not change the path. */
    http(port, "GET", "/metrics?x=1", "", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, want);
    resp_free(&r);

    /* HEAD: the same status and type, no body. */
    http(port, "HEAD", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "Content-Type", v, sizeof v),
                     "text/plain; version=0.0.4; charset=utf-8");
    cr_assert_eq(r.body_len, 0);
    resp_free(&r);
    fdn_telemetry_free(fx.t, want);

    http(port, "GET", "/metrics.json", "", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "Content-Type", v, sizeof v),
                     "application/json");
    json_error_t err;
    json_t *root = json_loadb(r.body, r.body_len, 0, &err);
    cr_assert_not_null(root, "%s: %s", err.text, r.body);
    cr_assert(json_is_array(json_object_get(root, "metrics")));
    cr_assert(json_is_object(json_object_get(root, "stats")));
    json_decref(root);
    resp_free(&r);

    fdn_telemetry_http_stop(h);
    /* Stopped: nothing listens any more. */
    cr_assert_eq(http_to("127.0.0.1", port, "GET", "/metrics", "", &r),
                 -ECONNREFUSED);
    tel_down(&fx);
}

/* Checks: TEL-C10 */
Test(telemetry_http, other_paths_404_other_methods_405)
{
    tel_fx_t fx;
    served_up(&fx);
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, NULL);
    uint16_t port = fdn_telemetry_http_port(h);
    http_resp_t r;
    char v[256];
    static const char *const paths[] = {"/", "/metric", "/metrics/",
                                        "/metrics.jsonx", "/x/metrics"};
    for (size_t i = 0; i < 5; i++) {
        http(port, "GET", paths[i], "", &r);
        cr_assert_eq(r.status, 404, "%s: %d", paths[i], r.status);
        cr_assert_null(strstr(r.body, "t_requests_total"));
        resp_free(&r);
    }
    static const char *const methods[] = {"POST", "PUT", "DELETE",
                                          "PATCH", "OPTIONS"};
    for (size_t i = 0; i < 5; i++) {
        http(port, methods[i], "/metrics", "Content-Length: 0\r\n", &r);
        cr_assert_eq(r.status, 405, "%s: %d", methods[i], r.status);
        cr_assert_str_eq(header(&r, "Allow", v, sizeof v), "GET, HEAD");
        cr_assert_null(strstr(r.body, "t_requests_total"));
        resp_free(&r);
    }
    /* A POST with a body is refused too. */
    http(port, "POST", "/metrics.json", "Content-Length: 5\r\n\r\nhello",
         &r);
    cr_assert_eq(r.status, 405);
    resp_free(&r);
    fdn_telemetry_http_stop(h);
    tel_down(&fx);
}

/* Checks: TEL-S9 */
Test(telemetry_http, bearer_token_is_required)
{
    tel_fx_t fx;
    served_up(&fx);
    char token[] = "s3cret-T0ken";
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, token);
    /* The token was copied. */
    memset(token, 'x', sizeof token - 1);
    uint16_t port = fdn_telemetry_http_port(h);
    http_resp_t r;
    char v[256];

    static const char *const refused[] = {
        "",
        "Authorization: Bearer\r\n",
        "Authorization: Bearer \r\n",
        "Authorization: Bearer s3cret-T0ke\r\n",
        "Authorization: Bearer s3cret-T0ken0\r\n",
        "Authorization: Bearer s3cret-t0ken\r\n",
        "Authorization: Bearer xxxxxxxxxxxx\r\n",
        "Authorization: Basic czNjcmV0LVQwa2Vu\r\n",
        "Authorization: s3cret-T0ken\r\n",
        "X-Token: s3cret-T0ken\r\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        static const char *const paths[] = {"/metrics", "/metrics.json",
                                            "/nope"};
        for (size_t k = 0; k < 3; k++) {
            http(port, "GET", paths[k], refused[i], &r);
            cr_assert_eq(r.status, 401, "%s with '%s': %d", paths[k],
                         refused[i], r.status);
            cr_assert_null(strstr(r.body, "t_requests_total"));
            cr_assert_null(strstr(r.body, "# HELP"));
            cr_assert_str_eq(header(&r, "WWW-Authenticate", v, sizeof v),
                             "Bearer");
            resp_free(&r);
        }
        /* 401 comes before 405: nothing is said without the token. */
        http(port, "POST", "/metrics", refused[i], &r);
        cr_assert_eq(r.status, 401);
        resp_free(&r);
    }

    http(port, "GET", "/metrics", "Authorization: Bearer s3cret-T0ken\r\n",
         &r);
    cr_assert_eq(r.status, 200, "%s", r.head);
    cr_assert_not_null(strstr(r.body, "\nt_requests_total 3\n"));
    resp_free(&r);
    /* The scheme is case-insensitive (RFC 7235). */
    http(port, "GET", "/metrics.json",
         "Authorization: bearer s3cret-T0ken\r\n", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    /* "Bearer" 1*SP token (RFC 6750): more than one space is allowed. */
    http(port, "GET", "/metrics",
         "Authorization: Bearer   s3cret-T0ken\r\n", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    /* With the token, the other answers are as without one. */
    http(port, "GET", "/nope", "Authorization: Bearer s3cret-T0ken\r\n", &r);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    http(port, "DELETE", "/metrics", "Authorization: Bearer s3cret-T0ken\r\n",
         &r);
    cr_assert_eq(r.status, 405);
    resp_free(&r);
    fdn_telemetry_http_stop(h);

    /* An empty token is refused rather than taken as none. */
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    o.token = "";
    cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h), FDN_EINVAL);
    cr_assert_null(h);
    tel_down(&fx);
}

/* Checks: TEL-S9 */
Test(telemetry_http, binds_to_loopback_unless_told_otherwise)
{
    tel_fx_t fx;
    served_up(&fx);
    http_resp_t r;

    /* Default: 127.0.0.1 only.  127.0.0.2 reaches this host's loopback
     * too, so a socket bound to any address would answer there. */
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, NULL);
    uint16_t port = fdn_telemetry_http_port(h);
    http(port, "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_eq(http_to("127.0.0.2", port, "GET", "/metrics", "", &r),
                 -ECONNREFUSED);
    fdn_telemetry_http_stop(h);

    /* Told 0.0.0.0, it answers on 127.0.0.2 as well: the check above can
     * tell the difference. */
    h = start(fx.t, "0.0.0.0", 0, NULL);
    port = fdn_telemetry_http_port(h);
    cr_assert_eq(http_to("127.0.0.2", port, "GET", "/metrics", "", &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    fdn_telemetry_http_stop(h);

    /* An IPv6 literal, where this host has IPv6 loopback. */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool has_v6 = probe >= 0 &&
                  bind(probe, (struct sockaddr *)&s6, sizeof s6) == 0;
    if (probe >= 0)
        close(probe);
    if (has_v6) {
        h = start(fx.t, "::1", 0, NULL);
        port = fdn_telemetry_http_port(h);
        cr_assert_eq(http_to("::1", port, "GET", "/metrics", "", &r), 0);
        cr_assert_eq(r.status, 200);
        cr_assert_not_null(strstr(r.body, "t_requests_total 3"));
        resp_free(&r);
        cr_assert_eq(http_to("127.0.0.1", port, "GET", "/metrics", "", &r),
                     -ECONNREFUSED);
        fdn_telemetry_http_stop(h);
    } else {
        cr_log_info("no IPv6 loopback here: the ::1 case was not run");
    }
    tel_down(&fx);
}

/* A free port on 127.0.0.1 (bound by the kernel, then released). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Checks: TEL-C10 */
Test(telemetry_http, listens_on_the_port_asked_for)
{
    tel_fx_t fx;
    served_up(&fx);
    fdn_telemetry_http_t *h = NULL;
    uint16_t port = 0;
    /* The port could be taken between free_port and the start. */
    for (int attempt = 0; attempt < 5 && h == NULL; attempt++) {
        port = free_port();
        fdn_telemetry_http_opts_t o;
        fdn_telemetry_http_opts_init(&o);
        o.port = port;
        int rc = fdn_telemetry_http_start(fx.t, &o, &h);
        cr_assert(rc == FDN_OK || rc == FDN_ESYS, "%s", fdn_errname(rc));
    }
    cr_assert_not_null(h);
    cr_assert_eq(fdn_telemetry_http_port(h), port);
    http_resp_t r;
    http(port, "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    fdn_telemetry_http_stop(h);
    fdn_telemetry_http_stop(NULL);
    cr_assert_eq(fdn_telemetry_http_port(NULL), 0);
    tel_down(&fx);
}

/* True when net.ipv4.ip_nonlocal_bind lets a socket bind to an address
 * this host does not have. */
static bool is_nonlocal_bind(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
    int v = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v != 0;
}

/* Checks: TEL-F4 */
Test(telemetry_http, taken_port_and_bad_address_start_nothing)
{
    tel_fx_t fx;
    served_up(&fx);
    fdn_telemetry_http_t *h1 = start(fx.t, NULL, 0, NULL);
    uint16_t port = fdn_telemetry_http_port(h1);
    /* A plain socket holding another port. */
    int held = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(held, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(held, 1), 0);
    socklen_t l = sizeof a;
    cr_assert_eq(getsockname(held, (struct sockaddr *)&a, &l), 0);

    int threads = count_entries("/proc/self/task");
    int fds = count_entries("/proc/self/fd");
    int64_t live = fdn_failing_allocator_live(fx.fa);
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    fdn_telemetry_http_t *h2 = (fdn_telemetry_http_t *)&o;

    o.port = port; /* our own server's */
    cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h2), FDN_ESYS);
    cr_assert_null(h2);
    o.port = ntohs(a.sin_port); /* the plain socket's */
    o.token = "tok";
    cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h2), FDN_ESYS);
    cr_assert_null(h2);
    o.token = NULL;
    /* A well-formed address that is not this host's (unless the kernel
     * lets anything bind to non-local addresses). */
    o.address = "192.0.2.1";
    o.port = 0;
    if (!is_nonlocal_bind())
        cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h2), FDN_ESYS);

    static const char *const bad[] = {"localhost", "", "127.0.0.256",
                                      "1.2.3", "127.0.0.1:80", "::g",
                                      "[::1]", " 127.0.0.1", "fe80::1%lo"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.address = bad[i];
        h2 = (fdn_telemetry_http_t *)&o;
        cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h2), FDN_EINVAL,
                     "address '%s'", bad[i]);
        cr_assert_null(h2);
    }
    /* Bad arguments. */
    cr_assert_eq(fdn_telemetry_http_start(NULL, NULL, &h2), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_http_start(fx.t, NULL, NULL), FDN_EINVAL);
    o.address = NULL;
    o.size = 1;
    cr_assert_eq(fdn_telemetry_http_start(fx.t, &o, &h2), FDN_EINVAL);

    /* Nothing was left: no thread, no socket, no memory. */
    cr_assert_eq(count_entries("/proc/self/task"), threads);
    cr_assert_eq(count_entries("/proc/self/fd"), fds);
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);

    /* The first server still answers. */
    http_resp_t r;
    http(port, "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    close(held);
    fdn_telemetry_http_stop(h1);
    tel_down(&fx);
}

/* Checks: TEL-C10, TEL-F1 */
Test(telemetry_http, out_of_memory_at_start_is_enomem)
{
    tel_fx_t fx;
    served_up(&fx);
    int threads = count_entries("/proc/self/task");
    fdn_telemetry_http_opts_t o;
    fdn_telemetry_http_opts_init(&o);
    o.token = "tok";
    int failures = 0;
    for (uint64_t at = 1;; at++) {
        cr_assert_lt(at, 10);
        int64_t live = fdn_failing_allocator_live(fx.fa);
        fdn_telemetry_http_t *h = NULL;
        fdn_failing_allocator_arm(fx.fa, at, false);
        int rc = fdn_telemetry_http_start(fx.t, &o, &h);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        if (rc == FDN_OK) {
            fdn_telemetry_http_stop(h);
            cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
            break;
        }
        failures++;
        cr_assert_eq(rc, FDN_ENOMEM);
        cr_assert_null(h);
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
        cr_assert_eq(count_entries("/proc/self/task"), threads);
    }
    cr_assert_eq(failures, 2); /* the server, the token's copy */
    tel_down(&fx);
}

typedef struct slow {
    atomic_int state; /* 0 idle, 1 inside the collector, 2 done */
} slow_t;

static void slow_collector(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    slow_t *s = ctx;
    atomic_store(&s->state, 1);
    struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
    for (int i = 0; i < 30; i++)
        nanosleep(&ts, NULL);
    atomic_store(&s->state, 2);
}

typedef struct client_arg {
    uint16_t port;
    int rc;
    int status;
} client_arg_t;

static void *client(void *arg)
{
    client_arg_t *c = arg;
    int fd = dial("127.0.0.1", c->port);
    c->rc = fd < 0 ? fd : 0;
    if (fd < 0)
        return NULL;
    static const char req[] =
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0)
        c->rc = -errno;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = '\0';
        sscanf(buf, "HTTP/1.%*d %d", &c->status);
    }
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    close(fd);
    return NULL;
}

/* Checks: TEL-C10 */
Test(telemetry_http, stop_waits_for_the_request_in_flight)
{
    tel_fx_t fx;
    served_up(&fx);
    slow_t s;
    atomic_init(&s.state, 0);
    uint64_t id;
    cr_assert_eq(fdn_telemetry_collector_add(fx.t, slow_collector, &s, &id),
                 FDN_OK);
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, NULL);
    client_arg_t c = {.port = fdn_telemetry_http_port(h)};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, client, &c), 0);
    /* Bounded wait until the request is inside the export. */
    for (int i = 0; i < 2000 && atomic_load(&s.state) == 0; i++) {
        struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(atomic_load(&s.state), 1, "the request never started");
    fdn_telemetry_http_stop(h);
    /* stop returned only after the export finished. */
    cr_assert_eq(atomic_load(&s.state), 2);
    pthread_join(th, NULL);
    cr_assert_eq(c.rc, 0);
    cr_assert(c.status == 0 || c.status == 200, "status %d", c.status);
    cr_assert_eq(fdn_telemetry_collector_remove(fx.t, id), FDN_OK);
    tel_down(&fx);
}

typedef struct many_arg {
    uint16_t port;
    int ok;
} many_arg_t;

static void *many_gets(void *arg)
{
    many_arg_t *m = arg;
    for (int i = 0; i < 10; i++) {
        http_resp_t r;
        if (http_to("127.0.0.1", m->port, "GET",
                    i % 2 ? "/metrics" : "/metrics.json", "", &r) != 0)
            continue;
        if (r.status == 200 && strstr(r.body, "t_requests_total") != NULL)
            m->ok++;
        resp_free(&r);
    }
    return NULL;
}

/* Checks: TEL-C10 */
Test(telemetry_http, concurrent_scrapes_all_answered)
{
    tel_fx_t fx;
    served_up(&fx);
    fdn_telemetry_http_t *h = start(fx.t, NULL, 0, NULL);
    enum { CLIENTS = 4 };
    pthread_t th[CLIENTS];
    many_arg_t m[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        m[i] = (many_arg_t){.port = fdn_telemetry_http_port(h)};
        cr_assert_eq(pthread_create(&th[i], NULL, many_gets, &m[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(m[i].ok, 10, "client %d: %d of 10", i, m[i].ok);
    }
    fdn_telemetry_http_stop(h);
    tel_down(&fx);
}

typedef struct stopper {
    fdn_telemetry_http_t *h;
    client_arg_t client;
    pthread_t th;
    int runs;
    int rc;
} stopper_t;

/* On its first run (on the test's thread, holding the collectors' lock):
 * starts a scrape, lets it reach the wait for this lock, then stops the
 * server, which joins the thread serving that scrape. */
static void stop_from_collector(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    stopper_t *s = ctx;
    if (s->runs++ > 0)
        return;
    cr_assert_eq(pthread_create(&s->th, NULL, client, &s->client), 0);
    struct timespec ts = {.tv_nsec = 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    s->rc = fdn_telemetry_http_stop(s->h);
}

/* Checks: TEL-C12, TEL-C10 */
Test(telemetry_http, a_collector_may_stop_the_server_a_scrape_waits_on,
     .timeout = 30)
{
    tel_fx_t fx;
    served_up(&fx);
    stopper_t s = {.runs = 0};
    s.h = start(fx.t, NULL, 0, NULL);
    s.client.port = fdn_telemetry_http_port(s.h);
    uint64_t id;
    cr_assert_eq(fdn_telemetry_collector_add(fx.t, stop_from_collector, &s,
                                             &id),
                 FDN_OK);
    /* Without giving up, the scrape would wait for this collect's lock
     * and the stop for the scrape: a deadlock. */
    fdn_telemetry_collect(fx.t);
    pthread_join(s.th, NULL);
    cr_assert_eq(s.client.rc, 0);
    /* Answered without collectors (or cut off by the stop). */
    cr_assert(s.client.status == 0 || s.client.status == 200, "status %d",
              s.client.status);
    cr_assert_eq(s.runs, 1, "the scrape ran no collector");
    cr_assert_eq(s.rc, FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_remove(fx.t, id), FDN_OK);
    tel_down(&fx);
}

static void stop_own_server(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    stopper_t *s = ctx;
    if (s->runs++ == 0)
        s->rc = fdn_telemetry_http_stop(s->h);
}

static int stop_in_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    stopper_t *s = ctx;
    s->rc = fdn_telemetry_http_stop(s->h);
    return 0;
}

/* Checks: TEL-C12, TEL-C10 */
Test(telemetry_http, stop_where_it_would_wait_for_itself_is_ebusy,
     .timeout = 30)
{
    tel_fx_t fx;
    served_up(&fx);
    /* A collector run by the server's own scrape: stopping would join the
     * thread it runs on. */
    stopper_t s = {.rc = 1};
    s.h = start(fx.t, NULL, 0, NULL);
    uint64_t id;
    cr_assert_eq(fdn_telemetry_collector_add(fx.t, stop_own_server, &s, &id),
                 FDN_OK);
    http_resp_t r;
    http(fdn_telemetry_http_port(s.h), "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_eq(s.rc, FDN_EBUSY);
    /* Still serving. */
    http(fdn_telemetry_http_port(s.h), "GET", "/metrics", "", &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_eq(fdn_telemetry_collector_remove(fx.t, id), FDN_OK);
    /* A handler: it may hold back a grace period that a collector run by
     * the scrape waits for. */
    s.rc = 1;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "shutdown", stop_in_handler, &s,
                                      &id),
                 FDN_OK);
    fdn_telemetry_emit(fx.t, "shutdown", NULL, 0, NULL, 0);
    cr_assert_eq(s.rc, FDN_EBUSY);
    cr_assert_eq(fdn_telemetry_detach(fx.t, id), FDN_OK);
    cr_assert_eq(fdn_telemetry_http_stop(s.h), FDN_OK);
    cr_assert_eq(fdn_telemetry_http_stop(NULL), FDN_OK);
    tel_down(&fx);
}
