/*
 * slab.c — unit tests of the registry's entry pool (src/registry/slab.h):
 * block sizes and places, blocks returning to their chunk and empty
 * chunks to the allocator, churn across size classes that does not
 * accumulate memory, out of memory on a chunk, and threads allocating and
 * freeing across stripes without a block ever being handed out twice.
 */
#include "registry/slab.h"

#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

/* A pool on a fresh counting allocator. */
static void slab_up(fdn_failing_allocator_t **fa, struct reg_slab *s)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, fa), FDN_OK);
    fdn__slab_init(s, fdn_failing_allocator_get(*fa));
}

/* Ends the pool and checks that it gave back every chunk. */
static void slab_down(fdn_failing_allocator_t *fa, struct reg_slab *s)
{
    fdn__slab_fini(s);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

/* Blocks a chunk of n-byte blocks holds. */
static size_t per_chunk(size_t n)
{
    return (SLAB_CHUNK_BYTES - SLAB_CHUNK_HEADER) / fdn__slab_block_bytes(n);
}

/* Checks: REG-I4 */
Test(registry_slab, blocks_are_the_size_rounded_up_to_16)
{
    for (size_t n = 1; n <= SLAB_MAX_BYTES; n++) {
        size_t b = fdn__slab_block_bytes(n);
        cr_assert(b % 16 == 0 && b >= n && b < n + 16, "%zu -> %zu", n, b);
    }
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    /* Per class, blocks are cut in order from a chunk of that class, and
     * where finds the chunk. */
    size_t sizes[] = {1, 17, 70, 96, 333, SLAB_MAX_BYTES}; /* classes apart */
    enum { NS = sizeof sizes / sizeof sizes[0] };
    char *p[NS], *q[NS];
    uint16_t w0[NS], w1[NS];
    for (size_t i = 0; i < NS; i++) {
        size_t b = fdn__slab_block_bytes(sizes[i]);
        p[i] = fdn__slab_alloc(&s, 1, sizes[i], &w0[i]);
        q[i] = fdn__slab_alloc(&s, 1, sizes[i], &w1[i]);
        cr_assert(p[i] != NULL && q[i] != NULL);
        cr_assert_eq((uintptr_t)p[i] % 16, 0);
        cr_assert_eq(q[i] - p[i], (ptrdiff_t)b, "%zu bytes: blocks %td apart",
                     sizes[i], q[i] - p[i]);
        struct slab_chunk *c = fdn__slab_chunk_of(p[i], w0[i]);
        cr_assert_eq(fdn__slab_chunk_of(q[i], w1[i]), c);
        cr_assert_eq(((size_t)c->k + 1) * 16, b);
        cr_assert_eq(c->live, 2);
        memset(p[i], 0xa5, sizes[i]); /* all of it is ours (ASan checks) */
        memset(q[i], 0x5a, sizes[i]);
    }
    for (size_t i = 0; i < NS; i++) {
        fdn__slab_free(&s, p[i], w0[i]);
        fdn__slab_free(&s, q[i], w1[i]);
    }
    /* One chunk per class used, each kept (its stripe's only one). */
    cr_assert_eq(fdn__slab_chunks(&s), NS);
    slab_down(fa, &s);
}

/* Checks: REG-L2 */
Test(registry_slab, blocks_go_home_and_empty_chunks_go_back)
{
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    enum { N = 5000 };
    static void *blocks[N];
    static uint16_t where[N];
    /* Cut on stripe 1 over several chunks, freed (on this thread, as if
     * on any other) in an order that empties chunks one by one. */
    for (int i = 0; i < N; i++)
        cr_assert_not_null(blocks[i] = fdn__slab_alloc(&s, 1, 64, &where[i]));
    uint64_t full = fdn__slab_chunks(&s);
    cr_assert_eq(full, (N + per_chunk(64) - 1) / per_chunk(64));
    for (int i = 0; i < N; i++)
        fdn__slab_free(&s, blocks[i], where[i]);
    /* Every chunk emptied went back but the last one with room. */
    cr_assert_eq(fdn__slab_chunks(&s), 1);
    cr_assert_eq(fdn_failing_allocator_live(fa), 1);
    /* The kept chunk is the last one cut; a freed block of it is handed
     * out again before anything more is cut. */
    struct slab_chunk *kept = fdn__slab_chunk_of(blocks[N - 1], where[N - 1]);
    char *cut = kept->cut;
    uint16_t w;
    void *p = fdn__slab_alloc(&s, 1, 64, &w);
    cr_assert_eq(fdn__slab_chunk_of(p, w), kept);
    cr_assert_eq(kept->live, 1);
    cr_assert_eq(kept->cut, cut, "cut a new block with freed ones at hand");
    fdn__slab_free(&s, p, w);
    slab_down(fa, &s);
}

/* Checks: REG-L2 */
Test(registry_slab, churn_across_classes_holds_the_live_blocks)
{
    /* The pool as first written kept the peak of every class: rounds of
     * 50,000 blocks, each round one class, grew it to 1,590 chunks. */
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    enum { N = 20000, ROUNDS = 16 };
    static void *blocks[N];
    static uint16_t where[N];
    uint64_t most = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 64 + 16 * (size_t)r;
        for (int i = 0; i < N; i++)
            cr_assert_not_null(blocks[i] =
                                   fdn__slab_alloc(&s, 1, n, &where[i]));
        uint64_t chunks = fdn__slab_chunks(&s);
        if (chunks > most)
            most = chunks;
        /* This round's blocks, and at most one kept chunk per class
         * used before. */
        uint64_t need = (N + per_chunk(n) - 1) / per_chunk(n);
        cr_assert_leq(chunks, need + (uint64_t)r, "round %d: %llu chunks",
                      r, (unsigned long long)chunks);
        for (int i = N - 1; i >= 0; i--)
            fdn__slab_free(&s, blocks[i], where[i]);
    }
    cr_assert_leq(fdn__slab_chunks(&s), ROUNDS);
    cr_log_info("class churn: at most %llu chunks",
                (unsigned long long)most);
    slab_down(fa, &s);
}

/* Checks: REG-F1 */
Test(registry_slab, a_chunk_that_cannot_be_had_is_null)
{
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    uint16_t w;
    fdn_failing_allocator_arm(fa, 1, true);
    cr_assert_null(fdn__slab_alloc(&s, 3, 64, &w));
    cr_assert_eq(fdn__slab_chunks(&s), 0);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    /* Usable once memory comes back; blocks fill a chunk, then the next. */
    fdn_failing_allocator_arm(fa, 0, false);
    for (size_t i = 0; i < per_chunk(512); i++)
        cr_assert_not_null(fdn__slab_alloc(&s, 3, 512, &w));
    cr_assert_eq(fdn__slab_chunks(&s), 1);
    fdn_failing_allocator_arm(fa, 1, true);
    cr_assert_null(fdn__slab_alloc(&s, 3, 512, &w), "a full chunk, no memory");
    fdn_failing_allocator_arm(fa, 0, false);
    cr_assert_not_null(fdn__slab_alloc(&s, 3, 512, &w));
    cr_assert_eq(fdn__slab_chunks(&s), 2);
    slab_down(fa, &s);
}

/*
 * Threads on 3 stripes (so stripes are shared) allocate blocks of mixed
 * classes, stamp each with their id and a serial number, keep a window
 * of them, check the stamps are intact when they free them, and hand
 * some to the next thread to free (blocks freed on another thread than
 * the one that cut them, as call_rcu frees entries).  A block handed out
 * twice would be stamped twice and fail a check.
 */
enum { SLAB_THREADS = 6, SLAB_ROUNDS = 20000, SLAB_WINDOW = 300 };

/* A block and its where in one word (user addresses fit 48 bits), so
 * that one exchange hands over both; 0: empty. */
struct handoff {
    _Atomic uint64_t box;
};

static uint64_t pack(void *p, uint16_t where)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)where << 48;
}

static void *unpack(uint64_t v, uint16_t *where)
{
    *where = (uint16_t)(v >> 48);
    return (void *)(uintptr_t)(v & ((UINT64_C(1) << 48) - 1));
}

struct slab_worker {
    pthread_t thread;
    struct reg_slab *s;
    pthread_barrier_t *go;
    uint32_t id;
    struct handoff *mine, *next; /* next: the next thread's mailbox */
    uint64_t bad;
};

struct stamp {
    uint64_t owner, serial;
};

static void take_handoff(struct slab_worker *w)
{
    uint64_t v = atomic_exchange(&w->mine->box, 0);
    uint16_t where;
    if (v != 0) {
        void *p = unpack(v, &where);
        fdn__slab_free(w->s, p, where);
    }
}

static void *slab_thread(void *arg)
{
    struct slab_worker *w = arg;
    void *held[SLAB_WINDOW] = {0};
    uint16_t where[SLAB_WINDOW] = {0};
    uint64_t serial[SLAB_WINDOW] = {0};
    uint64_t x = 0x9e3779b97f4a7c15u * (w->id + 1);
    uint32_t stripe = 1 + w->id % 3;
    pthread_barrier_wait(w->go);
    for (uint64_t r = 0; r < SLAB_ROUNDS; r++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t slot = x % SLAB_WINDOW;
        take_handoff(w);
        if (held[slot] != NULL) {
            struct stamp st;
            memcpy(&st, held[slot], sizeof st);
            w->bad += st.owner != w->id || st.serial != serial[slot];
            /* Every 4th goes to the next thread to free, if its box is
             * empty. */
            uint64_t expect = 0;
            if ((x >> 40) % 4 == 0 &&
                atomic_compare_exchange_strong(&w->next->box, &expect,
                                               pack(held[slot], where[slot]))) {
                /* handed over */
            } else {
                fdn__slab_free(w->s, held[slot], where[slot]);
            }
        }
        size_t n = 16 + (x >> 32) % 200;
        held[slot] = fdn__slab_alloc(w->s, stripe, n, &where[slot]);
        if (held[slot] == NULL) {
            w->bad++;
            continue;
        }
        serial[slot] = r;
        struct stamp st = {w->id, r};
        memcpy(held[slot], &st, sizeof st);
    }
    for (size_t i = 0; i < SLAB_WINDOW; i++) {
        if (held[i] == NULL)
            continue;
        struct stamp st;
        memcpy(&st, held[i], sizeof st);
        w->bad += st.owner != w->id || st.serial != serial[i];
        fdn__slab_free(w->s, held[i], where[i]);
    }
    return NULL;
}

/* Checks: REG-L2 */
Test(registry_slab, shared_stripes_never_hand_out_a_block_twice)
{
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, SLAB_THREADS);
    static struct handoff box[SLAB_THREADS];
    struct slab_worker w[SLAB_THREADS];
    for (uint32_t i = 0; i < SLAB_THREADS; i++) {
        atomic_store(&box[i].box, 0);
        w[i] = (struct slab_worker){.s = &s, .go = &go, .id = i, .bad = 0,
                                    .mine = &box[i],
                                    .next = &box[(i + 1) % SLAB_THREADS]};
        cr_assert_eq(pthread_create(&w[i].thread, NULL, slab_thread, &w[i]),
                     0);
    }
    uint64_t bad = 0;
    for (int i = 0; i < SLAB_THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        bad += w[i].bad;
    }
    pthread_barrier_destroy(&go);
    /* Blocks left in the boxes. */
    for (int i = 0; i < SLAB_THREADS; i++) {
        uint64_t v = atomic_load(&box[i].box);
        uint16_t where;
        if (v != 0) {
            void *p = unpack(v, &where);
            fdn__slab_free(&s, p, where);
        }
    }
    cr_assert_eq(bad, 0, "%llu blocks overwritten or not had",
                 (unsigned long long)bad);
    /* Every block is back: at most one kept chunk per stripe and class. */
    uint64_t chunks = fdn__slab_chunks(&s);
    cr_log_info("slab stress: %llu chunks left", (unsigned long long)chunks);
    cr_assert_leq(chunks, 3 * (200 / 16 + 2));
    slab_down(fa, &s);
}
