/*
 * foundation/registry.h — the process registry: names to pids plus metadata,
 * in isolated namespaces, cleaned up automatically when owners die.
 *
 * A registry belongs to one runtime.  It holds namespaces.  A UNIQUE
 * namespace maps keys (strings of at most FDN_REGISTRY_KEY_MAX bytes) to one
 * owner pid and a small typed metadata map (fdn_meta_t, at most FDN_META_MAX
 * fields); a DUPLICATE namespace maps a key to a group of members, each with
 * its own metadata (process groups: join, leave, members, dispatch).
 * Entries are immutable once published (an update publishes a new one in
 * its place); lookups are lock-free (RCU, and the registry's own hash
 * table of entries), O(1), and never see a half-written entry or a
 * half-applied update.
 *
 * Owners.  Registering needs a live owner: the registry watches each owner
 * with a callback monitor (fdn_monitor_fn) and removes every entry of a dead
 * owner, in every namespace, on the dying process's thread before any DOWN or
 * EXIT about it is sent.  So once any process has learnt that P died, no
 * lookup returns P.
 *
 * Races.  When many callers register one key at once, exactly one wins; the
 * others get FDN_EEXIST and the winner's pid.  A refused write leaves
 * nothing behind.
 *
 * Options per namespace (fdn_registry_ns_opts_t): a schema (required fields,
 * types, strictness) with secondary indexes for queries; limits on entries
 * and metadata bytes that reject or evict the least recently seen entry;
 * a ttl after which entries not seen (registered, updated, touched) expire.
 * Per registry: a per-owner write rate limit answering FDN_EAGAIN with a
 * retry-after.  Listeners (fdn_registry_subscribe) get every change in
 * order.  Snapshots save a namespace to a file and restore its live
 * owners' entries.
 *
 * Plain and locked namespaces.  A UNIQUE namespace without limits, ttl,
 * indexes or listeners is plain: its writers contend only per owner.  Any
 * other namespace serialises its writers on one lock (readers never take
 * it, except queries on indexed namespaces), which gives its changes one
 * order for listeners and makes limits exact.
 *
 * Memory.  An entry costs a fixed header + the namespace's per-entry extras
 * + the metadata fields in use + the key (fdn_registry_entry_bytes_ns; the
 * numbers are in specs/registry.md), rounded up to 16 bytes: entries are
 * blocks of the registry's own pool, which takes 64 KiB chunks from the
 * runtime's allocator.  A removed entry's block goes back to its chunk
 * after an RCU grace period and serves later entries; an empty chunk goes
 * back to the allocator, but for at most one kept per size in use and
 * per stripe of the pool (8), so the pool holds about what its live
 * entries occupy.  fdn_registry_destroy gives everything back.
 *
 * Threads.  Every function may be called from any thread, concurrently with
 * every other, except fdn_registry_destroy, which must not race with any
 * other call on the same registry.  Callers need not be processes.
 * Callbacks (dispatch, foreach) must not write to the registry.
 */
#ifndef FOUNDATION_REGISTRY_H
#define FOUNDATION_REGISTRY_H

#include "foundation/common.h"
#include "foundation/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FDN_REGISTRY_KEY_MAX 127 /* bytes, excluding the NUL */
#define FDN_REGISTRY_NS_MAX 63   /* namespace name bytes */
#define FDN_META_MAX 8           /* fields per metadata map */
#define FDN_META_NAME_MAX 23     /* field name bytes */
#define FDN_META_STR_MAX 47      /* string value bytes */

typedef enum fdn_meta_type {
    FDN_META_NONE = 0,
    FDN_META_INT = 1,
    FDN_META_DOUBLE = 2,
    FDN_META_BOOL = 3,
    FDN_META_STR = 4
} fdn_meta_type_t;

typedef struct fdn_meta_value {
    fdn_meta_type_t type;
    union {
        int64_t i;
        double d;
        bool b;
        char s[FDN_META_STR_MAX + 1];
    } as;
} fdn_meta_value_t;

typedef struct fdn_meta_field {
    char name[FDN_META_NAME_MAX + 1];
    fdn_meta_value_t value;
} fdn_meta_field_t;

/* A small typed map, stored by value.  Zero-initialise, then set fields. */
typedef struct fdn_meta {
    uint32_t count;
    fdn_meta_field_t fields[FDN_META_MAX];
} fdn_meta_t;

/* Sets (adds or replaces) a field.  FDN_ETOOBIG for a name or string that is
 * too long, FDN_ELIMIT when the map is full, FDN_EINVAL for NULL or an empty
 * name. */
FDN_API int fdn_meta_set_int(fdn_meta_t *m, const char *name, int64_t v);
FDN_API int fdn_meta_set_double(fdn_meta_t *m, const char *name, double v);
FDN_API int fdn_meta_set_bool(fdn_meta_t *m, const char *name, bool v);
FDN_API int fdn_meta_set_str(fdn_meta_t *m, const char *name, const char *v);
/* The field's value, or NULL if absent (borrowed from m). */
FDN_API const fdn_meta_value_t *fdn_meta_get(const fdn_meta_t *m,
                                             const char *name);
/* True if a and b have the same type and value. */
FDN_API bool fdn_meta_value_equal(const fdn_meta_value_t *a,
                                  const fdn_meta_value_t *b);

typedef struct fdn_registry fdn_registry_t;
typedef struct fdn_registry_ns fdn_registry_ns_t;

typedef struct fdn_registry_opts {
    size_t size;              /* sizeof(fdn_registry_opts_t) */
    uint32_t max_namespaces;  /* 0 = 64 */
    /*
     * Per-owner write rate limit (a token bucket per owner pid, across all
     * namespaces): each register, batch key or join costs one token; tokens
     * refill at owner_rate per second up to owner_burst.  0 = unlimited.
     * A write past the limit fails with FDN_EAGAIN and a retry-after.
     */
    uint32_t owner_rate;
    uint32_t owner_burst;     /* 0 = owner_rate (at least 1) */
    /* How often the janitor thread sweeps namespaces with a ttl:
     * 0 = 100 ms; FDN_INFINITY = never (call fdn_registry_sweep). */
    uint64_t sweep_interval_ns;
} fdn_registry_opts_t;

/* Fills opts with the defaults.  Inline, for the reason given at
 * fdn_runtime_opts_init.  NULL does nothing. */
static inline void fdn_registry_opts_init(fdn_registry_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_namespaces = 64;
}

/* Creates a registry on rt (kept: rt must outlive it).  opts may be NULL.
 * Errors: FDN_EINVAL, FDN_ENOMEM, FDN_ESYS (janitor thread). */
FDN_API int fdn_registry_create(fdn_runtime_t *rt,
                                const fdn_registry_opts_t *opts,
                                fdn_registry_t **out);
/* Removes every entry, cancels every owner and listener monitor, stops the
 * janitor and frees the registry.  Listeners are not told.  NULL does
 * nothing. */
FDN_API void fdn_registry_destroy(fdn_registry_t *reg);

/* ------------------------------------------------------------------------ */
/* Namespaces                                                               */
/* ------------------------------------------------------------------------ */

/* UNIQUE: a key has at most one entry.  DUPLICATE: a key names a group;
 * each pid is a member of a group at most once. */
typedef enum fdn_registry_kind {
    FDN_REGISTRY_UNIQUE = 0,
    FDN_REGISTRY_DUPLICATE = 1
} fdn_registry_kind_t;

/* What a full namespace (max_entries or max_meta_bytes) does with a new
 * entry: refuse it with FDN_ELIMIT, or evict the least recently seen
 * entries (registered or touched longest ago) until it fits. */
typedef enum fdn_registry_on_full {
    FDN_REGISTRY_REJECT = 0,
    FDN_REGISTRY_EVICT_LRU = 1
} fdn_registry_on_full_t;

#define FDN_REGISTRY_INDEX_MAX 4 /* indexed fields per namespace */

/* One declared metadata field of a namespace's schema. */
typedef struct fdn_registry_field {
    char name[FDN_META_NAME_MAX + 1];
    fdn_meta_type_t type;  /* values must have this type */
    bool required;         /* every entry must carry it */
    bool indexed;          /* kept in a secondary index for queries */
} fdn_registry_field_t;

typedef struct fdn_registry_ns_opts {
    size_t size;                     /* sizeof(fdn_registry_ns_opts_t) */
    fdn_registry_kind_t kind;
    uint64_t max_entries;            /* 0 = unlimited */
    /* Limit on the metadata all entries hold, counted as
     * sizeof(fdn_meta_field_t) per field stored.  0 = unlimited. */
    uint64_t max_meta_bytes;
    fdn_registry_on_full_t on_full;
    /* Entries not registered, updated or touched for ttl_ns are expired:
     * every read stops returning them at once, and a sweep or the
     * namespace's next write removes them (reason EXPIRED).  0 = never. */
    uint64_t ttl_ns;
    /* Schema: nfields declared fields.  With nfields == 0 and !strict any
     * metadata is accepted and nothing is indexed (strict with no fields
     * accepts entries without metadata only). */
    uint32_t nfields;
    fdn_registry_field_t fields[FDN_META_MAX];
    bool strict;                     /* refuse fields not declared */
} fdn_registry_ns_opts_t;

static inline void fdn_registry_ns_opts_init(fdn_registry_ns_opts_t *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
}

/* Declares a schema field in opts (copying name).  FDN_EINVAL (NULL,
 * empty name, type NONE or unknown, duplicate name), FDN_ETOOBIG (name),
 * FDN_ELIMIT (FDN_META_MAX fields, or FDN_REGISTRY_INDEX_MAX indexed). */
FDN_API int fdn_registry_ns_opts_field(fdn_registry_ns_opts_t *opts,
                                       const char *name, fdn_meta_type_t type,
                                       bool required, bool indexed);

/* Gets the namespace called name, whatever its options, creating it
 * (UNIQUE, no limits, no schema) if there is none.  To insist on options,
 * use fdn_registry_namespace_opts.  The handle stays valid until
 * fdn_registry_destroy.
 * Errors: FDN_EINVAL (NULL or empty), FDN_ETOOBIG, FDN_ELIMIT
 * (max_namespaces), FDN_ENOMEM. */
FDN_API int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                                   fdn_registry_ns_t **out);
/* The same with options.  If the namespace exists, its options must equal
 * opts, else FDN_EEXIST; opts NULL means fdn_registry_namespace (any
 * options).  Also FDN_EINVAL for bad opts (unknown kind or
 * on_full, a bad schema field, EVICT_LRU without a limit). */
FDN_API int fdn_registry_namespace_opts(fdn_registry_t *reg, const char *name,
                                        const fdn_registry_ns_opts_t *opts,
                                        fdn_registry_ns_t **out);
/* The namespace called name, or NULL if there is none; never creates one
 * (unlike fdn_registry_namespace).  Lock-free; NULL for a NULL argument. */
FDN_API fdn_registry_ns_t *fdn_registry_namespace_find(const fdn_registry_t *reg,
                                                       const char *name);
FDN_API fdn_registry_kind_t fdn_registry_ns_kind(const fdn_registry_ns_t *ns);
FDN_API const char *fdn_registry_ns_name(const fdn_registry_ns_t *ns);

/* ------------------------------------------------------------------------ */
/* Unique keys                                                              */
/* ------------------------------------------------------------------------ */

/* What a refused write tells the caller. */
typedef struct fdn_registry_reply {
    fdn_pid_t winner;         /* FDN_EEXIST: the key's owner */
    uint64_t retry_after_ns;  /* FDN_EAGAIN: wait this long, then retry */
    size_t failed;            /* batch calls: index of the refused key */
} fdn_registry_reply_t;

/*
 * Registers key -> (pid, copy of meta) in a UNIQUE ns.  meta may be NULL
 * (empty).  Errors: FDN_EEXIST (key taken; *winner, if non-NULL, is its
 * owner), FDN_ENOPROC (pid is dead), FDN_ETOOBIG (key too long),
 * FDN_EINVAL (NULL, empty key, FDN_PID_NONE), FDN_ENOTSUP (a DUPLICATE
 * ns), FDN_ESCHEMA (meta breaks the schema), FDN_ELIMIT (the namespace is
 * full and rejects), FDN_EAGAIN (owner rate limit), FDN_ENOMEM.  Nothing
 * changes on error, and a refused call leaves no owner record behind.
 */
FDN_API int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                                  fdn_pid_t pid, const fdn_meta_t *meta,
                                  fdn_pid_t *winner);
/* fdn_registry_register with the full answer in *reply (may be NULL). */
FDN_API int fdn_registry_register_ex(fdn_registry_ns_t *ns, const char *key,
                                     fdn_pid_t pid, const fdn_meta_t *meta,
                                     fdn_registry_reply_t *reply);
/*
 * Registers n keys for pid, all or nothing: on error none of them remain
 * and reply->failed is the index of the key refused.  metas is NULL (no
 * metadata) or n maps.  Errors as fdn_registry_register_ex (FDN_EEXIST also
 * for a key given twice); FDN_EINVAL for n == 0.
 */
FDN_API int fdn_registry_register_batch(fdn_registry_ns_t *ns,
                                        const char *const *keys,
                                        const fdn_meta_t *metas, size_t n,
                                        fdn_pid_t pid,
                                        fdn_registry_reply_t *reply);

/* Removes key if it is owned by pid (UNIQUE) or pid's membership of group
 * key (DUPLICATE; same as fdn_registry_leave).  FDN_ENOENT if absent or
 * owned by another pid (nothing changes then). */
FDN_API int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                                    fdn_pid_t pid);

/* Lock-free, O(1), UNIQUE namespaces.  On FDN_OK *pid (and *meta if
 * non-NULL) hold the entry's values.  FDN_ENOENT if absent or expired.
 * FDN_EINVAL, FDN_ETOOBIG for bad keys; FDN_ENOTSUP on a DUPLICATE ns. */
FDN_API int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t *pid, fdn_meta_t *meta);

/* Lock-free, O(1), both kinds: pid's entry under key.  *meta (if non-NULL)
 * gets its metadata, *last_seen_ns (if non-NULL) its last-seen time on the
 * runtime's clock: fdn_clock_now at the write in a namespace with a ttl
 * or EVICT_LRU; elsewhere, on the real clock, the coarse clock (the last
 * kernel tick: never later than fdn_clock_now, usually a few ms behind,
 * unbounded by the kernel; REG-S15).  FDN_ENOENT if absent or expired. */
FDN_API int fdn_registry_get(fdn_registry_ns_t *ns, const char *key,
                             fdn_pid_t pid, fdn_meta_t *meta,
                             uint64_t *last_seen_ns);

/* ------------------------------------------------------------------------ */
/* Groups (DUPLICATE namespaces)                                            */
/* ------------------------------------------------------------------------ */

/* Adds pid to group key with its own metadata.  Errors as
 * fdn_registry_register_ex (FDN_EEXIST: pid is already a member),
 * FDN_ENOTSUP on a UNIQUE ns. */
FDN_API int fdn_registry_join(fdn_registry_ns_t *ns, const char *key,
                              fdn_pid_t pid, const fdn_meta_t *meta,
                              fdn_registry_reply_t *reply);
/* Removes pid from group key: O(1), no scan of the group.  FDN_ENOENT if
 * pid is not a member. */
FDN_API int fdn_registry_leave(fdn_registry_ns_t *ns, const char *key,
                               fdn_pid_t pid);
/* Lock-free: the pids under key (members of a group, or the one owner of
 * a unique key), up to cap of them, in no particular order; *found is the
 * total (may exceed cap).  Errors: FDN_EINVAL, FDN_ETOOBIG. */
FDN_API int fdn_registry_members(fdn_registry_ns_t *ns, const char *key,
                                 fdn_pid_t *pids, size_t cap, size_t *found);

/* Called for each entry under a key.  fields[0..nfields) are the entry's
 * metadata, valid only during the call. */
typedef void (*fdn_registry_entry_fn)(void *arg, const char *key,
                                      fdn_pid_t pid,
                                      const fdn_meta_field_t *fields,
                                      uint32_t nfields);
/* Lock-free: calls fn for each entry under key (both kinds) and returns
 * how many, or FDN_EINVAL / FDN_ETOOBIG.  fn runs inside an RCU read-side
 * critical section: it may send messages and read the registry, but must
 * not write to it, block, or call fdn_registry_destroy. */
FDN_API int fdn_registry_dispatch(fdn_registry_ns_t *ns, const char *key,
                                  fdn_registry_entry_fn fn, void *arg);

/* Calls fn for every entry of ns (both kinds), in no particular order, and
 * returns how many (lock-free: concurrent writes may or may not be seen).
 * fn as for fdn_registry_dispatch. */
FDN_API int64_t fdn_registry_foreach(fdn_registry_ns_t *ns,
                                     fdn_registry_entry_fn fn, void *arg);

/* ------------------------------------------------------------------------ */
/* Updates and heartbeats                                                   */
/* ------------------------------------------------------------------------ */

typedef enum fdn_registry_update_mode {
    FDN_REGISTRY_REPLACE = 0, /* the entry's metadata becomes meta */
    FDN_REGISTRY_MERGE = 1    /* meta's fields are set; a field of type
                               * FDN_META_NONE removes that field */
} fdn_registry_update_mode_t;

/*
 * Atomically changes the metadata of pid's entry under key: a lookup sees
 * the old map or the new one, never a mix.  Counts as seeing the entry
 * (last-seen = now).  Errors: FDN_ENOENT (no such entry), FDN_ESCHEMA,
 * FDN_ELIMIT (merge past FDN_META_MAX fields, or max_meta_bytes when the
 * namespace rejects), FDN_EINVAL, FDN_ENOMEM.  Nothing changes on error.
 */
FDN_API int fdn_registry_update(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t pid, const fdn_meta_t *meta,
                                fdn_registry_update_mode_t mode);

/* Heartbeat: sets the last-seen time of pid's entry under key to now, so
 * ttl expiry and EVICT_LRU spare it.  FDN_ENOENT if absent or expired. */
FDN_API int fdn_registry_touch(fdn_registry_ns_t *ns, const char *key,
                               fdn_pid_t pid);

/* Removes every expired entry of ns now (reason EXPIRED) and returns how
 * many; O(expired).  The janitor calls it periodically.  0 without a ttl. */
FDN_API int64_t fdn_registry_sweep(fdn_registry_ns_t *ns);

/* ------------------------------------------------------------------------ */
/* Listeners                                                                */
/* ------------------------------------------------------------------------ */

typedef enum fdn_registry_event_kind {
    FDN_REGISTRY_REGISTERED = 1,   /* a key registered or a member joined */
    FDN_REGISTRY_UNREGISTERED = 2, /* an entry left: see reason */
    FDN_REGISTRY_UPDATED = 3       /* an entry's metadata changed */
} fdn_registry_event_kind_t;

typedef enum fdn_registry_reason {
    FDN_REGISTRY_NONE = 0,      /* REGISTERED and UPDATED events */
    FDN_REGISTRY_EXPLICIT = 1,  /* unregister or leave */
    FDN_REGISTRY_DOWN = 2,      /* the owner died */
    FDN_REGISTRY_EVICTED = 3,   /* made room in a full namespace */
    FDN_REGISTRY_EXPIRED = 4    /* not seen for ttl_ns */
} fdn_registry_reason_t;

/*
 * The payload of a listener message (kind FDN_MSG_USER, the tag given to
 * fdn_registry_subscribe, from = FDN_PID_NONE).  Only the fields in use are
 * sent: the message's size is
 * offsetof(fdn_registry_event_t, fields) + nfields * sizeof(fields[0]).
 * seq counts the namespace's events from 1 without gaps, in the order the
 * changes happened; every listener sees the same sequence.
 */
typedef struct fdn_registry_event {
    uint64_t seq;
    fdn_registry_event_kind_t kind;
    fdn_registry_reason_t reason;
    fdn_pid_t pid;                      /* the entry's owner */
    char ns[FDN_REGISTRY_NS_MAX + 1];
    char key[FDN_REGISTRY_KEY_MAX + 1];
    uint32_t nfields;                   /* the entry's metadata (new, for
                                         * UPDATED) */
    fdn_meta_field_t fields[FDN_META_MAX];
} fdn_registry_event_t;

/*
 * Subscribes the live process listener to every change in ns from now on.
 * Events are delivered in order as messages with tag, and are never
 * refused by a bounded mailbox (a listener must keep up, like any
 * monitor's watcher).  The subscription ends when the listener dies.
 * Errors: FDN_ENOPROC, FDN_EEXIST (already subscribed), FDN_EINVAL,
 * FDN_ENOMEM.
 */
FDN_API int fdn_registry_subscribe(fdn_registry_ns_t *ns, fdn_pid_t listener,
                                   uint32_t tag);
/* Ends a subscription: no event is sent to it after this returns.
 * FDN_ENOENT if not subscribed. */
FDN_API int fdn_registry_unsubscribe(fdn_registry_ns_t *ns,
                                     fdn_pid_t listener);

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum fdn_rq_op {
    FDN_RQ_ALL = 0,    /* every entry */
    FDN_RQ_EQ = 1,     /* field == value */
    FDN_RQ_LT = 2,     /* field < value */
    FDN_RQ_LE = 3,     /* field <= value */
    FDN_RQ_GT = 4,     /* field > value */
    FDN_RQ_GE = 5,     /* field >= value */
    FDN_RQ_RANGE = 6,  /* value <= field <= high */
    FDN_RQ_IN = 7,     /* field equals one of set[0..nset) */
    FDN_RQ_EXISTS = 8, /* the entry has the field */
    FDN_RQ_AND = 9,    /* terms a and b */
    FDN_RQ_OR = 10     /* term a or term b */
} fdn_rq_op_t;

/*
 * One term of a query.  A query is an array of terms whose last term is
 * the root; AND and OR name earlier terms by index (a, b < own index).
 * Comparisons hold only between values of the same type: ints and doubles
 * numerically, bools false < true, strings bytewise (strcmp).
 */
typedef struct fdn_rq {
    fdn_rq_op_t op;
    const char *field;             /* comparisons, IN, EXISTS */
    fdn_meta_value_t value;        /* EQ, LT, LE, GT, GE, RANGE (low) */
    fdn_meta_value_t high;         /* RANGE */
    const fdn_meta_value_t *set;   /* IN */
    uint32_t nset;
    uint32_t a, b;                 /* AND, OR */
} fdn_rq_t;

/* One result: an entry's key and owner. */
typedef struct fdn_registry_match {
    char key[FDN_REGISTRY_KEY_MAX + 1];
    fdn_pid_t pid;
} fdn_registry_match_t;

#define FDN_RQ_MAX 64 /* terms per query */

/*
 * Runs query q[0..nq) on ns.  Results are ordered by (key bytewise, pid);
 * a page holds up to cap matches after *after (NULL: from the start; pass
 * the last match of the previous page to get the next).  *n is the number
 * written, *more (if non-NULL) whether matches remain past this page.
 * Terms on indexed fields are answered from the index, so a query whose
 * AND-terms include an indexed one costs O(candidates of the most selective
 * indexed term), not O(entries); others scan the namespace.  A query sees
 * one consistent state of an indexed namespace.
 * Errors: FDN_EINVAL (bad terms: unknown op, NULL field, IN with nset > 0
 * and a NULL set, a or b not earlier; nq == 0 or > FDN_RQ_MAX; NULL ns, q
 * or n; out NULL with cap > 0), FDN_ENOMEM.  Nothing is written on error.
 */
FDN_API int fdn_registry_query(fdn_registry_ns_t *ns, const fdn_rq_t *q,
                               size_t nq, const fdn_registry_match_t *after,
                               fdn_registry_match_t *out, size_t cap,
                               size_t *n, bool *more);

/* Pids of entries whose field `name` equals *value, up to cap of them, in
 * no particular order; *found is the total number of matches (may exceed
 * cap).  Uses the field's index if it has one.
 * Errors: FDN_EINVAL (NULL ns, name or value, or pids NULL with cap > 0). */
FDN_API int fdn_registry_find(fdn_registry_ns_t *ns, const char *name,
                              const fdn_meta_value_t *value, fdn_pid_t *pids,
                              size_t cap, size_t *found);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/* Writes every entry of ns (key, pid, metadata) to path atomically (a
 * temporary file in path's directory, fsync, rename): a crash leaves the
 * old file or the new one.  The temporary file's name does not depend on
 * path's, so any basename the directory allows works.  *written (if
 * non-NULL) is the number of entries.  Errors: FDN_ESYS (errno set),
 * FDN_EINVAL, FDN_ENOMEM. */
FDN_API int fdn_registry_snapshot(fdn_registry_ns_t *ns, const char *path,
                                  uint64_t *written);
/* Re-registers (or re-joins) the entries of a snapshot file in ns, only
 * those whose owner is alive; an entry the registry refuses (key taken,
 * owner dead, limit, schema, rate limit, memory) is skipped and the
 * restore goes on.  The whole file is checked (format, version, checksum,
 * kind, namespace name) before anything changes: FDN_EINVAL for a corrupt
 * or foreign file or one that is not a regular file (a FIFO or a device,
 * refused at once and unread), FDN_ESYS for I/O (errno set; a missing
 * path or a directory), FDN_ENOMEM if the file cannot be held in memory.
 * *restored and *skipped (each may be NULL) count the entries; they add
 * up to the file's count.  Pids are those of this runtime: restore into
 * the runtime whose processes were saved. */
FDN_API int fdn_registry_restore(fdn_registry_ns_t *ns, const char *path,
                                 uint64_t *restored, uint64_t *skipped);

/* ------------------------------------------------------------------------ */
/* Counts and memory                                                        */
/* ------------------------------------------------------------------------ */

/* Entries in ns (exact when quiescent). */
FDN_API uint64_t fdn_registry_count(const fdn_registry_ns_t *ns);
/* Entries in all namespaces. */
FDN_API uint64_t fdn_registry_total(const fdn_registry_t *reg);
/* Metadata bytes held by ns's entries, as max_meta_bytes counts them. */
FDN_API uint64_t fdn_registry_meta_bytes(const fdn_registry_ns_t *ns);
/* Owner records (pids holding entries, with one monitor each). */
FDN_API uint64_t fdn_registry_owner_count(const fdn_registry_t *reg);

/*
 * What the registry has done since its creation, over all namespaces.
 * Changes only: lookups and other reads are not counted, and neither are
 * refused writes (nothing changed) nor the removals of
 * fdn_registry_destroy.  Every removal has one reason, so when quiescent
 *   entries = registrations + joins - unregistrations - leaves - cleanups
 *             - evictions - expirations.
 * The counts come from the namespaces' per-thread count stripes, which
 * the writes update anyway (a register or unregister pays no extra
 * atomic for them): exact when quiescent; while writers run each total
 * may lag or lead by the writes in flight, and none ever goes down
 * between two calls from one thread.
 */
typedef struct fdn_registry_stats {
    uint64_t registrations;   /* UNIQUE keys registered (register, _ex,
                               * each key of a batch, restores) */
    uint64_t unregistrations; /* UNIQUE entries unregistered */
    uint64_t joins;           /* DUPLICATE memberships added */
    uint64_t leaves;          /* memberships left (leave, or unregister on
                               * a DUPLICATE namespace) */
    uint64_t updates;         /* metadata updates */
    uint64_t touches;         /* heartbeats (fdn_registry_touch) */
    uint64_t cleanups;        /* entries removed because their owner died */
    uint64_t evictions;       /* entries evicted by full EVICT_LRU
                               * namespaces */
    uint64_t expirations;     /* entries removed after their ttl */
    uint64_t entries;         /* entries now (fdn_registry_total) */
    uint64_t owners;          /* owner records now
                               * (fdn_registry_owner_count) */
    uint32_t namespaces;      /* namespaces created */
} fdn_registry_stats_t;
/* Fills *out (NULL does nothing; a NULL reg zeroes it).  Any thread;
 * O(namespaces), reads no entry and takes no lock. */
FDN_API void fdn_registry_stats(const fdn_registry_t *reg,
                                fdn_registry_stats_t *out);

/* Calls fn(arg, ns_name, key) for each key pid owns, in every namespace
 * (fn may be NULL to only count).  Returns the number of keys, or
 * FDN_EINVAL for a NULL reg or FDN_PID_NONE.  fn must not call back into
 * the registry for writes. */
typedef void (*fdn_registry_key_fn)(void *arg, const char *ns_name,
                                    const char *key);
FDN_API int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid,
                              fdn_registry_key_fn fn, void *arg);

/* Bytes one entry of ns with a key of key_len bytes and nfields metadata
 * fields occupies: a fixed header, the namespace's per-entry extras (group
 * and index links), nfields * sizeof(fdn_meta_field_t) and key_len + 1; not
 * counting the hash table's buckets.  ns NULL: a plain UNIQUE namespace. */
FDN_API size_t fdn_registry_entry_bytes_ns(const fdn_registry_ns_t *ns,
                                           size_t key_len, uint32_t nfields);
/* fdn_registry_entry_bytes_ns(NULL, key_len, nfields). */
FDN_API size_t fdn_registry_entry_bytes_meta(size_t key_len,
                                             uint32_t nfields);
/* fdn_registry_entry_bytes_meta(key_len, 0): an entry without metadata. */
FDN_API size_t fdn_registry_entry_bytes(size_t key_len);

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_REGISTRY_H */
