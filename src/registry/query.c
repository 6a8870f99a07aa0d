/*
 * registry/query.c — queries over a namespace's metadata:
 * fdn_registry_query (terms, ordered and paged results) and
 * fdn_registry_find (pids by one field's value).
 *
 * Terms.  A query is an array of terms; AND and OR name earlier terms, the
 * last term is the root.  Terms may be shared (the array is a DAG), so a
 * term's match against one entry is memoised per entry (rq_match): each
 * term is evaluated at most once per candidate, never exponentially often.
 * Comparisons hold only between values of one type: ints and doubles
 * numerically (a NaN matches no comparison), bools false < true, strings
 * bytewise; a value of type NONE or of an unknown type compares with
 * nothing.  EQ and IN agree with fdn_meta_value_equal on every type but
 * NONE.
 *
 * Plan.  Candidates come from a source, then each is checked against the
 * whole query, so a source only has to return a superset of the matches,
 * each entry at most once:
 *   - a comparison, IN or EXISTS term on an indexed field reads the field's
 *     index (fdn__rix_scan over the term's value range; IN reads the
 *     distinct values of its set one by one, so no entry comes twice);
 *   - AND takes the cheaper of its sides' sources;
 *   - OR(a, b) needs sources for both sides: it emits a's candidates that
 *     match a, then b's candidates that do not match a, so every match of a
 *     or b comes exactly once;
 *   - anything else has no source, and the query scans the table.
 * The cost of a source is the number of candidates it yields plus one per
 * index read (rq_est).  EQ, IN and EXISTS are counted in O(log values) per
 * value; a range's count is a bounded index scan that stops once it is no
 * better than the alternative (for an AND of two ranges, both are counted
 * with a doubling limit), so choosing costs O(the cheaper plan).  A source is used when it costs less than a
 * scan of every entry.  Since every index read costs at least one, a query
 * whose shared OR terms would expand exponentially costs more than a scan
 * and scans instead.
 *
 * Results.  Matches past the cursor `after` are kept in a bounded max-heap
 * of the cap + 1 smallest (key, pid) pairs, so a page costs
 * O(candidates * log cap) time and O(cap) memory however many entries
 * match; the extra one tells whether more remain.  The heap points into
 * entries, so results are copied out before the read-side critical section
 * (and the lock) ends.
 *
 * Consistency.  In a namespace with indexes, writers hold ns->lock (see
 * write.c) and so does a query, from planning to copying results out: the
 * index and the table are one state, and the query sees exactly that state
 * (REG-Q6).  A namespace without indexes is scanned lock-free under RCU:
 * concurrent writes may or may not be seen, an entry replaced meanwhile
 * might be met twice, and the result heap drops such duplicates.  The
 * query takes ns->lock before entering its read-side critical section; no
 * holder of ns->lock waits for a grace period (see write.c), so the lock
 * and RCU cannot wait on each other.
 */
#include "registry/registry_internal.h"

#include <stdlib.h>

_Atomic uint64_t fdn__rq_examined;

/* ---- comparing values --------------------------------------------------- */

/* Compares a with b when they are comparable (same known type, not NaN):
 * true and *c < 0, 0 or > 0; false otherwise. */
static bool rq_cmp(const fdn_meta_value_t *a, const fdn_meta_value_t *b,
                   int *c)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case FDN_META_INT:
    case FDN_META_BOOL:
    case FDN_META_STR:
        *c = fdn__meta_value_cmp(a, b);
        return true;
    case FDN_META_DOUBLE:
        if (a->as.d != a->as.d || b->as.d != b->as.d)
            return false; /* NaN */
        *c = (a->as.d > b->as.d) - (a->as.d < b->as.d);
        return true;
    case FDN_META_NONE:
        break;
    }
    return false;
}

/* True if v can equal or order some value of type t (the index's type). */
static bool rq_usable(const fdn_meta_value_t *v, fdn_meta_type_t t)
{
    int c;
    return v->type == t && rq_cmp(v, v, &c);
}

/* ---- the query's state -------------------------------------------------- */

/* A condition an OR branch puts on its candidates: match(term) == want. */
struct rq_cond {
    uint32_t term;
    bool want;
};

/* A result in the heap: points into its entry. */
struct rq_hit {
    const char *key;
    fdn_pid_t pid;
};

struct rq_ctx {
    fdn_registry_ns_t *ns;
    const fdn_rq_t *q;
    uint32_t root;
    uint64_t now;
    /* Planning, per term: its index (-1: none) and that index's type,
     * whether it has a source, and the memoised cost estimate. */
    int ix[FDN_RQ_MAX];
    fdn_meta_type_t ix_type[FDN_RQ_MAX];
    bool has_source[FDN_RQ_MAX];
    bool is_cheap[FDN_RQ_MAX]; /* its cost is known without an index scan */
    bool est_known[FDN_RQ_MAX];
    uint64_t est[FDN_RQ_MAX], est_bound[FDN_RQ_MAX];
    uint32_t choice[FDN_RQ_MAX]; /* AND: the side whose source is used */
    /* Running a source: the OR conditions on the current path, and the
     * index whose links are being read. */
    struct rq_cond conds[FDN_RQ_MAX];
    uint32_t nconds;
    uint32_t cur_ix;
    /* What to do with a match: the query's heap, or find's pid list. */
    bool (*sink)(struct rq_ctx *c, const struct reg_entry *e);
    const fdn_registry_match_t *after;
    struct rq_hit *heap;
    size_t heap_n, heap_alloc, heap_max;
    bool has_dropped; /* a match fell out of (or never got into) the heap */
    fdn_registry_match_t *out; /* query: the page */
    size_t out_n;
    bool has_more;
    fdn_pid_t *pids;           /* find */
    size_t cap, found;         /* cap: out's or pids' */
    uint64_t examined;
    int err;
};

/* Memoised matches of the terms against one entry: bit t of done says
 * term t was evaluated, bit t of val its result. */
struct rq_eval {
    const struct reg_entry *e;
    uint64_t done, val;
};

static bool rq_leaf_match(const fdn_rq_t *t, const fdn_meta_value_t *v)
{
    int c, d;
    switch (t->op) {
    case FDN_RQ_EXISTS:
        return true;
    case FDN_RQ_EQ:
        return rq_cmp(v, &t->value, &c) && c == 0;
    case FDN_RQ_LT:
        return rq_cmp(v, &t->value, &c) && c < 0;
    case FDN_RQ_LE:
        return rq_cmp(v, &t->value, &c) && c <= 0;
    case FDN_RQ_GT:
        return rq_cmp(v, &t->value, &c) && c > 0;
    case FDN_RQ_GE:
        return rq_cmp(v, &t->value, &c) && c >= 0;
    case FDN_RQ_RANGE:
        return rq_cmp(v, &t->value, &c) && c >= 0 &&
               rq_cmp(v, &t->high, &d) && d <= 0;
    case FDN_RQ_IN:
        for (uint32_t k = 0; k < t->nset; k++)
            if (rq_cmp(v, &t->set[k], &c) && c == 0)
                return true;
        return false;
    default:
        return false;
    }
}

static bool rq_match(const struct rq_ctx *c, struct rq_eval *ev, uint32_t t)
{
    uint64_t bit = UINT64_C(1) << t;
    if (ev->done & bit)
        return (ev->val & bit) != 0;
    const fdn_rq_t *term = &c->q[t];
    bool r;
    switch (term->op) {
    case FDN_RQ_ALL:
        r = true;
        break;
    case FDN_RQ_AND:
        r = rq_match(c, ev, term->a) && rq_match(c, ev, term->b);
        break;
    case FDN_RQ_OR:
        r = rq_match(c, ev, term->a) || rq_match(c, ev, term->b);
        break;
    default: {
        const fdn_meta_value_t *v = fdn__reg_meta_get(ev->e, term->field);
        r = v != NULL && rq_leaf_match(term, v);
        break;
    }
    }
    ev->done |= bit;
    if (r)
        ev->val |= bit;
    return r;
}

/*
 * One candidate from a source or the scan: counts it, and passes it to the
 * sink if it is live, satisfies the OR conditions of its path and matches
 * the query.  False when the query must stop (out of memory).
 */
static bool rq_candidate(struct rq_ctx *c, const struct reg_entry *e)
{
    c->examined++;
    if (fdn__reg_expired(e, c->now))
        return true;
    struct rq_eval ev = {.e = e, .done = 0, .val = 0};
    for (uint32_t i = 0; i < c->nconds; i++)
        if (rq_match(c, &ev, c->conds[i].term) != c->conds[i].want)
            return true;
    if (!rq_match(c, &ev, c->root))
        return true;
    return c->sink(c, e);
}

/* ---- the result heap ---------------------------------------------------- */

static int rq_hit_cmp(const struct rq_hit *a, const struct rq_hit *b)
{
    int k = strcmp(a->key, b->key);
    if (k != 0)
        return k;
    return (a->pid > b->pid) - (a->pid < b->pid);
}

static int rq_hit_qsort(const void *a, const void *b)
{
    return rq_hit_cmp(a, b);
}

static void rq_heap_swap(struct rq_hit *h, size_t i, size_t j)
{
    struct rq_hit t = h[i];
    h[i] = h[j];
    h[j] = t;
}

/* Keeps the heap_max smallest matches past the cursor; the largest kept is
 * at the top. */
static bool rq_sink_heap(struct rq_ctx *c, const struct reg_entry *e)
{
    struct rq_hit hit = {.key = fdn__reg_key(e), .pid = e->pid};
    if (c->after != NULL) {
        /* Bounded: the caller's key need not be NUL-terminated. */
        int k = strncmp(hit.key, c->after->key, FDN_REGISTRY_KEY_MAX + 1);
        if (k < 0 || (k == 0 && hit.pid <= c->after->pid))
            return true;
    }
    struct rq_hit *h = c->heap;
    if (c->heap_n == c->heap_max) {
        c->has_dropped = true;
        if (rq_hit_cmp(&hit, &h[0]) >= 0)
            return true;
        h[0] = hit;
        for (size_t i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < c->heap_n && rq_hit_cmp(&h[l], &h[m]) > 0)
                m = l;
            if (r < c->heap_n && rq_hit_cmp(&h[r], &h[m]) > 0)
                m = r;
            if (m == i)
                break;
            rq_heap_swap(h, i, m);
            i = m;
        }
        return true;
    }
    if (c->heap_n == c->heap_alloc) {
        /* Grows by doubling up to heap_max, so memory follows the page's
         * size, not the cap a caller may pass. */
        size_t n = c->heap_alloc == 0 ? 64 : c->heap_alloc * 2;
        if (n > c->heap_max || n < c->heap_alloc)
            n = c->heap_max;
        if (n > SIZE_MAX / sizeof *h) {
            c->err = FDN_ENOMEM;
            return false;
        }
        struct rq_hit *g = fdn__alloc(c->ns->reg->alloc, n * sizeof *h);
        if (g == NULL) {
            c->err = FDN_ENOMEM;
            return false;
        }
        if (c->heap_n > 0)
            memcpy(g, h, c->heap_n * sizeof *h);
        if (h != NULL)
            fdn__free(c->ns->reg->alloc, h);
        c->heap = h = g;
        c->heap_alloc = n;
    }
    size_t i = c->heap_n++;
    h[i] = hit;
    while (i > 0 && rq_hit_cmp(&h[(i - 1) / 2], &h[i]) < 0) {
        rq_heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return true;
}

static bool rq_sink_find(struct rq_ctx *c, const struct reg_entry *e)
{
    if (c->found < c->cap)
        c->pids[c->found] = e->pid;
    c->found++;
    return true;
}

/* ---- planning ----------------------------------------------------------- */

static uint64_t rq_add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t rq_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The index of field name in ns (and its type), or -1. */
static int rq_index_of(const fdn_registry_ns_t *ns, const char *name,
                       fdn_meta_type_t *type)
{
    for (uint32_t i = 0; i < ns->nindexes; i++) {
        if (strcmp(ns->ix_field[i], name) != 0)
            continue;
        for (uint32_t j = 0; j < ns->opts.nfields; j++)
            if (strcmp(ns->opts.fields[j].name, name) == 0)
                *type = ns->opts.fields[j].type;
        return (int)i;
    }
    return -1;
}

/* Fills ix, ix_type, has_source and is_cheap for terms 0..nq, in order
 * (operands come first, so shared terms cost nothing extra). */
static void rq_plan_sources(struct rq_ctx *c, uint32_t nq)
{
    for (uint32_t t = 0; t < nq; t++) {
        const fdn_rq_t *term = &c->q[t];
        c->ix[t] = -1;
        c->ix_type[t] = FDN_META_NONE;
        switch (term->op) {
        case FDN_RQ_ALL:
            c->has_source[t] = false;
            c->is_cheap[t] = true;
            break;
        case FDN_RQ_AND:
        case FDN_RQ_OR:
            c->has_source[t] =
                term->op == FDN_RQ_AND
                    ? c->has_source[term->a] || c->has_source[term->b]
                    : c->has_source[term->a] && c->has_source[term->b];
            c->is_cheap[t] = c->is_cheap[term->a] && c->is_cheap[term->b];
            break;
        default:
            c->ix[t] = rq_index_of(c->ns, term->field, &c->ix_type[t]);
            c->has_source[t] = c->ix[t] >= 0;
            /* A range's count needs an index scan; EQ, IN and EXISTS are
             * counted in O(log values) per value. */
            c->is_cheap[t] = !c->has_source[t] ||
                             term->op == FDN_RQ_EQ || term->op == FDN_RQ_IN ||
                             term->op == FDN_RQ_EXISTS;
            break;
        }
    }
}

/*
 * The value range a leaf term reads from its index; false if no value of
 * the index's type can match (the source is empty).  The schema makes
 * every value of an indexed field have the field's type, so the index
 * holds every entry that can match.
 */
static bool rq_leaf_range(const struct rq_ctx *c, uint32_t t,
                          const fdn_meta_value_t **lo, bool *lo_open,
                          const fdn_meta_value_t **hi, bool *hi_open)
{
    static const fdn_meta_value_t nan_value = {
        .type = FDN_META_DOUBLE, .as.d = __builtin_nan("")};
    const fdn_rq_t *term = &c->q[t];
    fdn_meta_type_t type = c->ix_type[t];
    *lo = *hi = NULL;
    *lo_open = *hi_open = false;
    if (term->op == FDN_RQ_EXISTS)
        return true;
    if (!rq_usable(&term->value, type))
        return false;
    switch (term->op) {
    case FDN_RQ_EQ:
        *lo = *hi = &term->value;
        break;
    case FDN_RQ_LT:
    case FDN_RQ_LE:
        *hi = &term->value;
        *hi_open = term->op == FDN_RQ_LT;
        break;
    case FDN_RQ_GT:
    case FDN_RQ_GE:
        *lo = &term->value;
        *lo_open = term->op == FDN_RQ_GT;
        /* NaNs sort last in the index and match no comparison. */
        if (type == FDN_META_DOUBLE) {
            *hi = &nan_value;
            *hi_open = true;
        }
        break;
    case FDN_RQ_RANGE:
        if (!rq_usable(&term->high, type))
            return false;
        *lo = &term->value;
        *hi = &term->high;
        break;
    default:
        return false;
    }
    return true;
}

static bool rq_count_up_to(void *arg, struct reg_ix_link *l)
{
    (void)l;
    uint64_t *left = arg;
    return --*left > 0;
}

/* Candidates of leaf t's source, or at least bound if there are more. */
static uint64_t rq_leaf_count(const struct rq_ctx *c, uint32_t t,
                              uint64_t bound)
{
    struct reg_index *ix = c->ns->indexes[c->ix[t]];
    const fdn_rq_t *term = &c->q[t];
    if (term->op == FDN_RQ_IN) {
        uint64_t n = 0;
        for (uint32_t k = 0; k < term->nset && n < bound; k++)
            n = rq_add_sat(n, fdn__rix_count_eq(ix, &term->set[k]));
        return n;
    }
    if (term->op == FDN_RQ_EXISTS)
        return fdn__rix_size(ix);
    const fdn_meta_value_t *lo, *hi;
    bool lo_open, hi_open;
    if (!rq_leaf_range(c, t, &lo, &lo_open, &hi, &hi_open))
        return 0;
    if (term->op == FDN_RQ_EQ)
        return fdn__rix_count_eq(ix, lo);
    uint64_t left = bound;
    if (left == 0)
        return 0;
    return fdn__rix_scan(ix, lo, lo_open, hi, hi_open, rq_count_up_to, &left);
}

/*
 * min(cost of t's source, bound), where bound >= 1; bound when t has no
 * source.  Memoised: a result below the bound it was computed with is
 * exact, one at the bound only says "at least".
 */
static uint64_t rq_est(struct rq_ctx *c, uint32_t t, uint64_t bound)
{
    if (!c->has_source[t])
        return bound;
    if (c->est_known[t]) {
        if (c->est[t] < c->est_bound[t])
            return rq_min(c->est[t], bound);
        if (bound <= c->est_bound[t])
            return bound;
    }
    const fdn_rq_t *term = &c->q[t];
    uint64_t r;
    if (term->op == FDN_RQ_AND) {
        /* The side whose cost is cheap to know goes first, and bounds the
         * count of the other.  When both need index scans, both are
         * counted with a doubling limit until one falls below it, so the
         * counting costs O(the cheaper side), not O(the dearer). */
        uint32_t first = term->a, second = term->b;
        if (!c->is_cheap[first] && c->is_cheap[second]) {
            first = term->b;
            second = term->a;
        }
        uint64_t e1, e2;
        if (c->is_cheap[first]) {
            e1 = rq_est(c, first, bound);
            e2 = rq_est(c, second, e1);
        } else {
            for (uint64_t lim = 16;; lim *= 2) {
                if (lim >= bound / 2)
                    lim = bound;
                e1 = rq_est(c, first, lim);
                e2 = rq_est(c, second, lim);
                if (e1 < lim || e2 < lim || lim == bound)
                    break;
            }
        }
        bool take_second = !c->has_source[first] || e2 < e1;
        c->choice[t] = take_second ? second : first;
        r = take_second ? e2 : e1;
    } else if (term->op == FDN_RQ_OR) {
        uint64_t ea = rq_est(c, term->a, bound);
        r = ea >= bound ? bound
                        : rq_min(ea + rq_est(c, term->b, bound - ea), bound);
    } else {
        /* One index read (or one per IN value) plus its candidates. */
        uint64_t reads =
            term->op == FDN_RQ_IN && term->nset > 1 ? term->nset : 1;
        r = rq_min(rq_add_sat(reads, rq_leaf_count(c, t, bound)), bound);
    }
    c->est_known[t] = true;
    c->est[t] = r;
    c->est_bound[t] = bound;
    return r;
}

/* ---- running a plan ----------------------------------------------------- */

static bool rq_on_link(void *arg, struct reg_ix_link *l)
{
    struct rq_ctx *c = arg;
    return rq_candidate(c, fdn__reg_from_ix(c->ns, l, c->cur_ix));
}

static int rq_value_ptr_cmp(const void *a, const void *b)
{
    return fdn__meta_value_cmp(*(const fdn_meta_value_t *const *)a,
                               *(const fdn_meta_value_t *const *)b);
}

/* IN: reads each distinct usable value of the set once. */
static bool rq_run_in(struct rq_ctx *c, uint32_t t, struct reg_index *ix)
{
    const fdn_rq_t *term = &c->q[t];
    if (term->nset == 0)
        return true;
    const fdn_meta_value_t **vals =
        fdn__alloc(c->ns->reg->alloc, term->nset * sizeof *vals);
    if (vals == NULL) {
        c->err = FDN_ENOMEM;
        return false;
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < term->nset; k++)
        if (rq_usable(&term->set[k], c->ix_type[t]))
            vals[n++] = &term->set[k];
    qsort(vals, n, sizeof *vals, rq_value_ptr_cmp);
    bool ok = true;
    for (uint32_t k = 0; k < n && ok; k++) {
        if (k > 0 && fdn__meta_value_cmp(vals[k - 1], vals[k]) == 0)
            continue;
        fdn__rix_scan(ix, vals[k], false, vals[k], false, rq_on_link, c);
        ok = c->err == FDN_OK;
    }
    fdn__free(c->ns->reg->alloc, vals);
    return ok;
}

/* Emits the candidates of t's source.  False once the query must stop. */
static bool rq_run(struct rq_ctx *c, uint32_t t)
{
    const fdn_rq_t *term = &c->q[t];
    if (term->op == FDN_RQ_AND) {
        /* Either side with a source is correct; the estimate picked the
         * cheaper (a term never estimated lies under an OR no plan runs,
         * but fall back safely anyway). */
        uint32_t side = c->choice[t];
        if (!c->est_known[t] || !c->has_source[side])
            side = c->has_source[term->a] ? term->a : term->b;
        return rq_run(c, side);
    }
    if (term->op == FDN_RQ_OR) {
        /* Depth is below FDN_RQ_MAX: operands are earlier terms. */
        uint32_t at = c->nconds++;
        c->conds[at] = (struct rq_cond){.term = term->a, .want = true};
        bool ok = rq_run(c, term->a);
        c->conds[at].want = false;
        ok = ok && rq_run(c, term->b);
        c->nconds--;
        return ok;
    }
    uint32_t saved = c->cur_ix;
    c->cur_ix = (uint32_t)c->ix[t];
    struct reg_index *ix = c->ns->indexes[c->cur_ix];
    bool ok = true;
    if (term->op == FDN_RQ_IN) {
        ok = rq_run_in(c, t, ix);
    } else {
        const fdn_meta_value_t *lo, *hi;
        bool lo_open, hi_open;
        if (rq_leaf_range(c, t, &lo, &lo_open, &hi, &hi_open)) {
            fdn__rix_scan(ix, lo, lo_open, hi, hi_open, rq_on_link, c);
            ok = c->err == FDN_OK;
        }
    }
    c->cur_ix = saved;
    return ok;
}

/* Every entry of the table is a candidate.  Caller is in a read-side
 * critical section. */
static void rq_scan_all(struct rq_ctx *c)
{
    struct reg_map_iter it = {0};
    struct reg_entry *e;
    while ((e = fdn__map_next(&c->ns->table, &it)) != NULL)
        if (!rq_candidate(c, e))
            return;
}

/*
 * Runs the query in c (q, root and sink set) on c->ns: locks an indexed
 * namespace, plans, emits every candidate, and calls done (still inside
 * the lock and the read-side critical section) to copy results out.
 */
static void rq_execute(struct rq_ctx *c, uint32_t nq,
                       void (*done)(struct rq_ctx *c))
{
    fdn_registry_ns_t *ns = c->ns;
    bool is_indexed = ns->nindexes > 0; /* immutable after creation */
    fdn__rcu_thread_enter();
    if (is_indexed)
        pthread_mutex_lock(&ns->lock);
    fdn__rcu_read_lock();
    c->now = fdn__reg_now(ns->reg);
    bool use_index = false;
    if (is_indexed) {
        rq_plan_sources(c, nq);
        /* Exact under ns->lock in an indexed namespace (see write.c);
         * relaxed like every read of it. */
        uint64_t all = fdn__reg_ns_count(ns);
        uint64_t scan_cost = rq_add_sat(all, 1);
        use_index = c->has_source[c->root] &&
                    rq_est(c, c->root, scan_cost) < scan_cost;
    }
    if (use_index)
        rq_run(c, c->root);
    else
        rq_scan_all(c);
    if (c->err == FDN_OK)
        done(c);
    fdn__rcu_read_unlock();
    if (is_indexed)
        pthread_mutex_unlock(&ns->lock);
    /* Relaxed: a test hook's tally; orders nothing. */
    atomic_fetch_add_explicit(&fdn__rq_examined, c->examined,
                              memory_order_relaxed);
}

/* ---- the public calls --------------------------------------------------- */

/* FDN_OK if every term is well formed (see fdn_registry_query). */
static int rq_check_terms(const fdn_rq_t *q, size_t nq)
{
    if (q == NULL || nq == 0 || nq > FDN_RQ_MAX)
        return FDN_EINVAL;
    for (size_t i = 0; i < nq; i++) {
        const fdn_rq_t *t = &q[i];
        switch ((unsigned)t->op) {
        case FDN_RQ_ALL:
            break;
        case FDN_RQ_AND:
        case FDN_RQ_OR:
            if (t->a >= i || t->b >= i)
                return FDN_EINVAL;
            break;
        case FDN_RQ_IN:
            if (t->nset > 0 && t->set == NULL)
                return FDN_EINVAL;
            /* fall through */
        case FDN_RQ_EQ:
        case FDN_RQ_LT:
        case FDN_RQ_LE:
        case FDN_RQ_GT:
        case FDN_RQ_GE:
        case FDN_RQ_RANGE:
        case FDN_RQ_EXISTS:
            if (t->field == NULL)
                return FDN_EINVAL;
            break;
        default:
            return FDN_EINVAL;
        }
    }
    return FDN_OK;
}

/* Sorts the heap and copies the page out (inside the lock and the
 * read-side critical section: the heap points into entries). */
static void rq_query_done(struct rq_ctx *c)
{
    if (c->heap_n > 1)
        qsort(c->heap, c->heap_n, sizeof *c->heap, rq_hit_qsort);
    /* An entry replaced during a lock-free scan may have come twice. */
    size_t n = 0;
    for (size_t i = 0; i < c->heap_n; i++)
        if (n == 0 || rq_hit_cmp(&c->heap[n - 1], &c->heap[i]) != 0)
            c->heap[n++] = c->heap[i];
    c->heap_n = n;
    size_t k = n < c->cap ? n : c->cap;
    for (size_t i = 0; i < k; i++) {
        fdn_registry_match_t *m = &c->out[i];
        size_t len = strlen(c->heap[i].key);
        memcpy(m->key, c->heap[i].key, len);
        memset(m->key + len, 0, sizeof m->key - len);
        m->pid = c->heap[i].pid;
    }
    c->out_n = k;
    /* A dropped match lay past every kept one, so it is on a later page
     * (it can only matter here when duplicates were dropped above). */
    c->has_more = n > c->cap || c->has_dropped;
}

FDN_API int fdn_registry_query(fdn_registry_ns_t *ns, const fdn_rq_t *q,
                               size_t nq, const fdn_registry_match_t *after,
                               fdn_registry_match_t *out, size_t cap,
                               size_t *n, bool *more)
{
    if (ns == NULL || n == NULL || (out == NULL && cap > 0))
        return FDN_EINVAL;
    int rc = rq_check_terms(q, nq);
    if (rc != FDN_OK)
        return rc;
    /* The context (a few KiB) lives on the stack: nothing to fail. */
    struct rq_ctx ctx;
    struct rq_ctx *c = &ctx;
    memset(c, 0, sizeof *c);
    c->ns = ns;
    c->q = q;
    c->root = (uint32_t)(nq - 1);
    c->sink = rq_sink_heap;
    c->after = after;
    c->out = out;
    c->cap = cap;
    c->heap_max = cap == SIZE_MAX ? cap : cap + 1;
    rq_execute(c, (uint32_t)nq, rq_query_done);
    rc = c->err;
    if (rc == FDN_OK) {
        *n = c->out_n;
        if (more != NULL)
            *more = c->has_more;
    }
    if (c->heap != NULL)
        fdn__free(ns->reg->alloc, c->heap);
    return rc;
}

static void rq_find_done(struct rq_ctx *c)
{
    (void)c;
}

FDN_API int fdn_registry_find(fdn_registry_ns_t *ns, const char *name,
                              const fdn_meta_value_t *value, fdn_pid_t *pids,
                              size_t cap, size_t *found)
{
    if (ns == NULL || name == NULL || value == NULL ||
        (pids == NULL && cap > 0))
        return FDN_EINVAL;
    /* One EQ term, run like a query whose sink lists pids. */
    fdn_rq_t term;
    memset(&term, 0, sizeof term);
    term.op = FDN_RQ_EQ;
    term.field = name;
    term.value = *value;
    struct rq_ctx c;
    memset(&c, 0, sizeof c);
    c.ns = ns;
    c.q = &term;
    c.root = 0;
    c.sink = rq_sink_find;
    c.pids = pids;
    c.cap = cap;
    rq_execute(&c, 1, rq_find_done);
    if (found != NULL)
        *found = c.found;
    return FDN_OK;
}
