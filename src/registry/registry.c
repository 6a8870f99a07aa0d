/*
 * registry/registry.c — the process registry: namespaces of unique keys
 * mapping to (owner pid, metadata), lock-free lookups, and removal of every
 * entry of an owner when it dies.
 *
 * Design.
 *
 * Tables.  Each namespace is one liburcu lock-free hash table (cds_lfht,
 * flavour urcu-memb) keyed by the key string.  A second table, shared by the
 * registry, maps an owner pid to its owner record.
 *
 * Table sizing.  The tables are created without liburcu's CDS_LFHT_AUTO_RESIZE
 * and sized by us (table_fit).  liburcu 0.13's lazy resize is unreliable: its
 * launcher stores resize_initiated = 1 only after queueing the resize work, so
 * when the worker finishes first the flag stays 1 and no lazy resize is ever
 * launched again; chains then grow without bound (we measured 100k inserts
 * taking 22 s and 3k lookups/s).  Even when it works, with accounting it grows
 * only when the item count crosses a power of two and exceeds 8x the bucket
 * count, so a table of 1M keys runs at 7-8 keys per bucket.  Instead, each
 * table keeps its bucket count beside our own item count; after a register or
 * unregister, outside any read-side critical section, a thread grows the table
 * to the smallest power of two holding every item once count exceeds the
 * buckets (load factor kept in [0.5, 1]) and shrinks it to twice the count
 * once count falls below an eighth of the buckets, never below 64 buckets.
 * cds_lfht_resize runs in the calling thread; only one thread resizes a table
 * at a time (trylock), the others keep going and the table stays usable while
 * it changes.  Growing is amortised O(1) per insert; shrinking waits for a
 * grace period in the calling thread.
 *
 * Entries are immutable once published: every field is written before
 * cds_lfht_add_unique publishes the node (the add has release semantics and
 * lookups dereference with the matching consume/acquire inside liburcu), so
 * a reader sees either no entry or one whole registration (REG-S3).  An entry
 * is removed with cds_lfht_del and freed by call_rcu after a grace period, so
 * a reader that found it may keep reading it until its read-side critical
 * section ends (REG-L2).
 *
 * Owner records.  A record {mutex, dead flag, list of the owner's entries in
 * every namespace, callback-monitor ref} exists for each pid that registered
 * at least once and has not died.  The record's mutex guards its list and its
 * dead flag, and every insertion or removal of one of the owner's entries in
 * a namespace table happens with that mutex held.  The monitor callback
 * (owner_down, run by the runtime on the dying thread before any DOWN or EXIT
 * is sent) takes the mutex, sets dead, deletes every listed entry and the
 * record itself.  A register takes the mutex, and inserts only if dead is
 * still false.  Hence either the insert comes first and the callback deletes
 * the entry, or the callback comes first and the register sees dead and
 * returns FDN_ENOPROC: no entry outlives its owner (REG-S4, REG-S5, REG-L1).
 *
 * Creating a record.  The callback monitor is established (fdn_monitor_fn)
 * before the record is published and without any registry lock held, so the
 * runtime is never called while we hold a lock that its callback needs (the
 * runtime may hold its own locks while it runs callbacks).  Then, under the
 * new record's mutex, the record is published with cds_lfht_add_unique.  If
 * the owner died in between, the callback has already marked the unpublished
 * record dead and the register returns FDN_ENOPROC.  If another thread
 * published a record for the same pid first, ours is cancelled
 * (fdn_monitor_fn_cancel waits for a running callback) and theirs is used.
 * A record is kept while its owner lives, even with no entries, so its
 * monitor is established once per owner.
 *
 * Linearization points: register — the successful cds_lfht_add_unique of the
 * entry (or, on FDN_EEXIST, the lookup inside it that returned the winner);
 * unregister and owner death — the successful cds_lfht_del; lookup — the
 * cds_lfht_lookup.
 *
 * Progress: lookup, find and count are lock-free (wait-free apart from the
 * hash table's own retries).  Register, unregister and owner death take one
 * owner record's mutex for a few non-blocking steps, so they contend only on
 * the same owner.
 *
 * Memory: an entry is one allocation holding a 64-byte header, only the
 * metadata fields in use (meta.count of them, 80 bytes each) and the key, so
 * an entry without metadata costs 64 + key + 1 bytes (REG-I4); lookups copy
 * the fields back into the caller's fdn_meta_t.  Entries and records come
 * from the runtime's allocator and are freed after a grace period with
 * call_rcu.  liburcu's own table memory
 * (buckets) does not go through the allocator.
 *
 * Every RCU operation goes through the wrappers in internal/rcu.h, which in
 * TSan builds tell TSan about the orderings liburcu provides in
 * uninstrumented code: nodes are released with fdn__rcu_publish before they
 * are inserted and acquired with fdn__rcu_subscribe before their fields are
 * read, and every RCU callback begins and ends with the callback
 * annotations.
 *
 * Every path that touches RCU data first calls fdn__rcu_thread_enter(), so
 * any thread may call the registry.
 */
#include "foundation/registry.h"

#include "internal/common.h"
#include "internal/rcu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <urcu/list.h>
#include <urcu/rculfhash.h>

/*
 * Walks every node of a table.  liburcu's cds_lfht_for_each_entry applies
 * container_of to the NULL that ends the walk, which UBSan rightly reports
 * ("applying zero offset to null pointer"); this converts only real nodes.
 */
#define REG_FOR_EACH(ht, iter, pos, member)                                  \
    for (cds_lfht_first((ht), (iter));                                       \
         cds_lfht_iter_get_node(iter) != NULL &&                             \
         ((pos) = caa_container_of(cds_lfht_iter_get_node(iter),            \
                                   __typeof__(*(pos)), member),              \
          1);                                                                \
         cds_lfht_next((ht), (iter)))

/* Initial and minimum bucket count of each table (a power of two). */
#define REG_TABLE_MIN_BUCKETS 64UL
/* A table shrinks once it has more than this many buckets per item. */
#define REG_TABLE_SHRINK_RATIO 8U
#define REG_DEFAULT_MAX_NAMESPACES 64U

struct owner_rec;

/*
 * One liburcu hash table and its size, which only table_fit changes.
 */
struct reg_table {
    struct cds_lfht *ht;     /* immutable pointer */
    /*
     * The table's bucket count.  Written only with resize_mutex held, after
     * cds_lfht_resize returned; read relaxed without the mutex as a hint
     * (a stale value only delays or repeats a fit, which re-reads it under
     * the mutex), so it orders nothing.
     */
    _Atomic unsigned long buckets;
    pthread_mutex_t resize_mutex; /* one resizer at a time (trylock) */
};

/*
 * One registration, allocated as one block of
 * fdn_registry_entry_bytes_meta(key_len, meta_count) bytes: this header,
 * then fields[meta_count], then the key and its NUL (entry_key).  Immutable
 * once published except u.owner_link.
 */
struct reg_entry {
    struct cds_lfht_node node; /* in ns->table */
    /*
     * owner_link (guarded by owner->mutex) links the entry into its owner
     * record's list while it is in the table; rcu is used only after the
     * entry has been deleted and unlinked, for the deferred free, so the two
     * share storage (16 bytes less per entry).
     */
    union {
        struct cds_list_head owner_link;
        struct rcu_head rcu;
    } u;
    struct owner_rec *owner;   /* immutable; outlives the entry */
    fdn_registry_ns_t *ns;     /* immutable */
    fdn_pid_t pid;             /* immutable */
    uint32_t key_len;          /* immutable; at most FDN_REGISTRY_KEY_MAX */
    uint32_t meta_count;       /* immutable; at most FDN_META_MAX */
    fdn_meta_field_t fields[]; /* immutable copies of the fields in use */
};

/* The entry's key: NUL-terminated, right after its metadata fields. */
static const char *entry_key(const struct reg_entry *e)
{
    return (const char *)(e->fields + e->meta_count);
}

/* The value of e's metadata field called name, or NULL (as fdn_meta_get
 * does for a whole map). */
static const fdn_meta_value_t *entry_meta_get(const struct reg_entry *e,
                                              const char *name)
{
    for (uint32_t i = 0; i < e->meta_count; i++) {
        if (strncmp(e->fields[i].name, name, FDN_META_NAME_MAX + 1) == 0)
            return &e->fields[i].value;
    }
    return NULL;
}

/* One owner pid's bookkeeping.  See the file comment for the protocol. */
struct owner_rec {
    struct cds_lfht_node node;  /* in reg->owners.ht, once published */
    struct rcu_head rcu;
    fdn_registry_t *reg;        /* immutable */
    fdn_pid_t pid;              /* immutable */
    fdn_ref_t ref;              /* immutable after fdn_monitor_fn */
    pthread_mutex_t mutex;
    bool is_dead;               /* guarded by mutex */
    bool is_published;          /* guarded by mutex */
    struct cds_list_head entries; /* guarded by mutex */
};

struct fdn_registry_ns {
    fdn_registry_t *reg;          /* immutable */
    struct reg_table table;
    /*
     * Entries in the table.  Relaxed: it is a statistic, not used to order
     * anything.  Each increment and decrement happens under the owning
     * record's mutex, after the insert / delete it counts, so per owner the
     * increment precedes the decrement in the counter's modification order
     * and the sum never goes below zero.  "Exact when quiescent" relies on
     * the caller's own synchronisation (joins) to order the reads.
     */
    _Atomic uint64_t count;
    char name[FDN_REGISTRY_NS_MAX + 1]; /* immutable */
};

struct fdn_registry {
    fdn_runtime_t *rt;               /* immutable */
    const fdn_allocator_t *alloc;    /* immutable */
    struct reg_table owners;
    /*
     * Published owner records.  Relaxed: like fdn_registry_ns.count it is a
     * statistic, changed under the record's mutex right after the insert or
     * delete it counts, and only used to size the owner table.
     */
    _Atomic uint64_t owner_count;
    uint32_t max_namespaces;         /* immutable */
    pthread_mutex_t ns_mutex;        /* serialises namespace creation */
    /*
     * Published namespaces: slots [0, ns_count) are set.  A creator writes
     * the slot, then stores ns_count with release; readers load ns_count
     * with acquire (fdn_registry_total, registry_namespace_find) and then
     * read the slots, which never change afterwards.
     */
    _Atomic uint32_t ns_count;
    fdn_registry_ns_t **namespaces;  /* max_namespaces slots */
    uint64_t names_id;               /* immutable: our runtime name source */
};

/* ------------------------------------------------------------------------ */
/* Hashing and matching                                                     */
/* ------------------------------------------------------------------------ */

/* A 64-bit finaliser (xor-shift-multiply) that spreads every input bit over
 * the whole word; lfht uses the low bits for buckets, the high for order. */
static uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* One step of hash_key: folds the 8-byte word w into h.  The multiply on w
 * does not depend on h, so consecutive words overlap in the pipeline. */
static uint64_t hash_step(uint64_t h, uint64_t w)
{
    h ^= w * UINT64_C(0x9e3779b97f4a7c15);
    h = (h << 29) | (h >> 35);
    return h * UINT64_C(0xbf58476d1ce4e5b9);
}

/* Hashes the key 8 bytes at a time (the last word zero-padded), seeded with
 * its length, then applies the finaliser so every bit reaches the low bits
 * lfht uses for buckets.  Lookups call it once per key. */
static unsigned long hash_key(const char *key, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ (uint64_t)len;
    uint64_t w;
    while (len >= sizeof w) {
        memcpy(&w, key, sizeof w);
        h = hash_step(h, w);
        key += sizeof w;
        len -= sizeof w;
    }
    if (len != 0) {
        /* Byte by byte: a variable-length memcpy would be a libc call,
         * slower than hashing a short key. */
        w = 0;
        for (size_t i = 0; i < len; i++)
            w |= (uint64_t)(unsigned char)key[i] << (8 * i);
        h = hash_step(h, w);
    }
    return (unsigned long)hash_mix64(h);
}

static unsigned long hash_pid(fdn_pid_t pid)
{
    return (unsigned long)hash_mix64(pid);
}

struct key_ref {
    const char *key;
    size_t len;
};

/* Match functions run inside liburcu's lookups on nodes it found in the
 * table, so they subscribe to the node before reading it. */
static int match_entry(struct cds_lfht_node *node, const void *arg)
{
    fdn__rcu_subscribe(node);
    const struct reg_entry *e = caa_container_of(node, struct reg_entry, node);
    const struct key_ref *k = arg;
    return e->key_len == k->len && memcmp(entry_key(e), k->key, k->len) == 0;
}

static int match_owner(struct cds_lfht_node *node, const void *arg)
{
    fdn__rcu_subscribe(node);
    const struct owner_rec *r = caa_container_of(node, struct owner_rec, node);
    return r->pid == *(const fdn_pid_t *)arg;
}

/* Checks a key: FDN_OK and its length, or FDN_EINVAL / FDN_ETOOBIG. */
static int check_key(const char *key, size_t *len)
{
    if (key == NULL || key[0] == '\0')
        return FDN_EINVAL;
    size_t n = strnlen(key, FDN_REGISTRY_KEY_MAX + 1);
    if (n > FDN_REGISTRY_KEY_MAX)
        return FDN_ETOOBIG;
    *len = n;
    return FDN_OK;
}

/* ------------------------------------------------------------------------ */
/* Deferred frees                                                           */
/* ------------------------------------------------------------------------ */

/* RCU callbacks, run on liburcu's call_rcu thread after a grace period. */
static void entry_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct reg_entry *e = caa_container_of(head, struct reg_entry, u.rcu);
    fdn__free(e->ns->reg->alloc, e);
    fdn__rcu_callback_end();
}

static void owner_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct owner_rec *r = caa_container_of(head, struct owner_rec, rcu);
    pthread_mutex_destroy(&r->mutex);
    fdn__free(r->reg->alloc, r);
    fdn__rcu_callback_end();
}

/*
 * Removes e from its namespace table and its owner's list and schedules its
 * free.  Caller holds e->owner->mutex and is in a read-side critical
 * section, and e is on the owner's list.  Every path that deletes an entry
 * holds that mutex and unlinks it in the same step, so the delete cannot
 * fail; the result is returned anyway and the free is skipped on failure
 * rather than risking a double free.
 */
static bool entry_remove_locked(struct reg_entry *e)
{
    bool is_removed = cds_lfht_del(e->ns->table.ht, &e->node) == 0;
    cds_list_del(&e->u.owner_link);
    if (is_removed) {
        /* Relaxed: see the comment on fdn_registry_ns.count. */
        atomic_fetch_sub_explicit(&e->ns->count, 1, memory_order_relaxed);
        fdn__rcu_call(&e->u.rcu, entry_free_rcu);
    }
    return is_removed;
}

/* ------------------------------------------------------------------------ */
/* Owner death                                                              */
/* ------------------------------------------------------------------------ */

/*
 * The callback monitor: runs once, on the dying process's thread, before any
 * DOWN or EXIT about pid is sent.  Removes every entry of the owner and the
 * owner record.  Everything happens inside one read-side critical section,
 * so the deferred free of the record (ours, or the registering thread's for
 * an unpublished record) cannot run before we stop touching it.
 */
static void owner_down(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    struct owner_rec *r = arg;
    (void)pid;
    (void)reason;
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    pthread_mutex_lock(&r->mutex);
    r->is_dead = true;
    while (!cds_list_empty(&r->entries)) {
        struct reg_entry *e =
            cds_list_first_entry(&r->entries, struct reg_entry, u.owner_link);
        entry_remove_locked(e);
    }
    if (r->is_published) {
        r->is_published = false;
        /* Relaxed: see the comment on fdn_registry.owner_count. */
        atomic_fetch_sub_explicit(&r->reg->owner_count, 1,
                                  memory_order_relaxed);
        if (cds_lfht_del(r->reg->owners.ht, &r->node) != 0)
            FDN_PANIC("registry: owner record missing from the owner table");
        fdn__rcu_call(&r->rcu, owner_free_rcu);
    }
    pthread_mutex_unlock(&r->mutex);
    fdn__rcu_read_unlock();
}

/* ------------------------------------------------------------------------ */
/* Registry and namespaces                                                  */
/* ------------------------------------------------------------------------ */

/* Creates t's table at the minimum size; false if out of memory.  No
 * liburcu flags: table_fit sizes it (see the file comment). */
static bool table_init(struct reg_table *t)
{
    t->ht = cds_lfht_new_flavor(REG_TABLE_MIN_BUCKETS, REG_TABLE_MIN_BUCKETS,
                                0, 0, &urcu_memb_flavor, NULL);
    if (t->ht == NULL)
        return false;
    atomic_init(&t->buckets, REG_TABLE_MIN_BUCKETS);
    pthread_mutex_init(&t->resize_mutex, NULL);
    return true;
}

/* Destroys t's table, which must be empty; panics with why if not. */
static void table_fini(struct reg_table *t, const char *why)
{
    if (cds_lfht_destroy(t->ht, NULL) != 0)
        FDN_PANIC(why);
    pthread_mutex_destroy(&t->resize_mutex);
}

/* The bucket count a table with `buckets` buckets and `count` items should
 * have: unchanged while count is within [buckets / ratio, buckets]. */
static unsigned long table_target(unsigned long buckets, uint64_t count)
{
    unsigned long target = buckets;
    if (count > buckets) {
        /* Grow to the smallest power of two >= count: load in (0.5, 1]. */
        while (target < count)
            target <<= 1;
    } else if (count < buckets / REG_TABLE_SHRINK_RATIO) {
        /* Shrink to the smallest power of two >= 2 * count: load in
         * (0.25, 0.5]. */
        target = REG_TABLE_MIN_BUCKETS;
        while (target < 2 * count)
            target <<= 1;
    }
    return target;
}

/*
 * Resizes t if count items no longer fit its bucket count (see the file
 * comment).  Call after inserting or deleting, from a registered thread; does
 * nothing inside a read-side critical section (cds_lfht_resize must not run
 * there) or while another thread resizes t.  Cheap when nothing is to do.
 */
static void table_fit(struct reg_table *t, uint64_t count)
{
    /* Relaxed: a hint, re-read under the mutex (see reg_table.buckets). */
    unsigned long buckets =
        atomic_load_explicit(&t->buckets, memory_order_relaxed);
    if (table_target(buckets, count) == buckets)
        return;
    if (fdn__rcu_read_ongoing())
        return;
    if (pthread_mutex_trylock(&t->resize_mutex) != 0)
        return;
    /* Relaxed: the mutex orders this against the last writer. */
    buckets = atomic_load_explicit(&t->buckets, memory_order_relaxed);
    unsigned long target = table_target(buckets, count);
    if (target != buckets) {
        cds_lfht_resize(t->ht, target);
        /* Relaxed: readers use it only as a hint; writers hold the
         * mutex. */
        atomic_store_explicit(&t->buckets, target, memory_order_relaxed);
    }
    pthread_mutex_unlock(&t->resize_mutex);
}

/* The runtime name source: the keys pid holds, in every namespace. */
static void registry_names(void *arg, fdn_pid_t pid, fdn_name_emit_fn emit,
                           void *emit_arg)
{
    fdn_registry_keys(arg, pid, emit, emit_arg);
}

FDN_API int fdn_registry_create(fdn_runtime_t *rt,
                                const fdn_registry_opts_t *opts,
                                fdn_registry_t **out)
{
    if (rt == NULL || out == NULL)
        return FDN_EINVAL;
    uint32_t max_ns = REG_DEFAULT_MAX_NAMESPACES;
    if (opts != NULL) {
        if (opts->size < offsetof(fdn_registry_opts_t, max_namespaces) +
                             sizeof opts->max_namespaces ||
            opts->size > sizeof *opts)
            return FDN_EINVAL; /* as fdn_runtime_create does */
        if (opts->max_namespaces != 0)
            max_ns = opts->max_namespaces;
    }
    fdn__rcu_thread_enter();
    const fdn_allocator_t *a = fdn_runtime_allocator(rt);
    fdn_registry_t *reg = fdn__zalloc(a, sizeof *reg);
    if (reg == NULL)
        return FDN_ENOMEM;
    reg->namespaces = fdn__zalloc(a, sizeof *reg->namespaces * max_ns);
    if (reg->namespaces == NULL) {
        fdn__free(a, reg);
        return FDN_ENOMEM;
    }
    if (!table_init(&reg->owners)) {
        fdn__free(a, reg->namespaces);
        fdn__free(a, reg);
        return FDN_ENOMEM;
    }
    reg->rt = rt;
    reg->alloc = a;
    reg->max_namespaces = max_ns;
    pthread_mutex_init(&reg->ns_mutex, NULL);
    atomic_init(&reg->ns_count, 0);
    atomic_init(&reg->owner_count, 0);
    /* fdn_process_names reports each process's keys through us. */
    if (fdn_runtime_name_source_add(rt, registry_names, reg,
                                    &reg->names_id) != FDN_OK) {
        pthread_mutex_destroy(&reg->ns_mutex);
        table_fini(&reg->owners, "registry: new owner table not empty");
        fdn__free(a, reg->namespaces);
        fdn__free(a, reg);
        return FDN_ENOMEM;
    }
    *out = reg;
    return FDN_OK;
}

/* The namespace called name (len bytes), or NULL. */
static fdn_registry_ns_t *registry_namespace_find(const fdn_registry_t *reg,
                                                  const char *name)
{
    /* Acquire: pairs with the release store in fdn_registry_namespace, so
     * the slots below ns_count are fully initialised namespaces. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(reg->namespaces[i]->name, name) == 0)
            return reg->namespaces[i];
    }
    return NULL;
}

FDN_API int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                                   fdn_registry_ns_t **out)
{
    if (reg == NULL || name == NULL || name[0] == '\0' || out == NULL)
        return FDN_EINVAL;
    size_t len = strnlen(name, FDN_REGISTRY_NS_MAX + 1);
    if (len > FDN_REGISTRY_NS_MAX)
        return FDN_ETOOBIG;
    fdn_registry_ns_t *ns = registry_namespace_find(reg, name);
    if (ns != NULL) {
        *out = ns;
        return FDN_OK;
    }
    fdn__rcu_thread_enter();
    pthread_mutex_lock(&reg->ns_mutex);
    int rc = FDN_OK;
    /* Re-check under the mutex: another creator may have won. */
    ns = registry_namespace_find(reg, name);
    if (ns != NULL)
        goto out;
    /* Relaxed: only creators store ns_count, and they hold ns_mutex. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_relaxed);
    if (n >= reg->max_namespaces) {
        rc = FDN_ELIMIT;
        goto out;
    }
    ns = fdn__zalloc(reg->alloc, sizeof *ns);
    if (ns == NULL) {
        rc = FDN_ENOMEM;
        goto out;
    }
    if (!table_init(&ns->table)) {
        fdn__free(reg->alloc, ns);
        ns = NULL;
        rc = FDN_ENOMEM;
        goto out;
    }
    ns->reg = reg;
    atomic_init(&ns->count, 0);
    memcpy(ns->name, name, len + 1);
    reg->namespaces[n] = ns;
    /* Release: pairs with the acquire in registry_namespace_find and
     * fdn_registry_total; publishes the slot and the namespace. */
    atomic_store_explicit(&reg->ns_count, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&reg->ns_mutex);
    if (rc == FDN_OK)
        *out = ns;
    return rc;
}

FDN_API void fdn_registry_destroy(fdn_registry_t *reg)
{
    if (reg == NULL)
        return;
    fdn__rcu_thread_enter();
    struct cds_lfht_iter iter;
    struct owner_rec *r;
    struct reg_entry *e;

    /* 0. No fdn_process_names call is in us once this returns. */
    fdn_runtime_name_source_remove(reg->rt, reg->names_id);

    /*
     * 1. Cancel every owner monitor.  No register runs concurrently (the
     * contract), so the only concurrent writers are owner_down callbacks.
     * After fdn_monitor_fn_cancel(r) returns, r's callback is finished or
     * will never run.  A record the walk misses was deleted by a callback
     * that was inside its read-side critical section during the walk.
     */
    fdn__rcu_read_lock();
    REG_FOR_EACH(reg->owners.ht, &iter, r, node)
    {
        fdn__rcu_subscribe(&r->node);
        fdn_monitor_fn_cancel(reg->rt, r->pid, r->ref);
    }
    fdn__rcu_read_unlock();
    /* 2. Wait for those in-flight callbacks to leave their critical
     * sections; from here on nothing else touches the registry. */
    fdn__rcu_synchronize();

    /* 3. Remove every entry and record; frees are deferred as usual, since
     * the tables' resize worker may still traverse nodes. */
    fdn__rcu_read_lock();
    uint32_t nns = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    for (uint32_t i = 0; i < nns; i++) {
        fdn_registry_ns_t *ns = reg->namespaces[i];
        REG_FOR_EACH(ns->table.ht, &iter, e, node)
        {
            fdn__rcu_subscribe(&e->node);
            if (cds_lfht_del(ns->table.ht, &e->node) == 0) {
                /* Unlink before call_rcu reuses the link's storage; the
                 * neighbours are still allocated (frees are deferred). */
                cds_list_del(&e->u.owner_link);
                atomic_fetch_sub_explicit(&ns->count, 1,
                                          memory_order_relaxed);
                fdn__rcu_call(&e->u.rcu, entry_free_rcu);
            }
        }
    }
    REG_FOR_EACH(reg->owners.ht, &iter, r, node)
    {
        fdn__rcu_subscribe(&r->node);
        if (cds_lfht_del(reg->owners.ht, &r->node) == 0) {
            /* Relaxed: see the comment on fdn_registry.owner_count. */
            atomic_fetch_sub_explicit(&reg->owner_count, 1,
                                      memory_order_relaxed);
            fdn__rcu_call(&r->rcu, owner_free_rcu);
        }
    }
    fdn__rcu_read_unlock();

    /* 4. Run every deferred free (they use reg->alloc), then free the
     * tables, namespaces and the registry. */
    fdn__rcu_barrier();
    for (uint32_t i = 0; i < nns; i++) {
        fdn_registry_ns_t *ns = reg->namespaces[i];
        table_fini(&ns->table,
                   "registry: namespace table not empty at destroy");
        fdn__free(reg->alloc, ns);
    }
    table_fini(&reg->owners, "registry: owner table not empty at destroy");
    pthread_mutex_destroy(&reg->ns_mutex);
    fdn__free(reg->alloc, reg->namespaces);
    fdn__free(reg->alloc, reg);
}

/* ------------------------------------------------------------------------ */
/* Register / unregister                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Returns pid's live owner record with its mutex held, creating and
 * publishing it (and its callback monitor) if needed.  Caller is in a
 * read-side critical section; this may leave and re-enter it, but returns
 * inside it.  Errors: FDN_ENOPROC (pid dead or dying past cleanup),
 * FDN_ENOMEM, FDN_EINVAL (from the runtime).
 */
static int owner_get_locked(fdn_registry_t *reg, fdn_pid_t pid,
                            struct owner_rec **out)
{
    unsigned long hash = hash_pid(pid);
    for (;;) {
        struct cds_lfht_iter iter;
        cds_lfht_lookup(reg->owners.ht, hash, match_owner, &pid, &iter);
        struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
        if (node != NULL) {
            fdn__rcu_subscribe(node);
            struct owner_rec *r =
                caa_container_of(node, struct owner_rec, node);
            pthread_mutex_lock(&r->mutex);
            if (r->is_dead) {
                pthread_mutex_unlock(&r->mutex);
                return FDN_ENOPROC;
            }
            *out = r;
            return FDN_OK;
        }

        /* No record: make one, watched before it is published.  The
         * runtime is called outside the critical section so that its
         * locks never nest inside ours. */
        fdn__rcu_read_unlock();
        struct owner_rec *r = fdn__zalloc(reg->alloc, sizeof *r);
        if (r == NULL) {
            fdn__rcu_read_lock();
            return FDN_ENOMEM;
        }
        r->reg = reg;
        r->pid = pid;
        pthread_mutex_init(&r->mutex, NULL);
        CDS_INIT_LIST_HEAD(&r->entries);
        cds_lfht_node_init(&r->node);
        int rc = fdn_monitor_fn(reg->rt, pid, owner_down, r, &r->ref);
        fdn__rcu_read_lock();
        if (rc != FDN_OK) {
            pthread_mutex_destroy(&r->mutex);
            fdn__free(reg->alloc, r);
            return rc;
        }
        pthread_mutex_lock(&r->mutex);
        if (r->is_dead) {
            /* The owner died before we published: the callback has run
             * (inside its own critical section, so a deferred free is
             * safe). */
            pthread_mutex_unlock(&r->mutex);
            fdn__rcu_call(&r->rcu, owner_free_rcu);
            return FDN_ENOPROC;
        }
        fdn__rcu_publish(&r->node);
        struct cds_lfht_node *won =
            cds_lfht_add_unique(reg->owners.ht, hash, match_owner, &pid, &r->node);
        if (won == &r->node) {
            r->is_published = true;
            /* Relaxed: see the comment on fdn_registry.owner_count. */
            atomic_fetch_add_explicit(&reg->owner_count, 1,
                                      memory_order_relaxed);
            *out = r;
            return FDN_OK;
        }
        /* Another thread published a record for pid first: drop ours and
         * retry with theirs.  Cancel outside the critical section: it may
         * wait for our callback. */
        pthread_mutex_unlock(&r->mutex);
        fdn__rcu_read_unlock();
        fdn_monitor_fn_cancel(reg->rt, pid, r->ref);
        fdn__rcu_read_lock();
        fdn__rcu_call(&r->rcu, owner_free_rcu);
    }
}

FDN_API int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                                  fdn_pid_t pid, const fdn_meta_t *meta,
                                  fdn_pid_t *winner)
{
    size_t len;
    if (ns == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    int rc = check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    if (meta != NULL && meta->count > FDN_META_MAX)
        return FDN_EINVAL;
    uint32_t nfields = meta != NULL ? meta->count : 0;
    fdn_registry_t *reg = ns->reg;
    fdn__rcu_thread_enter();

    /* Only the fields in use are stored (REG-I4). */
    struct reg_entry *e =
        fdn__alloc(reg->alloc, fdn_registry_entry_bytes_meta(len, nfields));
    if (e == NULL)
        return FDN_ENOMEM;
    cds_lfht_node_init(&e->node);
    CDS_INIT_LIST_HEAD(&e->u.owner_link);
    e->ns = ns;
    e->pid = pid;
    e->key_len = (uint32_t)len;
    e->meta_count = nfields;
    if (nfields != 0)
        memcpy(e->fields, meta->fields, nfields * sizeof e->fields[0]);
    memcpy((char *)entry_key(e), key, len + 1);

    fdn__rcu_read_lock();
    struct owner_rec *r;
    rc = owner_get_locked(reg, pid, &r);
    if (rc != FDN_OK) {
        fdn__rcu_read_unlock();
        fdn__free(reg->alloc, e);
        return rc;
    }
    e->owner = r;
    struct key_ref k = {key, len};
    fdn__rcu_publish(&e->node);
    struct cds_lfht_node *won =
        cds_lfht_add_unique(ns->table.ht, hash_key(key, len), match_entry, &k,
                            &e->node);
    if (won != &e->node) {
        /* The winner's pid is immutable and the node stays readable until
         * we leave the critical section. */
        fdn__rcu_subscribe(won);
        if (winner != NULL)
            *winner = caa_container_of(won, struct reg_entry, node)->pid;
        pthread_mutex_unlock(&r->mutex);
        fdn__rcu_read_unlock();
        fdn__free(reg->alloc, e); /* never published */
        return FDN_EEXIST;
    }
    cds_list_add(&e->u.owner_link, &r->entries);
    /* Relaxed: see the comment on fdn_registry_ns.count. */
    uint64_t count =
        atomic_fetch_add_explicit(&ns->count, 1, memory_order_relaxed) + 1;
    pthread_mutex_unlock(&r->mutex);
    fdn__rcu_read_unlock();
    /* Outside the critical section: the tables may need to grow. */
    table_fit(&ns->table, count);
    /* Relaxed: see the comment on fdn_registry.owner_count. */
    table_fit(&reg->owners, atomic_load_explicit(&reg->owner_count,
                                                 memory_order_relaxed));
    return FDN_OK;
}

FDN_API int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                                    fdn_pid_t pid)
{
    size_t len;
    if (ns == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    int rc = check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    struct key_ref k = {key, len};
    struct cds_lfht_iter iter;
    rc = FDN_ENOENT;
    fdn__rcu_read_lock();
    cds_lfht_lookup(ns->table.ht, hash_key(key, len), match_entry, &k, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node != NULL) {
        fdn__rcu_subscribe(node);
        struct reg_entry *e = caa_container_of(node, struct reg_entry, node);
        if (e->pid == pid) {
            /* The record outlives the entry (it is freed only after the
             * callback removed all its entries, after a grace period). */
            struct owner_rec *r = e->owner;
            pthread_mutex_lock(&r->mutex);
            /* The entry may have been removed since the lookup (owner
             * death, or a racing unregister): then it is no longer on the
             * list and cds_lfht_is_node_deleted says so. */
            if (!cds_lfht_is_node_deleted(&e->node) &&
                entry_remove_locked(e))
                rc = FDN_OK;
            pthread_mutex_unlock(&r->mutex);
        }
    }
    fdn__rcu_read_unlock();
    /* Outside the critical section: the table may need to shrink.
     * Relaxed: see the comment on fdn_registry_ns.count. */
    if (rc == FDN_OK)
        table_fit(&ns->table,
                  atomic_load_explicit(&ns->count, memory_order_relaxed));
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */
/* ------------------------------------------------------------------------ */

FDN_API int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t *pid, fdn_meta_t *meta)
{
    size_t len;
    if (ns == NULL)
        return FDN_EINVAL;
    int rc = check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    struct key_ref k = {key, len};
    struct cds_lfht_iter iter;
    rc = FDN_ENOENT;
    fdn__rcu_read_lock();
    cds_lfht_lookup(ns->table.ht, hash_key(key, len), match_entry, &k, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node != NULL) {
        fdn__rcu_subscribe(node);
        const struct reg_entry *e =
            caa_container_of(node, struct reg_entry, node);
        if (pid != NULL)
            *pid = e->pid;
        if (meta != NULL) {
            /* Expand the compact copy: the stored fields, then zeroes. */
            meta->count = e->meta_count;
            memcpy(meta->fields, e->fields,
                   e->meta_count * sizeof meta->fields[0]);
            memset(meta->fields + e->meta_count, 0,
                   (FDN_META_MAX - e->meta_count) * sizeof meta->fields[0]);
        }
        rc = FDN_OK;
    }
    fdn__rcu_read_unlock();
    return rc;
}

FDN_API int fdn_registry_find(fdn_registry_ns_t *ns, const char *name,
                              const fdn_meta_value_t *value, fdn_pid_t *pids,
                              size_t cap, size_t *found)
{
    if (ns == NULL || name == NULL || value == NULL ||
        (pids == NULL && cap != 0))
        return FDN_EINVAL;
    fdn__rcu_thread_enter();
    size_t n = 0;
    struct cds_lfht_iter iter;
    struct reg_entry *e;
    fdn__rcu_read_lock();
    REG_FOR_EACH(ns->table.ht, &iter, e, node)
    {
        fdn__rcu_subscribe(&e->node);
        if (fdn_meta_value_equal(entry_meta_get(e, name), value)) {
            if (n < cap)
                pids[n] = e->pid;
            n++;
        }
    }
    fdn__rcu_read_unlock();
    if (found != NULL)
        *found = n;
    return FDN_OK;
}

FDN_API uint64_t fdn_registry_count(const fdn_registry_ns_t *ns)
{
    if (ns == NULL)
        return 0;
    /* Relaxed: see the comment on fdn_registry_ns.count. */
    return atomic_load_explicit(&ns->count, memory_order_relaxed);
}

FDN_API uint64_t fdn_registry_total(const fdn_registry_t *reg)
{
    if (reg == NULL)
        return 0;
    /* Acquire: pairs with the release in fdn_registry_namespace. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += fdn_registry_count(reg->namespaces[i]);
    return total;
}

FDN_API int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid,
                              fdn_registry_key_fn fn, void *arg)
{
    if (reg == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn__rcu_thread_enter();
    int n = 0;
    struct cds_lfht_iter iter;
    fdn__rcu_read_lock();
    cds_lfht_lookup(reg->owners.ht, hash_pid(pid), match_owner, &pid, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node != NULL) {
        fdn__rcu_subscribe(node);
        struct owner_rec *r = caa_container_of(node, struct owner_rec, node);
        struct reg_entry *e;
        pthread_mutex_lock(&r->mutex);
        cds_list_for_each_entry(e, &r->entries, u.owner_link)
        {
            if (fn != NULL)
                fn(arg, e->ns->name, entry_key(e));
            n++;
        }
        pthread_mutex_unlock(&r->mutex);
    }
    fdn__rcu_read_unlock();
    return n;
}

FDN_API size_t fdn_registry_entry_bytes_meta(size_t key_len,
                                             uint32_t nfields)
{
    return offsetof(struct reg_entry, fields) +
           (size_t)nfields * sizeof(fdn_meta_field_t) + key_len + 1;
}

FDN_API size_t fdn_registry_entry_bytes(size_t key_len)
{
    return fdn_registry_entry_bytes_meta(key_len, 0);
}
