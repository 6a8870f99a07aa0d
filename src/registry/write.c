/*
 * registry/write.c — every change to entries: register (one, a batch),
 * join, unregister and leave, metadata updates, heartbeats, eviction of
 * full namespaces, ttl sweeps, and the listener events that report them.
 *
 * Two kinds of namespace.  A *plain* namespace (UNIQUE, no limits, ttl or
 * indexes, no listener ever) takes no namespace-wide lock: writers contend
 * only on one owner record's mutex and the lock-free table, as in the
 * first registry.  Every other namespace is *locked*: writers hold
 * ns->lock for the whole change, so changes have one order (the order of
 * their critical sections), limits are exact, the LRU list and the indexes
 * stay consistent, and the events sent to listeners under the lock arrive
 * in that order with a gap-free seq.  Readers never take ns->lock (except
 * queries on indexed namespaces, query.c).
 *
 * Turning locked.  A namespace is created locked when its options need it.
 * A plain one turns locked for good when a listener first subscribes:
 * fdn_registry_subscribe sets is_locked, waits a grace period, and only
 * then lists the listener.  Writers read is_locked inside the read-side
 * critical section that spans their change; so a writer that read false
 * has finished before the grace period ends, and every change the listener
 * could miss happened before its subscription (RCU's grace-period
 * guarantee; the acquire load pairs with the store, the grace period's
 * barriers order everything else).
 *
 * Lock order: ns->lock, then an owner mutex; never two owner mutexes (an
 * eviction releases the registering owner's mutex before it locks a
 * victim's).  Owner death follows the same order (owner.c).  All of a
 * change happens inside one read-side critical section, so entries looked
 * up stay readable until it ends; removed entries are freed after a grace
 * period (call_rcu).
 *
 * Linearization points (map.c): register and join — the tag store of a
 * successful fdn__map_add_unique (or, on FDN_EEXIST, the probe inside it,
 * under the home bucket's lock, that found the winner); unregister,
 * leave, eviction, expiry, owner death — the tag clear of fdn__map_del;
 * update — the slot store of fdn__map_replace.
 *
 * Counts.  Each change is counted right after the insert, delete or
 * replace it makes, under the entry's owner mutex (and ns->lock when
 * locked), on the writing thread's stripe of the namespace: additions
 * (register, join, batch keys), removals by reason (EXPLICIT: unregister
 * and leave; DOWN: the owner died; EVICTED; EXPIRED), updates, touches,
 * and the metadata bytes.  Two threads registering in one plain namespace
 * thus never pass one counter's cache line back and forth (a shared count
 * was a tenth of a registration's time in a profile of REG-P2), and a
 * register or unregister costs one atomic add, as it did when the stripes
 * held only the entry count: that count is now derived, additions less
 * removals, which also gives fdn_registry_stats its operation counts
 * without another add on the hot path.  A refused write counts nothing;
 * a batch counts its keys once all are in, so its rollback counts
 * nothing either.  A reader sums the stripes.  Under ns->lock every
 * writer of a locked namespace is excluded, so the sums are exact there
 * (limits); in a plain namespace they are exact once writes are
 * quiescent, and meanwhile may lag or lead by the writes in flight; an
 * entry count that an add on one stripe and a later remove on another
 * make negative for a moment reads as zero.  Every counter but the bytes
 * only goes up, so two sums, one after the other, never go down.
 *
 * Writes check the tables' sizes only every so often, so they do not read
 * every stripe each time: when the count makes a stripe's additions, or
 * its removals for one reason, pass a multiple of a period (1 for small
 * tables, up to 64; fdn__reg_count_step, fdn__reg_fit_due).  Each counter
 * moves by one per change (a batch's additions by its size, and a batch
 * fits the tables whatever they say), so the entry count grows by less
 * than REG_STRIPES periods between checks, however the writers spread
 * over namespaces: a table of b buckets that grows at 4b entries is
 * checked by 4b + 512, whatever the number of threads (a full table grows
 * at once in any case, map.c).  Shrinking is checked the same way per
 * reason, and an owner's death and a sweep fit the tables themselves.
 * Relaxed: statistics, limit checks under the lock and sizing hints;
 * they order nothing.
 */
#include "registry/registry_internal.h"


/* ------------------------------------------------------------------------ */
/* Locks                                                                    */
/* ------------------------------------------------------------------------ */

static int64_t expire_locked(fdn_registry_ns_t *ns);

/* Takes ns->lock if the namespace is locked; returns whether it did.  Call
 * inside the read-side critical section spanning the change, holding no
 * owner mutex: in a namespace with a ttl it first removes the expired
 * entries (reason EXPIRED), so that no write sees one — an expired key
 * is free to register again, an expired entry cannot be updated, touched
 * or unregistered, and expired entries count against no limit (REG-S12).
 * Locked namespaces only: every namespace with a ttl is. */
static bool ns_lock(fdn_registry_ns_t *ns)
{
    /* Acquire: pairs with the store in fdn_registry_subscribe. */
    if (!atomic_load_explicit(&ns->is_locked, memory_order_acquire))
        return false;
    pthread_mutex_lock(&ns->lock);
    if (ns->opts.ttl_ns != 0)
        expire_locked(ns);
    return true;
}

static void ns_unlock(fdn_registry_ns_t *ns, bool held)
{
    if (held)
        pthread_mutex_unlock(&ns->lock);
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */
/* ------------------------------------------------------------------------ */

/* Checks a metadata map against ns's schema.  FDN_EINVAL for a malformed
 * map (empty or repeated names, bad types); FDN_ESCHEMA for a type
 * mismatch, an undeclared field in a strict namespace or a missing
 * required field. */
static int schema_check(const fdn_registry_ns_t *ns,
                        const fdn_meta_field_t *f, uint32_t n)
{
    const fdn_registry_ns_opts_t *o = &ns->opts;
    if (n > FDN_META_MAX)
        return FDN_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strnlen(f[i].name, sizeof f[i].name);
        if (len == 0 || len > FDN_META_NAME_MAX ||
            f[i].value.type <= FDN_META_NONE ||
            f[i].value.type > FDN_META_STR)
            return FDN_EINVAL;
        if (f[i].value.type == FDN_META_STR &&
            strnlen(f[i].value.as.s, sizeof f[i].value.as.s) >
                FDN_META_STR_MAX)
            return FDN_EINVAL;
        if (f[i].value.type == FDN_META_BOOL && !fdn__meta_bool_ok(&f[i].value))
            return FDN_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(f[j].name, f[i].name) == 0)
                return FDN_EINVAL;
        bool declared = false;
        for (uint32_t j = 0; j < o->nfields; j++) {
            if (strcmp(o->fields[j].name, f[i].name) == 0) {
                if (o->fields[j].type != f[i].value.type)
                    return FDN_ESCHEMA;
                declared = true;
            }
        }
        if (!declared && o->strict)
            return FDN_ESCHEMA;
    }
    for (uint32_t j = 0; j < o->nfields; j++) {
        if (!o->fields[j].required)
            continue;
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(o->fields[j].name, f[i].name) == 0;
        if (!found)
            return FDN_ESCHEMA;
    }
    return FDN_OK;
}

/* A new, unpublished entry of ns; NULL if out of memory. */
static struct reg_entry *entry_new(fdn_registry_ns_t *ns, const char *key,
                                   size_t len, fdn_pid_t pid,
                                   const fdn_meta_field_t *fields, uint32_t n)
{
    size_t bytes = fdn_registry_entry_bytes_ns(ns, len, n);
    uint16_t where;
    char *block =
        fdn__slab_alloc(&ns->reg->slab, fdn__reg_stripe_id(), bytes, &where);
    if (block == NULL)
        return NULL;
    memset(block, 0, ns->ext_bytes);
    struct reg_entry *e = (struct reg_entry *)(void *)(block + ns->ext_bytes);
    memset(e, 0, offsetof(struct reg_entry, key));
    CDS_INIT_LIST_HEAD(&e->u.owner_link);
    e->ns = ns;
    e->pid = pid;
    e->key_len = (uint8_t)len;
    e->meta_count = (uint8_t)n;
    e->fields_off = (uint16_t)fdn__reg_fields_offset(len);
    e->slab_where = where;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    if (n != 0)
        memcpy((char *)e + e->fields_off, fields, n * sizeof *fields);
    return e;
}

void fdn__reg_entry_free(struct reg_entry *e)
{
    fdn__slab_free(&e->ns->reg->slab, fdn__reg_block(e), e->slab_where);
}

void fdn__reg_entry_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct reg_entry *e = caa_container_of(head, struct reg_entry, u.rcu);
    fdn__reg_entry_free(e);
    fdn__rcu_callback_end();
}

void fdn__reg_group_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct reg_group *g = caa_container_of(head, struct reg_group, rcu);
    fdn__free(*(const fdn_allocator_t *const *)(void *)(g + 1), g);
    fdn__rcu_callback_end();
}

/* The allocator is stored right after the group (fdn__reg_group_free_rcu has no
 * other way to reach it). */
static struct reg_group *group_new(fdn_registry_ns_t *ns, const char *key,
                                   size_t len)
{
    struct reg_group *g =
        fdn__zalloc(ns->reg->alloc, sizeof *g + sizeof(fdn_allocator_t *));
    if (g == NULL)
        return NULL;
    *(const fdn_allocator_t **)(void *)(g + 1) = ns->reg->alloc;
    cds_lfht_node_init(&g->node);
    CDS_INIT_LIST_HEAD(&g->members);
    g->key_len = (uint8_t)len;
    memcpy(g->key, key, len);
    g->key[len] = '\0';
    return g;
}

/* Unpublishes an empty group (ns->lock held) and defers its free. */
static void group_drop(fdn_registry_ns_t *ns, struct reg_group *g)
{
    if (cds_lfht_del(ns->groups.ht, &g->node) != 0)
        FDN_PANIC("registry: group missing from its table");
    fdn__rcu_call(&g->rcu, fdn__reg_group_free_rcu);
}

static struct reg_group *group_find(fdn_registry_ns_t *ns, const char *key,
                                    size_t len)
{
    struct reg_key_ref k = {key, len, FDN_PID_NONE};
    struct cds_lfht_iter iter;
    cds_lfht_lookup(ns->groups.ht, fdn__reg_hash_key(ns->reg, key, len),
                    fdn__reg_match_group, &k, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node == NULL)
        return NULL;
    fdn__rcu_subscribe(node);
    return caa_container_of(node, struct reg_group, node);
}

static struct cds_list_head *entry_lru(struct reg_entry *e)
{
    return (struct cds_list_head *)(void *)((char *)fdn__reg_block(e) +
                                            e->ns->lru_off);
}

/* Puts e into every index of ns (ns->lock held); FDN_ENOMEM leaves it in
 * none. */
static int index_add(fdn_registry_ns_t *ns, struct reg_entry *e)
{
    for (uint32_t i = 0; i < ns->nindexes; i++) {
        int rc = fdn__rix_insert(ns->indexes[i], fdn__reg_ix_link(e, i),
                                 fdn__reg_meta_get(e, ns->ix_field[i]));
        if (rc != FDN_OK) {
            while (i-- > 0)
                fdn__rix_remove(ns->indexes[i], fdn__reg_ix_link(e, i));
            return rc;
        }
    }
    return FDN_OK;
}

static void index_del(fdn_registry_ns_t *ns, struct reg_entry *e)
{
    for (uint32_t i = 0; i < ns->nindexes; i++)
        fdn__rix_remove(ns->indexes[i], fdn__reg_ix_link(e, i));
}


/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

/* Numbers the change and tells every listener (ns->lock held). */
static void emit(fdn_registry_ns_t *ns, fdn_registry_event_kind_t kind,
                 fdn_registry_reason_t reason, const struct reg_entry *e)
{
    uint64_t seq = ++ns->seq;
    if (ns->listeners == NULL)
        return;
    fdn_registry_event_t ev;
    memset(&ev, 0, offsetof(fdn_registry_event_t, fields));
    ev.seq = seq;
    ev.kind = kind;
    ev.reason = reason;
    ev.pid = e->pid;
    memcpy(ev.ns, ns->name, sizeof ev.ns);
    memcpy(ev.key, fdn__reg_key(e), (size_t)e->key_len + 1);
    ev.nfields = e->meta_count;
    memcpy(ev.fields, fdn__reg_fields(e), fdn__reg_meta_size(e));
    size_t size = offsetof(fdn_registry_event_t, fields) + fdn__reg_meta_size(e);
    for (struct reg_listener *l = ns->listeners; l != NULL; l = l->next) {
        /* A listener dying now is removed by its callback; its message is
         * dropped with its mailbox.  Out of memory loses the event for
         * that listener only; the seq gap tells it so. */
        (void)fdn_runtime_notify(ns->reg->rt, l->pid, l->tag, &ev, size);
    }
}

/* ------------------------------------------------------------------------ */
/* Insert and remove                                                        */
/* ------------------------------------------------------------------------ */

/* Whether ns holds more than its limits allow (ns->lock held). */
static bool ns_over(const fdn_registry_ns_t *ns, uint64_t add_entries,
                    uint64_t add_bytes)
{
    const fdn_registry_ns_opts_t *o = &ns->opts;
    struct reg_sums s;
    fdn__reg_ns_sums(ns, &s);
    uint64_t count = fdn__reg_sums_count(&s);
    uint64_t bytes = (int64_t)s.meta_bytes > 0 ? s.meta_bytes : 0;
    return (o->max_entries != 0 && count + add_entries > o->max_entries) ||
           (o->max_meta_bytes != 0 && bytes + add_bytes > o->max_meta_bytes);
}

/*
 * Inserts the unpublished e for owner r: r's mutex held, and ns->lock if
 * held.  emit_now: count the addition and send the REGISTERED event
 * (batches do both once all keys are in).  On error e was never visible
 * and may be freed at once.
 */
static int insert_locked(fdn_registry_ns_t *ns, struct reg_entry *e,
                         uint64_t hash, struct reg_owner *r, bool held,
                         bool emit_now, uint64_t now,
                         fdn_registry_reply_t *reply)
{
    int rc = index_add(ns, e);
    if (rc != FDN_OK)
        return rc;
    struct reg_group *g = NULL;
    bool g_new = false;
    const char *key = fdn__reg_key(e);
    if (ns->member_off >= 0) {
        g = group_find(ns, key, e->key_len);
        if (g == NULL) {
            g = group_new(ns, key, e->key_len);
            if (g == NULL) {
                index_del(ns, e);
                return FDN_ENOMEM;
            }
            g_new = true;
        }
    }
    e->owner = r;
    atomic_init(&e->last_seen, now);
    struct reg_key_ref k = {key, e->key_len, e->pid};
    /* The map's slot store publishes e. */
    struct reg_entry *won = fdn__map_add_unique(
        &ns->table, hash,
        g != NULL ? fdn__reg_match_member : fdn__reg_match_entry, &k, e);
    if (won != e) {
        /* The winner's pid is immutable and it stays readable until the
         * caller leaves the critical section. */
        if (won != NULL && reply != NULL)
            reply->winner = won->pid;
        index_del(ns, e);
        if (g_new)
            fdn__free(ns->reg->alloc, g); /* never published */
        return won != NULL ? FDN_EEXIST : FDN_ENOMEM;
    }
    e->in_map = true;
    if (g_new) {
        fdn__rcu_publish(&g->node);
        cds_lfht_add(ns->groups.ht, fdn__reg_hash_key(ns->reg, key, e->key_len),
                     &g->node);
    }
    if (g != NULL) {
        struct reg_member *m = fdn__reg_member(e);
        m->group = g;
        fdn__rcu_list_add_tail(&m->link, &g->members);
        g->count++;
    }
    cds_list_add(&e->u.owner_link, &r->entries);
    if (ns->lru_off >= 0)
        cds_list_add_tail(entry_lru(e), &ns->lru);
    if (emit_now) {
        fdn__reg_count_added(ns, 1, (int64_t)fdn__reg_meta_size(e));
        if (held)
            emit(ns, FDN_REGISTRY_REGISTERED, FDN_REGISTRY_NONE, e);
    }
    return FDN_OK;
}

/* Everything of e but the table: the inverse of insert_locked's links.
 * Counts the removal for reason why, unless why is NONE (the rollback of
 * a batch, whose entries were never counted). */
static void unlink_locked(struct reg_entry *e, fdn_registry_reason_t why)
{
    fdn_registry_ns_t *ns = e->ns;
    cds_list_del(&e->u.owner_link);
    if (ns->lru_off >= 0)
        cds_list_del(entry_lru(e));
    if (ns->member_off >= 0) {
        struct reg_member *m = fdn__reg_member(e);
        fdn__rcu_list_del(&m->link);
        if (--m->group->count == 0)
            group_drop(ns, m->group);
    }
    index_del(ns, e);
    if (why != FDN_REGISTRY_NONE)
        fdn__reg_count_removed(ns, why, (int64_t)fdn__reg_meta_size(e));
}

/* Removes e without an event or a count (rollback of a batch). */
static void remove_quiet(struct reg_entry *e)
{
    if (!fdn__map_del(&e->ns->table, fdn__reg_entry_hash(e), e))
        FDN_PANIC("registry: entry missing from its table");
    e->in_map = false;
    unlink_locked(e, FDN_REGISTRY_NONE);
    fdn__rcu_call(&e->u.rcu, fdn__reg_entry_free_rcu);
}

void fdn__reg_entry_remove(struct reg_entry *e, fdn_registry_reason_t why,
                           bool held)
{
    fdn_registry_ns_t *ns = e->ns;
    /* Every deleter holds e's owner mutex and checked e is still in the
     * table, so the delete cannot fail. */
    if (!fdn__map_del(&ns->table, fdn__reg_entry_hash(e), e))
        FDN_PANIC("registry: entry missing from its table");
    e->in_map = false;
    unlink_locked(e, why);
    if (held)
        emit(ns, FDN_REGISTRY_UNREGISTERED, why, e);
    fdn__rcu_call(&e->u.rcu, fdn__reg_entry_free_rcu);
}

/* Evicts least recently seen entries until ns is within its limits
 * (ns->lock held, no owner mutex).  The newest entry is at the LRU tail and
 * fits on its own, so it is never evicted. */
static void evict_locked(fdn_registry_ns_t *ns)
{
    /* An entry that expired since ns_lock goes as EXPIRED, not EVICTED. */
    if (ns->opts.ttl_ns != 0 && ns_over(ns, 0, 0))
        expire_locked(ns);
    while (ns_over(ns, 0, 0) && !cds_list_empty(&ns->lru)) {
        struct reg_entry *v = (struct reg_entry *)(void *)((char *)ns->lru.next -
                                                           ns->lru_off +
                                                           ns->ext_bytes);
        struct reg_owner *vo = v->owner;
        pthread_mutex_lock(&vo->mutex);
        fdn__reg_entry_remove(v, FDN_REGISTRY_EVICTED, true);
        pthread_mutex_unlock(&vo->mutex);
    }
}

/* A full REJECT namespace refuses; an entry bigger than the whole limit
 * is refused either way (ns->lock held). */
static int limits_check(const fdn_registry_ns_t *ns, uint64_t n,
                        uint64_t bytes)
{
    const fdn_registry_ns_opts_t *o = &ns->opts;
    if ((o->max_entries != 0 && n > o->max_entries) ||
        (o->max_meta_bytes != 0 && bytes > o->max_meta_bytes))
        return FDN_ELIMIT;
    if (o->on_full == FDN_REGISTRY_REJECT && ns_over(ns, n, bytes))
        return FDN_ELIMIT;
    return FDN_OK;
}

/*
 * Locks the owner record of pid for a write, creating it if needed:
 * ns->lock first (if the namespace is locked; *held), then the record's
 * mutex.  Checks the owner lives and takes n rate tokens.  On error
 * nothing is held except *r / *created for fdn__reg_owner_release.
 */
static int owner_lock(fdn_registry_ns_t *ns, fdn_pid_t pid, uint32_t n,
                      struct reg_owner **r, bool *created, bool *held,
                      fdn_registry_reply_t *reply)
{
    fdn_registry_t *reg = ns->reg;
    *r = NULL;
    *created = false;
    for (;;) {
        bool made;
        int rc = fdn__reg_owner_get(reg, pid, r, &made);
        *created |= made;
        if (rc != FDN_OK) {
            *r = NULL;
            return rc;
        }
        *held = ns_lock(ns);
        pthread_mutex_lock(&(*r)->mutex);
        if ((*r)->is_retired) {
            /* Dropped by a refused write since we found it: look again. */
            pthread_mutex_unlock(&(*r)->mutex);
            ns_unlock(ns, *held);
            *created = false;
            continue;
        }
        uint64_t retry = 0;
        rc = (*r)->is_dead ? FDN_ENOPROC : fdn__reg_owner_take(*r, n, &retry);
        if (rc != FDN_OK) {
            if (reply != NULL)
                reply->retry_after_ns = retry;
            pthread_mutex_unlock(&(*r)->mutex);
            ns_unlock(ns, *held);
            if (rc == FDN_ENOPROC) {
                *r = NULL; /* nothing to release: the death removes it */
            }
        }
        return rc;
    }
}

/* Registers or joins the unpublished e, filed under hash (taken: freed on
 * error).  Inside a read-side critical section. */
static int put(fdn_registry_ns_t *ns, struct reg_entry *e, uint64_t hash,
               fdn_registry_reply_t *reply)
{
    struct reg_owner *r;
    bool created, held = false;
    int rc = owner_lock(ns, e->pid, 1, &r, &created, &held, reply);
    if (rc == FDN_OK) {
        rc = held ? limits_check(ns, 1, fdn__reg_meta_size(e)) : FDN_OK;
        if (rc == FDN_OK)
            rc = insert_locked(ns, e, hash, r, held, true,
                               fdn__reg_stamp(ns), reply);
        if (rc != FDN_OK)
            fdn__reg_owner_refund(r, 1); /* a refused write costs nothing */
        pthread_mutex_unlock(&r->mutex);
        if (rc == FDN_OK && held)
            evict_locked(ns);
        ns_unlock(ns, held);
    }
    if (rc != FDN_OK) {
        fdn__reg_entry_free(e);
        if (r != NULL)
            fdn__reg_owner_release(r, created);
    }
    return rc;
}

/* Checks a register's or join's arguments; *len is the key's length. */
static int validate(fdn_registry_ns_t *ns, const char *key, fdn_pid_t pid,
                    const fdn_meta_t *meta, fdn_registry_kind_t kind,
                    size_t *len)
{
    int rc = fdn__reg_check_target(ns, key, pid, len);
    if (rc != FDN_OK)
        return rc;
    if (ns->opts.kind != kind)
        return FDN_ENOTSUP;
    return schema_check(ns, meta != NULL ? meta->fields : NULL,
                        meta != NULL ? meta->count : 0);
}

/* The new entry of a register or join whose arguments validate passed;
 * NULL if out of memory. */
static struct reg_entry *entry_for(fdn_registry_ns_t *ns, const char *key,
                                   size_t len, fdn_pid_t pid,
                                   const fdn_meta_t *meta)
{
    return entry_new(ns, key, len, pid, meta != NULL ? meta->fields : NULL,
                     meta != NULL ? meta->count : 0);
}

/* One register or join, in one read-side critical section. */
static int put_one(fdn_registry_ns_t *ns, const char *key, fdn_pid_t pid,
                   const fdn_meta_t *meta, fdn_registry_kind_t kind,
                   fdn_registry_reply_t *reply)
{
    size_t len;
    int rc = validate(ns, key, pid, meta, kind, &len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    uint64_t hash = fdn__reg_hash_target(ns, key, len, pid);
    fdn__rcu_read_lock();
    /* The insert's first cache miss, its home bucket, overlaps the
     * allocation and the owner lookup. */
    fdn__map_prefetch(&ns->table, hash);
    struct reg_entry *e = entry_for(ns, key, len, pid, meta);
    rc = e != NULL ? put(ns, e, hash, reply) : FDN_ENOMEM;
    fdn__rcu_read_unlock();
    /* Outside the critical section: the tables may need to grow. */
    if (fdn__reg_fit_due(ns))
        fdn__reg_fit(ns);
    else
        fdn__reg_fit_owners_due(ns->reg);
    return rc;
}

FDN_API int fdn_registry_register_ex(fdn_registry_ns_t *ns, const char *key,
                                     fdn_pid_t pid, const fdn_meta_t *meta,
                                     fdn_registry_reply_t *reply)
{
    return put_one(ns, key, pid, meta, FDN_REGISTRY_UNIQUE, reply);
}

FDN_API int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                                  fdn_pid_t pid, const fdn_meta_t *meta,
                                  fdn_pid_t *winner)
{
    fdn_registry_reply_t reply;
    int rc = fdn_registry_register_ex(ns, key, pid, meta, &reply);
    if (rc == FDN_EEXIST && winner != NULL)
        *winner = reply.winner;
    return rc;
}

FDN_API int fdn_registry_join(fdn_registry_ns_t *ns, const char *key,
                              fdn_pid_t pid, const fdn_meta_t *meta,
                              fdn_registry_reply_t *reply)
{
    return put_one(ns, key, pid, meta, FDN_REGISTRY_DUPLICATE, reply);
}

FDN_API int fdn_registry_register_batch(fdn_registry_ns_t *ns,
                                        const char *const *keys,
                                        const fdn_meta_t *metas, size_t n,
                                        fdn_pid_t pid,
                                        fdn_registry_reply_t *reply)
{
    if (ns == NULL || keys == NULL || n == 0 || n > UINT32_MAX)
        return FDN_EINVAL;
    if (ns->opts.kind != FDN_REGISTRY_UNIQUE)
        return FDN_ENOTSUP;
    fdn_registry_t *reg = ns->reg;
    struct reg_entry **es = fdn__zalloc(reg->alloc, n * sizeof *es);
    if (es == NULL)
        return FDN_ENOMEM;
    int rc = FDN_OK;
    size_t i;
    uint64_t bytes = 0;
    for (i = 0; i < n && rc == FDN_OK; i++) {
        size_t len;
        const fdn_meta_t *meta = metas != NULL ? &metas[i] : NULL;
        rc = validate(ns, keys[i], pid, meta, FDN_REGISTRY_UNIQUE, &len);
        if (rc == FDN_OK) {
            fdn__rcu_thread_enter();
            es[i] = entry_for(ns, keys[i], len, pid, meta);
            rc = es[i] != NULL ? FDN_OK : FDN_ENOMEM;
        }
        if (rc == FDN_OK)
            bytes += fdn__reg_meta_size(es[i]);
    }
    if (rc != FDN_OK) {
        if (reply != NULL)
            reply->failed = i - 1;
        for (size_t j = 0; j + 1 < i; j++)
            fdn__reg_entry_free(es[j]);
        fdn__free(reg->alloc, es);
        return rc;
    }
    struct reg_owner *r;
    bool created, held = false;
    size_t done = 0;
    fdn__rcu_read_lock();
    rc = owner_lock(ns, pid, (uint32_t)n, &r, &created, &held, reply);
    if (rc == FDN_OK) {
        rc = held ? limits_check(ns, n, bytes) : FDN_OK;
        uint64_t now = fdn__reg_stamp(ns);
        for (; done < n && rc == FDN_OK; done++) {
            rc = insert_locked(ns, es[done], fdn__reg_entry_hash(es[done]),
                               r, held, false, now, reply);
            if (rc != FDN_OK)
                break;
        }
        if (rc != FDN_OK) {
            if (reply != NULL)
                reply->failed = done;
            for (size_t j = 0; j < done; j++)
                remove_quiet(es[j]);
            fdn__reg_owner_refund(r, (uint32_t)n);
        } else {
            /* Counted once every key is in, so a rollback has nothing to
             * take back (insert_locked). */
            fdn__reg_count_added(ns, n, (int64_t)bytes);
            if (held)
                for (size_t j = 0; j < n; j++)
                    emit(ns, FDN_REGISTRY_REGISTERED, FDN_REGISTRY_NONE,
                         es[j]);
        }
        pthread_mutex_unlock(&r->mutex);
        if (rc == FDN_OK && held)
            evict_locked(ns);
        ns_unlock(ns, held);
    } else if (reply != NULL) {
        reply->failed = 0;
    }
    if (rc != FDN_OK) {
        /* Entries [0, done) were published and are freed by
         * remove_quiet; the rest never were. */
        for (size_t j = rc == FDN_OK ? n : done; j < n; j++)
            fdn__reg_entry_free(es[j]);
        if (r != NULL)
            fdn__reg_owner_release(r, created);
    }
    fdn__rcu_read_unlock();
    fdn__free(reg->alloc, es);
    fdn__reg_fit(ns);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Changes to existing entries                                              */
/* ------------------------------------------------------------------------ */

/*
 * Finds pid's entry under key and locks what a change to it needs:
 * ns->lock if the namespace is locked (*held), then the entry's owner
 * mutex.  On FDN_OK both are held and *out is the entry; on FDN_ENOENT
 * nothing is.  Inside a read-side critical section.
 */
static int find_locked(fdn_registry_ns_t *ns, const char *key, size_t len,
                       fdn_pid_t pid, struct reg_entry **out, bool *held)
{
    uint64_t hash = fdn__reg_hash_target(ns, key, len, pid);
    *held = ns_lock(ns);
    for (;;) {
        struct reg_entry *e = fdn__reg_table_find(ns, key, len, pid, hash);
        if (e == NULL || e->pid != pid)
            break;
        /* The record outlives the entry (freed only after its callback
         * removed all its entries, after a grace period). */
        pthread_mutex_lock(&e->owner->mutex);
        if (e->in_map) {
            *out = e;
            return FDN_OK;
        }
        /* Removed or replaced since the lookup (only in a plain
         * namespace, whose writers do not hold ns->lock): look again. */
        pthread_mutex_unlock(&e->owner->mutex);
    }
    ns_unlock(ns, *held);
    return FDN_ENOENT;
}

/*
 * The start of a change to pid's entry under key (unregister, update,
 * touch): checks the arguments, enters a read-side critical section and
 * finds and locks the entry (find_locked).  On FDN_OK the caller holds
 * what find_locked says and leaves the critical section when done; on an
 * error nothing is held and the critical section is left.
 */
static int change_begin(fdn_registry_ns_t *ns, const char *key, fdn_pid_t pid,
                        size_t *len, struct reg_entry **e, bool *held)
{
    int rc = fdn__reg_check_target(ns, key, pid, len);
    if (rc != FDN_OK)
        return rc;
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    rc = find_locked(ns, key, *len, pid, e, held);
    if (rc != FDN_OK)
        fdn__rcu_read_unlock();
    return rc;
}

FDN_API int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                                    fdn_pid_t pid)
{
    size_t len;
    struct reg_entry *e;
    bool held;
    int rc = change_begin(ns, key, pid, &len, &e, &held);
    if (rc == FDN_OK) {
        struct reg_owner *r = e->owner;
        fdn__reg_entry_remove(e, FDN_REGISTRY_EXPLICIT, held);
        pthread_mutex_unlock(&r->mutex);
        ns_unlock(ns, held);
        fdn__rcu_read_unlock();
        /* Outside the critical section: the tables may need to shrink. */
        if (fdn__reg_fit_due(ns))
            fdn__reg_fit(ns);
    }
    return rc;
}

FDN_API int fdn_registry_leave(fdn_registry_ns_t *ns, const char *key,
                               fdn_pid_t pid)
{
    if (ns != NULL && ns->opts.kind != FDN_REGISTRY_DUPLICATE)
        return FDN_ENOTSUP;
    return fdn_registry_unregister(ns, key, pid);
}

/* A MERGE's own map, before it is applied: every name 1 to
 * FDN_META_NAME_MAX bytes and NUL-terminated, no name twice, every type
 * known (NONE included: it deletes).  The merged result is then checked
 * like any map (schema_check). */
static int merge_check(const fdn_meta_t *meta)
{
    for (uint32_t i = 0; i < meta->count; i++) {
        const fdn_meta_field_t *f = &meta->fields[i];
        size_t len = strnlen(f->name, sizeof f->name);
        if (len == 0 || len > FDN_META_NAME_MAX ||
            (unsigned)f->value.type > FDN_META_STR)
            return FDN_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(meta->fields[j].name, f->name) == 0)
                return FDN_EINVAL;
    }
    return FDN_OK;
}

/* The metadata an update produces: meta itself (REPLACE), or e's fields
 * with meta's set and its NONE-typed ones removed (MERGE, meta checked by
 * merge_check). */
static int update_fields(const struct reg_entry *e, const fdn_meta_t *meta,
                         fdn_registry_update_mode_t mode, fdn_meta_t *out)
{
    if (mode == FDN_REGISTRY_REPLACE) {
        *out = *meta;
        return FDN_OK;
    }
    out->count = e->meta_count;
    memcpy(out->fields, fdn__reg_fields(e), fdn__reg_meta_size(e));
    for (uint32_t i = 0; i < meta->count; i++) {
        const fdn_meta_field_t *f = &meta->fields[i];
        uint32_t j = 0;
        while (j < out->count && strcmp(out->fields[j].name, f->name) != 0)
            j++;
        if (f->value.type == FDN_META_NONE) {
            if (j < out->count) {
                out->fields[j] = out->fields[out->count - 1];
                out->count--;
            }
            continue;
        }
        if (j == out->count) {
            if (out->count == FDN_META_MAX)
                return FDN_ELIMIT;
            out->count++;
        }
        out->fields[j] = *f;
    }
    return FDN_OK;
}

FDN_API int fdn_registry_update(fdn_registry_ns_t *ns, const char *key,
                                fdn_pid_t pid, const fdn_meta_t *meta,
                                fdn_registry_update_mode_t mode)
{
    size_t len;
    if (meta == NULL || meta->count > FDN_META_MAX ||
        (mode != FDN_REGISTRY_REPLACE && mode != FDN_REGISTRY_MERGE))
        return FDN_EINVAL;
    int rc = mode == FDN_REGISTRY_MERGE ? merge_check(meta) : FDN_OK;
    struct reg_entry *e;
    bool held;
    fdn_meta_t next;
    if (rc == FDN_OK)
        rc = change_begin(ns, key, pid, &len, &e, &held);
    if (rc != FDN_OK)
        return rc;
    struct reg_owner *r = e->owner;
    rc = update_fields(e, meta, mode, &next);
    if (rc == FDN_OK)
        rc = schema_check(ns, next.fields, next.count);
    uint32_t new_bytes = next.count * (uint32_t)sizeof(fdn_meta_field_t);
    if (rc == FDN_OK && held && new_bytes > fdn__reg_meta_size(e))
        rc = limits_check(ns, 0, new_bytes - fdn__reg_meta_size(e));
    struct reg_entry *e2 = NULL;
    if (rc == FDN_OK) {
        e2 = entry_new(ns, key, len, pid, next.fields, next.count);
        rc = e2 != NULL ? FDN_OK : FDN_ENOMEM;
    }
    if (rc == FDN_OK) {
        rc = index_add(ns, e2);
        if (rc != FDN_OK)
            fdn__reg_entry_free(e2);
    }
    if (rc == FDN_OK) {
        e2->owner = r;
        atomic_init(&e2->last_seen, fdn__reg_stamp(ns));
        /* The map's slot store publishes e2. */
        if (!fdn__map_replace(&ns->table, fdn__reg_entry_hash(e), e, e2))
            FDN_PANIC("registry: updated entry vanished under its locks");
        e->in_map = false;
        e2->in_map = true;
        cds_list_add(&e2->u.owner_link, &e->u.owner_link);
        cds_list_del(&e->u.owner_link);
        if (ns->lru_off >= 0) {
            cds_list_del(entry_lru(e));
            cds_list_add_tail(entry_lru(e2), &ns->lru);
        }
        if (ns->member_off >= 0) {
            struct reg_member *m = fdn__reg_member(e), *m2 = fdn__reg_member(e2);
            m2->group = m->group;
            fdn__rcu_list_replace(&m->link, &m2->link);
        }
        index_del(ns, e);
        fdn__reg_count_updated(ns, (int64_t)fdn__reg_meta_size(e2) -
                                       (int64_t)fdn__reg_meta_size(e));
        if (held)
            emit(ns, FDN_REGISTRY_UPDATED, FDN_REGISTRY_NONE, e2);
        fdn__rcu_call(&e->u.rcu, fdn__reg_entry_free_rcu);
    }
    pthread_mutex_unlock(&r->mutex);
    if (rc == FDN_OK && held)
        evict_locked(ns);
    ns_unlock(ns, held);
    fdn__rcu_read_unlock();
    return rc;
}

FDN_API int fdn_registry_touch(fdn_registry_ns_t *ns, const char *key,
                               fdn_pid_t pid)
{
    size_t len;
    struct reg_entry *e;
    bool held;
    int rc = change_begin(ns, key, pid, &len, &e, &held);
    if (rc == FDN_OK) {
        uint64_t now = fdn__reg_stamp(ns);
        if (fdn__reg_expired(e, now)) {
            rc = FDN_ENOENT; /* gone for readers already */
        } else {
            atomic_store_explicit(&e->last_seen, now, memory_order_relaxed);
            if (ns->lru_off >= 0) {
                cds_list_del(entry_lru(e));
                cds_list_add_tail(entry_lru(e), &ns->lru);
            }
            fdn__reg_count_touched(ns);
        }
        pthread_mutex_unlock(&e->owner->mutex);
        ns_unlock(ns, held);
        fdn__rcu_read_unlock();
    }
    return rc;
}

/* Removes the expired entries of ns, a namespace with a ttl (ns->lock
 * held, no owner mutex, inside a read-side critical section); returns how
 * many.  The LRU list is in last-seen order (every last-seen store happens
 * under ns->lock and moves the entry to the tail), so the expired entries
 * are a prefix of it and this costs O(1 + removed). */
static int64_t expire_locked(fdn_registry_ns_t *ns)
{
    int64_t n = 0;
    uint64_t now = fdn__reg_now(ns->reg);
    while (!cds_list_empty(&ns->lru)) {
        struct reg_entry *v = (struct reg_entry *)(void *)((char *)ns->lru.next -
                                                           ns->lru_off +
                                                           ns->ext_bytes);
        if (!fdn__reg_expired(v, now))
            break;
        struct reg_owner *vo = v->owner;
        pthread_mutex_lock(&vo->mutex);
        fdn__reg_entry_remove(v, FDN_REGISTRY_EXPIRED, true);
        pthread_mutex_unlock(&vo->mutex);
        n++;
    }
    return n;
}

FDN_API int64_t fdn_registry_sweep(fdn_registry_ns_t *ns)
{
    if (ns == NULL)
        return FDN_EINVAL;
    if (ns->opts.ttl_ns == 0)
        return 0;
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    pthread_mutex_lock(&ns->lock);
    int64_t n = expire_locked(ns);
    pthread_mutex_unlock(&ns->lock);
    fdn__rcu_read_unlock();
    if (n != 0)
        fdn__reg_fit(ns); /* entries, groups, owners */
    return n;
}
