/*
 * registry/listen.c — listeners (subscriptions to a namespace's changes)
 * and the destroy-time teardown of a namespace.
 *
 * A listener record goes NEW -> LISTED -> GONE under ns->lock.  Its
 * callback monitor (listener_down) may run at any time after
 * fdn_monitor_fn: on a LISTED record it unlists and frees it; on a NEW one
 * it only marks it GONE (the subscriber sees that and frees it); on a GONE
 * one (being unsubscribed) it does nothing, and fdn_registry_unsubscribe,
 * which cancels the monitor (waiting for a running callback) before
 * freeing, frees it.  Events are sent while ns->lock is held (write.c), so
 * once a record is unlisted no event goes to it.
 */
#include "registry/registry_internal.h"

enum { LISTENER_NEW = 0, LISTENER_LISTED = 1, LISTENER_GONE = 2 };

/* Unlinks l from ns's list (ns->lock held, l listed). */
static void listener_unlist(fdn_registry_ns_t *ns, struct reg_listener *l)
{
    struct reg_listener **pp = &ns->listeners;
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
}

static void listener_down(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    struct reg_listener *l = arg;
    fdn_registry_ns_t *ns = l->ns;
    (void)pid;
    (void)reason;
    pthread_mutex_lock(&ns->lock);
    int state = l->state;
    if (state == LISTENER_LISTED)
        listener_unlist(ns, l);
    l->state = LISTENER_GONE;
    pthread_mutex_unlock(&ns->lock);
    if (state == LISTENER_LISTED)
        fdn__free(ns->reg->alloc, l);
}

FDN_API int fdn_registry_subscribe(fdn_registry_ns_t *ns, fdn_pid_t listener,
                                   uint32_t tag)
{
    if (ns == NULL || listener == FDN_PID_NONE)
        return FDN_EINVAL;
    fdn_registry_t *reg = ns->reg;
    fdn__rcu_thread_enter();
    /* A plain namespace turns locked first (see write.c): after the grace
     * period every writer that did not take ns->lock has finished. */
    if (!atomic_load_explicit(&ns->is_locked, memory_order_acquire)) {
        pthread_mutex_lock(&ns->lock);
        /* Release: pairs with the acquire in write.c's ns_lock. */
        atomic_store_explicit(&ns->is_locked, true, memory_order_release);
        pthread_mutex_unlock(&ns->lock);
        fdn__rcu_synchronize();
    }
    struct reg_listener *l = fdn__zalloc(reg->alloc, sizeof *l);
    if (l == NULL)
        return FDN_ENOMEM;
    l->ns = ns;
    l->pid = listener;
    l->tag = tag;
    l->state = LISTENER_NEW;
    int rc = fdn_monitor_fn(reg->rt, listener, listener_down, l, &l->ref);
    if (rc != FDN_OK) {
        fdn__free(reg->alloc, l);
        return rc;
    }
    pthread_mutex_lock(&ns->lock);
    bool is_dup = false;
    for (struct reg_listener *o = ns->listeners; o != NULL; o = o->next)
        is_dup |= o->pid == listener;
    if (l->state == LISTENER_GONE) {
        rc = FDN_ENOPROC;
    } else if (is_dup) {
        l->state = LISTENER_GONE;
        rc = FDN_EEXIST;
    } else {
        l->state = LISTENER_LISTED;
        l->next = ns->listeners;
        ns->listeners = l;
    }
    pthread_mutex_unlock(&ns->lock);
    if (rc != FDN_OK) {
        fdn_monitor_fn_cancel(reg->rt, listener, l->ref);
        fdn__free(reg->alloc, l);
    }
    return rc;
}

FDN_API int fdn_registry_unsubscribe(fdn_registry_ns_t *ns,
                                     fdn_pid_t listener)
{
    if (ns == NULL || listener == FDN_PID_NONE)
        return FDN_EINVAL;
    pthread_mutex_lock(&ns->lock);
    struct reg_listener *l = ns->listeners;
    while (l != NULL && l->pid != listener)
        l = l->next;
    if (l != NULL) {
        listener_unlist(ns, l);
        l->state = LISTENER_GONE;
    }
    pthread_mutex_unlock(&ns->lock);
    if (l == NULL)
        return FDN_ENOENT;
    fdn_monitor_fn_cancel(ns->reg->rt, listener, l->ref);
    fdn__free(ns->reg->alloc, l);
    return FDN_OK;
}

/* ------------------------------------------------------------------------ */
/* Teardown                                                                 */
/* ------------------------------------------------------------------------ */

void fdn__reg_ns_teardown(fdn_registry_ns_t *ns)
{
    fdn_registry_t *reg = ns->reg;
    /* 1. Listeners: unlist all, then cancel their monitors outside the
     * lock (a running callback takes it) and free them. */
    pthread_mutex_lock(&ns->lock);
    struct reg_listener *ls = ns->listeners;
    ns->listeners = NULL;
    for (struct reg_listener *l = ls; l != NULL; l = l->next)
        l->state = LISTENER_GONE;
    pthread_mutex_unlock(&ns->lock);
    while (ls != NULL) {
        struct reg_listener *next = ls->next;
        fdn_monitor_fn_cancel(reg->rt, ls->pid, ls->ref);
        fdn__free(reg->alloc, ls);
        ls = next;
    }
    /* 2. Entries and groups.  No owner callback runs any more (they were
     * cancelled first), so only the tables' resize workers may still
     * traverse nodes: frees are deferred as usual. */
    struct cds_lfht_iter iter;
    struct reg_map_iter it = {0};
    struct reg_entry *e;
    struct reg_group *g;
    fdn__rcu_read_lock();
    while ((e = fdn__map_next(&ns->table, &it)) != NULL) {
        if (fdn__map_del(&ns->table, fdn__reg_entry_hash(e), e)) {
            /* Unlink before call_rcu reuses the link's storage; the
             * neighbours are still allocated (frees are deferred).  The
             * counts are left as they are: nothing reads them again. */
            e->in_map = false;
            cds_list_del(&e->u.owner_link);
            fdn__rcu_call(&e->u.rcu, fdn__reg_entry_free_rcu);
        }
    }
    if (ns->member_off >= 0) {
        REG_FOR_EACH(ns->groups.ht, &iter, g, node)
        {
            fdn__rcu_subscribe(&g->node);
            if (cds_lfht_del(ns->groups.ht, &g->node) == 0)
                fdn__rcu_call(&g->rcu, fdn__reg_group_free_rcu);
        }
    }
    fdn__rcu_read_unlock();
}

void fdn__reg_ns_free(fdn_registry_ns_t *ns)
{
    if (!fdn__map_fini(&ns->table))
        FDN_PANIC("registry: namespace table not empty at destroy");
    if (ns->member_off >= 0)
        fdn__reg_table_fini(&ns->groups,
                            "registry: group table not empty at destroy");
    for (uint32_t i = 0; i < ns->nindexes; i++)
        fdn__rix_destroy(ns->indexes[i]);
    pthread_mutex_destroy(&ns->lock);
    fdn__free(ns->reg->alloc, ns->mem);
}
