/*
 * wordfreq.h — the types and functions the parts of the wordfreq example
 * share: word tables (words.c), the corpus and its chunks (corpus.c), the
 * agents that count it (agents.c), and the job's telemetry (metrics.c).
 * Private to the example.
 */
#ifndef WORDFREQ_H
#define WORDFREQ_H

#include "foundation/registry.h"
#include "foundation/runtime.h"
#include "foundation/supervisor.h"
#include "foundation/telemetry.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* uthash reports out of memory through a flag instead of exiting. */
#define HASH_NONFATAL_OOM 1
extern _Thread_local bool wf_hash_oom;
#define uthash_nonfatal_oom(obj) (wf_hash_oom = true)
#include <uthash.h>

/* ------------------------------------------------------------------------ */
/* Word tables (words.c)                                                    */
/* ------------------------------------------------------------------------ */

/* One distinct word and how often it occurred.  text holds len lower-case
 * ASCII letters (not NUL-terminated). */
typedef struct wf_word {
    UT_hash_handle hh;
    uint64_t count;
    size_t len;
    char text[];
} wf_word_t;

/* A word table is a uthash head pointer: NULL is the empty table. */

/*
 * Counts the words of bytes[0..len) into *table (adding to what is there).
 * *scratch / *scratch_cap is a reusable lower-casing buffer, grown as needed.
 * Returns 0, or -1 on out of memory (the table then holds a partial count and
 * must be freed by the caller).
 */
int wf_words_count(wf_word_t **table, const unsigned char *bytes, size_t len,
                   char **scratch, size_t *scratch_cap);

/* Moves every entry of *from into *into, adding counts; *from ends empty.
 * Returns 0, or -1 on out of memory (entries left in *from stay there). */
int wf_words_merge(wf_word_t **into, wf_word_t **from);

/* Frees every entry; *table becomes NULL. */
void wf_words_free(wf_word_t **table);

/* Sum of counts (total words) of a table. */
uint64_t wf_words_total(wf_word_t *table);

/* An array of the table's entries sorted by count descending, then word
 * ascending in byte order; *n is its length.  The entries stay owned by the
 * table; free the array with free().  NULL on out of memory (or if empty). */
wf_word_t **wf_words_sorted(wf_word_t *table, size_t *n);

/* ------------------------------------------------------------------------ */
/* The corpus (corpus.c)                                                    */
/* ------------------------------------------------------------------------ */

/* A slice of one file's bytes whose ends fall on non-letters, so no word
 * spans two chunks.  Immutable once the job starts. */
typedef struct wf_chunk {
    const unsigned char *bytes;
    size_t len;
} wf_chunk_t;

typedef struct wf_corpus {
    unsigned char **buffers; /* one per accepted file; freed at the end */
    size_t nbuffers, cap_buffers;
    wf_chunk_t *chunks;
    size_t nchunks, cap_chunks;
    uint64_t files;          /* accepted files */
    uint64_t bytes;          /* bytes of accepted files */
    uint64_t unreadable;     /* paths skipped because they could not be read */
    uint64_t binary;         /* files skipped because they hold a NUL byte */
    uint64_t not_regular;    /* paths skipped as devices, FIFOs or sockets */
    size_t chunk_bytes;      /* target chunk size */
} wf_corpus_t;

/* Initialises an empty corpus with the given target chunk size. */
void wf_corpus_init(wf_corpus_t *c, size_t chunk_bytes);

/*
 * Adds path: a file, or a directory walked recursively (symbolic links met
 * inside a directory are not followed, as with `find -type f`).  Unreadable
 * paths, binary files and special files (a device, FIFO or socket named as
 * path; met inside a directory they are ignored, as `find -type f` does) are
 * reported on stderr and counted, not added.
 * Returns 0, or -1 on out of memory (reported).
 */
int wf_corpus_add(wf_corpus_t *c, const char *path);

/* Frees the corpus's buffers and chunk list. */
void wf_corpus_free(wf_corpus_t *c);

/* ------------------------------------------------------------------------ */
/* Telemetry (metrics.c)                                                    */
/* ------------------------------------------------------------------------ */

/*
 * The job's own metrics: series of one telemetry hub, recorded by main and
 * the agents from any thread (recording never locks nor allocates) and
 * read back for the report.  Series live as long as the hub.
 */
typedef struct wf_metrics {
    fdn_series_t *files;             /* wordfreq_files_total */
    fdn_series_t *bytes;             /* wordfreq_bytes_total */
    fdn_series_t *skipped_unreadable; /* wordfreq_skipped_total{why} */
    fdn_series_t *skipped_binary;
    fdn_series_t *skipped_not_regular;
    fdn_series_t *agents;            /* wordfreq_agents (gauge) */
    fdn_series_t *chunks;            /* wordfreq_chunks (gauge) */
    fdn_series_t *dispatched;        /* wordfreq_chunks_dispatched_total */
    fdn_series_t *redispatched;      /* wordfreq_chunks_redispatched_total */
    fdn_series_t *merged;            /* wordfreq_results_total{outcome} */
    fdn_series_t *duplicates;
    fdn_series_t *words;             /* wordfreq_words_total */
    fdn_series_t *restarts;          /* wordfreq_agent_restarts_total */
    fdn_series_t *kills;             /* wordfreq_chaos_strikes_total{result} */
    fdn_series_t *strikes_skipped;
    fdn_series_t *strikes_dropped;
    fdn_series_t *chaos_seconds;     /* wordfreq_chaos_active_seconds */
    fdn_series_t *map_seconds;       /* wordfreq_map_duration_seconds
                                      * (histogram, one per chunk mapped) */
    fdn_series_t *stage_read;        /* wordfreq_stage_seconds{stage} */
    fdn_series_t *stage_start;
    fdn_series_t *stage_count;
    fdn_series_t *stage_shutdown;
    fdn_series_t *stage_output;
    fdn_series_t *elapsed;           /* wordfreq_elapsed_seconds */
} wf_metrics_t;

/* Creates the job's metrics in t.  Returns FDN_OK or the error of the
 * metric that could not be made. */
int wf_metrics_create(fdn_telemetry_t *t, wf_metrics_t *m);

/* The value of gauge name{label=value} (value NULL: a metric without
 * labels), or 0 if there is no such metric. */
int64_t wf_metrics_gauge(fdn_telemetry_t *t, const char *name,
                         const char *value);
/* Likewise, a counter. */
uint64_t wf_metrics_counter(fdn_telemetry_t *t, const char *name,
                            const char *value);

/* Serves t's /metrics on 127.0.0.1:port (0: any free port) and says
 * where on stderr; on failure warns and returns NULL (the job goes on). */
fdn_telemetry_http_t *wf_metrics_serve(fdn_telemetry_t *t, unsigned port);

/* Writes t's Prometheus exposition to path; on failure warns and returns
 * -1 (the job's result stands). */
int wf_metrics_write(fdn_telemetry_t *t, const char *path);

/* ------------------------------------------------------------------------ */
/* Agents (agents.c)                                                        */
/* ------------------------------------------------------------------------ */

/* Message tags. */
enum {
    WF_TAG_CHUNK = 1,   /* coordinator -> mapper: wf_chunk_msg_t */
    WF_TAG_READY = 2,   /* mapper -> coordinator: wf_ready_msg_t */
    WF_TAG_RESULT = 3,  /* mapper -> reducer: wf_result_t, zero-copy */
    WF_TAG_ACK = 4,     /* reducer -> coordinator: uint32_t chunk id */
    WF_TAG_DONE = 5,    /* coordinator -> main: every chunk acknowledged */
    WF_TAG_STATS = 6,   /* CALL main -> coordinator: wf_coord_stats_t */
    WF_TAG_TAKE = 7,    /* CALL main -> reducer: wf_reduce_reply_t */
    WF_TAG_TICK = 8,    /* chaos -> itself: time to kill */
    WF_TAG_STOP = 9     /* CALL main -> chaos: reply wf_chaos_stats_t,
                           then stop */
};

/* What every agent shares; immutable while the agents run. */
typedef struct wf_shared {
    fdn_registry_ns_t *ns;       /* namespace "wordfreq" */
    const wf_corpus_t *corpus;
    const wf_metrics_t *metrics; /* the job's metrics */
    fdn_pid_t main_pid;          /* told when the job is done */
    uint32_t agents;             /* number of mappers */
} wf_shared_t;

/* A mapper's start argument: its index and the shared state. */
typedef struct wf_mapper_arg {
    const wf_shared_t *shared;
    uint32_t index;
    /* Set by the mapper's first start: a later start is a restart.
     * Exchanged relaxed: a flag that orders nothing. */
    atomic_bool started;
} wf_mapper_arg_t;

/* The chaos process's start argument. */
typedef struct wf_chaos_arg {
    const wf_shared_t *shared;
    double rate;    /* kills per second, > 0 */
    uint64_t seed;
} wf_chaos_arg_t;

/* Replies. */
typedef struct wf_coord_stats {
    uint64_t dispatched;   /* chunk messages sent to mappers */
    uint64_t redispatched; /* chunks re-queued because their mapper died */
    uint64_t acked;        /* distinct chunks acknowledged */
    uint64_t mappers_seen; /* distinct mapper pids that said ready */
} wf_coord_stats_t;

/* What the chaos process did.  Every strike due on the schedule is either
 * made (strikes = kills + skipped) or dropped. */
typedef struct wf_chaos_stats {
    uint64_t strikes;   /* strikes made */
    uint64_t kills;     /* strikes that killed a running mapper */
    uint64_t skipped;   /* strikes whose target was not running (being
                           restarted, or still dying from an earlier kill) */
    uint64_t dropped;   /* due strikes given up because the chaos process
                           fell too far behind its schedule */
    uint64_t active_ns; /* from the chaos process's start to STOP */
} wf_chaos_stats_t;

typedef struct wf_reduce_reply {
    wf_word_t *table;      /* the merged totals; the caller takes them */
    uint64_t merged;       /* chunk results counted */
    uint64_t duplicates;   /* chunk results dropped as already counted */
} wf_reduce_reply_t;

extern const fdn_behaviour_t wf_mapper_behaviour;
extern const fdn_behaviour_t wf_reducer_behaviour;     /* arg: wf_shared_t */
extern const fdn_behaviour_t wf_coordinator_behaviour; /* arg: wf_shared_t */
extern const fdn_behaviour_t wf_chaos_behaviour;       /* arg: wf_chaos_arg_t */

/* Exit reasons of the example's own. */
#define WF_REASON_NOMEM (FDN_REASON_USER + 1)
#define WF_REASON_SETUP (FDN_REASON_USER + 2)

#endif /* WORDFREQ_H */
