/*
 * foundation/registry.h — the process registry: names to pids plus metadata,
 * in isolated namespaces, cleaned up automatically when owners die.
 *
 * A registry belongs to one runtime.  It holds namespaces; a namespace maps
 * unique keys (strings of at most FDN_REGISTRY_KEY_MAX bytes) to an owner pid
 * and a small typed metadata map (fdn_meta_t, at most FDN_META_MAX fields).
 * Entries are immutable once published; lookups are lock-free (liburcu RCU
 * hash tables) and never see a half-written entry.
 *
 * Owners.  Registering needs a live owner: the registry watches each owner
 * with a callback monitor (fdn_monitor_fn) and removes every entry of a dead
 * owner, in every namespace, on the dying process's thread before any DOWN or
 * EXIT about it is sent.  So once any process has learnt that P died, no
 * lookup returns P.
 *
 * Races.  When many callers register one key at once, exactly one wins; the
 * others get FDN_EEXIST and the winner's pid.
 *
 * Memory.  An entry costs a fixed header + the metadata fields in use +
 * key (stated in specs/registry.md and returned by
 * fdn_registry_entry_bytes_meta), so memory is bounded per entry.  Removed
 * entries are freed after an RCU grace period.
 *
 * Threads.  Every function may be called from any thread, concurrently with
 * every other, except fdn_registry_destroy, which must not race with any
 * other call on the same registry.  Callers need not be processes.
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
 * Errors: FDN_EINVAL, FDN_ENOMEM. */
FDN_API int fdn_registry_create(fdn_runtime_t *rt,
                                const fdn_registry_opts_t *opts,
                                fdn_registry_t **out);
/* Removes every entry, cancels every owner monitor and frees the registry.
 * NULL does nothing. */
FDN_API void fdn_registry_destroy(fdn_registry_t *reg);

/* Gets the namespace called name, creating it if needed.  The handle stays
 * valid until fdn_registry_destroy.  Errors: FDN_EINVAL (NULL or empty),
 * FDN_ETOOBIG, FDN_ELIMIT (max_namespaces), FDN_ENOMEM. */
FDN_API int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                                   fdn_registry_ns_t **out);

/*
 * Registers key -> (pid, copy of meta) in ns.  meta may be NULL (empty).
 * Errors: FDN_EEXIST (key taken; *winner, if non-NULL, is its owner),
 * FDN_ENOPROC (pid is dead), FDN_ETOOBIG (key too long), FDN_EINVAL (NULL,
 * empty key, FDN_PID_NONE), FDN_ENOMEM.  Nothing changes on error.
 */
FDN_API int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                                  fdn_pid_t pid, const fdn_meta_t *meta,
                                  fdn_pid_t *winner);

/* Removes key if it is owned by pid.  FDN_ENOENT if absent or owned by
 * another pid (nothing changes then). */
FDN_API int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                                    fdn_pid_t pid);

/* Lock-free, O(1).  On FDN_OK *pid (and *meta if non-NULL) hold the entry's
 * values.  FDN_ENOENT if absent.  FDN_EINVAL, FDN_ETOOBIG for bad keys. */
FDN_API int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t *pid, fdn_meta_t *meta);

/* Pids of entries whose field `name` equals *value, up to cap of them, in
 * no particular order; *found is the total number of matches (may exceed
 * cap).  O(entries) in this version (secondary indexes are planned).
 * Errors: FDN_EINVAL (NULL ns, name or value, or pids NULL with cap > 0). */
FDN_API int fdn_registry_find(fdn_registry_ns_t *ns, const char *name,
                              const fdn_meta_value_t *value, fdn_pid_t *pids,
                              size_t cap, size_t *found);

/* Entries in ns (exact when quiescent). */
FDN_API uint64_t fdn_registry_count(const fdn_registry_ns_t *ns);
/* Entries in all namespaces. */
FDN_API uint64_t fdn_registry_total(const fdn_registry_t *reg);

/* Calls fn(arg, ns_name, key) for each key pid owns, in every namespace
 * (fn may be NULL to only count).  Returns the number of keys, or
 * FDN_EINVAL for a NULL reg or FDN_PID_NONE.  fn must not call back into
 * the registry for writes. */
typedef void (*fdn_registry_key_fn)(void *arg, const char *ns_name,
                                    const char *key);
FDN_API int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid,
                              fdn_registry_key_fn fn, void *arg);

/* Bytes one entry with a key of key_len bytes and nfields metadata fields
 * (the count of the fdn_meta_t it was registered with) occupies: a fixed
 * header + nfields * sizeof(fdn_meta_field_t) + key_len + 1, not counting
 * the hash table's bucket array.  Pure arithmetic; any thread. */
FDN_API size_t fdn_registry_entry_bytes_meta(size_t key_len,
                                             uint32_t nfields);
/* fdn_registry_entry_bytes_meta(key_len, 0): an entry without metadata. */
FDN_API size_t fdn_registry_entry_bytes(size_t key_len);

#ifdef __cplusplus
}
#endif
#endif /* FOUNDATION_REGISTRY_H */
