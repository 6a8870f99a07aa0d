/*
 * registry/index.c — secondary indexes of a namespace: for one declared
 * field, an ordered map from each distinct value to the entries that hold
 * it, so queries find candidates without scanning the namespace.
 *
 * Design.  An index is a red-black tree (the BSD <sys/tree.h> macros, from
 * libbsd) of value nodes, ordered by fdn__meta_value_cmp.  Each value node
 * heads a doubly linked list of the reg_ix_link records of the entries
 * holding that value; the links live inside the entries' ext areas
 * (intrusive), so indexing an entry allocates nothing unless its value is
 * new to the index.  A link points back at its value node (NULL when the
 * entry is under no value: it lacks the field, or the value has another
 * type than the index's).
 *
 * Costs: insert O(log values) (a lookup, and an allocation for a new
 * value); remove O(1), plus O(log values) when the value's last entry
 * leaves and its node is freed; a range scan O(log values + values and
 * entries visited); the count of one value O(log values).
 *
 * Memory: one value node per distinct value, from the allocator given at
 * creation; nothing per entry beyond its link.
 *
 * Concurrency: none here.  Every function runs with the namespace's lock
 * held (see registry_internal.h), so the tree and lists are plain data.
 * Readers outside the lock never look at an index.
 */
#include "registry/registry_internal.h"

#include <bsd/sys/tree.h>

#include <math.h>

/* One distinct value and the entries under it. */
struct reg_ix_val {
    RB_ENTRY(reg_ix_val) rb;
    struct reg_ix_link *head; /* first entry's link; never NULL in the tree */
    uint64_t count;           /* links in the list */
    fdn_meta_value_t v;       /* the value (a copy) */
};

RB_HEAD(reg_ix_tree, reg_ix_val);

struct reg_index {
    struct reg_ix_tree tree;
    const fdn_allocator_t *alloc; /* value nodes */
    fdn_meta_type_t type;         /* only values of this type are indexed */
    uint64_t size;                /* links under some value */
};

/* Orders doubles with NaN after every number and equal to itself, so the
 * tree has a total order whatever values arrive. */
static int double_cmp(double a, double b)
{
    bool a_nan = isnan(a), b_nan = isnan(b);
    if (a_nan || b_nan)
        return (int)a_nan - (int)b_nan;
    return (a > b) - (a < b);
}

int fdn__meta_value_cmp(const fdn_meta_value_t *a, const fdn_meta_value_t *b)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch (a->type) {
    case FDN_META_INT:
        return (a->as.i > b->as.i) - (a->as.i < b->as.i);
    case FDN_META_DOUBLE:
        return double_cmp(a->as.d, b->as.d);
    case FDN_META_BOOL:
        return (int)fdn__meta_bool(a) - (int)fdn__meta_bool(b);
    case FDN_META_STR: {
        /* Bounded: a caller's value need not be NUL-terminated. */
        int c = strncmp(a->as.s, b->as.s, FDN_META_STR_MAX + 1);
        return (c > 0) - (c < 0);
    }
    case FDN_META_NONE:
        break;
    }
    return 0; /* NONE, or one unknown type: nothing to tell them apart */
}

static int ix_val_cmp(const struct reg_ix_val *a, const struct reg_ix_val *b)
{
    return fdn__meta_value_cmp(&a->v, &b->v);
}

/* RB_GENERATE_STATIC spelled out: it marks the functions with BSD's
 * __unused, which libbsd leaves undefined (Debian bugs #522773, #522774),
 * so we give the attribute ourselves; RB_PREV is generated but unused. */
RB_GENERATE_INTERNAL(reg_ix_tree, reg_ix_val, rb, ix_val_cmp,
                     __attribute__((__unused__)) static)

int fdn__rix_create(const fdn_allocator_t *a, fdn_meta_type_t type,
                    struct reg_index **out)
{
    struct reg_index *ix = fdn__zalloc(a, sizeof *ix);
    if (ix == NULL)
        return FDN_ENOMEM;
    RB_INIT(&ix->tree);
    ix->alloc = a;
    ix->type = type;
    *out = ix;
    return FDN_OK;
}

/* Frees the value nodes only: the links belong to entries, which the
 * caller frees (or has freed) on its own. */
void fdn__rix_destroy(struct reg_index *ix)
{
    if (ix == NULL)
        return;
    struct reg_ix_val *v, *next;
    for (v = RB_MIN(reg_ix_tree, &ix->tree); v != NULL; v = next) {
        next = RB_NEXT(reg_ix_tree, &ix->tree, v);
        RB_REMOVE(reg_ix_tree, &ix->tree, v);
        fdn__free(ix->alloc, v);
    }
    fdn__free(ix->alloc, ix);
}

/* The node holding exactly v, or NULL. */
static struct reg_ix_val *ix_find(struct reg_index *ix,
                                  const fdn_meta_value_t *v)
{
    struct reg_ix_val key;
    key.v = *v;
    return RB_FIND(reg_ix_tree, &ix->tree, &key);
}

/*
 * l must not be in the index (a new entry's link, or one taken out with
 * fdn__rix_remove).  Every field of l is written, also when nothing is
 * indexed or the call fails, so fdn__rix_remove on l is always safe.
 */
int fdn__rix_insert(struct reg_index *ix, struct reg_ix_link *l,
                    const fdn_meta_value_t *v)
{
    l->prev = l->next = NULL;
    l->val = NULL;
    if (v == NULL || v->type != ix->type)
        return FDN_OK;
    struct reg_ix_val *node = ix_find(ix, v);
    if (node == NULL) {
        node = fdn__alloc(ix->alloc, sizeof *node);
        if (node == NULL)
            return FDN_ENOMEM;
        memset(node, 0, sizeof *node);
        node->v = *v;
        if (RB_INSERT(reg_ix_tree, &ix->tree, node) != NULL)
            FDN_PANIC("index: value present after a failed find");
    }
    l->next = node->head;
    if (node->head != NULL)
        node->head->prev = l;
    node->head = l;
    l->val = node;
    node->count++;
    ix->size++;
    return FDN_OK;
}

void fdn__rix_remove(struct reg_index *ix, struct reg_ix_link *l)
{
    struct reg_ix_val *node = l->val;
    if (node == NULL)
        return;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        node->head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    l->val = NULL;
    FDN_ASSERT(node->count > 0 && ix->size > 0);
    node->count--;
    ix->size--;
    if (node->count == 0) {
        FDN_ASSERT(node->head == NULL);
        RB_REMOVE(reg_ix_tree, &ix->tree, node);
        fdn__free(ix->alloc, node);
    }
}

/* The first node at or past lo (strictly past it when lo_open). */
static struct reg_ix_val *ix_first(struct reg_index *ix,
                                   const fdn_meta_value_t *lo, bool lo_open)
{
    if (lo == NULL)
        return RB_MIN(reg_ix_tree, &ix->tree);
    struct reg_ix_val key;
    key.v = *lo;
    struct reg_ix_val *node = RB_NFIND(reg_ix_tree, &ix->tree, &key);
    if (node != NULL && lo_open && fdn__meta_value_cmp(&node->v, lo) == 0)
        node = RB_NEXT(reg_ix_tree, &ix->tree, node);
    return node;
}

/* True while node is at or before hi (strictly before it when hi_open). */
static bool ix_within(const struct reg_ix_val *node,
                      const fdn_meta_value_t *hi, bool hi_open)
{
    if (hi == NULL)
        return true;
    int c = fdn__meta_value_cmp(&node->v, hi);
    return hi_open ? c < 0 : c <= 0;
}

/*
 * Visits values in ascending order, each value's entries in no particular
 * order.  fn must not change the index.  fn may be NULL: then nothing is
 * called and the result is the number of entries in the range, counted
 * per value (O(log values + values in range)).  Bounds of another type
 * than the index's order by type (fdn__meta_value_cmp); callers that want
 * comparisons within one type check the bounds' type first.
 */
uint64_t fdn__rix_scan(struct reg_index *ix, const fdn_meta_value_t *lo,
                       bool lo_open, const fdn_meta_value_t *hi, bool hi_open,
                       fdn__rix_fn fn, void *arg)
{
    uint64_t visited = 0;
    for (struct reg_ix_val *node = ix_first(ix, lo, lo_open);
         node != NULL && ix_within(node, hi, hi_open);
         node = RB_NEXT(reg_ix_tree, &ix->tree, node)) {
        if (fn == NULL) {
            visited += node->count;
            continue;
        }
        for (struct reg_ix_link *l = node->head; l != NULL; l = l->next) {
            visited++;
            if (!fn(arg, l))
                return visited;
        }
    }
    return visited;
}

uint64_t fdn__rix_count_eq(struct reg_index *ix, const fdn_meta_value_t *v)
{
    if (v == NULL || v->type != ix->type)
        return 0;
    struct reg_ix_val *node = ix_find(ix, v);
    return node != NULL ? node->count : 0;
}

uint64_t fdn__rix_size(const struct reg_index *ix)
{
    return ix->size;
}
