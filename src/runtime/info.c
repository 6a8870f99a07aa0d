/*
 * info.c — introspection: the list of live processes, per-process info,
 * and the name sources through which services tell which names a process
 * holds.
 *
 * Everything here reads other processes' fields from any thread, so it
 * reads only atomics (relaxed: each figure is a gauge; see mailbox.c for
 * the one pair, deq then enq, that needs acquire) and the lock-guarded
 * exiting flag.  A reading
 * is a near-snapshot: exact when the process is quiescent.
 */
#include "runtime/internal.h"

struct fdn__name_source {
    struct fdn__name_source *next;
    uint64_t id;
    fdn_name_source_fn fn;
    void *arg;
};

FDN_API int fdn_processes(const fdn_runtime_t *rt, fdn_pid_t *pids,
                          size_t cap, size_t *count)
{
    if (rt == NULL || count == NULL || (pids == NULL && cap > 0))
        return FDN_EINVAL;
    size_t n = 0;
    uint32_t slots = fdn__table_nslots(rt);
    for (uint32_t i = 0; i < slots; i++) {
        const struct fdn__proc *p = fdn__table_at(rt, i);
        /* Acquire: pairs with publish's release, like fdn__table_get. */
        fdn_pid_t pid = atomic_load_explicit(&p->pid, memory_order_acquire);
        if (pid == 0)
            continue;
        if (n < cap)
            pids[n] = pid;
        n++;
    }
    *count = n;
    return FDN_OK;
}

bool fdn__is_attached_proc(const struct fdn__proc *p)
{
    return (atomic_load_explicit(&p->run, memory_order_relaxed) & FDN__ATT) != 0;
}

static fdn_proc_status_t status_of(struct fdn__proc *p)
{
    int s = atomic_load_explicit(&p->run, memory_order_relaxed) & ~FDN__ATT;
    switch (s) {
    case FDN__IDLE: return FDN_STATUS_WAITING;
    case FDN__QUEUED: return FDN_STATUS_RUNNABLE;
    case FDN__RUNNING:
    case FDN__DIRTY: return FDN_STATUS_RUNNING;
    default: return FDN_STATUS_EXITING;
    }
}

FDN_API int fdn_process_info(const fdn_runtime_t *rt, fdn_pid_t pid,
                             fdn_process_info_t *info)
{
    if (rt == NULL || info == NULL || info->size < sizeof(size_t) ||
        info->size > sizeof(fdn_process_info_t))
        return FDN_EINVAL;
    struct fdn__proc *p = fdn__table_get(rt, pid);
    if (p == NULL)
        return FDN_ENOPROC;
    fdn_process_info_t o;
    memset(&o, 0, sizeof o);
    o.size = info->size;
    o.pid = pid;
    o.is_attached = fdn__is_attached_proc(p);
    const char *name = atomic_load_explicit(&p->name, memory_order_relaxed);
    o.name = o.is_attached ? "attached" : (name ? name : "");
    o.status = status_of(p);
    fdn__spin_lock(&p->lock);
    if (p->exiting)
        o.status = FDN_STATUS_EXITING;
    fdn__spin_unlock(&p->lock);
    o.trap_exit = atomic_load_explicit(&p->trap_exit, memory_order_relaxed);
    o.max_mailbox = atomic_load_explicit(&p->max_mailbox, memory_order_relaxed);
    /* Acquire deq, then enq: the difference never wraps (mailbox.c). */
    uint32_t d = atomic_load_explicit(&p->deq, memory_order_acquire);
    uint32_t e = atomic_load_explicit(&p->enq, memory_order_relaxed);
    o.mailbox_len = e - d;
    uint32_t hwm = atomic_load_explicit(&p->hwm, memory_order_relaxed);
    o.mailbox_hwm = hwm > o.mailbox_len ? hwm : o.mailbox_len;
    o.handled = atomic_load_explicit(&p->handled, memory_order_relaxed);
    o.links = atomic_load_explicit(&p->nlinks, memory_order_relaxed);
    o.monitored_by = atomic_load_explicit(&p->nmons, memory_order_relaxed);
    o.monitors = atomic_load_explicit(&p->nheld, memory_order_relaxed);
    o.requests = atomic_load_explicit(&p->nreqs, memory_order_relaxed);
    /* A link costs a record and its preallocated exit signal; a monitor
     * or request a held record, the record on the target and its
     * preallocated DOWN (a request also its CALL's timeout message). */
    size_t link_bytes = sizeof(struct fdn__link) + sizeof(struct fdn__msg);
    size_t mon_bytes = sizeof(struct fdn__held) + sizeof(struct fdn__mon) +
                       sizeof(struct fdn__msg);
    o.memory = sizeof(struct fdn__proc) + o.links * link_bytes +
               o.monitors * mon_bytes +
               o.requests * (mon_bytes + sizeof(struct fdn__msg)) +
               (size_t)o.mailbox_len * sizeof(struct fdn__msg);
    /* Died during the reading: report it dead, as a later call would. */
    if (fdn__table_get(rt, pid) == NULL)
        return FDN_ENOPROC;
    memcpy(info, &o, o.size);
    return FDN_OK;
}

FDN_API int fdn_runtime_name_source_add(fdn_runtime_t *rt,
                                        fdn_name_source_fn fn, void *arg,
                                        uint64_t *id)
{
    if (rt == NULL || fn == NULL || id == NULL)
        return FDN_EINVAL;
    struct fdn__name_source *s = fdn__alloc(rt->alloc, sizeof *s);
    if (s == NULL)
        return FDN_ENOMEM;
    s->fn = fn;
    s->arg = arg;
    pthread_rwlock_wrlock(&rt->names_lock);
    s->id = ++rt->names_next_id;
    s->next = rt->names;
    rt->names = s;
    pthread_rwlock_unlock(&rt->names_lock);
    *id = s->id;
    return FDN_OK;
}

FDN_API int fdn_runtime_name_source_remove(fdn_runtime_t *rt, uint64_t id)
{
    if (rt == NULL)
        return FDN_EINVAL;
    struct fdn__name_source *found = NULL;
    /* The write lock waits for every fdn_process_names in progress, so fn
     * is not running once it is held. */
    pthread_rwlock_wrlock(&rt->names_lock);
    for (struct fdn__name_source **pp = &rt->names; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            found = *pp;
            *pp = found->next;
            break;
        }
    }
    pthread_rwlock_unlock(&rt->names_lock);
    if (found == NULL)
        return FDN_ENOENT;
    fdn__free(rt->alloc, found);
    return FDN_OK;
}

FDN_API int fdn_process_names(fdn_runtime_t *rt, fdn_pid_t pid,
                              fdn_name_emit_fn emit, void *emit_arg)
{
    if (rt == NULL || emit == NULL)
        return FDN_EINVAL;
    if (!fdn_alive(rt, pid))
        return FDN_OK;
    pthread_rwlock_rdlock(&rt->names_lock);
    for (struct fdn__name_source *s = rt->names; s; s = s->next)
        s->fn(s->arg, pid, emit, emit_arg);
    pthread_rwlock_unlock(&rt->names_lock);
    return FDN_OK;
}

void fdn__names_fini(fdn_runtime_t *rt)
{
    while (rt->names) {
        struct fdn__name_source *s = rt->names;
        rt->names = s->next;
        fdn__free(rt->alloc, s);
    }
}
