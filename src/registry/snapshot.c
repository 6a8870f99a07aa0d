/*
 * registry/snapshot.c — fdn_registry_snapshot and fdn_registry_restore: a
 * namespace's entries to a file and back.
 *
 * Only the public API touches the namespace: fdn_registry_foreach reads the
 * entries, fdn_registry_register_ex (UNIQUE) or fdn_registry_join
 * (DUPLICATE) writes them back, so a restore goes through every check a
 * caller's write goes through (owner alive, schema, limits, rate limits)
 * and sends the same listener events.  The registry's internals are used
 * for one thing only: its allocator (ns->reg->alloc), so fault-injection
 * tests reach the buffers here too.
 *
 * File format, version 1.  Every integer is unsigned little-endian of the
 * stated width; nothing is padded or aligned; strings carry no NUL.
 *
 *     header   magic      8 bytes  "FDNREGSN"
 *              version    u32      1
 *              kind       u32      0 UNIQUE, 1 DUPLICATE
 *              ns_len     u8       1..FDN_REGISTRY_NS_MAX
 *              ns         ns_len bytes: the namespace's name
 *              count      u64      number of records that follow
 *     record   key_len    u8       1..FDN_REGISTRY_KEY_MAX
 *              key        key_len bytes
 *              pid        u64      the owner, never FDN_PID_NONE
 *              nfields    u8       0..FDN_META_MAX
 *              field      (nfields times)
 *                name_len u8       1..FDN_META_NAME_MAX
 *                name     name_len bytes, distinct within the record
 *                type     u8       FDN_META_INT .. FDN_META_STR
 *                value    INT: u64 (two's complement int64_t)
 *                         DOUBLE: u64 (the IEEE-754 binary64 bits)
 *                         BOOL: u8, 0 or 1
 *                         STR: u8 len (0..FDN_META_STR_MAX), len bytes
 *     trailer  crc        u32      CRC-32 (zlib's crc32: ISO-HDLC, the
 *                                  polynomial 0xEDB88320 reflected) of
 *                                  every byte before it
 *
 * The file ends right after the CRC.  A reader refuses (FDN_EINVAL) a file
 * whose magic, version, kind, name, CRC, any length, type or value is out
 * of range, whose records do not end exactly at the CRC, or that is not a
 * regular file (a FIFO or a device is refused at once, unread: the open
 * does not wait for a FIFO's writer).  The largest record is 1 + 127 + 8
 * + 1 + 8 * (1 + 23 + 1 + 1 + 47) = 721 bytes.
 *
 * Pids.  A pid names a process of one runtime's life only (RT-I1), so
 * a snapshot is meant to be restored into a registry of the same runtime
 * (after fdn_registry_destroy and create, or into a namespace that lost its
 * entries).  The file does not identify the runtime: restored into another
 * one, a recorded pid may name an unrelated live process of it.
 *
 * Snapshot.  The records are built in memory (foreach cannot write to a
 * file from its read-side critical section without blocking), then written
 * to a temporary file in path's directory, ".fdnsnap-<getpid()>-<n>", n a
 * per-process counter (so two threads snapshotting never share a
 * temporary file), created with O_EXCL; then fsync, close, rename over
 * path, and fsync of path's directory so the rename itself survives a
 * crash.  The temporary name does not contain path's basename, so any
 * basename the directory allows (up to NAME_MAX bytes) can be the target.
 * Any failure before the rename removes the temporary file and leaves
 * path untouched.  Entries written or removed while the snapshot runs may
 * or may not be in it; those present throughout are.
 *
 * Restore.  The whole file is read into memory and validated completely
 * before the first registration, so a refused file changes nothing.  Then
 * one pass decodes and registers each record; a record the registry
 * refuses is skipped, whatever the reason: FDN_ENOPROC (owner dead),
 * FDN_EEXIST (key or membership taken), FDN_EAGAIN (owner rate limit), and
 * also FDN_ENOMEM, FDN_ELIMIT and FDN_ESCHEMA, since the entries restored
 * before it cannot be taken back unseen (listeners were told of them).
 */
#include "registry/registry_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>

#define SNAP_MAGIC "FDNREGSN"
#define SNAP_MAGIC_LEN 8
#define SNAP_VERSION 1u
/* magic, version, kind, ns_len; the name and the count follow. */
#define SNAP_HEAD_FIXED (SNAP_MAGIC_LEN + 4 + 4 + 1)
#define SNAP_CRC_LEN 4
/* The longest record (see the file comment). */
#define SNAP_RECORD_MAX                                                      \
    (1 + FDN_REGISTRY_KEY_MAX + 8 + 1 +                                      \
     FDN_META_MAX * (1 + FDN_META_NAME_MAX + 1 + 1 + FDN_META_STR_MAX))

_Static_assert(sizeof(double) == sizeof(uint64_t),
               "DOUBLE values are stored as their 64-bit pattern");

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* A growing byte buffer on the registry's allocator. */
struct snap_buf {
    const fdn_allocator_t *alloc;
    unsigned char *bytes;
    size_t len, cap;
    uint64_t records;
    bool is_failed; /* an allocation failed; the contents are incomplete */
};

/* Makes room for more bytes; false (and is_failed) when out of memory. */
static bool buf_reserve(struct snap_buf *b, size_t more)
{
    if (b->is_failed)
        return false;
    if (b->cap - b->len >= more)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->is_failed = true;
            return false;
        }
        cap *= 2;
    }
    /* The allocator has no realloc: copy.  Doubling keeps it O(total). */
    unsigned char *p = fdn__alloc(b->alloc, cap);
    if (p == NULL) {
        b->is_failed = true;
        return false;
    }
    if (b->len > 0)
        memcpy(p, b->bytes, b->len);
    fdn__free(b->alloc, b->bytes);
    b->bytes = p;
    b->cap = cap;
    return true;
}

/* The put_* helpers write into reserved room. */
static void put_u8(struct snap_buf *b, unsigned v)
{
    b->bytes[b->len++] = (unsigned char)v;
}

static void put_le(unsigned char *at, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        at[i] = (unsigned char)(v >> (8 * i));
}

static void put_u32(struct snap_buf *b, uint32_t v)
{
    put_le(b->bytes + b->len, v, 4);
    b->len += 4;
}

static void put_u64(struct snap_buf *b, uint64_t v)
{
    put_le(b->bytes + b->len, v, 8);
    b->len += 8;
}

static void put_bytes(struct snap_buf *b, const void *p, size_t n)
{
    memcpy(b->bytes + b->len, p, n);
    b->len += n;
}

/* A length-prefixed string of at most max bytes (the registry's strings
 * are NUL-terminated within their arrays; strnlen keeps a bad one from
 * running past them). */
static void put_str8(struct snap_buf *b, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    put_u8(b, (unsigned)n);
    put_bytes(b, s, n);
}

/* fdn_registry_foreach's callback: appends one record.  Runs inside a
 * read-side critical section; it only allocates. */
static void snap_add_entry(void *arg, const char *key, fdn_pid_t pid,
                           const fdn_meta_field_t *fields, uint32_t nfields)
{
    struct snap_buf *b = arg;
    if (nfields > FDN_META_MAX)
        FDN_PANIC("registry entry with more than FDN_META_MAX fields");
    if (!buf_reserve(b, SNAP_RECORD_MAX))
        return;
    put_str8(b, key, FDN_REGISTRY_KEY_MAX);
    put_u64(b, pid);
    put_u8(b, nfields);
    for (uint32_t i = 0; i < nfields; i++) {
        const fdn_meta_value_t *v = &fields[i].value;
        put_str8(b, fields[i].name, FDN_META_NAME_MAX);
        put_u8(b, (unsigned)v->type);
        switch (v->type) {
        case FDN_META_INT:
            put_u64(b, (uint64_t)v->as.i);
            break;
        case FDN_META_DOUBLE: {
            uint64_t bits;
            memcpy(&bits, &v->as.d, sizeof bits);
            put_u64(b, bits);
            break;
        }
        case FDN_META_BOOL:
            put_u8(b, v->as.b ? 1u : 0u);
            break;
        case FDN_META_STR:
            put_str8(b, v->as.s, FDN_META_STR_MAX);
            break;
        default:
            FDN_PANIC("registry entry with a field of no known type");
        }
    }
    b->records++;
}

/* zlib's crc32 takes a uInt length: feed it in pieces. */
static uint32_t snap_crc(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return (uint32_t)crc;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

/* Writes all n bytes; false with errno on failure. */
static bool write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t piece = n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n;
        ssize_t w = write(fd, p, piece);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (w == 0) {
            /* write(2) made no progress and set no error; say why. */
            errno = EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* The directory path lives in, into dir (strlen(path) + 2 bytes). */
static void parent_dir(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
}

/* Makes a rename in dir durable.  Returns 0 or -1 (errno).  A file system
 * that cannot sync directories (EINVAL) counts as done: it offers nothing
 * more durable. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Per-process temporary-file counter.  Relaxed: it only has to hand out
 * distinct numbers; nothing is published through it. */
static _Atomic unsigned snap_tmp_seq;

/* The temporary file's name after its directory part: short, whatever
 * path's basename ("<path>.tmp..." went over NAME_MAX for a basename
 * near it).  The leading dot keeps a file left by a crash out of plain
 * listings. */
#define SNAP_TMP_PREFIX ".fdnsnap-"
/* The prefix, a pid, '-', a counter and the NUL fit in this. */
#define SNAP_TMP_NAME_MAX 48

/* Creates a fresh temporary file in path's directory; its name (path up
 * to and including its last '/', then SNAP_TMP_PREFIX "<pid>-<n>") goes
 * to tmp, which has room for that.  Not mkstemp: it creates the file
 * 0600, where open's 0666 less the umask gives the snapshot the mode any
 * new file of the caller gets.  Returns the fd, or -1 with errno. */
static int create_tmp(const char *path, char *tmp)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash == NULL ? 0 : (size_t)(slash - path) + 1;
    memcpy(tmp, path, dir_len);
    for (int attempt = 0; attempt < 64; attempt++) {
        unsigned n =
            atomic_fetch_add_explicit(&snap_tmp_seq, 1, memory_order_relaxed);
        snprintf(tmp + dir_len, SNAP_TMP_NAME_MAX, SNAP_TMP_PREFIX "%ld-%u",
                 (long)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        /* EEXIST: a file left by a crashed process of the same pid; take
         * the next number rather than touch it. */
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Writes b to path atomically; FDN_OK or FDN_ESYS (errno) / FDN_ENOMEM. */
static int snap_write_file(const fdn_allocator_t *a, const char *path,
                           const struct snap_buf *b)
{
    /* Both names up front, so nothing can fail for memory after the
     * rename: the temporary name (path's directory part, then at most
     * SNAP_TMP_NAME_MAX bytes) and the directory's. */
    size_t path_len = strlen(path);
    size_t tmp_cap = path_len + SNAP_TMP_NAME_MAX;
    char *tmp = fdn__alloc(a, tmp_cap + path_len + 2);
    if (tmp == NULL)
        return FDN_ENOMEM;
    char *dir = tmp + tmp_cap;
    parent_dir(path, dir);
    int fd = create_tmp(path, tmp);
    if (fd < 0) {
        int saved = errno;
        fdn__free(a, tmp);
        errno = saved;
        return FDN_ESYS;
    }
    bool is_ok = write_all(fd, b->bytes, b->len) && fsync(fd) == 0;
    int saved = errno;
    /* close can report a deferred write error (NFS): it counts. */
    if (close(fd) != 0 && is_ok) {
        is_ok = false;
        saved = errno;
    }
    if (is_ok && rename(tmp, path) != 0) {
        is_ok = false;
        saved = errno;
    }
    if (!is_ok) {
        unlink(tmp);
        fdn__free(a, tmp);
        errno = saved;
        return FDN_ESYS;
    }
    /* The new file is in place.  If its directory entry cannot be made
     * durable, say so: a crash could still bring back the old file. */
    int rc = sync_dir(dir) == 0 ? FDN_OK : FDN_ESYS;
    saved = errno;
    fdn__free(a, tmp);
    errno = saved;
    return rc;
}

FDN_API int fdn_registry_snapshot(fdn_registry_ns_t *ns, const char *path,
                                  uint64_t *written)
{
    if (written != NULL)
        *written = 0;
    if (ns == NULL || path == NULL || path[0] == '\0')
        return FDN_EINVAL;
    const char *name = fdn_registry_ns_name(ns);
    size_t name_len = strnlen(name, FDN_REGISTRY_NS_MAX + 1);
    if (name_len == 0 || name_len > FDN_REGISTRY_NS_MAX)
        FDN_PANIC("namespace name out of range");

    struct snap_buf b = {.alloc = ns->reg->alloc};
    if (!buf_reserve(&b, SNAP_HEAD_FIXED + name_len + 8))
        return FDN_ENOMEM;
    put_bytes(&b, SNAP_MAGIC, SNAP_MAGIC_LEN);
    put_u32(&b, SNAP_VERSION);
    put_u32(&b, (uint32_t)fdn_registry_ns_kind(ns));
    put_u8(&b, (unsigned)name_len);
    put_bytes(&b, name, name_len);
    size_t count_at = b.len;
    put_u64(&b, 0); /* patched below */

    int64_t seen = fdn_registry_foreach(ns, snap_add_entry, &b);
    if (seen < 0)
        FDN_PANIC("fdn_registry_foreach refused a valid namespace");
    int rc = FDN_OK;
    if (!buf_reserve(&b, SNAP_CRC_LEN)) {
        rc = FDN_ENOMEM;
    } else {
        put_le(b.bytes + count_at, b.records, 8);
        put_u32(&b, snap_crc(b.bytes, b.len));
        rc = snap_write_file(b.alloc, path, &b);
    }
    int saved = errno;
    fdn__free(b.alloc, b.bytes);
    errno = saved;
    if (rc == FDN_OK && written != NULL)
        *written = b.records;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* A bounds-checked reader over the file's bytes.  Once a read runs past
 * the end, is_bad stays set and every later read returns zeros. */
struct snap_cur {
    const unsigned char *p, *end;
    bool is_bad;
};

static bool cur_take(struct snap_cur *c, size_t n, const unsigned char **out)
{
    if (c->is_bad || (size_t)(c->end - c->p) < n) {
        c->is_bad = true;
        return false;
    }
    *out = c->p;
    c->p += n;
    return true;
}

static uint64_t get_le(struct snap_cur *c, unsigned width)
{
    const unsigned char *at;
    if (!cur_take(c, width, &at))
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)at[i] << (8 * i);
    return v;
}

/* A length-prefixed string of lo..hi bytes with no NUL: its bytes and
 * length, or NULL (and is_bad). */
static const unsigned char *get_str8(struct snap_cur *c, size_t lo, size_t hi,
                                     size_t *len)
{
    size_t n = (size_t)get_le(c, 1);
    const unsigned char *s;
    if (c->is_bad || n < lo || n > hi || !cur_take(c, n, &s) ||
        memchr(s, '\0', n) != NULL) {
        c->is_bad = true;
        return NULL;
    }
    *len = n;
    return s;
}

/* One record, decoded (key NUL-terminated; meta.count fields filled). */
struct snap_record {
    char key[FDN_REGISTRY_KEY_MAX + 1];
    fdn_pid_t pid;
    fdn_meta_t meta;
};

/* Decodes the record at c into r (r may be NULL to validate only).  False
 * for a record the format does not allow. */
static bool get_record(struct snap_cur *c, struct snap_record *r)
{
    size_t key_len;
    const unsigned char *key = get_str8(c, 1, FDN_REGISTRY_KEY_MAX, &key_len);
    fdn_pid_t pid = get_le(c, 8);
    uint32_t nfields = (uint32_t)get_le(c, 1);
    if (c->is_bad || pid == FDN_PID_NONE || nfields > FDN_META_MAX)
        return false;
    /* Names seen so far, for the distinctness check. */
    const unsigned char *names[FDN_META_MAX];
    size_t name_lens[FDN_META_MAX];
    if (r != NULL) {
        memset(&r->meta, 0, sizeof r->meta);
        memcpy(r->key, key, key_len);
        r->key[key_len] = '\0';
        r->pid = pid;
        r->meta.count = nfields;
    }
    for (uint32_t i = 0; i < nfields; i++) {
        size_t name_len;
        const unsigned char *name =
            get_str8(c, 1, FDN_META_NAME_MAX, &name_len);
        if (name == NULL)
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (name_lens[j] == name_len &&
                memcmp(names[j], name, name_len) == 0)
                return false;
        names[i] = name;
        name_lens[i] = name_len;

        fdn_meta_value_t v;
        memset(&v, 0, sizeof v);
        unsigned type = (unsigned)get_le(c, 1);
        switch (type) {
        case FDN_META_INT:
            v.as.i = (int64_t)get_le(c, 8);
            break;
        case FDN_META_DOUBLE: {
            uint64_t bits = get_le(c, 8);
            memcpy(&v.as.d, &bits, sizeof bits);
            break;
        }
        case FDN_META_BOOL: {
            uint64_t b = get_le(c, 1);
            if (b > 1)
                return false;
            v.as.b = b == 1;
            break;
        }
        case FDN_META_STR: {
            size_t n;
            const unsigned char *s = get_str8(c, 0, FDN_META_STR_MAX, &n);
            if (s == NULL)
                return false;
            memcpy(v.as.s, s, n);
            v.as.s[n] = '\0';
            break;
        }
        default:
            return false;
        }
        if (c->is_bad)
            return false;
        v.type = (fdn_meta_type_t)type;
        if (r != NULL) {
            fdn_meta_field_t *f = &r->meta.fields[i];
            memcpy(f->name, name, name_len);
            f->value = v;
        }
    }
    return true;
}

/* Checks the whole file against ns; on success *records is where the
 * first record starts and *count how many there are. */
static bool snap_validate(fdn_registry_ns_t *ns, const unsigned char *bytes,
                          size_t len, struct snap_cur *records,
                          uint64_t *count)
{
    if (len < SNAP_HEAD_FIXED + 1 + 8 + SNAP_CRC_LEN ||
        memcmp(bytes, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
        return false;
    size_t body = len - SNAP_CRC_LEN;
    struct snap_cur crc_at = {.p = bytes + body, .end = bytes + len};
    if (snap_crc(bytes, body) != (uint32_t)get_le(&crc_at, 4))
        return false;

    struct snap_cur c = {.p = bytes + SNAP_MAGIC_LEN, .end = bytes + body};
    uint32_t version = (uint32_t)get_le(&c, 4);
    uint32_t kind = (uint32_t)get_le(&c, 4);
    size_t name_len;
    const unsigned char *name =
        get_str8(&c, 1, FDN_REGISTRY_NS_MAX, &name_len);
    uint64_t n = get_le(&c, 8);
    const char *want = fdn_registry_ns_name(ns);
    if (c.is_bad || version != SNAP_VERSION ||
        kind != (uint32_t)fdn_registry_ns_kind(ns) ||
        strlen(want) != name_len || memcmp(want, name, name_len) != 0)
        return false;
    /* Every record takes at least 11 bytes: a cheap bound before the walk
     * (and it keeps the walk's count from being absurd). */
    if (n > (uint64_t)(c.end - c.p) / 11)
        return false;
    *records = c;
    for (uint64_t i = 0; i < n; i++)
        if (!get_record(&c, NULL))
            return false;
    /* The records end exactly at the CRC. */
    if (c.p != c.end)
        return false;
    *count = n;
    return true;
}

/* Clears O_NONBLOCK on fd.  Returns 0 or -1 (errno). */
static int clear_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if ((flags & O_NONBLOCK) == 0)
        return 0;
    return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/* Reads the regular file at path into a new buffer (*bytes, *len).
 * FDN_OK, FDN_ESYS (errno), FDN_ENOMEM, or FDN_EINVAL for a file that is
 * neither regular nor a directory, without blocking on it. */
static int snap_read_file(const fdn_allocator_t *a, const char *path,
                          unsigned char **bytes, size_t *len)
{
    /* The file's type is known only once it is open, and a blocking open
     * of a FIFO for reading waits for a writer, forever if none comes:
     * O_NONBLOCK makes it return at once, so fstat can refuse it.
     * O_NOCTTY: a terminal named by path must not become the caller's
     * controlling terminal. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        /* A UNIX socket cannot be opened at all (ENXIO): refuse it, like
         * any other file that is not regular, as FDN_EINVAL. */
        int e = errno;
        struct stat lst;
        if (e == ENXIO && stat(path, &lst) == 0 && !S_ISREG(lst.st_mode) &&
            !S_ISDIR(lst.st_mode))
            return FDN_EINVAL;
        errno = e;
        return FDN_ESYS;
    }
    struct stat st;
    int rc = FDN_OK;
    unsigned char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0) {
        rc = FDN_ESYS;
    } else if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        rc = FDN_ESYS;
    } else if (!S_ISREG(st.st_mode)) {
        rc = FDN_EINVAL;
    } else if (clear_nonblock(fd) != 0) {
        /* Linux's own file systems ignore O_NONBLOCK on regular files,
         * but POSIX lets a read under it fail with EAGAIN (a mandatory
         * lock), and a FUSE file system sees the flag and may honour it:
         * read as from any file. */
        rc = FDN_ESYS;
    } else if ((uint64_t)st.st_size >= SIZE_MAX) {
        rc = FDN_ENOMEM;
    } else {
        size_t want = (size_t)st.st_size;
        buf = fdn__alloc(a, want ? want : 1);
        if (buf == NULL)
            rc = FDN_ENOMEM;
        /* A file that shrinks meanwhile ends early and fails validation;
         * one that grows is read up to its size at the fstat. */
        while (rc == FDN_OK && got < want) {
            size_t piece = want - got;
            if (piece > (size_t)SSIZE_MAX)
                piece = (size_t)SSIZE_MAX;
            ssize_t r = read(fd, buf + got, piece);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                rc = FDN_ESYS;
            else if (r == 0)
                break;
            else
                got += (size_t)r;
        }
    }
    int saved = errno;
    close(fd);
    if (rc != FDN_OK) {
        fdn__free(a, buf);
        errno = saved;
        return rc;
    }
    *bytes = buf;
    *len = got;
    return FDN_OK;
}

FDN_API int fdn_registry_restore(fdn_registry_ns_t *ns, const char *path,
                                 uint64_t *restored, uint64_t *skipped)
{
    if (restored != NULL)
        *restored = 0;
    if (skipped != NULL)
        *skipped = 0;
    if (ns == NULL || path == NULL || path[0] == '\0')
        return FDN_EINVAL;
    const fdn_allocator_t *a = ns->reg->alloc;
    unsigned char *bytes;
    size_t len;
    int rc = snap_read_file(a, path, &bytes, &len);
    if (rc != FDN_OK)
        return rc;

    struct snap_cur c;
    uint64_t n = 0;
    if (!snap_validate(ns, bytes, len, &c, &n)) {
        fdn__free(a, bytes);
        return FDN_EINVAL;
    }

    bool is_unique = fdn_registry_ns_kind(ns) == FDN_REGISTRY_UNIQUE;
    uint64_t ok = 0, refused = 0;
    struct snap_record r;
    for (uint64_t i = 0; i < n; i++) {
        if (!get_record(&c, &r))
            FDN_PANIC("a validated snapshot record failed to decode");
        const fdn_meta_t *meta = r.meta.count ? &r.meta : NULL;
        fdn_registry_reply_t reply;
        int wrc = is_unique
                      ? fdn_registry_register_ex(ns, r.key, r.pid, meta, &reply)
                      : fdn_registry_join(ns, r.key, r.pid, meta, &reply);
        /* Every refusal is a skip (see the file comment). */
        if (wrc == FDN_OK)
            ok++;
        else
            refused++;
    }
    fdn__free(a, bytes);
    if (restored != NULL)
        *restored = ok;
    if (skipped != NULL)
        *skipped = refused;
    return FDN_OK;
}
