/*
 * tel_serve.c — a hub with known values of every kind of metric, for the
 * tests that hand our exposition to real Prometheus tools.
 *
 *   tel_serve --print   writes the Prometheus exposition to stdout, exits
 *                       (scripts/test_promtool.sh pipes it to promtool)
 *   tel_serve           serves it over HTTP on 127.0.0.1, an ephemeral
 *                       port, printed on stdout as "port <n>"; runs until
 *                       stdin closes or SIGINT/SIGTERM/SIGHUP, then stops
 *                       the server, destroys the hub and exits 0
 *                       (scripts/test_prometheus_scrape.sh scrapes it)
 *
 * The values the scrape test checks are stated next to where they are
 * recorded; change both together.  Label values and help texts include
 * the bytes the exposition must escape or repair (quote, backslash,
 * newline, invalid UTF-8), so a real parser sees them.
 *
 * Checks: TEL-C8, TEL-S7 (scripts/test_promtool.sh), TEL-L2
 * (scripts/test_prometheus_scrape.sh)
 */
#include "foundation/telemetry.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void check(int rc, const char *what)
{
    if (rc != FDN_OK) {
        fprintf(stderr, "tel_serve: %s: %s\n", what, fdn_errname(rc));
        exit(2);
    }
}

static fdn_metric_t *make(fdn_telemetry_t *t, fdn_metric_opts_t *o)
{
    fdn_metric_t *m;
    check(fdn_metric_create(t, o, &m), o->name);
    return m;
}

static fdn_series_t *series(fdn_metric_t *m, const char *value)
{
    fdn_series_t *s;
    check(fdn_metric_series(m, &value, 1, &s), value);
    return s;
}

/* Records the known values.  The scrape test checks those marked [S]. */
static void record(fdn_telemetry_t *t)
{
    fdn_metric_opts_t o;
    static const char *const queue[] = {"queue"};
    static const char *const method[] = {"method"};

    /* [S] tel_requests_total 42 */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "tel_requests_total",
                         "Requests served.");
    fdn_counter_add(fdn_metric_default(make(t, &o)), 42);

    /* [S] tel_jobs_total{queue="fast"} 7 and the nasty value below 1. */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "tel_jobs_total",
                         "Jobs done, per queue.\nA second line, with a "
                         "backslash \\ and a \"quote\" and \xff bad UTF-8.");
    o.label_names = queue;
    o.n_labels = 1;
    fdn_metric_t *jobs = make(t, &o);
    fdn_counter_add(series(jobs, "fast"), 7);
    fdn_counter_add(series(jobs, "slow"), 3);
    fdn_counter_add(series(jobs, "a\"b\\c\nd"), 1);
    fdn_counter_add(series(jobs, "h\xc3\xa9llo \xe2\x9c\x93"), 5);
    /* Not UTF-8: refused, so it can never collide with another value. */
    const char *bad = "bad \xff\xfe utf8 \xed\xa0\x80";
    fdn_series_t *none;
    if (fdn_metric_series(jobs, &bad, 1, &none) != FDN_EINVAL) {
        fprintf(stderr, "tel_serve: invalid UTF-8 label value accepted\n");
        exit(2);
    }
    fdn_counter_add(series(jobs, "\xef\xbf\xbd replacement"), 2);
    fdn_counter_add(series(jobs, "tab\tcr\r"), 4);
    fdn_counter_add(series(jobs, ""), 6);

    /* [S] tel_saturated_total 18446744073709551615 (2^64 - 1) */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "tel_saturated_total",
                         "A counter that reached its maximum.");
    fdn_series_t *sat = fdn_metric_default(make(t, &o));
    fdn_counter_add(sat, UINT64_MAX);
    fdn_counter_add(sat, 5);

    /* A labelled metric with no series yet: HELP and TYPE only. */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "tel_unused_total",
                         "Nothing recorded here yet.");
    o.label_names = queue;
    o.n_labels = 1;
    make(t, &o);

    /* [S] tel_queue_depth 17 */
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "tel_queue_depth",
                         "Items waiting.");
    fdn_gauge_set(fdn_metric_default(make(t, &o)), 17);

    /* [S] tel_temperature_celsius -3.5 */
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "tel_temperature_celsius",
                         "Temperature outside.");
    o.is_double = true;
    fdn_gauge_set_double(fdn_metric_default(make(t, &o)), -3.5);

    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "tel_headroom_ratio",
                         "Headroom, per queue (non-finite values).");
    o.is_double = true;
    o.label_names = queue;
    o.n_labels = 1;
    fdn_metric_t *head = make(t, &o);
    fdn_gauge_set_double(series(head, "fast"), 0.1);
    fdn_gauge_set_double(series(head, "up"), INFINITY);
    fdn_gauge_set_double(series(head, "down"), -INFINITY);
    fdn_gauge_set_double(series(head, "none"), NAN);

    /* [S] tel_request_duration_seconds_bucket{le="0.5"} 2 (0.5 is on the
     * bound and counts in it), _count 5, _sum 13.25. */
    static const double bounds[] = {0.1, 0.5, 1, 5};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM,
                         "tel_request_duration_seconds",
                         "Time to answer a request.");
    o.buckets = bounds;
    o.n_buckets = 4;
    fdn_series_t *dur = fdn_metric_default(make(t, &o));
    static const double obs[] = {0.05, 0.5, 0.7, 2, 10};
    for (size_t i = 0; i < 5; i++)
        fdn_metric_observe(dur, obs[i]);

    /* A log-linear histogram. */
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "tel_payload_bytes",
                         "Payload sizes.");
    fdn_series_t *pay = fdn_metric_default(make(t, &o));
    fdn_metric_observe(pay, 100);
    fdn_metric_observe(pay, 1000);
    fdn_metric_observe(pay, 1000);
    fdn_metric_observe(pay, 3e6);

    /* A labelled summary, and an empty one (NaN quantiles). */
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "tel_latency_seconds",
                         "Latency, per method.");
    o.label_names = method;
    o.n_labels = 1;
    fdn_metric_t *lat = make(t, &o);
    for (int i = 1; i <= 100; i++)
        fdn_metric_observe(series(lat, "get"), i / 1000.0);
    fdn_metric_observe(series(lat, "put"), 0.25);
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "tel_idle_seconds",
                         "Idle periods (none yet).");
    make(t, &o);
}

/* Signals ask wait_for_stop to return (no SA_RESTART: poll is cut
 * short). */
static void handle_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Runs until stdin closes or a signal asks to stop. */
static void wait_for_stop(void)
{
    while (!stop_signal) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0) {
            char buf[256];
            ssize_t r = read(0, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                return;
        }
    }
}

int main(int argc, char **argv)
{
    bool is_print = argc > 1 && strcmp(argv[1], "--print") == 0;
    fdn_telemetry_t *t;
    check(fdn_telemetry_create(NULL, &t), "fdn_telemetry_create");
    record(t);
    if (is_print) {
        char *text;
        size_t len;
        check(fdn_telemetry_prometheus(t, &text, &len),
              "fdn_telemetry_prometheus");
        fwrite(text, 1, len, stdout);
        fdn_telemetry_free(t, text);
        fdn_telemetry_destroy(t);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    /* Signals are handled from here on, so that a SIGTERM sent as soon as
     * the port is printed still stops cleanly. */
    handle_signals();
    fdn_telemetry_http_t *h;
    check(fdn_telemetry_http_start(t, NULL, &h), "fdn_telemetry_http_start");
    printf("port %u\n", (unsigned)fdn_telemetry_http_port(h));
    fflush(stdout);
    wait_for_stop();
    fdn_telemetry_http_stop(h);
    fdn_telemetry_destroy(t);
    return 0;
}
