/*
 * words.c — word tables for wordfreq: counting the words of a chunk, merging
 * tables, and sorting the result.  A word is a maximal run of ASCII letters,
 * lower-cased.  Tables are uthash hash tables of wf_word_t entries, each
 * owning a copy of its word.
 */
#include "wordfreq.h"

#include <stdlib.h>
#include <string.h>

/* Set by uthash (through uthash_nonfatal_oom) when an insertion failed for
 * lack of memory.  Thread-local: each agent runs on one thread at a time and
 * reads the flag right after the insertion that may have set it. */
_Thread_local bool wf_hash_oom;

/* The lower-case form of each byte that is an ASCII letter, else 0. */
static unsigned char wf_lower(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c - 'A' + 'a');
    if (c >= 'a' && c <= 'z')
        return c;
    return 0;
}

/* Adds one occurrence of word[0..len) (already lower-case) to *table. */
static int wf_words_add(wf_word_t **table, const char *word, size_t len,
                        uint64_t count)
{
    wf_word_t *e = NULL;
    HASH_FIND(hh, *table, word, len, e);
    if (e) {
        e->count += count;
        return 0;
    }
    e = malloc(sizeof *e + len);
    if (!e)
        return -1;
    e->count = count;
    e->len = len;
    memcpy(e->text, word, len);
    wf_hash_oom = false;
    HASH_ADD_KEYPTR(hh, *table, e->text, e->len, e);
    if (wf_hash_oom) {
        free(e);
        return -1;
    }
    return 0;
}

int wf_words_count(wf_word_t **table, const unsigned char *bytes, size_t len,
                   char **scratch, size_t *scratch_cap)
{
    size_t i = 0;
    while (i < len) {
        /* Skip non-letters. */
        while (i < len && !wf_lower(bytes[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && wf_lower(bytes[i]))
            i++;
        size_t wlen = i - start;
        if (wlen > *scratch_cap) {
            /* Grow geometrically so a corpus of long words stays linear. */
            size_t cap = *scratch_cap ? *scratch_cap : 64;
            while (cap < wlen)
                cap *= 2;
            char *bigger = realloc(*scratch, cap);
            if (!bigger)
                return -1;
            *scratch = bigger;
            *scratch_cap = cap;
        }
        for (size_t k = 0; k < wlen; k++)
            (*scratch)[k] = (char)wf_lower(bytes[start + k]);
        if (wf_words_add(table, *scratch, wlen, 1) != 0)
            return -1;
    }
    return 0;
}

int wf_words_merge(wf_word_t **into, wf_word_t **from)
{
    wf_word_t *e, *tmp;
    HASH_ITER(hh, *from, e, tmp) {
        wf_word_t *have = NULL;
        HASH_FIND(hh, *into, e->text, e->len, have);
        HASH_DEL(*from, e);
        if (have) {
            have->count += e->count;
            free(e);
            continue;
        }
        /* Reuse the entry: its key lives inside it. */
        wf_hash_oom = false;
        HASH_ADD_KEYPTR(hh, *into, e->text, e->len, e);
        if (wf_hash_oom) {
            /* Put it back so nothing is lost; the caller frees both. */
            wf_hash_oom = false;
            HASH_ADD_KEYPTR(hh, *from, e->text, e->len, e);
            if (wf_hash_oom)
                free(e);
            return -1;
        }
    }
    return 0;
}

void wf_words_free(wf_word_t **table)
{
    wf_word_t *e, *tmp;
    HASH_ITER(hh, *table, e, tmp) {
        HASH_DEL(*table, e);
        free(e);
    }
    *table = NULL;
}

uint64_t wf_words_total(wf_word_t *table)
{
    uint64_t total = 0;
    for (wf_word_t *e = table; e; e = e->hh.next)
        total += e->count;
    return total;
}

/* Count descending, then word ascending in byte order (a shorter word
 * before a longer one it is a prefix of), as `sort -k1,1nr -k2,2` in the C
 * locale. */
static int wf_words_cmp(const void *a, const void *b)
{
    const wf_word_t *x = *(const wf_word_t *const *)a;
    const wf_word_t *y = *(const wf_word_t *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

wf_word_t **wf_words_sorted(wf_word_t *table, size_t *n)
{
    size_t count = HASH_COUNT(table);
    *n = 0;
    if (count == 0)
        return NULL;
    wf_word_t **v = malloc(count * sizeof *v);
    if (!v)
        return NULL;
    size_t i = 0;
    for (wf_word_t *e = table; e; e = e->hh.next)
        v[i++] = e;
    qsort(v, count, sizeof *v, wf_words_cmp);
    *n = count;
    return v;
}
