/*
 * registry/registry.c — the registry and its namespaces: creation and
 * destruction, hashing, table sizing, the janitor that sweeps expired
 * entries.  The other files of the registry are listed in
 * registry_internal.h.
 *
 * Tables.  Each namespace keeps its entries in one map (map.h: lock-free
 * reads, bucket locks for writers; UNIQUE: by key; DUPLICATE: by key and
 * pid), plus, for DUPLICATE, a liburcu lock-free hash table (cds_lfht,
 * flavour urcu-memb) of groups by key.  A registry-wide map maps an owner
 * pid to its owner record (owner.c).  All of a namespace's tables and the
 * owner table are sized together (fdn__reg_fit) after a write whose count
 * change makes a check due (fdn__reg_fit_due) and after an owner's death.
 *
 * Sizing the cds_lfht tables.  They are created without liburcu's
 * CDS_LFHT_AUTO_RESIZE and sized by us (fdn__reg_table_fit).  liburcu
 * 0.13's lazy resize is unreliable: its launcher stores resize_initiated = 1
 * only after queueing the resize work, so when the worker finishes first the
 * flag stays 1 and no lazy resize is ever launched again; chains then grow
 * without bound (we measured 100k inserts taking 22 s and 3k lookups/s).
 * Even when it works, with accounting it grows only when the item count
 * crosses a power of two and exceeds 8x the bucket count, so a table of 1M
 * keys runs at 7-8 keys per bucket.  Instead, each table keeps its bucket
 * count beside our own item count; after a write, outside any read-side
 * critical section, a thread grows the table to the smallest power of two
 * holding every item once count exceeds the buckets (load factor kept in
 * [0.5, 1]) and shrinks it to twice the count once count falls below an
 * eighth of the buckets, never below 64 buckets.  cds_lfht_resize runs in
 * the calling thread; only one thread resizes a table at a time (trylock),
 * the others keep going and the table stays usable while it changes.
 * Growing is amortised O(1) per insert; shrinking waits for a grace period
 * in the calling thread.
 *
 * Every RCU operation goes through the wrappers in internal/rcu.h, which in
 * TSan builds tell TSan about the orderings liburcu provides in
 * uninstrumented code.  Every path that touches RCU data first calls
 * fdn__rcu_thread_enter(), so any thread may call the registry.
 */
#include "registry/registry_internal.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

/* Initial and minimum bucket count of each table (a power of two). */
#define REG_TABLE_MIN_BUCKETS 64UL
/* A table shrinks once it has more than this many buckets per item. */
#define REG_TABLE_SHRINK_RATIO 8U
#define REG_DEFAULT_MAX_NAMESPACES 64U
#define REG_DEFAULT_SWEEP_NS (100 * FDN_NS_PER_MS)

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
/* A registry's hash seed: from the kernel's random source, or, should
 * that fail, from the clock and the registry's address. */
static uint64_t hash_seed(const fdn_registry_t *reg)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return hash_mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^
                      (uint64_t)(uintptr_t)reg);
}

unsigned long fdn__reg_hash_key(const fdn_registry_t *reg, const char *key,
                                size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ reg->seed ^ (uint64_t)len;
    uint64_t w;
    while (len >= sizeof w) {
        memcpy(&w, key, sizeof w);
        h = hash_step(h, w);
        key += sizeof w;
        len -= sizeof w;
    }
    if (len >= 4) {
        /* 4 to 7 bytes left: two 4-byte loads that overlap cover them
         * all (the length is in the seed, so this is one-to-one). */
        uint32_t a, b;
        memcpy(&a, key, sizeof a);
        memcpy(&b, key + len - sizeof b, sizeof b);
        h = hash_step(h, (uint64_t)a | (uint64_t)b << 32);
    } else if (len != 0) {
        /* 1 to 3: the first, middle and last bytes are all of them. */
        w = (uint64_t)(unsigned char)key[0] |
            (uint64_t)(unsigned char)key[len / 2] << 8 |
            (uint64_t)(unsigned char)key[len - 1] << 16;
        h = hash_step(h, w);
    }
    return (unsigned long)hash_mix64(h);
}

unsigned long fdn__reg_hash_pid(fdn_pid_t pid)
{
    return (unsigned long)hash_mix64(pid);
}

unsigned long fdn__reg_hash_member(const fdn_registry_t *reg,
                                   const char *key, size_t len, fdn_pid_t pid)
{
    return (unsigned long)hash_mix64(
        (uint64_t)fdn__reg_hash_key(reg, key, len) ^
        (pid * UINT64_C(0x9e3779b97f4a7c15)));
}

uint64_t fdn__reg_entry_hash(const struct reg_entry *e)
{
    return fdn__reg_hash_target(e->ns, fdn__reg_key(e), e->key_len, e->pid);
}

/* ns->table's hash function (map.h), for resizes. */
static uint64_t map_entry_hash(const void *item)
{
    return fdn__reg_entry_hash(item);
}

/* Group lookups run inside liburcu's, on nodes it found in the table, so
 * they subscribe to the node before reading it. */
int fdn__reg_match_group(struct cds_lfht_node *node, const void *arg)
{
    fdn__rcu_subscribe(node);
    const struct reg_group *g = caa_container_of(node, struct reg_group, node);
    const struct reg_key_ref *k = arg;
    return g->key_len == k->len && memcmp(g->key, k->key, k->len) == 0;
}

int fdn__reg_check_target(const fdn_registry_ns_t *ns, const char *key,
                          fdn_pid_t pid, size_t *len)
{
    if (ns == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    return fdn__reg_check_key(key, len);
}

const fdn_meta_value_t *fdn__reg_meta_get(const struct reg_entry *e,
                                          const char *name)
{
    const fdn_meta_field_t *f = fdn__reg_fields(e);
    for (uint32_t i = 0; i < e->meta_count; i++) {
        if (strncmp(f[i].name, name, FDN_META_NAME_MAX + 1) == 0)
            return &f[i].value;
    }
    return NULL;
}

uint64_t fdn__reg_now(const fdn_registry_t *reg)
{
    return fdn_clock_now(reg->clock);
}

uint64_t fdn__reg_stamp(const fdn_registry_ns_t *ns)
{
    /* Only a reported time may lag: the coarse read is a fifth of the
     * fine one's cost, which was 9% of a registration (REG-P2). */
    return ns->lru_off >= 0 ? fdn__reg_now(ns->reg)
                            : fdn__clock_now_coarse(ns->reg->clock);
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */
/* ------------------------------------------------------------------------ */

/* Creates t's table at the minimum size; false if out of memory.  No
 * liburcu flags: fdn__reg_table_fit sizes it (see the file comment). */
bool fdn__reg_table_init(struct reg_table *t)
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
void fdn__reg_table_fini(struct reg_table *t, const char *why)
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
void fdn__reg_table_fit(struct reg_table *t, uint64_t count)
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

/* ------------------------------------------------------------------------ */
/* The janitor                                                              */
/* ------------------------------------------------------------------------ */

/* Sweeps every namespace with a ttl each sweep_interval_ns until stopped.
 * Namespaces are never freed before the janitor stops (destroy joins it
 * first), so the slots below ns_count stay valid without ns_mutex. */
static void *janitor_main(void *arg)
{
    fdn_registry_t *reg = arg;
    fdn__rcu_thread_enter();
    pthread_mutex_lock(&reg->ns_mutex);
    while (!reg->janitor_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + reg->sweep_interval_ns;
        ts.tv_sec += (time_t)(t / FDN_NS_PER_S);
        ts.tv_nsec = (long)(t % FDN_NS_PER_S);
        pthread_cond_timedwait(&reg->janitor_cond, &reg->ns_mutex, &ts);
        if (reg->janitor_stop)
            break;
        /* Relaxed: ns_mutex orders the slots (creators hold it too). */
        uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_relaxed);
        pthread_mutex_unlock(&reg->ns_mutex);
        for (uint32_t i = 0; i < n; i++) {
            if (reg->namespaces[i]->opts.ttl_ns != 0)
                fdn_registry_sweep(reg->namespaces[i]);
        }
        pthread_mutex_lock(&reg->ns_mutex);
    }
    pthread_mutex_unlock(&reg->ns_mutex);
    return NULL;
}

int fdn__reg_janitor_start_locked(fdn_registry_t *reg)
{
    if (reg->has_janitor || reg->sweep_interval_ns == FDN_INFINITY)
        return FDN_OK;
    if (pthread_create(&reg->janitor, NULL, janitor_main, reg) != 0)
        return FDN_ESYS;
    reg->has_janitor = true;
    return FDN_OK;
}

static void janitor_stop(fdn_registry_t *reg)
{
    pthread_mutex_lock(&reg->ns_mutex);
    bool has = reg->has_janitor;
    reg->janitor_stop = true;
    pthread_cond_broadcast(&reg->janitor_cond);
    pthread_mutex_unlock(&reg->ns_mutex);
    if (has)
        pthread_join(reg->janitor, NULL);
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

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
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    if (opts != NULL) {
        /* Older callers may pass a shorter struct (as fdn_runtime_create
         * allows); the fields it lacks keep their defaults. */
        if (opts->size < offsetof(fdn_registry_opts_t, max_namespaces) +
                             sizeof opts->max_namespaces ||
            opts->size > sizeof *opts)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
    }
    uint32_t max_ns =
        o.max_namespaces != 0 ? o.max_namespaces : REG_DEFAULT_MAX_NAMESPACES;
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
    if (fdn__map_init(&reg->owners, a, fdn__reg_owner_hash) != FDN_OK) {
        fdn__free(a, reg->namespaces);
        fdn__free(a, reg);
        return FDN_ENOMEM;
    }
    reg->rt = rt;
    reg->alloc = a;
    reg->clock = fdn_runtime_clock(rt);
    reg->seed = hash_seed(reg);
    reg->max_namespaces = max_ns;
    reg->owner_rate = o.owner_rate;
    reg->owner_burst = o.owner_burst != 0 ? o.owner_burst
                       : o.owner_rate != 0 ? o.owner_rate
                                           : 1;
    reg->sweep_interval_ns =
        o.sweep_interval_ns != 0 ? o.sweep_interval_ns : REG_DEFAULT_SWEEP_NS;
    pthread_mutex_init(&reg->ns_mutex, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&reg->janitor_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&reg->ns_count, 0);
    atomic_init(&reg->owner_count, 0);
    atomic_init(&reg->downs, 0);
    fdn__slab_init(&reg->slab, a);
    /* fdn_process_names reports each process's keys through us. */
    if (fdn_runtime_name_source_add(rt, registry_names, reg,
                                    &reg->names_id) != FDN_OK) {
        pthread_cond_destroy(&reg->janitor_cond);
        pthread_mutex_destroy(&reg->ns_mutex);
        fdn__map_fini(&reg->owners);
        fdn__free(a, reg->namespaces);
        fdn__free(a, reg);
        return FDN_ENOMEM;
    }
    *out = reg;
    return FDN_OK;
}

FDN_API void fdn_registry_destroy(fdn_registry_t *reg)
{
    if (reg == NULL)
        return;
    fdn__rcu_thread_enter();
    /* 0. No fdn_process_names call is in us once this returns, and no
     * sweep runs. */
    fdn_runtime_name_source_remove(reg->rt, reg->names_id);
    janitor_stop(reg);
    /* 1. No owner callback runs or will run (owner.c). */
    fdn__reg_owners_teardown(reg);
    /* 2. Every namespace's listeners, entries, groups and indexes. */
    uint32_t nns = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    for (uint32_t i = 0; i < nns; i++)
        fdn__reg_ns_teardown(reg->namespaces[i]);
    fdn__reg_owners_free(reg);
    /* 3. Run every deferred free (they use reg->alloc), then free the
     * tables, namespaces and the registry. */
    fdn__rcu_barrier();
    for (uint32_t i = 0; i < nns; i++)
        fdn__reg_ns_free(reg->namespaces[i]);
    if (!fdn__map_fini(&reg->owners))
        FDN_PANIC("registry: owner table not empty at destroy");
    fdn__slab_fini(&reg->slab);
    pthread_cond_destroy(&reg->janitor_cond);
    pthread_mutex_destroy(&reg->ns_mutex);
    fdn__free(reg->alloc, reg->namespaces);
    fdn__free(reg->alloc, reg);
}

/* ------------------------------------------------------------------------ */
/* Namespaces                                                               */
/* ------------------------------------------------------------------------ */

FDN_API int fdn_registry_ns_opts_field(fdn_registry_ns_opts_t *opts,
                                       const char *name, fdn_meta_type_t type,
                                       bool required, bool indexed)
{
    if (opts == NULL || name == NULL || name[0] == '\0' ||
        type <= FDN_META_NONE || type > FDN_META_STR)
        return FDN_EINVAL;
    size_t len = strnlen(name, FDN_META_NAME_MAX + 1);
    if (len > FDN_META_NAME_MAX)
        return FDN_ETOOBIG;
    uint32_t nix = 0;
    for (uint32_t i = 0; i < opts->nfields && i < FDN_META_MAX; i++) {
        if (strcmp(opts->fields[i].name, name) == 0)
            return FDN_EINVAL;
        nix += opts->fields[i].indexed;
    }
    if (opts->nfields >= FDN_META_MAX ||
        (indexed && nix >= FDN_REGISTRY_INDEX_MAX))
        return FDN_ELIMIT;
    fdn_registry_field_t *f = &opts->fields[opts->nfields++];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, len + 1);
    f->type = type;
    f->required = required;
    f->indexed = indexed;
    return FDN_OK;
}

/* Checks opts (a full-size copy) for fdn_registry_namespace_opts. */
static int ns_opts_check(const fdn_registry_ns_opts_t *o)
{
    if (o->kind != FDN_REGISTRY_UNIQUE && o->kind != FDN_REGISTRY_DUPLICATE)
        return FDN_EINVAL;
    if (o->on_full != FDN_REGISTRY_REJECT &&
        o->on_full != FDN_REGISTRY_EVICT_LRU)
        return FDN_EINVAL;
    if (o->on_full == FDN_REGISTRY_EVICT_LRU && o->max_entries == 0 &&
        o->max_meta_bytes == 0)
        return FDN_EINVAL;
    if (o->nfields > FDN_META_MAX)
        return FDN_EINVAL;
    uint32_t nix = 0;
    for (uint32_t i = 0; i < o->nfields; i++) {
        const fdn_registry_field_t *f = &o->fields[i];
        size_t len = strnlen(f->name, sizeof f->name);
        if (len == 0 || len > FDN_META_NAME_MAX || f->type <= FDN_META_NONE ||
            f->type > FDN_META_STR)
            return FDN_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(o->fields[j].name, f->name) == 0)
                return FDN_EINVAL;
        nix += f->indexed;
    }
    if (nix > FDN_REGISTRY_INDEX_MAX)
        return FDN_EINVAL;
    return FDN_OK;
}

/* Two option sets are the same namespace configuration. */
static bool ns_opts_equal(const fdn_registry_ns_opts_t *a,
                          const fdn_registry_ns_opts_t *b)
{
    if (a->kind != b->kind || a->max_entries != b->max_entries ||
        a->max_meta_bytes != b->max_meta_bytes || a->on_full != b->on_full ||
        a->ttl_ns != b->ttl_ns || a->nfields != b->nfields ||
        a->strict != b->strict)
        return false;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const fdn_registry_field_t *x = &a->fields[i], *y = &b->fields[i];
        if (strcmp(x->name, y->name) != 0 || x->type != y->type ||
            x->required != y->required || x->indexed != y->indexed)
            return false;
    }
    return true;
}

/* The namespace called name, or NULL. */
static fdn_registry_ns_t *registry_namespace_find(const fdn_registry_t *reg,
                                                  const char *name)
{
    /* Acquire: pairs with the release store in ns_create, so the slots
     * below ns_count are fully initialised namespaces. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(reg->namespaces[i]->name, name) == 0)
            return reg->namespaces[i];
    }
    return NULL;
}

/* The largest entry (every extra, the longest key, every field) is a
 * slab block (slab.h). */
_Static_assert(sizeof(struct cds_list_head) + sizeof(struct reg_member) +
                       FDN_REGISTRY_INDEX_MAX * sizeof(struct reg_ix_link) +
                       (offsetof(struct reg_entry, key) +
                        FDN_REGISTRY_KEY_MAX + 1 + 7) / 8 * 8 +
                       FDN_META_MAX * sizeof(fdn_meta_field_t) <=
                   SLAB_MAX_BYTES,
               "every entry fits a slab block");

/* Lays out the ext area (see registry_internal.h) for ns's options. */
static void ns_layout(fdn_registry_ns_t *ns)
{
    const fdn_registry_ns_opts_t *o = &ns->opts;
    uint32_t off = 0;
    ns->lru_off = ns->member_off = ns->ix_off = -1;
    if (o->ttl_ns != 0 || o->on_full == FDN_REGISTRY_EVICT_LRU) {
        ns->lru_off = (int32_t)off;
        off += sizeof(struct cds_list_head);
    }
    if (o->kind == FDN_REGISTRY_DUPLICATE) {
        ns->member_off = (int32_t)off;
        off += sizeof(struct reg_member);
    }
    ns->nindexes = 0;
    for (uint32_t i = 0; i < o->nfields; i++) {
        if (o->fields[i].indexed)
            ns->ix_field[ns->nindexes++] = o->fields[i].name;
    }
    if (ns->nindexes != 0) {
        ns->ix_off = (int32_t)off;
        off += ns->nindexes * (uint32_t)sizeof(struct reg_ix_link);
    }
    ns->ext_bytes = off;
}

/* Creates and publishes a namespace; caller holds reg->ns_mutex and has
 * checked that none is called name. */
static int ns_create(fdn_registry_t *reg, const char *name, size_t len,
                     const fdn_registry_ns_opts_t *o,
                     fdn_registry_ns_t **out)
{
    /* Relaxed: only creators store ns_count, and they hold ns_mutex. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_relaxed);
    if (n >= reg->max_namespaces)
        return FDN_ELIMIT;
    if (o->ttl_ns != 0) {
        int rc = fdn__reg_janitor_start_locked(reg);
        if (rc != FDN_OK)
            return rc;
    }
    /* On a line boundary, as its stripes' alignment requires: the
     * allocator promises only the alignment of any basic type. */
    size_t line = _Alignof(fdn_registry_ns_t);
    void *mem = fdn__zalloc(reg->alloc, sizeof(fdn_registry_ns_t) + line - 1);
    if (mem == NULL)
        return FDN_ENOMEM;
    fdn_registry_ns_t *ns =
        (fdn_registry_ns_t *)(void *)(((uintptr_t)mem + line - 1) &
                                      ~(uintptr_t)(line - 1));
    ns->mem = mem;
    ns->reg = reg;
    ns->opts = *o;
    ns->opts.size = sizeof ns->opts;
    memcpy(ns->name, name, len + 1);
    ns_layout(ns);
    uint32_t made = 0;
    int rc = FDN_OK;
    for (; made < ns->nindexes && rc == FDN_OK; made++) {
        fdn_meta_type_t type = FDN_META_NONE;
        for (uint32_t i = 0; i < o->nfields; i++)
            if (ns->opts.fields[i].name == ns->ix_field[made])
                type = o->fields[i].type;
        rc = fdn__rix_create(reg->alloc, type, &ns->indexes[made]);
    }
    bool has_groups = o->kind == FDN_REGISTRY_DUPLICATE;
    if (rc == FDN_OK)
        rc = fdn__map_init(&ns->table, reg->alloc, map_entry_hash);
    if (rc == FDN_OK && has_groups && !fdn__reg_table_init(&ns->groups)) {
        fdn__map_fini(&ns->table);
        rc = FDN_ENOMEM;
    }
    if (rc != FDN_OK) {
        for (uint32_t i = 0; i < made; i++)
            if (ns->indexes[i] != NULL)
                fdn__rix_destroy(ns->indexes[i]);
        fdn__free(reg->alloc, ns->mem);
        return rc;
    }
    pthread_mutex_init(&ns->lock, NULL);
    CDS_INIT_LIST_HEAD(&ns->lru);
    bool is_locked = has_groups || o->max_entries != 0 ||
                     o->max_meta_bytes != 0 || ns->lru_off >= 0 ||
                     ns->nindexes != 0;
    atomic_init(&ns->is_locked, is_locked);
    for (int i = 0; i < REG_STRIPES; i++) {
        struct reg_stripe *st = &ns->stripes[i];
        atomic_init(&st->added, 0);
        for (int r = 0; r < REG_REASONS; r++)
            atomic_init(&st->removed[r], 0);
        atomic_init(&st->updates, 0);
        atomic_init(&st->touches, 0);
        atomic_init(&st->meta_bytes, 0);
    }
    reg->namespaces[n] = ns;
    /* Release: pairs with the acquire in registry_namespace_find and
     * fdn_registry_total; publishes the slot and the namespace. */
    atomic_store_explicit(&reg->ns_count, n + 1, memory_order_release);
    *out = ns;
    return FDN_OK;
}

FDN_API int fdn_registry_namespace_opts(fdn_registry_t *reg, const char *name,
                                        const fdn_registry_ns_opts_t *opts,
                                        fdn_registry_ns_t **out)
{
    if (reg == NULL || name == NULL || name[0] == '\0' || out == NULL)
        return FDN_EINVAL;
    size_t len = strnlen(name, FDN_REGISTRY_NS_MAX + 1);
    if (len > FDN_REGISTRY_NS_MAX)
        return FDN_ETOOBIG;
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    if (opts != NULL) {
        if (opts->size < offsetof(fdn_registry_ns_opts_t, kind) +
                             sizeof opts->kind ||
            opts->size > sizeof *opts)
            return FDN_EINVAL;
        memcpy(&o, opts, opts->size);
        o.size = sizeof o;
        int rc = ns_opts_check(&o);
        if (rc != FDN_OK)
            return rc;
    }
    fdn_registry_ns_t *ns = registry_namespace_find(reg, name);
    if (ns == NULL) {
        fdn__rcu_thread_enter();
        pthread_mutex_lock(&reg->ns_mutex);
        /* Re-check under the mutex: another creator may have won. */
        ns = registry_namespace_find(reg, name);
        int rc = FDN_OK;
        if (ns == NULL)
            rc = ns_create(reg, name, len, &o, &ns);
        pthread_mutex_unlock(&reg->ns_mutex);
        if (rc != FDN_OK)
            return rc;
    }
    if (opts != NULL && !ns_opts_equal(&ns->opts, &o))
        return FDN_EEXIST;
    *out = ns;
    return FDN_OK;
}

FDN_API int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                                   fdn_registry_ns_t **out)
{
    return fdn_registry_namespace_opts(reg, name, NULL, out);
}

FDN_API fdn_registry_ns_t *fdn_registry_namespace_find(const fdn_registry_t *reg,
                                                       const char *name)
{
    if (reg == NULL || name == NULL)
        return NULL;
    return registry_namespace_find(reg, name);
}

FDN_API fdn_registry_kind_t fdn_registry_ns_kind(const fdn_registry_ns_t *ns)
{
    return ns != NULL ? ns->opts.kind : FDN_REGISTRY_UNIQUE;
}

FDN_API const char *fdn_registry_ns_name(const fdn_registry_ns_t *ns)
{
    return ns != NULL ? ns->name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Counts and sizes                                                         */
/* ------------------------------------------------------------------------ */

_Thread_local struct reg_thread fdn__reg_thread;

uint32_t fdn__reg_stripe_assign(void)
{
    static _Atomic uint32_t next;
    /* Relaxed: any stripe is correct; taking them in turn only spreads
     * the threads. */
    uint32_t id =
        atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
            REG_STRIPES +
        1;
    fdn__reg_thread.stripe = id;
    return id;
}

void fdn__reg_ns_sums(const fdn_registry_ns_t *ns, struct reg_sums *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < REG_STRIPES; i++) {
        const struct reg_stripe *st = &ns->stripes[i];
        /* Relaxed: statistics (write.c, Counts).  Sums wrap; the counts
         * they make are clamped by the readers below. */
        out->added += atomic_load_explicit(&st->added, memory_order_relaxed);
        for (int r = 0; r < REG_REASONS; r++)
            out->removed[r] += atomic_load_explicit(&st->removed[r],
                                                    memory_order_relaxed);
        out->updates += atomic_load_explicit(&st->updates,
                                             memory_order_relaxed);
        out->touches += atomic_load_explicit(&st->touches,
                                             memory_order_relaxed);
        out->meta_bytes += (uint64_t)atomic_load_explicit(
            &st->meta_bytes, memory_order_relaxed);
    }
}

/* A sum that a racing reader may see below zero, as a count (at least
 * 0; write.c, Counts). */
static uint64_t count_of(uint64_t sum)
{
    return (int64_t)sum > 0 ? sum : 0;
}

uint64_t fdn__reg_sums_count(const struct reg_sums *s)
{
    uint64_t removed = 0;
    for (int r = 0; r < REG_REASONS; r++)
        removed += s->removed[r];
    return count_of(s->added - removed);
}

uint64_t fdn__reg_ns_count(const fdn_registry_ns_t *ns)
{
    struct reg_sums s;
    fdn__reg_ns_sums(ns, &s);
    return fdn__reg_sums_count(&s);
}

uint64_t fdn__reg_ns_meta_bytes(const fdn_registry_ns_t *ns)
{
    struct reg_sums s;
    fdn__reg_ns_sums(ns, &s);
    return count_of(s.meta_bytes);
}

/* Fits ns's entry table to count and reg's owner table to its count. */
static void fit_maps(fdn_registry_ns_t *ns, uint64_t count)
{
    fdn__map_fit(&ns->table, count);
    fdn__reg_fit_owners(ns->reg);
}

void fdn__reg_fit_maps(fdn_registry_ns_t *ns)
{
    fit_maps(ns, fdn__reg_ns_count(ns));
}

void fdn__reg_fit(fdn_registry_ns_t *ns)
{
    /* One sum of the stripes for both tables. */
    uint64_t count = fdn__reg_ns_count(ns);
    fit_maps(ns, count);
    if (ns->member_off >= 0)
        fdn__reg_table_fit(&ns->groups, count);
}

void fdn__reg_fit_owners(fdn_registry_t *reg)
{
    fdn__reg_thread.fit_owners = NULL;
    fdn__map_fit(&reg->owners, fdn_registry_owner_count(reg));
}

FDN_API uint64_t fdn_registry_count(const fdn_registry_ns_t *ns)
{
    if (ns == NULL)
        return 0;
    return fdn__reg_ns_count(ns);
}

FDN_API uint64_t fdn_registry_meta_bytes(const fdn_registry_ns_t *ns)
{
    if (ns == NULL)
        return 0;
    return fdn__reg_ns_meta_bytes(ns);
}

FDN_API uint64_t fdn_registry_total(const fdn_registry_t *reg)
{
    if (reg == NULL)
        return 0;
    /* Acquire: pairs with the release in ns_create. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += fdn_registry_count(reg->namespaces[i]);
    return total;
}

FDN_API uint64_t fdn_registry_owner_count(const fdn_registry_t *reg)
{
    if (reg == NULL)
        return 0;
    /* Relaxed: a statistic. */
    return atomic_load_explicit(&reg->owner_count, memory_order_relaxed);
}

FDN_API void fdn_registry_stats(const fdn_registry_t *reg,
                                fdn_registry_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (reg == NULL)
        return;
    /* Acquire: pairs with the release in ns_create. */
    uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
    out->namespaces = n;
    for (uint32_t i = 0; i < n; i++) {
        const fdn_registry_ns_t *ns = reg->namespaces[i];
        struct reg_sums s;
        fdn__reg_ns_sums(ns, &s);
        /* Added and removed explicitly: registrations and unregistrations
         * in a UNIQUE namespace, joins and leaves in a DUPLICATE one. */
        if (ns->opts.kind == FDN_REGISTRY_DUPLICATE) {
            out->joins += s.added;
            out->leaves += s.removed[FDN_REGISTRY_EXPLICIT - 1];
        } else {
            out->registrations += s.added;
            out->unregistrations += s.removed[FDN_REGISTRY_EXPLICIT - 1];
        }
        out->cleanups += s.removed[FDN_REGISTRY_DOWN - 1];
        out->evictions += s.removed[FDN_REGISTRY_EVICTED - 1];
        out->expirations += s.removed[FDN_REGISTRY_EXPIRED - 1];
        out->updates += s.updates;
        out->touches += s.touches;
        out->entries += fdn__reg_sums_count(&s);
    }
    out->owners = fdn_registry_owner_count(reg);
}

/* The offset of an entry's fields from the entry (8-aligned after the
 * key). */
static size_t fields_offset(size_t key_len)
{
    return (offsetof(struct reg_entry, key) + key_len + 1 + 7) & ~(size_t)7;
}

size_t fdn__reg_fields_offset(size_t key_len)
{
    return fields_offset(key_len);
}

FDN_API size_t fdn_registry_entry_bytes_ns(const fdn_registry_ns_t *ns,
                                           size_t key_len, uint32_t nfields)
{
    size_t ext = ns != NULL ? ns->ext_bytes : 0;
    if (nfields == 0)
        return ext + offsetof(struct reg_entry, key) + key_len + 1;
    return ext + fields_offset(key_len) +
           (size_t)nfields * sizeof(fdn_meta_field_t);
}

FDN_API size_t fdn_registry_entry_bytes_meta(size_t key_len, uint32_t nfields)
{
    return fdn_registry_entry_bytes_ns(NULL, key_len, nfields);
}

FDN_API size_t fdn_registry_entry_bytes(size_t key_len)
{
    return fdn_registry_entry_bytes_meta(key_len, 0);
}
