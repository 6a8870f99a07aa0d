/*
 * main.c — wordfreq, the Foundation showcase: counts the words of real text
 * files with a supervised pool of agents while a chaos process kills them,
 * and still gets the exact answer.  This file parses the flags, runs the job
 * and prints the result and the report.
 *
 * Telemetry.  One hub holds the job's own metrics (metrics.c; the agents
 * record them as they work), the runtime's and the registry's
 * (fdn_telemetry_instrument_runtime / _registry), and spans around the
 * stages (wordfreq.job > wordfreq.read, .start, .count, .shutdown,
 * .output), whose times the report also shows (wordfreq_stage_seconds).
 * Every number of the report is read back from the hub; the checks at the
 * end compare some of them with what the agents returned.  Optionally the
 * hub is served at /metrics while the job runs (--metrics-port) and its
 * final exposition written to a file (--metrics-out); these two only warn
 * when they fail.
 *
 * Design.
 *
 *   main (attached thread)      reads the files, splits them into chunks of
 *        |                      ~256 KiB cut at non-letters, starts the rest,
 *        |                      waits for DONE, stops everything, prints.
 *        +-- reducer            "reducer" in the registry
 *        +-- coordinator        "coordinator"
 *        +-- supervisor         one_for_one, permanent children
 *        |     +-- mapper-0..N-1  "mapper-<i>", meta {capability: "map",
 *        |                        index: i}
 *        +-- chaos              (only with --chaos) not registered
 *
 * Protocol.  A mapper, on every (re)start, registers itself and sends READY
 * (credits 2) to the coordinator, which it looks up in the registry.  The
 * coordinator monitors each mapper the first time it hears from it, then
 * sends it chunk ids, one per credit.  The mapper counts the chunk's words
 * into a hash table (uthash), sends the table to the reducer zero-copy
 * (fdn_send_owned: the reducer moves the entries into its totals), and sends
 * READY (credit 1) for the next chunk.  The reducer keeps one bit per chunk:
 * the first result of a chunk is merged, any later one is freed and counted
 * as a duplicate; either way it sends ACK(chunk) to the coordinator.  When a
 * mapper dies, the coordinator's DOWN re-queues every chunk that mapper was
 * sent and that is not yet acknowledged (a re-dispatch), and the supervisor
 * restarts the mapper, which says READY again.  When every chunk is
 * acknowledged the coordinator sends DONE to main.
 *
 * Why the result is exact.  Every chunk is acknowledged only after the
 * reducer merged it, and merged at most once (the bitmap).  A chunk is
 * either acknowledged, queued, or assigned to a mapper the coordinator
 * monitors; the mapper's death turns "assigned" back into "queued", so no
 * chunk is lost, and a result that races with its mapper's death is at
 * worst a duplicate, which the bitmap drops.
 *
 * Shutdown, in order: chaos is stopped by a call (its reply carries its
 * counts of strikes and kills, and no kill follows it); main waits until
 * the supervisor reports every child running, and reads the registry
 * (entries then: N mappers +
 * coordinator + reducer; chaos and main do not register) and the restart
 * count; the supervisor is shut down; the coordinator's counters and the
 * reducer's totals are taken by calls (every mapper is dead by then, so
 * every result ever sent has been handled before the call); coordinator and
 * reducer are shut down, after which the registry must be empty.
 *
 * The file buffers belong to main and stay alive, unchanged, until the
 * agents are gone; chunks point into them, so chunk messages carry only an
 * index.
 */
#include "wordfreq.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WF_CHUNK_BYTES (256u * 1024u)
#define WF_EXIT_OK 0
#define WF_EXIT_ERROR 1
#define WF_EXIT_SKIPPED 2
#define WF_EXIT_USAGE 64
#define WF_CALL_TIMEOUT_NS (30 * FDN_NS_PER_S)

typedef struct wf_options {
    uint32_t agents;
    double chaos;
    uint64_t top;
    bool all;
    uint64_t seed;
    bool seed_given;
    int32_t metrics_port;      /* -1: not asked */
    const char *metrics_out;   /* NULL: not asked */
} wf_options_t;

static void wf_usage(FILE *out)
{
    fprintf(out,
            "usage: wordfreq [--agents N] [--chaos RATE] [--top K] [--all] "
            "[--seed S]\n"
            "                [--metrics-port PORT] [--metrics-out FILE] "
            "PATH...\n"
            "  Counts the words (maximal runs of ASCII letters, lower-cased) "
            "of the files\n"
            "  under PATH (default /usr/share/common-licenses) and prints "
            "`count word` lines,\n"
            "  most frequent first.\n"
            "  --agents N    mapper agents (1..1024, default 4)\n"
            "  --chaos RATE  kill random mappers RATE times per second "
            "(default 0: off)\n"
            "  --top K       print the K most frequent words (default 20)\n"
            "  --all         print every word\n"
            "  --seed S      seed of the chaos process's choices\n"
            "  --metrics-port PORT  serve the job's metrics (Prometheus "
            "text) at\n"
            "                http://127.0.0.1:PORT/metrics while it runs "
            "(0: any free port)\n"
            "  --metrics-out FILE   write the final metrics (Prometheus "
            "text) to FILE\n"
            "                (these two only warn if they fail)\n"
            "  Numbers are plain decimal (RATE may have a fraction).\n"
            "  Skipped, and reported: unreadable paths, binary files (holding "
            "a NUL byte),\n"
            "  devices, FIFOs and sockets named as PATH.\n"
            "Exit status:\n"
            "  0   every path was counted\n"
            "  2   counted, but some paths or files were skipped\n"
            "  1   error: nothing could be read (every path skipped), or the "
            "job failed\n"
            "  64  bad usage\n");
}

/* Parses a decimal unsigned integer: one or more ASCII digits and nothing
 * else (no sign, no space, no 0x; leading zeros are plain decimal). */
static bool wf_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Parses a decimal rate: digits with at most one '.', at least one digit,
 * and nothing else (no sign, space, exponent, hex, inf or nan). */
static bool wf_parse_rate(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    unsigned digits = 0, dots = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.')
            dots++;
        else
            return false;
    }
    if (digits == 0 || dots > 1)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Returns 0, or an exit code (usage: 64, --help: 0 with *stop set). */
static int wf_parse(int argc, char **argv, wf_options_t *o, bool *stop)
{
    static const struct option longopts[] = {
        {"agents", required_argument, NULL, 'a'},
        {"chaos", required_argument, NULL, 'c'},
        {"top", required_argument, NULL, 't'},
        {"all", no_argument, NULL, 'A'},
        {"seed", required_argument, NULL, 's'},
        {"metrics-port", required_argument, NULL, 'p'},
        {"metrics-out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->agents = 4;
    o->chaos = 0.0;
    o->top = 20;
    o->all = false;
    o->seed = 0;
    o->seed_given = false;
    o->metrics_port = -1;
    o->metrics_out = NULL;
    *stop = false;
    int ch;
    opterr = 0;
    /* A leading ':' makes a missing value return ':' rather than '?'. */
    while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        uint64_t v;
        switch (ch) {
        case 'a':
            if (!wf_parse_u64(optarg, &v) || v < 1 || v > 1024) {
                fprintf(stderr, "wordfreq: --agents wants a decimal "
                                "1..1024\n");
                goto usage;
            }
            o->agents = (uint32_t)v;
            break;
        case 'c':
            if (!wf_parse_rate(optarg, &o->chaos) || o->chaos > 1e5) {
                fprintf(stderr, "wordfreq: --chaos wants a decimal rate in "
                                "0..100000 kills per second\n");
                goto usage;
            }
            break;
        case 't':
            if (!wf_parse_u64(optarg, &o->top)) {
                fprintf(stderr, "wordfreq: --top wants a decimal "
                                "count\n");
                goto usage;
            }
            break;
        case 'A':
            o->all = true;
            break;
        case 's':
            if (!wf_parse_u64(optarg, &o->seed)) {
                fprintf(stderr, "wordfreq: --seed wants a decimal "
                                "unsigned integer\n");
                goto usage;
            }
            o->seed_given = true;
            break;
        case 'p':
            if (!wf_parse_u64(optarg, &v) || v > 65535) {
                fprintf(stderr, "wordfreq: --metrics-port wants a decimal "
                                "port 0..65535\n");
                goto usage;
            }
            o->metrics_port = (int32_t)v;
            break;
        case 'o':
            if (optarg[0] == '\0') {
                fprintf(stderr, "wordfreq: --metrics-out wants a file "
                                "name\n");
                goto usage;
            }
            o->metrics_out = optarg;
            break;
        case 'h':
            wf_usage(stdout);
            *stop = true;
            return WF_EXIT_OK;
        case ':':
            /* A known option without its value: optopt is its val. */
            for (const struct option *lo = longopts; lo->name; lo++) {
                if (lo->val == optopt) {
                    fprintf(stderr, "wordfreq: --%s needs a value\n",
                            lo->name);
                    goto usage;
                }
            }
            fprintf(stderr, "wordfreq: %s needs a value\n",
                    argv[optind - 1]);
            goto usage;
        default:
            /* An unknown option, or a value given to --all or --help.
             * optopt is an unknown short option's character (there are no
             * known ones), a known long option's val, or 0; the argument
             * just consumed names the culprit in the last two cases. */
            if (optopt && !strchr("actAshpo", optopt))
                fprintf(stderr, "wordfreq: unknown option -%c\n", optopt);
            else
                fprintf(stderr, "wordfreq: unknown option or unexpected "
                                "value: %s\n",
                        argv[optind - 1]);
            goto usage;
        }
    }
    return 0;
usage:
    wf_usage(stderr);
    *stop = true;
    return WF_EXIT_USAGE;
}

/* ------------------------------------------------------------------------ */
/* The processes main watches                                               */
/* ------------------------------------------------------------------------ */

enum { WF_W_REDUCER, WF_W_COORD, WF_W_SUP, WF_W_CHAOS, WF_W_COUNT };

typedef struct wf_watch {
    const char *name;
    fdn_pid_t pid;
    fdn_ref_t ref;
    bool is_down;
    fdn_reason_t reason;
} wf_watch_t;

typedef struct wf_main {
    fdn_runtime_t *rt;
    fdn_ctx_t *ctx;
    wf_watch_t watch[WF_W_COUNT];
    bool is_done; /* DONE arrived */
} wf_main_t;

/* Handles one message from main's mailbox: DONE, or a DOWN of a watched
 * process.  Returns the receive's error code. */
static int wf_main_receive(wf_main_t *m, uint64_t timeout_ns)
{
    fdn_msg_t *msg;
    int rc = fdn_receive(m->ctx, timeout_ns, &msg);
    if (rc != FDN_OK)
        return rc;
    if (msg->kind == FDN_MSG_USER && msg->tag == WF_TAG_DONE) {
        m->is_done = true;
    } else if (msg->kind == FDN_MSG_DOWN) {
        for (int i = 0; i < WF_W_COUNT; i++) {
            if (m->watch[i].ref != FDN_REF_NONE &&
                m->watch[i].ref == msg->ref) {
                m->watch[i].is_down = true;
                m->watch[i].reason = msg->reason;
            }
        }
    }
    fdn_msg_free(m->ctx, msg);
    return FDN_OK;
}

/* Waits for watched process w to be down.  Returns 0 or -1. */
static int wf_main_await_down(wf_main_t *m, int w)
{
    while (!m->watch[w].is_down) {
        int rc = wf_main_receive(m, WF_CALL_TIMEOUT_NS);
        if (rc != FDN_OK) {
            fprintf(stderr, "wordfreq: waiting for the %s to stop: %s\n",
                    m->watch[w].name, fdn_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* Sends the SHUTDOWN exit signal to watched process w and waits for it. */
static int wf_main_stop(wf_main_t *m, int w)
{
    if (m->watch[w].pid == FDN_PID_NONE || m->watch[w].is_down)
        return 0;
    int rc = fdn_exit(m->rt, m->ctx, m->watch[w].pid, FDN_REASON_SHUTDOWN);
    if (rc != FDN_OK && rc != FDN_ENOPROC) {
        fprintf(stderr, "wordfreq: stopping the %s: %s\n", m->watch[w].name,
                fdn_strerror(rc));
        return -1;
    }
    return wf_main_await_down(m, w);
}

/* Spawns behaviour b monitored as watched process w. */
static int wf_main_spawn(wf_main_t *m, int w, const fdn_behaviour_t *b,
                         void *arg)
{
    fdn_spawn_opts_t so;
    memset(&so, 0, sizeof so);
    so.size = sizeof so;
    so.monitor = &m->watch[w].ref;
    int rc = fdn_spawn(m->rt, m->ctx, b, arg, &so, &m->watch[w].pid);
    if (rc != FDN_OK) {
        fprintf(stderr, "wordfreq: starting the %s: %s\n", m->watch[w].name,
                fdn_strerror(rc));
        /* A monitored spawn whose init failed still delivers DOWN; it is
         * not waited for (the runtime frees it at destroy). */
        m->watch[w].ref = FDN_REF_NONE;
        m->watch[w].pid = FDN_PID_NONE;
        return -1;
    }
    return 0;
}

static double wf_seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Paths and files skipped, of every kind. */
static uint64_t wf_skipped(const wf_corpus_t *c)
{
    return c->unreadable + c->binary + c->not_regular;
}

/* ------------------------------------------------------------------------ */
/* Telemetry                                                                */
/* ------------------------------------------------------------------------ */

/* Starts a span around a stage.  Spans only feed event handlers, so one
 * that cannot start (telemetry without spans) is skipped silently. */
static void wf_span_start(fdn_telemetry_t *tel, fdn_span_t *span,
                          const char *name)
{
    memset(span, 0, sizeof *span);
    (void)fdn_span_start(tel, span, name, NULL, NULL, 0);
}

/* Ends a span started by wf_span_start: stop, or exception if the stage
 * failed. */
static void wf_span_end(fdn_span_t *span, bool ok)
{
    if (!span->is_open)
        return;
    if (ok)
        (void)fdn_span_stop(span, NULL, 0);
    else
        (void)fdn_span_exception(span, "error", "the stage failed", NULL, 0);
}

/* The collectors of the runtime's and the registry's metrics (0: none). */
typedef struct wf_instrumented {
    uint64_t runtime;
    uint64_t registry;
} wf_instrumented_t;

/* Refreshes the runtime's and the registry's metrics one last time, then
 * removes their collectors: the runtime and the registry are about to go,
 * and the metrics keep these values. */
static void wf_uninstrument(fdn_telemetry_t *tel, wf_instrumented_t *in)
{
    fdn_telemetry_collect(tel);
    if (in->runtime != 0)
        fdn_telemetry_collector_remove(tel, in->runtime);
    if (in->registry != 0)
        fdn_telemetry_collector_remove(tel, in->registry);
    in->runtime = in->registry = 0;
}

/* ------------------------------------------------------------------------ */
/* The job                                                                  */
/* ------------------------------------------------------------------------ */

/* What wf_run learnt besides the metrics: the agents' own answers, which
 * the final checks compare with the metrics. */
typedef struct wf_report {
    wf_chaos_stats_t chaos;
    wf_coord_stats_t coord;
    uint64_t merged;
    uint64_t duplicates;
    uint64_t entries_running;   /* registry entries after chaos stopped
                                 * (from the registry's metrics) */
    size_t mappers_registered;  /* of which capability "map" */
    uint64_t entries_after;     /* likewise, after shutdown */
} wf_report_t;

/* Runs the agents over corpus, recording into tel (mx: the job's
 * metrics).  On 0, *totals holds the merged table (the caller frees it).
 * On -1 an error was reported. */
static int wf_run(const wf_options_t *o, const wf_corpus_t *corpus,
                  fdn_telemetry_t *tel, const wf_metrics_t *mx,
                  wf_word_t **totals, wf_report_t *rep)
{
    int result = -1;
    wf_main_t m;
    memset(&m, 0, sizeof m);
    m.watch[WF_W_REDUCER].name = "reducer";
    m.watch[WF_W_COORD].name = "coordinator";
    m.watch[WF_W_SUP].name = "supervisor";
    m.watch[WF_W_CHAOS].name = "chaos process";
    fdn_registry_t *reg = NULL;
    wf_shared_t shared;
    memset(&shared, 0, sizeof shared);
    wf_mapper_arg_t *margs = NULL;
    fdn_child_spec_t *specs = NULL;
    char (*ids)[32] = NULL;
    wf_chaos_arg_t chaos_arg;
    fdn_clock_t *clock = fdn_clock_monotonic();
    wf_instrumented_t in = {0, 0};
    static const char *const ns_names[] = {"wordfreq"};
    fdn_span_t count_span, shutdown_span;
    memset(&count_span, 0, sizeof count_span);
    memset(&shutdown_span, 0, sizeof shutdown_span);
    uint64_t t_start = fdn_clock_now(clock), t_done = 0;
    fdn_span_t start_span;
    wf_span_start(tel, &start_span, "wordfreq.start");

    int rc = fdn_runtime_create(NULL, &m.rt);
    if (rc != FDN_OK) {
        fprintf(stderr, "wordfreq: runtime: %s\n", fdn_strerror(rc));
        wf_span_end(&start_span, false);
        return -1;
    }
    const char *failed = NULL;
    if ((rc = fdn_registry_create(m.rt, NULL, &reg)) != FDN_OK ||
        (rc = fdn_registry_namespace(reg, "wordfreq", &shared.ns)) != FDN_OK)
        failed = "registry";
    else if ((rc = fdn_telemetry_instrument_runtime(tel, m.rt,
                                                    &in.runtime)) != FDN_OK ||
             (rc = fdn_telemetry_instrument_registry(
                  tel, reg, ns_names, 1, &in.registry)) != FDN_OK)
        failed = "telemetry";
    else if ((rc = fdn_attach(m.rt, &m.ctx)) != FDN_OK)
        failed = "attach";
    if (failed != NULL) {
        fprintf(stderr, "wordfreq: %s: %s\n", failed, fdn_strerror(rc));
        wf_uninstrument(tel, &in);
        fdn_registry_destroy(reg);
        fdn_runtime_destroy(m.rt);
        wf_span_end(&start_span, false);
        return -1;
    }
    shared.corpus = corpus;
    shared.metrics = mx;
    shared.main_pid = fdn_self(m.ctx);
    shared.agents = o->agents;

    margs = calloc(o->agents, sizeof *margs);
    specs = calloc(o->agents, sizeof *specs);
    ids = calloc(o->agents, sizeof *ids);
    if (!margs || !specs || !ids) {
        fprintf(stderr, "wordfreq: out of memory\n");
        wf_span_end(&start_span, false);
        goto out;
    }

    uint64_t t0 = fdn_clock_now(clock);
    fdn_gauge_set_double(mx->stage_start, wf_seconds(t0 - t_start));
    wf_span_end(&start_span, true);
    wf_span_start(tel, &count_span, "wordfreq.count");
    /* The reducer and the coordinator first: mappers look them up. */
    if (wf_main_spawn(&m, WF_W_REDUCER, &wf_reducer_behaviour, &shared) != 0 ||
        wf_main_spawn(&m, WF_W_COORD, &wf_coordinator_behaviour, &shared) !=
            0)
        goto out;

    for (uint32_t i = 0; i < o->agents; i++) {
        margs[i].shared = &shared;
        margs[i].index = i;
        atomic_init(&margs[i].started, false);
        snprintf(ids[i], sizeof ids[i], "mapper-%u", i);
        specs[i].id = ids[i];
        specs[i].behaviour = &wf_mapper_behaviour;
        specs[i].arg = &margs[i];
        specs[i].restart = FDN_PERMANENT;
        specs[i].shutdown_ns = FDN_NS_PER_S;
    }
    fdn_supervisor_opts_t sopts;
    fdn_supervisor_opts_init(&sopts);
    sopts.strategy = FDN_ONE_FOR_ONE;
    /* Generous, so chaos alone never exhausts it: ten seconds' worth of
     * kills per second, and at least 1000. */
    double intensity = o->chaos * 10.0;
    sopts.intensity = intensity > 1000.0 ? (uint32_t)intensity : 1000u;
    sopts.period_ns = FDN_NS_PER_S;
    sopts.children = specs;
    sopts.nchildren = o->agents;
    rc = fdn_supervisor_start(m.rt, m.ctx, &sopts, false,
                              &m.watch[WF_W_SUP].pid);
    if (rc != FDN_OK) {
        fprintf(stderr, "wordfreq: supervisor: %s\n", fdn_strerror(rc));
        m.watch[WF_W_SUP].pid = FDN_PID_NONE;
        goto out;
    }
    if ((rc = fdn_monitor(m.ctx, m.watch[WF_W_SUP].pid,
                          &m.watch[WF_W_SUP].ref)) != FDN_OK) {
        fprintf(stderr, "wordfreq: monitor: %s\n", fdn_strerror(rc));
        goto out;
    }
    if (o->chaos > 0.0) {
        chaos_arg.shared = &shared;
        chaos_arg.rate = o->chaos;
        chaos_arg.seed = o->seed;
        if (wf_main_spawn(&m, WF_W_CHAOS, &wf_chaos_behaviour, &chaos_arg) !=
            0)
            goto out;
    }

    /* Wait for DONE; any watched process dying first fails the job. */
    m.is_done = corpus->nchunks == 0;
    while (!m.is_done) {
        rc = wf_main_receive(&m, FDN_INFINITY);
        if (rc != FDN_OK) {
            fprintf(stderr, "wordfreq: receive: %s\n", fdn_strerror(rc));
            goto out;
        }
        for (int i = 0; i < WF_W_COUNT; i++) {
            if (m.watch[i].is_down) {
                fprintf(stderr, "wordfreq: the %s died (%s, reason %lld)\n",
                        m.watch[i].name, fdn_reason_name(m.watch[i].reason),
                        (long long)m.watch[i].reason);
                goto out;
            }
        }
    }
    t_done = fdn_clock_now(clock);
    fdn_gauge_set_double(mx->stage_count, wf_seconds(t_done - t0));
    wf_span_end(&count_span, true);
    wf_span_start(tel, &shutdown_span, "wordfreq.shutdown");

    /* Stop chaos: its reply holds the final counts. */
    if (m.watch[WF_W_CHAOS].pid != FDN_PID_NONE) {
        fdn_msg_t *reply = NULL;
        rc = fdn_call(m.ctx, m.watch[WF_W_CHAOS].pid, WF_TAG_STOP, NULL, 0,
                      WF_CALL_TIMEOUT_NS, &reply);
        if (rc != FDN_OK || reply->size != sizeof rep->chaos) {
            fprintf(stderr, "wordfreq: stopping chaos: %s\n",
                    fdn_strerror(rc));
            fdn_msg_free(m.ctx, reply);
            goto out;
        }
        memcpy(&rep->chaos, reply->data, sizeof rep->chaos);
        fdn_msg_free(m.ctx, reply);
        fdn_gauge_set_double(mx->chaos_seconds,
                             wf_seconds(rep->chaos.active_ns));
        if (wf_main_await_down(&m, WF_W_CHAOS) != 0)
            goto out;
    }

    /* Let the last kill land and its restart finish, then read the
     * registry: every mapper, the coordinator and the reducer should be
     * registered.  Quiescent means: the supervisor reports every child
     * running, it has restarted at least as many children as chaos killed
     * (a kill that landed on a dying mapper makes that never true, hence
     * the deadline), and the registry holds N mappers + 2 entries. */
    fdn_supervisor_stats_t st;
    memset(&st, 0, sizeof st);
    fdn_meta_value_t map = {.type = FDN_META_STR};
    strcpy(map.as.s, "map");
    fdn_pid_t *found_pids = calloc(o->agents, sizeof *found_pids);
    if (!found_pids) {
        fprintf(stderr, "wordfreq: out of memory\n");
        goto out;
    }
    uint64_t deadline = fdn_clock_now(clock) + 5 * FDN_NS_PER_S;
    for (;;) {
        rc = fdn_supervisor_stats(m.ctx, m.watch[WF_W_SUP].pid, &st);
        if (rc == FDN_OK) {
            rep->entries_running = fdn_registry_total(reg);
            rc = fdn_registry_find(shared.ns, "capability", &map, found_pids,
                                   o->agents, &rep->mappers_registered);
        }
        if (rc != FDN_OK) {
            fprintf(stderr, "wordfreq: supervisor stats or registry: %s\n",
                    fdn_strerror(rc));
            free(found_pids);
            goto out;
        }
        if ((st.active == st.children && st.restarts >= rep->chaos.kills &&
             rep->mappers_registered == o->agents &&
             rep->entries_running == (uint64_t)o->agents + 2) ||
            fdn_clock_now(clock) > deadline)
            break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    free(found_pids);
    /* The report's figure comes from the registry's metrics, refreshed
     * now, while everything is still. */
    fdn_telemetry_collect(tel);
    rep->entries_running =
        (uint64_t)wf_metrics_gauge(tel, "fdn_registry_entries", "wordfreq");

    /* Stop the mappers; after this no result can still be on its way. */
    if (wf_main_stop(&m, WF_W_SUP) != 0)
        goto out;

    fdn_msg_t *reply = NULL;
    rc = fdn_call(m.ctx, m.watch[WF_W_COORD].pid, WF_TAG_STATS, NULL, 0,
                  WF_CALL_TIMEOUT_NS, &reply);
    if (rc != FDN_OK || reply->size != sizeof rep->coord) {
        fprintf(stderr, "wordfreq: coordinator stats: %s\n",
                fdn_strerror(rc));
        fdn_msg_free(m.ctx, reply);
        goto out;
    }
    memcpy(&rep->coord, reply->data, sizeof rep->coord);
    fdn_msg_free(m.ctx, reply);

    reply = NULL;
    rc = fdn_call(m.ctx, m.watch[WF_W_REDUCER].pid, WF_TAG_TAKE, NULL, 0,
                  WF_CALL_TIMEOUT_NS, &reply);
    if (rc != FDN_OK || reply->size != sizeof(wf_reduce_reply_t)) {
        fprintf(stderr, "wordfreq: reducer totals: %s\n", fdn_strerror(rc));
        fdn_msg_free(m.ctx, reply);
        goto out;
    }
    wf_reduce_reply_t rr;
    memcpy(&rr, reply->data, sizeof rr);
    fdn_msg_free(m.ctx, reply);
    *totals = rr.table;
    rep->merged = rr.merged;
    rep->duplicates = rr.duplicates;
    result = 0;

out:
    /* Stop whatever still runs, newest first, and wait for each. */
    if (wf_main_stop(&m, WF_W_CHAOS) != 0 || wf_main_stop(&m, WF_W_SUP) != 0 ||
        wf_main_stop(&m, WF_W_COORD) != 0 ||
        wf_main_stop(&m, WF_W_REDUCER) != 0)
        result = -1;
    /* Before the registry and the runtime go: their last figures. */
    wf_uninstrument(tel, &in);
    rep->entries_after =
        (uint64_t)wf_metrics_gauge(tel, "fdn_registry_entries", "wordfreq");
    wf_span_end(&count_span, false); /* still open only on failure */
    fdn_detach(m.ctx);
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(m.rt);
    if (t_done != 0)
        fdn_gauge_set_double(mx->stage_shutdown,
                             wf_seconds(fdn_clock_now(clock) - t_done));
    wf_span_end(&shutdown_span, result == 0);
    free(margs);
    free(specs);
    free(ids);
    if (result != 0)
        wf_words_free(totals);
    return result;
}

/* The first line of the report: what was read and what was skipped, from
 * the job's metrics. */
static void wf_report_corpus(const wf_metrics_t *mx, size_t distinct)
{
    uint64_t unreadable = fdn_counter_value(mx->skipped_unreadable);
    uint64_t binary = fdn_counter_value(mx->skipped_binary);
    uint64_t not_regular = fdn_counter_value(mx->skipped_not_regular);
    fprintf(stderr,
            "wordfreq: files %llu, bytes %llu, words %llu (%zu distinct), "
            "skipped %llu (%llu unreadable, %llu binary, %llu not "
            "regular)\n",
            (unsigned long long)fdn_counter_value(mx->files),
            (unsigned long long)fdn_counter_value(mx->bytes),
            (unsigned long long)fdn_counter_value(mx->words), distinct,
            (unsigned long long)(unreadable + binary + not_regular),
            (unsigned long long)unreadable, (unsigned long long)binary,
            (unsigned long long)not_regular);
}

/* The rest of the report, every figure read back from the hub. */
static void wf_report_job(const wf_options_t *o, fdn_telemetry_t *tel,
                          const wf_metrics_t *mx, const wf_report_t *rep,
                          uint64_t bytes)
{
    uint64_t kills = fdn_counter_value(mx->kills);
    uint64_t skipped = fdn_counter_value(mx->strikes_skipped);
    fprintf(stderr,
            "wordfreq: agents %lld, chunks %lld, kills %llu, restarts %llu, "
            "re-dispatched chunks %llu, duplicate results dropped %llu\n",
            (long long)fdn_gauge_value(mx->agents),
            (long long)fdn_gauge_value(mx->chunks), (unsigned long long)kills,
            (unsigned long long)fdn_counter_value(mx->restarts),
            (unsigned long long)fdn_counter_value(mx->redispatched),
            (unsigned long long)fdn_counter_value(mx->duplicates));
    if (o->chaos > 0.0) {
        double chaos_secs = fdn_gauge_value(mx->chaos_seconds);
        fprintf(stderr,
                "wordfreq: chaos requested %g kills/s, achieved %.1f "
                "kills/s over %.3f s (seed %llu): strikes %llu = kills %llu "
                "+ skipped %llu (target not running); strikes dropped "
                "(chaos fell behind) %llu\n",
                o->chaos, chaos_secs > 0 ? (double)kills / chaos_secs : 0.0,
                chaos_secs, (unsigned long long)o->seed,
                (unsigned long long)(kills + skipped),
                (unsigned long long)kills, (unsigned long long)skipped,
                (unsigned long long)fdn_counter_value(mx->strikes_dropped));
    } else {
        fprintf(stderr, "wordfreq: chaos off\n");
    }
    double secs = fdn_gauge_value(mx->elapsed);
    double count_secs = fdn_gauge_value(mx->stage_count);
    fprintf(stderr,
            "wordfreq: elapsed %.3f s (read %.1f ms, start %.1f ms, count "
            "%.1f ms, shutdown %.1f ms, output %.1f ms), %.1f MB/s overall, "
            "%.1f MB/s counting\n",
            secs, fdn_gauge_value(mx->stage_read) * 1e3,
            fdn_gauge_value(mx->stage_start) * 1e3, count_secs * 1e3,
            fdn_gauge_value(mx->stage_shutdown) * 1e3,
            fdn_gauge_value(mx->stage_output) * 1e3,
            secs > 0 ? (double)bytes / 1e6 / secs : 0.0,
            count_secs > 0 ? (double)bytes / 1e6 / count_secs : 0.0);
    fdn_series_value_t map;
    double q[4] = {0, 0, 0, 0};
    static const double qs[4] = {0.5, 0.9, 0.99, 1.0};
    if (fdn_series_read(mx->map_seconds, &map) == FDN_OK && map.count > 0)
        for (int i = 0; i < 4; i++)
            (void)fdn_series_quantile(mx->map_seconds, qs[i], &q[i]);
    else
        map.count = 0;
    fprintf(stderr,
            "wordfreq: map time per chunk over %llu chunks mapped: p50 %.3f "
            "ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
            (unsigned long long)map.count, q[0] * 1e3, q[1] * 1e3,
            q[2] * 1e3, q[3] * 1e3);
    const char *E = "fdn_process_exits_total";
    const char *OP = "fdn_registry_operations_total";
    fprintf(stderr,
            "wordfreq: runtime: processes spawned %llu, exits normal %llu, "
            "shutdown %llu, killed %llu, other %llu, messages sent %llu; "
            "registry: registrations %llu, unregistrations %llu, cleanups "
            "of dead owners %llu\n",
            (unsigned long long)wf_metrics_counter(
                tel, "fdn_processes_spawned_total", NULL),
            (unsigned long long)wf_metrics_counter(tel, E, "normal"),
            (unsigned long long)wf_metrics_counter(tel, E, "shutdown"),
            (unsigned long long)wf_metrics_counter(tel, E, "killed"),
            (unsigned long long)wf_metrics_counter(tel, E, "other"),
            (unsigned long long)wf_metrics_counter(
                tel, "fdn_messages_sent_total", NULL),
            (unsigned long long)wf_metrics_counter(tel, OP, "register"),
            (unsigned long long)wf_metrics_counter(tel, OP, "unregister"),
            (unsigned long long)wf_metrics_counter(
                tel, "fdn_registry_cleanups_total", NULL));
    fprintf(stderr,
            "wordfreq: registry entries at exit: %llu (after chaos stopped "
            "and every mapper was running: %zu mappers + coordinator + "
            "reducer; expected %u), %llu after shutdown\n",
            (unsigned long long)rep->entries_running, rep->mappers_registered,
            o->agents + 2, (unsigned long long)rep->entries_after);
}

/* The whole job with its telemetry: reads the corpus, counts it, prints
 * the result and the report.  Returns the exit code. */
static int wf_job(const wf_options_t *o, char **paths, int npaths,
                  fdn_telemetry_t *tel, const wf_metrics_t *mx)
{
    fdn_clock_t *clock = fdn_clock_monotonic();
    uint64_t t0 = fdn_clock_now(clock);
    fdn_span_t job, stage;
    wf_span_start(tel, &job, "wordfreq.job");
    wf_span_start(tel, &stage, "wordfreq.read");

    wf_corpus_t corpus;
    wf_corpus_init(&corpus, WF_CHUNK_BYTES);
    int read_failed = 0;
    for (int i = 0; i < npaths && !read_failed; i++)
        read_failed = wf_corpus_add(&corpus, paths[i]) != 0;
    fdn_counter_add(mx->files, corpus.files);
    fdn_counter_add(mx->bytes, corpus.bytes);
    fdn_counter_add(mx->skipped_unreadable, corpus.unreadable);
    fdn_counter_add(mx->skipped_binary, corpus.binary);
    fdn_counter_add(mx->skipped_not_regular, corpus.not_regular);
    fdn_gauge_set(mx->agents, o->agents);
    fdn_gauge_set(mx->chunks, (int64_t)corpus.nchunks);
    fdn_gauge_set_double(mx->stage_read,
                         wf_seconds(fdn_clock_now(clock) - t0));
    wf_span_end(&stage, !read_failed);
    if (read_failed) {
        wf_span_end(&job, false);
        wf_corpus_free(&corpus);
        return WF_EXIT_ERROR;
    }
    if (corpus.files == 0 && wf_skipped(&corpus) > 0) {
        /* Every path was skipped: there is nothing to count, which is an
         * error rather than an empty result. */
        wf_report_corpus(mx, 0);
        fprintf(stderr, "wordfreq: nothing could be read: every path was "
                        "skipped\n");
        wf_span_end(&job, false);
        wf_corpus_free(&corpus);
        return WF_EXIT_ERROR;
    }

    wf_word_t *totals = NULL;
    wf_report_t rep;
    memset(&rep, 0, sizeof rep);
    if (wf_run(o, &corpus, tel, mx, &totals, &rep) != 0) {
        wf_span_end(&job, false);
        wf_corpus_free(&corpus);
        return WF_EXIT_ERROR;
    }

    uint64_t t_out = fdn_clock_now(clock);
    wf_span_start(tel, &stage, "wordfreq.output");
    size_t n = 0;
    wf_word_t **sorted = wf_words_sorted(totals, &n);
    if (!sorted && totals) {
        fprintf(stderr, "wordfreq: out of memory sorting\n");
        wf_span_end(&stage, false);
        wf_span_end(&job, false);
        wf_words_free(&totals);
        wf_corpus_free(&corpus);
        return WF_EXIT_ERROR;
    }
    size_t shown = o->all || o->top > n ? n : (size_t)o->top;
    for (size_t i = 0; i < shown; i++)
        printf("%llu %.*s\n", (unsigned long long)sorted[i]->count,
               (int)sorted[i]->len, sorted[i]->text);
    int out_err = fflush(stdout) != 0 || ferror(stdout);
    uint64_t now = fdn_clock_now(clock);
    fdn_gauge_set_double(mx->stage_output, wf_seconds(now - t_out));
    fdn_gauge_set_double(mx->elapsed, wf_seconds(now - t0));
    wf_span_end(&stage, !out_err);

    uint64_t words = wf_words_total(totals);
    wf_report_corpus(mx, n);
    wf_report_job(o, tel, mx, &rep, corpus.bytes);

    int exit_code = wf_skipped(&corpus) ? WF_EXIT_SKIPPED : WF_EXIT_OK;
    if (rep.merged != corpus.nchunks || rep.entries_after != 0 ||
        rep.entries_running != (uint64_t)o->agents + 2) {
        fprintf(stderr, "wordfreq: internal check failed (merged %llu of "
                        "%zu chunks)\n",
                (unsigned long long)rep.merged, corpus.nchunks);
        exit_code = WF_EXIT_ERROR;
    }
    /* The metrics against what the agents answered and the result. */
    if (fdn_counter_value(mx->words) != words ||
        fdn_counter_value(mx->merged) != rep.merged ||
        fdn_counter_value(mx->duplicates) != rep.duplicates ||
        fdn_counter_value(mx->redispatched) != rep.coord.redispatched ||
        fdn_counter_value(mx->kills) != rep.chaos.kills) {
        fprintf(stderr, "wordfreq: internal check failed: the metrics "
                        "disagree with the agents (words %llu, result "
                        "%llu)\n",
                (unsigned long long)fdn_counter_value(mx->words),
                (unsigned long long)words);
        exit_code = WF_EXIT_ERROR;
    }
    if (out_err) {
        fprintf(stderr, "wordfreq: writing the output failed\n");
        exit_code = WF_EXIT_ERROR;
    }
    wf_span_end(&job, exit_code != WF_EXIT_ERROR);
    free(sorted);
    wf_words_free(&totals);
    wf_corpus_free(&corpus);
    return exit_code;
}

int main(int argc, char **argv)
{
    wf_options_t o;
    bool stop;
    int code = wf_parse(argc, argv, &o, &stop);
    if (stop)
        return code;

    if (!o.seed_given)
        o.seed = fdn_clock_now(fdn_clock_monotonic()) ^
                 ((uint64_t)getpid() << 32);
    static char *default_paths[] = {"/usr/share/common-licenses"};
    char **paths = argv + optind;
    int npaths = argc - optind;
    if (npaths == 0) {
        paths = default_paths;
        npaths = 1;
    }

    /* The hub: a few dozen series, so a small cell reservation. */
    fdn_telemetry_opts_t to;
    fdn_telemetry_opts_init(&to);
    to.max_cells = 1u << 14;
    fdn_telemetry_t *tel = NULL;
    wf_metrics_t mx;
    int rc = fdn_telemetry_create(&to, &tel);
    if (rc == FDN_OK)
        rc = wf_metrics_create(tel, &mx);
    if (rc != FDN_OK) {
        fprintf(stderr, "wordfreq: telemetry: %s\n", fdn_strerror(rc));
        fdn_telemetry_destroy(tel);
        return WF_EXIT_ERROR;
    }
    fdn_telemetry_http_t *http =
        o.metrics_port >= 0 ? wf_metrics_serve(tel, (unsigned)o.metrics_port)
                            : NULL;

    code = wf_job(&o, paths, npaths, tel, &mx);

    if (o.metrics_out != NULL)
        (void)wf_metrics_write(tel, o.metrics_out);
    fdn_telemetry_http_stop(http);
    fdn_telemetry_destroy(tel);
    return code;
}
