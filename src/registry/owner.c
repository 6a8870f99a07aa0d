/*
 * registry/owner.c — owner records: one per pid holding entries, with one
 * callback monitor; owner death; per-owner rate limits.
 *
 * A record {mutex, dead and retired flags, list of the owner's entries in
 * every namespace, monitor ref, token bucket} exists for each pid that
 * holds (or is registering) entries.  The record's mutex guards its list
 * and flags, and every insertion or removal of one of the owner's entries
 * happens with it held (write.c).  Lock order: a namespace's lock, then an
 * owner mutex; never two owner mutexes at once.
 *
 * Creating a record.  The callback monitor is established (fdn_monitor_fn)
 * before the record is published and without any registry lock held, so
 * the runtime is never called while we hold a lock its callback needs.
 * Then, under the record's mutex, it is published with fdn__map_add_unique
 * (reg->owners is the registry's own table, map.h).
 * If the owner died in between, the callback has already marked the
 * unpublished record dead and the caller gets FDN_ENOPROC.  If another
 * thread published a record for the same pid first, ours is cancelled
 * (fdn_monitor_fn_cancel waits for a running callback) and theirs is used.
 *
 * Keeping and dropping.  A record stays while its owner lives, even with no
 * entries, so an owner that registers and unregisters repeatedly pays for
 * one monitor.  The exception is a refused write that created the record:
 * fdn__reg_owner_release drops it again (retired: unpublished, monitor
 * cancelled), so a loser of a race leaves nothing behind.  A writer that
 * finds the record retired when it takes the mutex looks the pid up again.
 *
 * Death.  owner_down (the callback, run on the dying thread before any DOWN
 * or EXIT about the pid is sent) marks the record dead — from then on no
 * entry can be added — and removes the listed entries one by one, taking
 * each entry's namespace lock before the record's mutex (lock order), then
 * unpublishes the record.  It runs inside one read-side critical section,
 * so the deferred frees of entries it looks at cannot run under it and a
 * listener subscription (which waits a grace period after making the
 * namespace locked) cannot change a namespace's mode under it.
 *
 * Rate limits.  A token bucket per record (fdn_registry_opts.owner_rate,
 * owner_burst), refilled lazily from the runtime clock under the mutex.
 */
#include "registry/registry_internal.h"

#include <sched.h>

/* How many namespaces an owner's death tracks to fit their tables. */
#define OWNER_FIT_MAX 4

uint64_t fdn__reg_owner_hash(const void *item)
{
    return fdn__reg_hash_pid(((const struct reg_owner *)item)->pid);
}

static void owner_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct reg_owner *r = caa_container_of(head, struct reg_owner, rcu);
    pthread_mutex_destroy(&r->mutex);
    fdn__free(r->reg->alloc, r);
    fdn__rcu_callback_end();
}

/* Unpublishes r (mutex held, r published) and defers its free. */
static void owner_unpublish_locked(struct reg_owner *r)
{
    r->is_published = false;
    /* Relaxed: a statistic, used to size the owner table. */
    atomic_fetch_sub_explicit(&r->reg->owner_count, 1, memory_order_relaxed);
    if (!fdn__map_del(&r->reg->owners, fdn__reg_hash_pid(r->pid), r))
        FDN_PANIC("registry: owner record missing from the owner table");
}

/* The callback monitor: see the file comment. */
static void owner_down(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    struct reg_owner *r = arg;
    fdn_registry_t *reg = r->reg; /* r may be freed before we return */
    (void)pid;
    (void)reason;
    /* Relaxed: destroy reads it after a grace period that this callback's
     * critical section below precedes (fdn__reg_owners_teardown). */
    atomic_fetch_add_explicit(&reg->downs, 1, memory_order_relaxed);
    fdn__rcu_thread_enter();
    fdn__rcu_read_lock();
    pthread_mutex_lock(&r->mutex);
    r->is_dead = true;
    /* The namespaces that lost entries (OWNER_FIT_MAX; past that, all),
     * whose tables may now be too big. */
    fdn_registry_ns_t *touched[OWNER_FIT_MAX];
    int ntouched = 0;
    while (!cds_list_empty(&r->entries)) {
        struct reg_entry *e =
            cds_list_first_entry(&r->entries, struct reg_entry, u.owner_link);
        fdn_registry_ns_t *ns = e->ns;
        if (ntouched <= OWNER_FIT_MAX) {
            int i = 0;
            while (i < ntouched && touched[i] != ns)
                i++;
            if (i == OWNER_FIT_MAX)
                ntouched = OWNER_FIT_MAX + 1; /* too many: fit them all */
            else if (i == ntouched)
                touched[ntouched++] = ns;
        }
        if (atomic_load_explicit(&ns->is_locked, memory_order_acquire)) {
            /* Lock order: the namespace first.  e stays readable (we are
             * in a critical section); if it left meanwhile (unregister,
             * eviction, update), the loop looks at the new first one. */
            pthread_mutex_unlock(&r->mutex);
            pthread_mutex_lock(&ns->lock);
            pthread_mutex_lock(&r->mutex);
            if (e->in_map)
                fdn__reg_entry_remove(e, FDN_REGISTRY_DOWN, true);
            pthread_mutex_unlock(&ns->lock);
        } else {
            fdn__reg_entry_remove(e, FDN_REGISTRY_DOWN, false);
        }
    }
    bool is_published = r->is_published;
    if (is_published)
        owner_unpublish_locked(r);
    pthread_mutex_unlock(&r->mutex);
    /* An unpublished record (dying before it was published, or retired)
     * is freed by the thread that made or retired it. */
    if (is_published)
        fdn__rcu_call(&r->rcu, owner_free_rcu);
    fdn__rcu_read_unlock();
    /* Shrink what the death emptied now, on the dying thread, rather than
     * in the next registration, which would wait for the copy: the entry
     * tables and the owner table, which are ours (map.h) and resize
     * without waiting for anything (a try-lock, no grace period), as a
     * callback monitor must not block.  Not the group tables: cds_lfht's
     * resize waits for a grace period, which a destroy in a read-side
     * critical section waiting for this callback would never give; they
     * shrink at the next write whose check is due. */
    if (ntouched <= OWNER_FIT_MAX) {
        for (int i = 0; i < ntouched; i++)
            fdn__reg_fit_maps(touched[i]);
    } else {
        /* Acquire: pairs with the release in ns_create. */
        uint32_t n = atomic_load_explicit(&reg->ns_count, memory_order_acquire);
        for (uint32_t i = 0; i < n; i++)
            fdn__reg_fit_maps(reg->namespaces[i]);
    }
    if (ntouched == 0)
        fdn__reg_fit_owners(reg);
    /* Release: pairs with the acquire in fdn__reg_owners_teardown, so a
     * destroy that saw this frees nothing the fits above still use.  The
     * last touch of reg. */
    atomic_fetch_sub_explicit(&reg->downs, 1, memory_order_release);
}

int fdn__reg_owner_get(fdn_registry_t *reg, fdn_pid_t pid,
                       struct reg_owner **out, bool *created)
{
    *created = false;
    for (;;) {
        struct reg_owner *found = fdn__reg_owner_find(reg, pid);
        if (found != NULL) {
            *out = found;
            return FDN_OK; /* the caller checks dead / retired */
        }

        /* No record: make one, watched before it is published.  The
         * runtime is called outside the critical section so that its
         * locks never nest inside ours. */
        fdn__rcu_read_unlock();
        struct reg_owner *r = fdn__zalloc(reg->alloc, sizeof *r);
        if (r == NULL) {
            fdn__rcu_read_lock();
            return FDN_ENOMEM;
        }
        r->reg = reg;
        r->pid = pid;
        r->tokens = reg->owner_burst;
        r->tokens_at = fdn__reg_now(reg);
        pthread_mutex_init(&r->mutex, NULL);
        CDS_INIT_LIST_HEAD(&r->entries);
        int rc = fdn_monitor_fn(reg->rt, pid, owner_down, r, &r->ref);
        fdn__rcu_read_lock();
        if (rc != FDN_OK) {
            pthread_mutex_destroy(&r->mutex);
            fdn__free(reg->alloc, r);
            return rc;
        }
        pthread_mutex_lock(&r->mutex);
        if (r->is_dead) {
            /* Died before we published: the callback has run (inside its
             * own critical section, so a deferred free is safe). */
            pthread_mutex_unlock(&r->mutex);
            fdn__rcu_call(&r->rcu, owner_free_rcu);
            return FDN_ENOPROC;
        }
        /* The slot's release store publishes r. */
        struct reg_owner *won =
            fdn__map_add_unique(&reg->owners, fdn__reg_hash_pid(pid),
                                fdn__reg_match_owner, &pid, r);
        if (won == r) {
            r->is_published = true;
            /* Relaxed: a statistic, used to size the owner table. */
            uint64_t owners = atomic_fetch_add_explicit(
                                  &reg->owner_count, 1, memory_order_relaxed) +
                              1;
            /* Due for a size check each time the count reaches a
             * multiple of the owner table's period (as a namespace's
             * stripes do, fdn__reg_count_add): writes fit it then. */
            if ((owners & fdn__reg_period_mask(fdn__map_buckets(&reg->owners))) == 0)
                fdn__reg_thread.fit_owners = reg;
            pthread_mutex_unlock(&r->mutex);
            *out = r;
            *created = true;
            return FDN_OK;
        }
        /* Another thread published a record for pid first: drop ours and
         * use theirs (or, NULL, the table was full and could not grow).
         * Cancel outside the critical section: it may wait for our
         * callback. */
        pthread_mutex_unlock(&r->mutex);
        fdn__rcu_read_unlock();
        fdn_monitor_fn_cancel(reg->rt, pid, r->ref);
        fdn__rcu_read_lock();
        fdn__rcu_call(&r->rcu, owner_free_rcu);
        if (won == NULL)
            return FDN_ENOMEM;
    }
}

void fdn__reg_owner_release(struct reg_owner *r, bool created)
{
    if (!created)
        return;
    pthread_mutex_lock(&r->mutex);
    bool drop = !r->is_dead && !r->is_retired && r->is_published &&
                cds_list_empty(&r->entries);
    if (drop) {
        r->is_retired = true;
        owner_unpublish_locked(r);
    }
    pthread_mutex_unlock(&r->mutex);
    if (!drop)
        return;
    /* The callback may be running (the owner dying now): cancel waits for
     * it; it finds the record empty and unpublished and frees nothing. */
    fdn__rcu_read_unlock();
    fdn_monitor_fn_cancel(r->reg->rt, r->pid, r->ref);
    fdn__rcu_read_lock();
    fdn__rcu_call(&r->rcu, owner_free_rcu);
}

int fdn__reg_owner_take(struct reg_owner *r, uint32_t n, uint64_t *retry_ns)
{
    const fdn_registry_t *reg = r->reg;
    if (reg->owner_rate == 0)
        return FDN_OK;
    if (n > reg->owner_burst)
        return FDN_ELIMIT; /* could never succeed */
    uint64_t now = fdn__reg_now(reg);
    double rate = (double)reg->owner_rate;
    r->tokens += (double)(now - r->tokens_at) * rate / (double)FDN_NS_PER_S;
    if (r->tokens > (double)reg->owner_burst)
        r->tokens = (double)reg->owner_burst;
    r->tokens_at = now;
    if (r->tokens >= (double)n) {
        r->tokens -= (double)n;
        return FDN_OK;
    }
    double wait = ((double)n - r->tokens) / rate * (double)FDN_NS_PER_S;
    *retry_ns = (uint64_t)wait + 1;
    return FDN_EAGAIN;
}

void fdn__reg_owner_refund(struct reg_owner *r, uint32_t n)
{
    const fdn_registry_t *reg = r->reg;
    if (reg->owner_rate == 0)
        return;
    r->tokens += (double)n;
    if (r->tokens > (double)reg->owner_burst)
        r->tokens = (double)reg->owner_burst;
}

void fdn__reg_owners_teardown(fdn_registry_t *reg)
{
    struct reg_map_iter it = {0};
    struct reg_owner *r;
    /*
     * 1. Cancel every owner monitor.  No write runs concurrently (the
     * contract), so the only concurrent writers are owner_down callbacks.
     * After fdn_monitor_fn_cancel(r) returns, r's callback is finished or
     * will never run.  A record the walk misses was deleted by a callback
     * that was inside its read-side critical section during the walk.
     */
    fdn__rcu_read_lock();
    while ((r = fdn__map_next(&reg->owners, &it)) != NULL)
        fdn_monitor_fn_cancel(reg->rt, r->pid, r->ref);
    fdn__rcu_read_unlock();
    /* 2. Wait for in-flight callbacks to leave their critical sections. */
    fdn__rcu_synchronize();
    /*
     * 3. And for them to return: after its critical section a callback
     * fits the tables its owner emptied, which destroy is about to free.
     * A callback the walk missed counted itself in before its critical
     * section, which the grace period above followed, so its count is
     * seen here; the ones the walk met were waited for by the cancel.
     * Acquire: pairs with the callback's release at its end.
     */
    while (atomic_load_explicit(&reg->downs, memory_order_acquire) != 0)
        sched_yield();
}

void fdn__reg_owners_free(fdn_registry_t *reg)
{
    struct reg_map_iter it = {0};
    struct reg_owner *r;
    fdn__rcu_read_lock();
    while ((r = fdn__map_next(&reg->owners, &it)) != NULL) {
        if (fdn__map_del(&reg->owners, fdn__reg_hash_pid(r->pid), r)) {
            atomic_fetch_sub_explicit(&reg->owner_count, 1,
                                      memory_order_relaxed);
            fdn__rcu_call(&r->rcu, owner_free_rcu);
        }
    }
    fdn__rcu_read_unlock();
}
