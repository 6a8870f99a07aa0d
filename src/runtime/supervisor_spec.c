/*
 * supervisor_spec.c — child specs and options: checking them, packing them
 * into position-independent blocks (see supervisor_internal.h), and the
 * supervisor state built from them (its children array and restart ring).
 *
 * Versions.  fdn_supervisor_opts_t grew after 0.1 (backoff fields) and so
 * did fdn_child_spec_t (type, supervisor).  A caller built against 0.1
 * passes opts->size of the 0.1 struct; its child specs then have the 0.1
 * layout (a smaller stride), and every field they lack reads as zero.
 *
 * Threads: the functions here run on the thread of the call that uses
 * them and touch only what that call owns.
 */
#include "runtime/supervisor_internal.h"

#include <string.h>

/* The 0.1 layouts end at these fields. */
#define OPTS_V1_SIZE                                                         \
    (offsetof(fdn_supervisor_opts_t, nchildren) + sizeof(size_t))
#define SPEC_V1_SIZE offsetof(fdn_child_spec_t, type)

static size_t align_up(size_t n)
{
    return (n + FDN__SUP_ALIGN - 1) & ~(size_t)(FDN__SUP_ALIGN - 1);
}

/* a + b into *sum unless it wraps or exceeds what a message may carry. */
static bool add_size(size_t a, size_t b, size_t *sum)
{
    if (a > (size_t)PTRDIFF_MAX / 2 || b > (size_t)PTRDIFF_MAX / 2)
        return false;
    *sum = a + b;
    return true;
}

/* Copies caller's opts into *o, zeroing the fields its version lacks, and
 * sets the stride of its child specs.  FDN_EINVAL for a bad size. */
static int read_opts(const fdn_supervisor_opts_t *opts,
                     fdn_supervisor_opts_t *o, size_t *stride)
{
    if (opts == NULL || opts->size < OPTS_V1_SIZE || opts->size > sizeof *o)
        return FDN_EINVAL;
    memset(o, 0, sizeof *o);
    memcpy(o, opts, opts->size);
    o->size = sizeof *o;
    *stride = opts->size < sizeof *o ? SPEC_V1_SIZE : sizeof(fdn_child_spec_t);
    return FDN_OK;
}

static void read_spec(const fdn_supervisor_opts_t *o, size_t stride, size_t i,
                      fdn_child_spec_t *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c, (const char *)o->children + i * stride, stride);
}

static int measure_opts(const fdn_supervisor_opts_t *opts, unsigned depth,
                        size_t *kids);

/* Checks child spec c at nesting depth and sets *size to its packed size. */
static int measure_spec(const fdn_child_spec_t *c, unsigned depth,
                        size_t *size)
{
    if (c->id == NULL)
        return FDN_EINVAL;
    if (c->restart != FDN_PERMANENT && c->restart != FDN_TRANSIENT &&
        c->restart != FDN_TEMPORARY)
        return FDN_EINVAL;
    size_t kids = 0;
    if (c->type == FDN_WORKER) {
        if (c->behaviour == NULL || c->behaviour->handle == NULL ||
            c->supervisor != NULL)
            return FDN_EINVAL;
    } else if (c->type == FDN_SUPERVISOR) {
        if (c->supervisor == NULL || c->behaviour != NULL ||
            depth + 1 > FDN__SUP_MAX_DEPTH)
            return FDN_EINVAL;
        int rc = measure_opts(c->supervisor, depth + 1, &kids);
        if (rc != FDN_OK)
            return rc;
    } else {
        return FDN_EINVAL;
    }
    size_t len = strlen(c->id);
    size_t head;
    if (len > (size_t)PTRDIFF_MAX / 4 ||
        !add_size(FDN__SUP_REC, align_up(len + 1), &head) ||
        !add_size(head, kids, size))
        return FDN_EINVAL;
    return FDN_OK;
}

/* Checks opts at nesting depth and sets *kids to its children's bytes. */
static int measure_opts(const fdn_supervisor_opts_t *opts, unsigned depth,
                        size_t *kids)
{
    fdn_supervisor_opts_t o;
    size_t stride;
    int rc = read_opts(opts, &o, &stride);
    if (rc != FDN_OK)
        return rc;
    if (o.strategy != FDN_ONE_FOR_ONE && o.strategy != FDN_ONE_FOR_ALL &&
        o.strategy != FDN_REST_FOR_ONE)
        return FDN_EINVAL;
    if (o.period_ns == 0)
        return FDN_EINVAL;
    if (o.backoff_min_ns > 0 && o.backoff_max_ns < o.backoff_min_ns)
        return FDN_EINVAL;
    if (o.nchildren > 0 && o.children == NULL)
        return FDN_EINVAL;
    if (o.nchildren > FDN__SUP_MAX_CHILDREN)
        return FDN_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < o.nchildren; i++) {
        fdn_child_spec_t c;
        read_spec(&o, stride, i, &c);
        size_t size;
        rc = measure_spec(&c, depth, &size);
        if (rc != FDN_OK)
            return rc;
        if (!add_size(total, size, &total))
            return FDN_EINVAL;
        for (size_t j = 0; j < i; j++) {
            fdn_child_spec_t d;
            read_spec(&o, stride, j, &d);
            if (strcmp(d.id, c.id) == 0)
                return FDN_EINVAL;
        }
    }
    *kids = total;
    return FDN_OK;
}

static size_t pack_spec(const fdn_child_spec_t *c, unsigned char *at);

/* Writes the conf of a supervisor record and its children after it. */
static size_t pack_conf(const fdn_supervisor_opts_t *opts,
                        struct fdn__sup_spec *rec, size_t children_off)
{
    fdn_supervisor_opts_t o;
    size_t stride = 0;
    (void)read_opts(opts, &o, &stride); /* checked by measure_opts */
    rec->conf.strategy = o.strategy;
    rec->conf.intensity = o.intensity;
    rec->conf.period_ns = o.period_ns;
    rec->conf.backoff_min_ns = o.backoff_min_ns;
    rec->conf.backoff_max_ns = o.backoff_min_ns > 0 ? o.backoff_max_ns : 0;
    rec->conf.jitter = o.backoff_jitter;
    rec->conf.jitter_arg = o.backoff_jitter_arg;
    rec->conf.nchildren = o.nchildren;
    rec->conf.children_off = children_off;
    size_t off = children_off;
    for (size_t i = 0; i < o.nchildren; i++) {
        fdn_child_spec_t c;
        read_spec(&o, stride, i, &c);
        off += pack_spec(&c, (unsigned char *)rec + off);
    }
    return off;
}

/* Writes the record of id (len bytes) and returns where children go. */
static size_t pack_head(struct fdn__sup_spec *rec, const char *id, size_t len)
{
    memset(rec, 0, FDN__SUP_REC + align_up(len + 1));
    rec->id_len = len;
    memcpy((char *)rec + FDN__SUP_REC, id, len);
    return FDN__SUP_REC + align_up(len + 1);
}

/* Writes checked spec c at `at`; returns its size. */
static size_t pack_spec(const fdn_child_spec_t *c, unsigned char *at)
{
    struct fdn__sup_spec *rec = (struct fdn__sup_spec *)(void *)at;
    size_t off = pack_head(rec, c->id, strlen(c->id));
    rec->restart = c->restart;
    rec->type = c->type;
    rec->shutdown_ns = c->shutdown_ns;
    if (c->type == FDN_SUPERVISOR) {
        if (rec->shutdown_ns == FDN_SHUTDOWN_DEFAULT)
            rec->shutdown_ns = FDN_SHUTDOWN_INFINITY;
        off = pack_conf(c->supervisor, rec, off);
    } else {
        if (rec->shutdown_ns == FDN_SHUTDOWN_DEFAULT)
            rec->shutdown_ns = FDN_SHUTDOWN_BRUTAL;
        rec->behaviour = c->behaviour;
        rec->arg = c->arg;
        rec->conf.children_off = off;
    }
    rec->total = off;
    return off;
}

int fdn__sup_measure_opts(const fdn_supervisor_opts_t *opts, size_t *size)
{
    size_t kids;
    int rc = measure_opts(opts, 0, &kids);
    if (rc != FDN_OK)
        return rc;
    if (!add_size(FDN__SUP_REC + FDN__SUP_ALIGN, kids, size))
        return FDN_EINVAL;
    return FDN_OK;
}

void fdn__sup_pack_opts(const fdn_supervisor_opts_t *opts,
                        struct fdn__sup_spec *out)
{
    size_t off = pack_head(out, "", 0);
    out->type = FDN_SUPERVISOR;
    out->restart = FDN_PERMANENT;
    out->shutdown_ns = FDN_SHUTDOWN_INFINITY;
    out->total = pack_conf(opts, out, off);
}

int fdn__sup_measure_child(const fdn_child_spec_t *spec, size_t *size)
{
    if (spec == NULL)
        return FDN_EINVAL;
    return measure_spec(spec, 0, size);
}

void fdn__sup_pack_child(const fdn_child_spec_t *spec,
                         struct fdn__sup_spec *out)
{
    (void)pack_spec(spec, (unsigned char *)out);
}

bool fdn__sup_spec_is_sane(const void *p, size_t size)
{
    if (p == NULL || size < FDN__SUP_REC + FDN__SUP_ALIGN ||
        ((uintptr_t)p % FDN__SUP_ALIGN) != 0)
        return false;
    const struct fdn__sup_spec *sp = p;
    if (sp->total != size || sp->id_len >= size - FDN__SUP_REC ||
        fdn__sup_spec_id(sp)[sp->id_len] != '\0' ||
        sp->conf.children_off > size)
        return false;
    return sp->type == FDN_WORKER || sp->type == FDN_SUPERVISOR;
}

/* ------------------------------------------------------------------------ */
/* Supervisor state                                                         */
/* ------------------------------------------------------------------------ */

void fdn__sup_free(fdn__sup_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nchildren; i++)
        fdn__free(s->alloc, s->children[i].spec);
    fdn__free(s->alloc, s->children);
    fdn__free(s->alloc, s->stamps);
    fdn__free(s->alloc, s->orphans); /* one block; never started */
    fdn__free(s->alloc, s);
}

static struct fdn__sup_spec *copy_spec(const fdn_allocator_t *a,
                                       const struct fdn__sup_spec *sp)
{
    struct fdn__sup_spec *c = fdn__alloc(a, sp->total);
    if (c != NULL)
        memcpy(c, sp, sp->total);
    return c;
}

int fdn__sup_create(fdn_runtime_t *rt, const struct fdn__sup_spec *sp,
                    fdn_pid_t parent, fdn__sup_t **out)
{
    const fdn_allocator_t *a = fdn_runtime_allocator(rt);
    fdn__sup_t *s = fdn__zalloc(a, sizeof *s);
    if (s == NULL)
        return FDN_ENOMEM;
    s->alloc = a;
    s->rt = rt;
    s->parent = parent;
    s->conf = sp->conf;
    s->conf.nchildren = 0;
    s->conf.children_off = 0;
    size_t n = sp->conf.nchildren;
    if (n > 0) {
        s->children = fdn__zalloc(a, n * sizeof *s->children);
        if (s->children == NULL) {
            fdn__sup_free(s);
            return FDN_ENOMEM;
        }
        s->cap = n;
    }
    const struct fdn__sup_spec *c = fdn__sup_spec_first(sp);
    for (size_t i = 0; i < n; i++, c = fdn__sup_spec_next(c)) {
        s->children[i].spec = copy_spec(a, c);
        if (s->children[i].spec == NULL) {
            fdn__sup_free(s);
            return FDN_ENOMEM;
        }
        s->nchildren = i + 1; /* so fdn__sup_free releases this spec */
    }
    /* The ring holds at most `intensity` stamps; start small and grow, so a
     * huge intensity costs memory only if that many restarts happen. */
    uint32_t cap = s->conf.intensity < 16 ? s->conf.intensity : 16;
    if (cap > 0) {
        s->stamps = fdn__alloc(a, cap * sizeof *s->stamps);
        if (s->stamps == NULL) {
            fdn__sup_free(s);
            return FDN_ENOMEM;
        }
    }
    s->stamp_cap = cap;
    *out = s;
    return FDN_OK;
}

int fdn__sup_append_child(fdn__sup_t *s, const struct fdn__sup_spec *sp)
{
    if (s->nchildren >= FDN__SUP_MAX_CHILDREN)
        return FDN_ELIMIT;
    struct fdn__sup_spec *copy = copy_spec(s->alloc, sp);
    if (copy == NULL)
        return FDN_ENOMEM;
    if (s->nchildren == s->cap) {
        size_t cap = s->cap < 4 ? 4 : s->cap * 2;
        fdn__sup_child_t *children =
            fdn__alloc(s->alloc, cap * sizeof *children);
        if (children == NULL) {
            fdn__free(s->alloc, copy);
            return FDN_ENOMEM;
        }
        if (s->nchildren > 0)
            memcpy(children, s->children, s->nchildren * sizeof *children);
        fdn__free(s->alloc, s->children);
        s->children = children;
        s->cap = cap;
    }
    fdn__sup_child_t *c = &s->children[s->nchildren++];
    memset(c, 0, sizeof *c);
    c->spec = copy;
    return FDN_OK;
}

void fdn__sup_remove_child(fdn__sup_t *s, size_t i)
{
    FDN_ASSERT(i < s->nchildren &&
               s->children[i].state == FDN__CHILD_DOWN &&
               s->children[i].delay_timer == FDN_REF_NONE &&
               s->children[i].stop_call == NULL);
    fdn__free(s->alloc, s->children[i].spec);
    memmove(&s->children[i], &s->children[i + 1],
            (s->nchildren - i - 1) * sizeof *s->children);
    s->nchildren--;
}

size_t fdn__sup_find_id(const fdn__sup_t *s, const char *id, size_t len)
{
    for (size_t i = 0; i < s->nchildren; i++) {
        const struct fdn__sup_spec *sp = s->children[i].spec;
        if (sp->id_len == len &&
            (len == 0 || memcmp(fdn__sup_spec_id(sp), id, len) == 0))
            return i;
    }
    return s->nchildren;
}
