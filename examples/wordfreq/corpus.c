/*
 * corpus.c — the input of wordfreq: walks the given paths, reads each regular
 * file whole, skips (and reports) unreadable paths, special files named on
 * the command line and binary files (those holding a NUL byte), and splits each file into chunks whose boundaries fall
 * on non-letter bytes so no word spans two chunks.
 */
#include "wordfreq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wf_corpus_init(wf_corpus_t *c, size_t chunk_bytes)
{
    memset(c, 0, sizeof *c);
    c->chunk_bytes = chunk_bytes;
}

void wf_corpus_free(wf_corpus_t *c)
{
    for (size_t i = 0; i < c->nbuffers; i++)
        free(c->buffers[i]);
    free(c->buffers);
    free(c->chunks);
    memset(c, 0, sizeof *c);
}

static bool wf_is_letter(unsigned char b)
{
    return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
}

static int wf_corpus_push_chunk(wf_corpus_t *c, const unsigned char *bytes,
                                size_t len)
{
    if (c->nchunks == c->cap_chunks) {
        size_t cap = c->cap_chunks ? c->cap_chunks * 2 : 64;
        wf_chunk_t *bigger = realloc(c->chunks, cap * sizeof *bigger);
        if (!bigger)
            return -1;
        c->chunks = bigger;
        c->cap_chunks = cap;
    }
    c->chunks[c->nchunks].bytes = bytes;
    c->chunks[c->nchunks].len = len;
    c->nchunks++;
    return 0;
}

/* Takes buf (len bytes) into the corpus and splits it into chunks.  On
 * failure buf is freed. */
static int wf_corpus_take(wf_corpus_t *c, unsigned char *buf, size_t len)
{
    if (c->nbuffers == c->cap_buffers) {
        size_t cap = c->cap_buffers ? c->cap_buffers * 2 : 64;
        unsigned char **bigger = realloc(c->buffers, cap * sizeof *bigger);
        if (!bigger) {
            free(buf);
            return -1;
        }
        c->buffers = bigger;
        c->cap_buffers = cap;
    }
    c->buffers[c->nbuffers++] = buf;
    size_t start = 0;
    while (start < len) {
        size_t end = len - start > c->chunk_bytes ? start + c->chunk_bytes
                                                   : len;
        /* Move the cut forward past any word it would split: the cut lands
         * before a non-letter byte or at the end of the file. */
        while (end < len && wf_is_letter(buf[end]))
            end++;
        if (wf_corpus_push_chunk(c, buf + start, end - start) != 0)
            return -1;
        start = end;
    }
    c->files++;
    c->bytes += len;
    return 0;
}

/* Reads one regular file.  Returns 0 (added or skipped) or -1 (no memory). */
static int wf_corpus_file(wf_corpus_t *c, const char *path)
{
    /* O_NONBLOCK: if path was swapped for a FIFO since it was stat()ed,
     * opening it must not wait for a writer; it is then refused below.  On
     * a regular file the flag changes nothing. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "wordfreq: skipped %s: %s\n", path, strerror(errno));
        c->unreadable++;
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "wordfreq: skipped %s: %s\n", path, strerror(errno));
        c->unreadable++;
        close(fd);
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "wordfreq: skipped %s: not a regular file\n", path);
        c->not_regular++;
        close(fd);
        return 0;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size : 0;
    /* One spare byte so a file that grew while being read is noticed
     * without a second allocation in the common case. */
    cap += 1;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        fprintf(stderr, "wordfreq: out of memory reading %s\n", path);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                close(fd);
                fprintf(stderr, "wordfreq: out of memory reading %s\n", path);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "wordfreq: skipped %s: %s\n", path,
                    strerror(errno));
            c->unreadable++;
            free(buf);
            close(fd);
            return 0;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (memchr(buf, '\0', len)) {
        fprintf(stderr, "wordfreq: skipped %s: binary file (contains NUL)\n",
                path);
        c->binary++;
        free(buf);
        return 0;
    }
    if (wf_corpus_take(c, buf, len) != 0) {
        fprintf(stderr, "wordfreq: out of memory reading %s\n", path);
        return -1;
    }
    return 0;
}

/* Byte-order comparison of directory entry names, so the walk (and the
 * chunk order) does not depend on the file system's order. */
static int wf_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wf_corpus_walk(wf_corpus_t *c, const char *path, bool top);

static int wf_corpus_dir(wf_corpus_t *c, const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "wordfreq: skipped %s: %s\n", path, strerror(errno));
        c->unreadable++;
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **bigger = realloc(names, ncap * sizeof *bigger);
            if (!bigger) {
                rc = -1;
                break;
            }
            names = bigger;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof *names, wf_name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            size_t plen = strlen(path);
            size_t len = plen + 1 + strlen(names[i]) + 1;
            char *child = malloc(len);
            if (!child) {
                rc = -1;
            } else {
                snprintf(child, len, "%s%s%s", path,
                         plen > 0 && path[plen - 1] == '/' ? "" : "/",
                         names[i]);
                rc = wf_corpus_walk(c, child, false);
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc != 0)
        fprintf(stderr, "wordfreq: out of memory walking %s\n", path);
    return rc;
}

/* Adds path.  A path given on the command line (top) is followed if it is a
 * symbolic link; links met inside directories are not, which also rules out
 * cycles. */
static int wf_corpus_walk(wf_corpus_t *c, const char *path, bool top)
{
    struct stat st;
    int rc = top ? stat(path, &st) : lstat(path, &st);
    if (rc != 0) {
        fprintf(stderr, "wordfreq: skipped %s: %s\n", path, strerror(errno));
        c->unreadable++;
        return 0;
    }
    if (S_ISDIR(st.st_mode))
        return wf_corpus_dir(c, path);
    if (S_ISREG(st.st_mode))
        return wf_corpus_file(c, path);
    if (top) {
        /* A device, FIFO or socket named explicitly is not a text file; it
         * is never opened (a FIFO would wait for a writer). */
        fprintf(stderr, "wordfreq: skipped %s: not a regular file\n", path);
        c->not_regular++;
    }
    return 0;
}

int wf_corpus_add(wf_corpus_t *c, const char *path)
{
    return wf_corpus_walk(c, path, true);
}
