/*
 * registry/read.c — the lock-free reads: lookup, get, members, dispatch,
 * foreach, and the keys of an owner.
 *
 * Every read runs inside one read-side critical section and takes no
 * lock: entries are immutable once published (an update publishes a new
 * entry in the old one's place), so a reader sees either no entry or one
 * whole registration (REG-S3), and an entry it found stays readable until
 * its critical section ends (REG-L2).  Nodes are subscribed to before
 * their fields are read (internal/rcu.h).  An expired entry (ttl) is not
 * returned even before a sweep removes it.
 */
#include "registry/registry_internal.h"

/* Copies e's metadata into a whole map: the stored fields, then zeroes. */
static void meta_out(const struct reg_entry *e, fdn_meta_t *meta)
{
    meta->count = e->meta_count;
    memcpy(meta->fields, fdn__reg_fields(e), fdn__reg_meta_size(e));
    memset(meta->fields + e->meta_count, 0,
           (FDN_META_MAX - e->meta_count) * sizeof meta->fields[0]);
}

/* The live entry under (key, pid) — pid FDN_PID_NONE: UNIQUE's by key —
 * or NULL.  Inside a read-side critical section. */
/* e, or NULL if e is NULL or expired (ns has a ttl). */
static inline const struct reg_entry *unexpired(fdn_registry_ns_t *ns,
                                                const struct reg_entry *e)
{
    if (e != NULL && ns->opts.ttl_ns != 0 &&
        fdn__reg_expired(e, fdn__reg_now(ns->reg)))
        return NULL;
    return e;
}

static const struct reg_entry *find(fdn_registry_ns_t *ns, const char *key,
                                    size_t len, fdn_pid_t pid)
{
    return unexpired(ns, fdn__reg_table_find(
                             ns, key, len, pid,
                             fdn__reg_hash_target(ns, key, len, pid)));
}

FDN_API int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t *pid, fdn_meta_t *meta)
{
    size_t len;
    if (ns == NULL)
        return FDN_EINVAL;
    int rc = fdn__reg_check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    if (ns->opts.kind != FDN_REGISTRY_UNIQUE)
        return FDN_ENOTSUP;
    /* find() for a UNIQUE namespace, written out: the hottest call of
     * the registry (REG-P1) pays for no dispatch on the kind (through
     * find() it took 23 more instructions and 9% longer). */
    uint64_t hash = fdn__reg_hash_key(ns->reg, key, len);
    struct reg_key_ref k = {key, len, FDN_PID_NONE};
    fdn__rcu_thread_enter();
    rc = FDN_ENOENT;
    fdn__rcu_read_lock();
    const struct reg_entry *e = unexpired(
        ns, fdn__map_lookup(&ns->table, hash, fdn__reg_match_entry, &k));
    if (e != NULL) {
        if (pid != NULL)
            *pid = e->pid;
        if (meta != NULL)
            meta_out(e, meta);
        rc = FDN_OK;
    }
    fdn__rcu_read_unlock();
    return rc;
}

FDN_API int fdn_registry_get(fdn_registry_ns_t *ns, const char *key,
                             fdn_pid_t pid, fdn_meta_t *meta,
                             uint64_t *last_seen_ns)
{
    size_t len;
    int rc = fdn__reg_check_target(ns, key, pid, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    rc = FDN_ENOENT;
    fdn__rcu_read_lock();
    const struct reg_entry *e = find(ns, key, len, pid);
    if (e != NULL && e->pid == pid) {
        if (meta != NULL)
            meta_out(e, meta);
        if (last_seen_ns != NULL)
            /* Relaxed: a timestamp. */
            *last_seen_ns =
                atomic_load_explicit(&e->last_seen, memory_order_relaxed);
        rc = FDN_OK;
    }
    fdn__rcu_read_unlock();
    return rc;
}

/* Calls fn for each live entry under key; returns how many. */
static int each_under(fdn_registry_ns_t *ns, const char *key, size_t len,
                      fdn_registry_entry_fn fn, void *arg)
{
    int n = 0;
    if (ns->opts.kind == FDN_REGISTRY_UNIQUE) {
        const struct reg_entry *e = find(ns, key, len, FDN_PID_NONE);
        if (e != NULL) {
            if (fn != NULL)
                fn(arg, fdn__reg_key(e), e->pid, fdn__reg_fields(e),
                   e->meta_count);
            n = 1;
        }
        return n;
    }
    struct reg_key_ref k = {key, len, FDN_PID_NONE};
    struct cds_lfht_iter iter;
    cds_lfht_lookup(ns->groups.ht, fdn__reg_hash_key(ns->reg, key, len),
                    fdn__reg_match_group, &k, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node == NULL)
        return 0;
    fdn__rcu_subscribe(node);
    struct reg_group *g = caa_container_of(node, struct reg_group, node);
    bool ttl = ns->opts.ttl_ns != 0;
    uint64_t now = ttl ? fdn__reg_now(ns->reg) : 0;
    struct cds_list_head *l;
    /* An RCU list: writers add and remove members under ns->lock with
     * the fdn__rcu_list operations, which publish each link. */
    for (l = fdn__rcu_list_next(&g->members); l != &g->members;
         l = fdn__rcu_list_next(l)) {
        fdn__rcu_subscribe(l);
        struct reg_entry *e = fdn__reg_from_member(ns, l);
        if (ttl && fdn__reg_expired(e, now))
            continue;
        if (fn != NULL)
            fn(arg, fdn__reg_key(e), e->pid, fdn__reg_fields(e),
               e->meta_count);
        n++;
    }
    return n;
}

struct pids_out {
    fdn_pid_t *pids;
    size_t cap, n;
};

static void collect_pid(void *arg, const char *key, fdn_pid_t pid,
                        const fdn_meta_field_t *fields, uint32_t nfields)
{
    struct pids_out *o = arg;
    (void)key;
    (void)fields;
    (void)nfields;
    if (o->n < o->cap)
        o->pids[o->n] = pid;
    o->n++;
}

FDN_API int fdn_registry_members(fdn_registry_ns_t *ns, const char *key,
                                 fdn_pid_t *pids, size_t cap, size_t *found)
{
    size_t len;
    if (ns == NULL || (pids == NULL && cap != 0))
        return FDN_EINVAL;
    int rc = fdn__reg_check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    struct pids_out o = {pids, cap, 0};
    fdn__rcu_read_lock();
    each_under(ns, key, len, collect_pid, &o);
    fdn__rcu_read_unlock();
    if (found != NULL)
        *found = o.n;
    return FDN_OK;
}

FDN_API int fdn_registry_dispatch(fdn_registry_ns_t *ns, const char *key,
                                  fdn_registry_entry_fn fn, void *arg)
{
    size_t len;
    if (ns == NULL)
        return FDN_EINVAL;
    int rc = fdn__reg_check_key(key, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    int n = each_under(ns, key, len, fn, arg);
    fdn__rcu_read_unlock();
    return n;
}

FDN_API int64_t fdn_registry_foreach(fdn_registry_ns_t *ns,
                                     fdn_registry_entry_fn fn, void *arg)
{
    if (ns == NULL)
        return FDN_EINVAL;
    fdn__rcu_thread_enter();
    int64_t n = 0;
    struct reg_map_iter it = {0};
    struct reg_entry *e;
    bool ttl = ns->opts.ttl_ns != 0;
    uint64_t now = ttl ? fdn__reg_now(ns->reg) : 0;
    fdn__rcu_read_lock();
    while ((e = fdn__map_next(&ns->table, &it)) != NULL) {
        if (ttl && fdn__reg_expired(e, now))
            continue;
        if (fn != NULL)
            fn(arg, fdn__reg_key(e), e->pid, fdn__reg_fields(e),
               e->meta_count);
        n++;
    }
    fdn__rcu_read_unlock();
    return n;
}

FDN_API int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid,
                              fdn_registry_key_fn fn, void *arg)
{
    if (reg == NULL || pid == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn__rcu_thread_enter();
    int n = 0;
    fdn__rcu_read_lock();
    struct reg_owner *r = fdn__reg_owner_find(reg, pid);
    if (r != NULL) {
        struct reg_entry *e;
        uint64_t now = fdn__reg_now(reg);
        pthread_mutex_lock(&r->mutex);
        cds_list_for_each_entry(e, &r->entries, u.owner_link)
        {
            if (fdn__reg_expired(e, now))
                continue; /* invisible, as to every read (REG-S12) */
            if (fn != NULL)
                fn(arg, e->ns->name, fdn__reg_key(e));
            n++;
        }
        pthread_mutex_unlock(&r->mutex);
    }
    fdn__rcu_read_unlock();
    return n;
}
