/*
 * slab.c — unit tests of the registry's entry pool (src/registry/slab.h):
 * block sizes, reuse across stripes through the depot, out of memory on a
 * chunk, and threads allocating and freeing on shared stripes without a
 * block ever being handed out twice.
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
    /* Blocks of one stripe are cut in order, each its class's size. */
    char *prev = fdn__slab_alloc(&s, 1, 70);
    cr_assert_not_null(prev);
    cr_assert_eq((uintptr_t)prev % 16, 0);
    size_t sizes[] = {1, 16, 17, 80, 333, SLAB_MAX_BYTES};
    size_t last = 80;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = fdn__slab_alloc(&s, 1, sizes[i]);
        cr_assert_eq(p - prev, (ptrdiff_t)last);
        memset(p, 0xa5, sizes[i]); /* all of it is ours (ASan checks) */
        prev = p;
        last = fdn__slab_block_bytes(sizes[i]);
    }
    cr_assert_eq(fdn__slab_chunks(&s), 1);
    cr_assert_eq(fdn_failing_allocator_live(fa), 1);
    slab_down(fa, &s);
}

/* Checks: REG-L2 */
Test(registry_slab, freed_blocks_move_through_the_depot)
{
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    enum { N = 3 * SLAB_BATCH + 5 };
    void *blocks[N];
    /* Cut on stripe 1, freed on stripe 2 (as call_rcu frees entries). */
    for (int i = 0; i < N; i++)
        cr_assert_not_null(blocks[i] = fdn__slab_alloc(&s, 1, 64));
    for (int i = 0; i < N; i++)
        fdn__slab_free(&s, 2, blocks[i], 64);
    /* Stripe 2 gave three full batches to the depot and keeps 5. */
    cr_assert_eq(s.stripe[1].free[3].n, 5);
    cr_assert_eq(atomic_load(&s.depot.nbatches[3]), 3);
    /* Stripe 1 takes them back a batch at a time, before cutting. */
    char *bump = s.stripe[0].bump;
    for (int i = 0; i < 3 * SLAB_BATCH; i++) {
        void *p = fdn__slab_alloc(&s, 1, 64);
        bool was_freed = false;
        for (int j = 0; j < N && !was_freed; j++)
            was_freed = p == blocks[j];
        cr_assert(was_freed, "allocation %d cut a new block", i);
    }
    cr_assert_eq(s.stripe[0].bump, bump);
    cr_assert_eq(atomic_load(&s.depot.nbatches[3]), 0);
    /* Another class shares nothing with it. */
    void *q = fdn__slab_alloc(&s, 1, 100);
    cr_assert_eq((char *)q, bump);
    cr_assert_eq(fdn__slab_chunks(&s), 1);
    slab_down(fa, &s);
}

/* Checks: REG-F1 */
Test(registry_slab, a_chunk_that_cannot_be_had_is_null)
{
    fdn_failing_allocator_t *fa;
    struct reg_slab s;
    slab_up(&fa, &s);
    fdn_failing_allocator_arm(fa, 1, true);
    cr_assert_null(fdn__slab_alloc(&s, 3, 64));
    cr_assert_eq(fdn__slab_chunks(&s), 0);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    /* Usable once memory comes back; blocks fill a chunk, then the next. */
    fdn_failing_allocator_arm(fa, 0, false);
    size_t per = (SLAB_CHUNK_BYTES - SLAB_CHUNK_HEADER) / 512;
    for (size_t i = 0; i < per; i++)
        cr_assert_not_null(fdn__slab_alloc(&s, 3, 512));
    cr_assert_eq(fdn__slab_chunks(&s), 1);
    fdn_failing_allocator_arm(fa, 1, true);
    cr_assert_null(fdn__slab_alloc(&s, 3, 512), "a full chunk, no memory");
    fdn_failing_allocator_arm(fa, 0, false);
    cr_assert_not_null(fdn__slab_alloc(&s, 3, 512));
    cr_assert_eq(fdn__slab_chunks(&s), 2);
    slab_down(fa, &s);
}

/*
 * Threads on 3 stripes (so stripes are shared) allocate blocks of mixed
 * classes, stamp each with their id and a serial number, keep a window
 * of them, check the stamps are intact when they free them, and free
 * some on another thread's stripe.  A block handed out twice would be
 * stamped twice and fail a check.
 */
enum { SLAB_THREADS = 6, SLAB_ROUNDS = 20000, SLAB_WINDOW = 300 };

struct slab_worker {
    pthread_t thread;
    struct reg_slab *s;
    pthread_barrier_t *go;
    uint32_t id;
    uint64_t bad;
};

struct stamp {
    uint64_t owner, serial;
};

static void *slab_thread(void *arg)
{
    struct slab_worker *w = arg;
    void *held[SLAB_WINDOW] = {0};
    size_t size[SLAB_WINDOW] = {0};
    uint64_t serial[SLAB_WINDOW] = {0};
    uint64_t x = 0x9e3779b97f4a7c15u * (w->id + 1);
    pthread_barrier_wait(w->go);
    for (uint64_t r = 0; r < SLAB_ROUNDS; r++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t slot = x % SLAB_WINDOW;
        uint32_t stripe = 1 + (uint32_t)((w->id + (x >> 20) % 2) % 3);
        if (held[slot] != NULL) {
            struct stamp st;
            memcpy(&st, held[slot], sizeof st);
            w->bad += st.owner != w->id || st.serial != serial[slot];
            fdn__slab_free(w->s, stripe, held[slot], size[slot]);
        }
        size[slot] = 16 + (x >> 32) % 200;
        held[slot] = fdn__slab_alloc(w->s, stripe, size[slot]);
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
        fdn__slab_free(w->s, 1 + w->id % 3, held[i], size[i]);
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
    struct slab_worker w[SLAB_THREADS];
    for (uint32_t i = 0; i < SLAB_THREADS; i++) {
        w[i] = (struct slab_worker){.s = &s, .go = &go, .id = i, .bad = 0};
        cr_assert_eq(pthread_create(&w[i].thread, NULL, slab_thread, &w[i]),
                     0);
    }
    uint64_t bad = 0;
    for (int i = 0; i < SLAB_THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        bad += w[i].bad;
    }
    pthread_barrier_destroy(&go);
    cr_assert_eq(bad, 0, "%llu blocks overwritten or not had",
                 (unsigned long long)bad);
    /* The window is all they ever held at once: the pool stayed within
     * what that needs, plus what stripes and the depot keep idle. */
    uint64_t chunks = fdn__slab_chunks(&s);
    cr_log_info("slab stress: %llu chunks", (unsigned long long)chunks);
    cr_assert_leq(chunks, 64);
    slab_down(fa, &s);
}
