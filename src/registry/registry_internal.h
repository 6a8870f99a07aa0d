/*
 * registry/registry_internal.h — the registry's records and the functions
 * its files share.  Not installed.
 *
 * Files: map.h and map.c (the tables of entries and owner records),
 * slab.h and slab.c (the pool of entry blocks), registry.c (tables,
 * hashing, registry and namespace lifecycle),
 * owner.c (owner records, owner death, rate limits), write.c (every change
 * to entries: register, join, unregister, update, touch, eviction, expiry,
 * listener events), listen.c (listeners; namespace teardown), read.c
 * (lock-free reads), index.c (secondary indexes),
 * query.c (queries), snapshot.c (snapshot and restore).
 *
 * Locks.  Lock order: ns->lock, then an owner record's mutex, then an
 * index's nothing (indexes are guarded by ns->lock).  The runtime is never
 * called with an owner mutex held, except fdn_runtime_notify (which takes
 * no lock a monitor callback could hold).  See write.c for the protocol.
 *
 * Entry layout.  One block of the registry's pool (slab.h) per entry:
 *     [ext: ns->ext_bytes][struct reg_entry: 55 bytes, then key, NUL][pad to 8][fields]
 * The entry pointer is the struct reg_entry; the per-namespace extras
 * (LRU link, group link, index links) sit before it at fixed negative
 * offsets, so an entry of a plain namespace pays for none of them.  The
 * hot part a lookup reads (pid, lengths, key) is contiguous.  The table
 * (ns->table, map.h) holds pointers to entries, so an entry carries no
 * table node.
 */
#ifndef FDN_REGISTRY_INTERNAL_H
#define FDN_REGISTRY_INTERNAL_H

#include "foundation/registry.h"

#include "internal/common.h"
#include "internal/rcu.h"
#include "registry/map.h"
#include "registry/slab.h"

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

struct reg_owner;
struct reg_group;
struct reg_index;
struct reg_ix_val;

/* One liburcu hash table and its size, which only fdn__reg_table_fit
 * changes (see registry.c). */
struct reg_table {
    struct cds_lfht *ht; /* immutable pointer */
    /* Bucket count: written only with resize_mutex held; read relaxed as
     * a hint (a stale value only delays or repeats a fit). */
    _Atomic unsigned long buckets;
    pthread_mutex_t resize_mutex;
};

/* An entry's link in one secondary index (in the ext area). */
struct reg_ix_link {
    struct reg_ix_link *prev, *next; /* in val's list; guarded by ns->lock */
    struct reg_ix_val *val;          /* NULL: entry lacks the field */
};

/*
 * One entry.  Immutable once published except: u.owner_link and in_map
 * (owner mutex), last_seen (atomic), the ext area (ns->lock).  An update
 * publishes a new entry in the old one's place (fdn__map_replace).
 */
struct reg_entry {
    /* Cold: writers only. */
    union {
        struct cds_list_head owner_link; /* while in the table */
        struct rcu_head rcu;             /* after removal: deferred free */
    } u;
    struct reg_owner *owner;   /* outlives the entry */
    fdn_registry_ns_t *ns;
    /* Last registered, updated or touched, on the runtime clock (ns).
     * Relaxed: a timestamp; orders nothing. */
    _Atomic uint64_t last_seen;
    /* Hot: lookups. */
    fdn_pid_t pid;
    uint8_t key_len;           /* at most FDN_REGISTRY_KEY_MAX */
    uint8_t meta_count;        /* at most FDN_META_MAX */
    uint16_t fields_off;       /* bytes from the entry to its fields */
    uint16_t slab_where;       /* its block's place in its pool chunk */
    /* In ns->table: set when added, cleared when removed or replaced, both
     * under the owner mutex, so a writer holding it knows whether the entry
     * it found is still there. */
    bool in_map;
    /* The key and its NUL, at offset 55 (LP64): the bytes the struct's
     * 8-alignment would pad go to the key, so that a 16-byte key's entry
     * (72 bytes) fits the pool's 80-byte class (slab.h); then, 8-aligned,
     * the fields. */
    char key[];
};

/* A BOOL value's truth, read as a byte: a caller's value whose byte is
 * neither 0 nor 1 (a union written through another member) must not be
 * loaded as a bool, which would be undefined behaviour.  Stored values
 * are 0 or 1 (schema checks refuse others); query values may be
 * anything, and any nonzero byte is true. */
static inline bool fdn__meta_bool(const fdn_meta_value_t *v)
{
    unsigned char c;
    memcpy(&c, &v->as.b, 1);
    return c != 0;
}

/* Whether v is a well-formed BOOL byte (0 or 1). */
static inline bool fdn__meta_bool_ok(const fdn_meta_value_t *v)
{
    unsigned char c;
    memcpy(&c, &v->as.b, 1);
    return c <= 1;
}

static inline const char *fdn__reg_key(const struct reg_entry *e)
{
    return e->key;
}

/* The bytes of e's fields (its metadata's share of the namespace's
 * metadata bytes). */
static inline uint32_t fdn__reg_meta_size(const struct reg_entry *e)
{
    return e->meta_count * (uint32_t)sizeof(fdn_meta_field_t);
}

static inline const fdn_meta_field_t *
fdn__reg_fields(const struct reg_entry *e)
{
    return (const fdn_meta_field_t *)(const void *)((const char *)e +
                                                    e->fields_off);
}

/* The value of e's field called name, or NULL. */
const fdn_meta_value_t *fdn__reg_meta_get(const struct reg_entry *e,
                                          const char *name);

/* A group of a DUPLICATE namespace: the members under one key. */
struct reg_group {
    struct cds_lfht_node node;     /* in ns->groups, by key */
    struct rcu_head rcu;
    struct cds_list_head members;  /* RCU list of entries' group links;
                                    * written under ns->lock */
    uint64_t count;                /* members; ns->lock */
    uint8_t key_len;
    char key[FDN_REGISTRY_KEY_MAX + 1];
};

/* A DUPLICATE entry's extras: its place in its group. */
struct reg_member {
    struct cds_list_head link;     /* in group->members (RCU list) */
    struct reg_group *group;
};

/* A listener: a process told of every change in the namespace. */
struct reg_listener {
    struct reg_listener *next;     /* ns->listeners; ns->lock */
    fdn_registry_ns_t *ns;
    fdn_pid_t pid;
    uint32_t tag;
    fdn_ref_t ref;                 /* its callback monitor */
    int state;                     /* NEW, LISTED, GONE (listen.c); lock */
};

/* Stripes of a namespace's counts: enough that writers on different
 * cores rarely share one (threads take them in turn, reg_stripe_of). */
#define REG_STRIPES 8
/* The removal reasons a stripe counts: fdn_registry_reason_t EXPLICIT
 * (1) to EXPIRED (4), at index reason - 1. */
#define REG_REASONS 4

/*
 * One stripe: what the writers on its threads did to the namespace (see
 * write.c, Counts).  Every counter but meta_bytes only goes up, so a
 * reader that sums a counter over the stripes twice never sees it go
 * down.  The entry count is derived: added less removed.  One cache line,
 * aligned to one (the namespace is allocated on a line boundary), so two
 * stripes never share a line.
 */
struct reg_stripe {
    _Alignas(64) _Atomic uint64_t added;   /* entries registered, joined */
    _Atomic uint64_t removed[REG_REASONS]; /* entries removed, by reason */
    _Atomic uint64_t updates;              /* metadata updates */
    _Atomic uint64_t touches;              /* heartbeats */
    _Atomic int64_t meta_bytes;            /* metadata bytes added less
                                            * removed here */
};

_Static_assert(sizeof(struct reg_stripe) == 64, "a stripe is a line");

struct fdn_registry_ns {
    fdn_registry_t *reg;           /* immutable */
    void *mem;                     /* immutable: the allocation holding
                                    * the namespace, which starts at the
                                    * first line boundary in it */
    fdn_registry_ns_opts_t opts;   /* immutable copy */
    char name[FDN_REGISTRY_NS_MAX + 1]; /* immutable */
    /* UNIQUE: entries by key.  DUPLICATE: entries by (key, pid). */
    struct reg_map table;
    struct reg_table groups;       /* DUPLICATE: groups by key */
    /*
     * Writers take lock when is_locked (see write.c): always for a
     * namespace with groups, limits, a ttl or indexes; a plain namespace
     * turns locked (for good) when a listener first subscribes.  Read
     * inside a read-side critical section; set under lock, then a grace
     * period passes before anything relies on it.
     */
    _Atomic bool is_locked;
    pthread_mutex_t lock;
    /* What writers did (entries added and removed, by reason; updates,
     * touches; metadata bytes), in stripes (see write.c, Counts): a
     * writer adds to its thread's stripe, a reader sums them.  Each
     * stripe is a cache line of its own (struct reg_stripe's alignment),
     * so the read-mostly fields that every lookup and write reads above
     * and below never share a line with them. */
    struct reg_stripe stripes[REG_STRIPES];
    /* Extras before each entry (ext area), and where each part is. */
    uint32_t ext_bytes;
    int32_t lru_off;               /* -1: no LRU list */
    int32_t member_off;            /* -1: not DUPLICATE */
    int32_t ix_off;                /* -1: no index; links follow */
    uint32_t nindexes;
    struct reg_index *indexes[FDN_REGISTRY_INDEX_MAX]; /* ns->lock */
    const char *ix_field[FDN_REGISTRY_INDEX_MAX];      /* opts names */
    struct cds_list_head lru;      /* least recently seen first; lock */
    struct reg_listener *listeners; /* lock */
    uint64_t seq;                  /* last event's number; lock */
};

struct fdn_registry {
    fdn_runtime_t *rt;               /* immutable */
    const fdn_allocator_t *alloc;    /* immutable */
    fdn_clock_t *clock;              /* immutable: the runtime's */
    /* Owner records by pid (map.h, hashed by fdn__reg_hash_pid): a
     * registration finds its owner's record with an inline probe, which
     * cost a third of cds_lfht's lookup. */
    struct reg_map owners;
    _Atomic uint64_t owner_count;    /* relaxed statistic */
    /* owner_down callbacks running (owner.c): destroy waits for none, as
     * a callback still fits tables after its critical section. */
    _Atomic uint32_t downs;
    uint64_t seed;                   /* immutable: the key hash's seed */
    uint32_t max_namespaces;         /* immutable */
    uint32_t owner_rate, owner_burst; /* immutable */
    uint64_t sweep_interval_ns;      /* immutable */
    pthread_mutex_t ns_mutex;        /* namespace creation; janitor */
    /* Published namespaces [0, ns_count): release store by creators,
     * acquire load by readers; slots never change afterwards. */
    _Atomic uint32_t ns_count;
    fdn_registry_ns_t **namespaces;
    uint64_t names_id;               /* our runtime name source */
    /* The janitor thread (ttl sweeps), started with the first ttl
     * namespace; ns_mutex guards the fields, janitor_cond wakes it. */
    pthread_t janitor;
    bool has_janitor, janitor_stop;
    pthread_cond_t janitor_cond;
    /* Entry blocks (slab.h); its chunks are freed by destroy. */
    struct reg_slab slab;
};

/* ---- the owner record (owner.c) ---------------------------------------- */

struct reg_owner {
    struct rcu_head rcu;
    fdn_registry_t *reg;           /* immutable */
    fdn_pid_t pid;                 /* immutable */
    fdn_ref_t ref;                 /* immutable after fdn_monitor_fn */
    pthread_mutex_t mutex;
    bool is_dead;                  /* mutex: the owner died */
    bool is_retired;               /* mutex: dropped while alive, empty */
    bool is_published;             /* mutex */
    struct cds_list_head entries;  /* mutex */
    double tokens;                 /* mutex: rate limit bucket */
    uint64_t tokens_at;            /* mutex: clock time of tokens */
};

/* ---- registry.c -------------------------------------------------------- */

/* A key's hash, seeded with reg->seed: keys chosen to collide in one
 * process (a flood of names that share a bucket) do not collide in
 * another.  Not a cryptographic PRF: it defeats keys computed ahead,
 * not an attacker who can time lookups for hours. */
unsigned long fdn__reg_hash_key(const fdn_registry_t *reg, const char *key,
                                size_t len);
unsigned long fdn__reg_hash_pid(fdn_pid_t pid);
/* The hash of (key, pid) for DUPLICATE tables. */
unsigned long fdn__reg_hash_member(const fdn_registry_t *reg,
                                   const char *key, size_t len, fdn_pid_t pid);
/* FDN_OK and the key's length, or FDN_EINVAL / FDN_ETOOBIG. */
static inline int fdn__reg_check_key(const char *key, size_t *len)
{
    if (key == NULL || key[0] == '\0')
        return FDN_EINVAL;
    size_t n = strnlen(key, FDN_REGISTRY_KEY_MAX + 1);
    if (n > FDN_REGISTRY_KEY_MAX)
        return FDN_ETOOBIG;
    *len = n;
    return FDN_OK;
}
/* The arguments naming one entry: FDN_EINVAL for a NULL ns or no pid,
 * else fdn__reg_check_key's answer. */
int fdn__reg_check_target(const fdn_registry_ns_t *ns, const char *key,
                          fdn_pid_t pid, size_t *len);
bool fdn__reg_table_init(struct reg_table *t);
void fdn__reg_table_fini(struct reg_table *t, const char *why);
/* Resizes t to fit count items; outside read-side critical sections. */
void fdn__reg_table_fit(struct reg_table *t, uint64_t count);
/* What a lookup looks for. */
struct reg_key_ref {
    const char *key;
    size_t len;
    fdn_pid_t pid; /* match_member only */
};
/* Match functions for ns->table (map.h): by key; by key and pid.  The
 * map hands over entries it loaded with acquire, so their fields are
 * readable.  Inline, so that lookups (fdn__map_lookup, inline too) get
 * them inlined: a call through a pointer per slot was a tenth of a
 * lookup's instructions. */
/* Whether the len bytes at a and b are equal; both hold at least len
 * bytes (keys: len and a NUL).  Up to 16 bytes with two overlapping
 * loads, so the common short key costs no call. */
static inline bool fdn__reg_key_eq(const char *a, const char *b, size_t len)
{
    if (len > 16)
        return memcmp(a, b, len) == 0;
    if (len >= 8) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + len - 8, 8);
        memcpy(&b1, b + len - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (len >= 4) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + len - 4, 4);
        memcpy(&b1, b + len - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static inline bool fdn__reg_match_entry(const void *item, const void *arg)
{
    const struct reg_entry *e = item;
    const struct reg_key_ref *k = arg;
    return e->key_len == k->len && fdn__reg_key_eq(fdn__reg_key(e), k->key, k->len);
}

static inline bool fdn__reg_match_member(const void *item, const void *arg)
{
    const struct reg_entry *e = item;
    const struct reg_key_ref *k = arg;
    return e->pid == k->pid && e->key_len == k->len &&
           fdn__reg_key_eq(fdn__reg_key(e), k->key, k->len);
}
/* The hash ns->table files (key, pid) under: of the key (UNIQUE; pid
 * unused), of the key and pid (DUPLICATE). */
static inline uint64_t fdn__reg_hash_target(const fdn_registry_ns_t *ns,
                                            const char *key, size_t len,
                                            fdn_pid_t pid)
{
    return ns->opts.kind == FDN_REGISTRY_DUPLICATE
               ? fdn__reg_hash_member(ns->reg, key, len, pid)
               : fdn__reg_hash_key(ns->reg, key, len);
}
/* The entry ns->table holds under (key, pid) — UNIQUE: under key, pid
 * unused — whose hash is hash (fdn__reg_hash_target), or NULL, expired
 * or not.  Inside a read-side critical section. */
static inline struct reg_entry *
fdn__reg_table_find(fdn_registry_ns_t *ns, const char *key, size_t len,
                    fdn_pid_t pid, uint64_t hash)
{
    struct reg_key_ref k = {key, len, pid};
    if (ns->opts.kind == FDN_REGISTRY_DUPLICATE)
        return fdn__map_lookup(&ns->table, hash, fdn__reg_match_member, &k);
    return fdn__map_lookup(&ns->table, hash, fdn__reg_match_entry, &k);
}
/* The hash ns->table files an entry under. */
uint64_t fdn__reg_entry_hash(const struct reg_entry *e);
int fdn__reg_match_group(struct cds_lfht_node *node, const void *arg);
/* The runtime clock's now. */
uint64_t fdn__reg_now(const fdn_registry_t *reg);
/* The time a write stamps on an entry of ns as its last-seen time
 * (REG-S15): the clock read in full where ttl expiry or LRU eviction
 * decide on it (ns keeps an LRU list), the coarse clock where it is only
 * reported (fdn__clock_now_coarse). */
uint64_t fdn__reg_stamp(const fdn_registry_ns_t *ns);

/* The calling thread's registry state: which count stripe it adds to
 * (1 + index; 0 until its first write), and the namespace whose tables
 * its last count change said to check (fdn__reg_fit_due; NULL: none).
 * Initial-exec: the stripe is looked up on every write, and the general
 * TLS model costs a call into the dynamic linker each time; the variable
 * is 24 bytes of the static TLS surplus that glibc keeps for libraries
 * loaded later. */
struct reg_thread {
    uint32_t stripe;
    fdn_registry_ns_t *fit_ns;
    fdn_registry_t *fit_owners; /* likewise, for a registry's owner table */
};
extern _Thread_local struct reg_thread fdn__reg_thread
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
/* Gives the calling thread its stripe (threads take them in turn). */
uint32_t fdn__reg_stripe_assign(void);

_Static_assert(REG_STRIPES == SLAB_STRIPES, "one stripe id for both");

/* The calling thread's stripe, 1 to REG_STRIPES. */
static inline uint32_t fdn__reg_stripe_id(void)
{
    uint32_t id = fdn__reg_thread.stripe;
    return id != 0 ? id : fdn__reg_stripe_assign();
}

/* How often ns's tables are checked, as a mask: a table-size check is
 * due when a stripe's count of additions, or of removals for one reason,
 * reaches a multiple of mask + 1 (every change while the entry table has
 * under 128 buckets, every 64th from 4,096 buckets on; write.c, Counts). */
static inline uint64_t fdn__reg_period_mask(uint64_t b)
{
    return (b >= 64 * 64 ? 64 : b >= 128 ? b / 64 : 1) - 1;
}

static inline uint64_t fdn__reg_fit_mask(fdn_registry_ns_t *ns)
{
    return fdn__reg_period_mask(fdn__map_buckets(&ns->table));
}

/* The calling thread's stripe of ns. */
static inline struct reg_stripe *fdn__reg_stripe(fdn_registry_ns_t *ns)
{
    return &ns->stripes[fdn__reg_stripe_id() - 1];
}

/* Adds n to one of the calling thread's stripe counters c and notes ns
 * for fdn__reg_fit_due when that takes c past a multiple of the check
 * period.  Relaxed: counts order nothing (write.c, Counts). */
static inline void fdn__reg_count_step(fdn_registry_ns_t *ns,
                                       _Atomic uint64_t *c, uint64_t n)
{
    uint64_t now = atomic_fetch_add_explicit(c, n, memory_order_relaxed) + n;
    uint64_t mask = fdn__reg_fit_mask(ns);
    if ((now & ~mask) != ((now - n) & ~mask))
        fdn__reg_thread.fit_ns = ns;
}

static inline void fdn__reg_count_bytes(struct reg_stripe *st, int64_t dbytes)
{
    if (dbytes != 0)
        /* Relaxed: as fdn__reg_count_step. */
        atomic_fetch_add_explicit(&st->meta_bytes, dbytes,
                                  memory_order_relaxed);
}

/* Counts n entries added to ns (registered or joined) holding dbytes
 * metadata bytes, on the calling thread's stripe (write.c, Counts). */
static inline void fdn__reg_count_added(fdn_registry_ns_t *ns, uint64_t n,
                                        int64_t dbytes)
{
    struct reg_stripe *st = fdn__reg_stripe(ns);
    fdn__reg_count_step(ns, &st->added, n);
    fdn__reg_count_bytes(st, dbytes);
}

/* Counts one entry removed from ns for reason why (EXPLICIT to EXPIRED),
 * which held dbytes metadata bytes. */
static inline void fdn__reg_count_removed(fdn_registry_ns_t *ns,
                                          fdn_registry_reason_t why,
                                          int64_t dbytes)
{
    struct reg_stripe *st = fdn__reg_stripe(ns);
    fdn__reg_count_step(ns, &st->removed[why - 1], 1);
    fdn__reg_count_bytes(st, -dbytes);
}

/* Counts one update of ns, which changed its metadata bytes by dbytes. */
static inline void fdn__reg_count_updated(fdn_registry_ns_t *ns,
                                          int64_t dbytes)
{
    struct reg_stripe *st = fdn__reg_stripe(ns);
    /* Relaxed: as fdn__reg_count_step. */
    atomic_fetch_add_explicit(&st->updates, 1, memory_order_relaxed);
    fdn__reg_count_bytes(st, dbytes);
}

/* Counts one touch of ns. */
static inline void fdn__reg_count_touched(fdn_registry_ns_t *ns)
{
    /* Relaxed: as fdn__reg_count_step. */
    atomic_fetch_add_explicit(&fdn__reg_stripe(ns)->touches, 1,
                              memory_order_relaxed);
}

/* A namespace's counters summed over its stripes (wrapping: meta_bytes
 * is a signed sum in two's complement). */
struct reg_sums {
    uint64_t added, removed[REG_REASONS], updates, touches, meta_bytes;
};
void fdn__reg_ns_sums(const fdn_registry_ns_t *ns, struct reg_sums *out);
/* The entry count the sums make: added less removed, read at zero if a
 * racing read makes it negative (write.c, Counts). */
uint64_t fdn__reg_sums_count(const struct reg_sums *s);
/* ns's entry count and metadata bytes, from its sums. */
uint64_t fdn__reg_ns_count(const fdn_registry_ns_t *ns);
uint64_t fdn__reg_ns_meta_bytes(const fdn_registry_ns_t *ns);

/* Whether the calling thread's last write to ns should check the sizes
 * of its tables (fdn__reg_fit): its count change took a stripe's counter
 * past a multiple of the check period (fdn__reg_count_step).  Clears the
 * note. */
static inline bool fdn__reg_fit_due(fdn_registry_ns_t *ns)
{
    if (fdn__reg_thread.fit_ns != ns)
        return false;
    fdn__reg_thread.fit_ns = NULL;
    return true;
}
/* Fits ns's tables (entries; groups, DUPLICATE) and the registry's owner
 * table to their counts, skipping a table another thread is resizing.
 * Outside read-side critical sections (the cds_lfht group table's resize
 * waits for grace periods). */
void fdn__reg_fit(fdn_registry_ns_t *ns);
/* fdn__reg_fit but for the group table: waits for nothing, so a callback
 * monitor may call it (owner.c). */
void fdn__reg_fit_maps(fdn_registry_ns_t *ns);
/* Fits reg's owner table to its count (skipping it while another thread
 * resizes it), and clears the calling thread's note for it. */
void fdn__reg_fit_owners(fdn_registry_t *reg);
/* Fits reg's owner table if the calling thread's last owner record made
 * a check due (fdn__reg_owner_get).  Inline: every registration asks. */
static inline void fdn__reg_fit_owners_due(fdn_registry_t *reg)
{
    if (fdn__reg_thread.fit_owners == reg)
        fdn__reg_fit_owners(reg);
}
/* True if e is expired at now (its namespace has a ttl). */
static inline bool fdn__reg_expired(const struct reg_entry *e, uint64_t now)
{
    uint64_t ttl = e->ns->opts.ttl_ns;
    if (ttl == 0)
        return false;
    /* Relaxed: see reg_entry.last_seen.  A reader reads now before the
     * entry's time, which a writer may have set later than that meanwhile
     * (a touch): such an entry was just seen, not expired (the unsigned
     * difference would wrap). */
    uint64_t seen = atomic_load_explicit(&e->last_seen, memory_order_relaxed);
    return now > seen && now - seen >= ttl;
}
/* The offset of an entry's fields: 8-aligned after the header and key. */
size_t fdn__reg_fields_offset(size_t key_len);
/* Starts the janitor if the registry has none and sweeps are on.  Caller
 * holds reg->ns_mutex. */
int fdn__reg_janitor_start_locked(fdn_registry_t *reg);

/* ---- entries (write.c) ------------------------------------------------- */

/* The block an entry lives in, and e's ext area parts. */
static inline void *fdn__reg_block(struct reg_entry *e)
{
    return (char *)e - e->ns->ext_bytes;
}
static inline struct reg_ix_link *fdn__reg_ix_link(struct reg_entry *e,
                                                   uint32_t i)
{
    return (struct reg_ix_link *)(void *)((char *)fdn__reg_block(e) +
                                          e->ns->ix_off) +
           i;
}
static inline struct reg_member *fdn__reg_member(struct reg_entry *e)
{
    return (struct reg_member *)(void *)((char *)fdn__reg_block(e) +
                                         e->ns->member_off);
}
static inline struct reg_entry *fdn__reg_from_member(fdn_registry_ns_t *ns,
                                                     struct cds_list_head *l)
{
    return (struct reg_entry *)(void *)((char *)l - ns->member_off +
                                        ns->ext_bytes);
}
/* Removes e (caller holds e's owner mutex, and ns->lock if held says so;
 * inside a read-side critical section), sends the UNREGISTERED event with
 * why if held, and defers the free. */
void fdn__reg_entry_remove(struct reg_entry *e, fdn_registry_reason_t why,
                           bool held);
/* Gives e's block back to the registry's pool (no reader may hold it). */
void fdn__reg_entry_free(struct reg_entry *e);
/* call_rcu callbacks that free a removed entry and a removed group. */
void fdn__reg_entry_free_rcu(struct rcu_head *head);
void fdn__reg_group_free_rcu(struct rcu_head *head);
/* Destroy-time teardown of a namespace's entries, groups, listeners,
 * indexes (no owner mutexes: nothing else runs). */
void fdn__reg_ns_teardown(fdn_registry_ns_t *ns);
void fdn__reg_ns_free(fdn_registry_ns_t *ns);

/* ---- owners (owner.c) -------------------------------------------------- */

/*
 * Returns pid's live owner record (creating and publishing it, with its
 * callback monitor, if needed), unlocked; *created says whether this call
 * made it.  Caller is in a read-side critical section; this may leave and
 * re-enter it.  Errors: FDN_ENOPROC, FDN_ENOMEM, FDN_EINVAL.
 */
int fdn__reg_owner_get(fdn_registry_t *reg, fdn_pid_t pid,
                       struct reg_owner **out, bool *created);

static inline bool fdn__reg_match_owner(const void *item, const void *arg)
{
    return ((const struct reg_owner *)item)->pid == *(const fdn_pid_t *)arg;
}

/* pid's published owner record, or NULL.  Inside a read-side critical
 * section; the record stays readable until it ends. */
static inline struct reg_owner *fdn__reg_owner_find(fdn_registry_t *reg,
                                                    fdn_pid_t pid)
{
    return fdn__map_lookup(&reg->owners, fdn__reg_hash_pid(pid),
                           fdn__reg_match_owner, &pid);
}
/* The hash reg->owners files a record under (fdn__map_init's hash). */
uint64_t fdn__reg_owner_hash(const void *item);
/* Drops r if this call created it and it holds no entries (a refused
 * write leaves no record).  Caller is in a read-side critical section,
 * holding no lock; this may leave and re-enter it. */
void fdn__reg_owner_release(struct reg_owner *r, bool created);
/* Takes n tokens from r's bucket (owner mutex held): FDN_OK, or
 * FDN_EAGAIN and *retry_ns. */
int fdn__reg_owner_take(struct reg_owner *r, uint32_t n, uint64_t *retry_ns);
/* Gives back n tokens a write took but did not use (r's mutex held). */
void fdn__reg_owner_refund(struct reg_owner *r, uint32_t n);
/* Cancels every owner monitor and waits for running callbacks (destroy). */
void fdn__reg_owners_teardown(fdn_registry_t *reg);
/* Frees every remaining record (destroy, after the namespaces emptied). */
void fdn__reg_owners_free(fdn_registry_t *reg);

/* ---- indexes (index.c); every call with ns->lock held ----------------- */

/* Creates the index of a field of type type.  FDN_ENOMEM. */
int fdn__rix_create(const fdn_allocator_t *a, fdn_meta_type_t type,
                    struct reg_index **out);
void fdn__rix_destroy(struct reg_index *ix);
/* Puts e (through its link l) under value v, or under nothing if v is
 * NULL or not of the index's type.  FDN_ENOMEM (nothing changes). */
int fdn__rix_insert(struct reg_index *ix, struct reg_ix_link *l,
                    const fdn_meta_value_t *v);
/* Takes l out of its value (nothing if under none); frees the value when
 * its last entry leaves. */
void fdn__rix_remove(struct reg_index *ix, struct reg_ix_link *l);
/* Entries in the index under values in [lo, hi] (either may be NULL for
 * unbounded; lo_open / hi_open exclude the bound): calls fn with each
 * entry's link until fn returns false.  Returns the count visited.  A
 * count-only variant estimates selectivity cheaply. */
typedef bool (*fdn__rix_fn)(void *arg, struct reg_ix_link *l);
uint64_t fdn__rix_scan(struct reg_index *ix, const fdn_meta_value_t *lo,
                       bool lo_open, const fdn_meta_value_t *hi, bool hi_open,
                       fdn__rix_fn fn, void *arg);
/* Entries under exactly v (O(log values)). */
uint64_t fdn__rix_count_eq(struct reg_index *ix, const fdn_meta_value_t *v);
/* Entries in the index (those that have the field). */
uint64_t fdn__rix_size(const struct reg_index *ix);
/* The entry a link belongs to (ns's layout). */
static inline struct reg_entry *fdn__reg_from_ix(fdn_registry_ns_t *ns,
                                                 struct reg_ix_link *l,
                                                 uint32_t i)
{
    return (struct reg_entry *)(void *)((char *)(l - i) - ns->ix_off +
                                         ns->ext_bytes);
}
/* Orders two values of the same type (ints and doubles numerically,
 * bools false < true, strings bytewise); values of different types order
 * by type.  <0, 0, >0. */
int fdn__meta_value_cmp(const fdn_meta_value_t *a, const fdn_meta_value_t *b);

/* ---- queries (query.c) ------------------------------------------------- */

/* Test hook: candidates examined by every query and find so far (entries
 * checked against the terms), so tests can check a plan's work without
 * timing it.  Relaxed atomic; added once per call. */
extern _Atomic uint64_t fdn__rq_examined;

#endif /* FDN_REGISTRY_INTERNAL_H */
