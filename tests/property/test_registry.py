"""Model-based property test of the registry (Hypothesis stateful testing).

Rules register, unregister, update (replace and merge), touch, join, leave,
look up, spawn and kill owners against the real shared library (cffi, ABI
mode) and compare every result with a Python model.  Four namespaces:
"alpha" and "beta" (plain UNIQUE, sharing key names), "group" (DUPLICATE)
and "lru" (UNIQUE, max_entries = LRU_MAX, on_full = EVICT_LRU).  The model
predicts exactly which entry an eviction removes: register, update and
touch make an entry the most recently seen; a lookup does not.

After every step the machine checks: each namespace's lookups, members,
dispatch and count equal the model, fdn_registry_keys(pid) lists exactly
the model's keys of pid for every pid ever used, dead owners hold nothing,
and the events a listener (the attached test thread, subscribed to "lru"
and "group") has received equal the model's predicted events: kind,
reason, namespace, key, pid, metadata, with seq counting from 1 without
gaps.  The order of the events of one owner death is not fixed (the owner's
entries go in the order of its owner record), so those are compared as a
set; every other event is compared in order.

Requirement ids checked (specs/registry.md): REG-I1, REG-I2, REG-I3,
REG-I5 (group members), REG-I6 (at most max_entries after any write),
REG-S2, REG-S4, REG-S6, REG-S8 (listeners get every change in order, seq
gap-free, with reasons), REG-S10 (a refused write leaves no owner record
and sends no event), REG-L1, REG-L2, REG-C1, REG-C6 (calls of the wrong
kind), REG-C7 (join, leave, members, dispatch), REG-C8 (REPLACE and MERGE
updates), REG-C9 (touch), REG-C10 (EVICT_LRU evicts the least recently
seen), REG-C13 (the listener messages' tag, sender and size).  A failing
run prints the falsifying rule sequence; replay a run with
`pytest --hypothesis-seed=N`.

Environment: FDN_LIB is libfoundation.so, FDN_PROP_HELPER the helper module
(tests/property/fdn_prop_helper.c) that spawns idle owner processes and
reports the header's real struct layouts, which test_layout compares with
the declarations below (every struct here must match the header exactly).
"""
import os
import time

import cffi
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize,
                                 invariant, precondition, rule)

ffi = cffi.FFI()
ffi.cdef("""
typedef uint64_t fdn_pid_t;
typedef uint64_t fdn_ref_t;
typedef int64_t fdn_reason_t;
typedef struct fdn_runtime fdn_runtime_t;
typedef struct fdn_ctx fdn_ctx_t;
typedef struct fdn_registry fdn_registry_t;
typedef struct fdn_registry_ns fdn_registry_ns_t;

enum {
    FDN_OK = 0, FDN_EINVAL = -1, FDN_ENOPROC = -3, FDN_EEXIST = -4,
    FDN_ENOENT = -5, FDN_ETIMEDOUT = -6, FDN_ELIMIT = -8, FDN_ETOOBIG = -12,
    FDN_ENOTSUP = -14
};
enum { FDN_REASON_KILL = 2 };
enum { FDN_MSG_USER = 1 };
enum { FDN_REGISTRY_KEY_MAX = 127, FDN_META_MAX = 8 };
enum { FDN_META_NONE = 0, FDN_META_INT = 1, FDN_META_STR = 4 };
enum { FDN_REGISTRY_UNIQUE = 0, FDN_REGISTRY_DUPLICATE = 1 };
enum { FDN_REGISTRY_REJECT = 0, FDN_REGISTRY_EVICT_LRU = 1 };
enum { FDN_REGISTRY_REPLACE = 0, FDN_REGISTRY_MERGE = 1 };
enum { FDN_REGISTRY_REGISTERED = 1, FDN_REGISTRY_UNREGISTERED = 2,
       FDN_REGISTRY_UPDATED = 3 };
enum { FDN_REGISTRY_NONE = 0, FDN_REGISTRY_EXPLICIT = 1,
       FDN_REGISTRY_DOWN = 2, FDN_REGISTRY_EVICTED = 3,
       FDN_REGISTRY_EXPIRED = 4 };

typedef struct fdn_meta_value {
    int type;
    union { int64_t i; double d; bool b; char s[48]; } as;
} fdn_meta_value_t;
typedef struct fdn_meta_field {
    char name[24];
    fdn_meta_value_t value;
} fdn_meta_field_t;
typedef struct fdn_meta {
    uint32_t count;
    fdn_meta_field_t fields[8];
} fdn_meta_t;

typedef struct fdn_allocator fdn_allocator_t;
typedef struct fdn_clock fdn_clock_t;
typedef struct fdn_failing_allocator fdn_failing_allocator_t;
typedef struct fdn_runtime_opts {
    size_t size;
    unsigned schedulers;
    uint32_t max_processes;
    uint32_t batch;
    fdn_clock_t *clock;
    const fdn_allocator_t *allocator;
    bool deterministic;
    uint64_t seed;
} fdn_runtime_opts_t;

typedef struct fdn_msg {
    int kind;
    uint32_t tag;
    fdn_pid_t from;
    fdn_ref_t ref;
    fdn_reason_t reason;
    const void *data;
    size_t size;
} fdn_msg_t;

typedef struct fdn_registry_opts {
    size_t size;
    uint32_t max_namespaces;
    uint32_t owner_rate;
    uint32_t owner_burst;
    uint64_t sweep_interval_ns;
} fdn_registry_opts_t;
typedef struct fdn_registry_field {
    char name[24];
    int type;
    bool required;
    bool indexed;
} fdn_registry_field_t;
typedef struct fdn_registry_ns_opts {
    size_t size;
    int kind;
    uint64_t max_entries;
    uint64_t max_meta_bytes;
    int on_full;
    uint64_t ttl_ns;
    uint32_t nfields;
    fdn_registry_field_t fields[8];
    bool strict;
} fdn_registry_ns_opts_t;
typedef struct fdn_registry_reply {
    fdn_pid_t winner;
    uint64_t retry_after_ns;
    size_t failed;
} fdn_registry_reply_t;
typedef struct fdn_registry_event {
    uint64_t seq;
    int kind;
    int reason;
    fdn_pid_t pid;
    char ns[64];
    char key[128];
    uint32_t nfields;
    fdn_meta_field_t fields[8];
} fdn_registry_event_t;

int fdn_failing_allocator_create(uint64_t fail_at, bool fail_sticky,
                                 fdn_failing_allocator_t **out);
void fdn_failing_allocator_destroy(fdn_failing_allocator_t *fa);
const fdn_allocator_t *fdn_failing_allocator_get(fdn_failing_allocator_t *fa);
int64_t fdn_failing_allocator_live(const fdn_failing_allocator_t *fa);
int fdn_runtime_create(const fdn_runtime_opts_t *opts, fdn_runtime_t **out);
void fdn_runtime_destroy(fdn_runtime_t *rt);
bool fdn_alive(const fdn_runtime_t *rt, fdn_pid_t pid);
int fdn_exit(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t pid,
             fdn_reason_t reason);
int fdn_attach(fdn_runtime_t *rt, fdn_ctx_t **ctx);
void fdn_detach(fdn_ctx_t *ctx);
fdn_pid_t fdn_self(const fdn_ctx_t *ctx);
int fdn_receive(fdn_ctx_t *ctx, uint64_t timeout_ns, fdn_msg_t **msg);
void fdn_msg_free(fdn_ctx_t *ctx, fdn_msg_t *msg);

int fdn_meta_set_int(fdn_meta_t *m, const char *name, int64_t v);
int fdn_meta_set_str(fdn_meta_t *m, const char *name, const char *v);

typedef void (*fdn_registry_entry_fn)(void *arg, const char *key,
                                      fdn_pid_t pid,
                                      const fdn_meta_field_t *fields,
                                      uint32_t nfields);
typedef void (*fdn_registry_key_fn)(void *arg, const char *ns_name,
                                    const char *key);

int fdn_registry_create(fdn_runtime_t *rt, const fdn_registry_opts_t *opts,
                        fdn_registry_t **out);
void fdn_registry_destroy(fdn_registry_t *reg);
int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                           fdn_registry_ns_t **out);
int fdn_registry_namespace_opts(fdn_registry_t *reg, const char *name,
                                const fdn_registry_ns_opts_t *opts,
                                fdn_registry_ns_t **out);
int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                          fdn_pid_t pid, const fdn_meta_t *meta,
                          fdn_pid_t *winner);
int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                            fdn_pid_t pid);
int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                        fdn_pid_t *pid, fdn_meta_t *meta);
int fdn_registry_get(fdn_registry_ns_t *ns, const char *key, fdn_pid_t pid,
                     fdn_meta_t *meta, uint64_t *last_seen_ns);
int fdn_registry_join(fdn_registry_ns_t *ns, const char *key, fdn_pid_t pid,
                      const fdn_meta_t *meta, fdn_registry_reply_t *reply);
int fdn_registry_leave(fdn_registry_ns_t *ns, const char *key,
                       fdn_pid_t pid);
int fdn_registry_members(fdn_registry_ns_t *ns, const char *key,
                         fdn_pid_t *pids, size_t cap, size_t *found);
int fdn_registry_dispatch(fdn_registry_ns_t *ns, const char *key,
                          fdn_registry_entry_fn fn, void *arg);
int fdn_registry_update(fdn_registry_ns_t *ns, const char *key,
                        fdn_pid_t pid, const fdn_meta_t *meta, int mode);
int fdn_registry_touch(fdn_registry_ns_t *ns, const char *key,
                       fdn_pid_t pid);
int fdn_registry_subscribe(fdn_registry_ns_t *ns, fdn_pid_t listener,
                           uint32_t tag);
uint64_t fdn_registry_count(const fdn_registry_ns_t *ns);
uint64_t fdn_registry_total(const fdn_registry_t *reg);
uint64_t fdn_registry_owner_count(const fdn_registry_t *reg);
uint64_t fdn_registry_meta_bytes(const fdn_registry_ns_t *ns);
int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid,
                      fdn_registry_key_fn fn, void *arg);
""")
ffi.cdef("""
int fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid);
size_t fdn_test_layout_count(void);
const char *fdn_test_layout_name(size_t i);
long long fdn_test_layout_value(size_t i);
""")

lib = ffi.dlopen(os.environ["FDN_LIB"])
helper = ffi.dlopen(os.environ["FDN_PROP_HELPER"])

OK, EINVAL, ENOPROC, EEXIST = (lib.FDN_OK, lib.FDN_EINVAL, lib.FDN_ENOPROC,
                               lib.FDN_EEXIST)
ENOENT, ELIMIT, ETOOBIG, ENOTSUP = (lib.FDN_ENOENT, lib.FDN_ELIMIT,
                                    lib.FDN_ETOOBIG, lib.FDN_ENOTSUP)
KEY_MAX = lib.FDN_REGISTRY_KEY_MAX
META_MAX = lib.FDN_META_MAX
FIELD_BYTES = ffi.sizeof("fdn_meta_field_t")
EVENT_HEAD = ffi.offsetof("fdn_registry_event_t", "fields")
REGISTERED, UNREGISTERED, UPDATED = (lib.FDN_REGISTRY_REGISTERED,
                                     lib.FDN_REGISTRY_UNREGISTERED,
                                     lib.FDN_REGISTRY_UPDATED)
NONE, EXPLICIT, DOWN, EVICTED = (lib.FDN_REGISTRY_NONE,
                                 lib.FDN_REGISTRY_EXPLICIT,
                                 lib.FDN_REGISTRY_DOWN,
                                 lib.FDN_REGISTRY_EVICTED)

# Namespaces, by index.  UNIQUE ones map key -> (pid, fields); the group
# namespace maps key -> {pid: fields}.
ALPHA, BETA, GROUP, LRU = 0, 1, 2, 3
NAMESPACES = [b"alpha", b"beta", b"group", b"lru"]
UNIQUE_NS = [ALPHA, BETA, LRU]
LRU_MAX = 4
# Listener tags: one per subscribed namespace.
WATCHED = {LRU: 1, GROUP: 2}
# Six keys, so that the LRU namespace (4 entries) really fills and evicts.
KEYS = [b"a", b"b", b"c", b"d", b"worker/1", b"k" * KEY_MAX]
MAX_OWNERS = 5
FIELD_NAMES = [b"v", b"w", b"x", b"y", b"f4", b"f5", b"f6", b"f7", b"f8",
               b"f9"]

# A field value in the model: (type, value).
values = st.one_of(st.integers(-3, 3).map(lambda i: (lib.FDN_META_INT, i)),
                   st.sampled_from([b"", b"s", b"str"]).map(
                       lambda s: (lib.FDN_META_STR, s)))
# Metadata of a registration or join: a few fields.
small_meta = st.dictionaries(st.sampled_from(FIELD_NAMES[:4]), values,
                             max_size=3)
# The new map of a REPLACE update: up to FDN_META_MAX fields.
# Sizes drawn uniformly, so that full maps (and merges past the limit)
# are common.
replace_meta = st.integers(0, 8).flatmap(
    lambda k: st.dictionaries(st.sampled_from(FIELD_NAMES), values,
                              min_size=k, max_size=k))
# The changes of a MERGE update: None deletes the field.  With 10 names
# a merge can pass FDN_META_MAX fields (FDN_ELIMIT).
merge_ops = st.dictionaries(st.sampled_from(FIELD_NAMES),
                            st.one_of(st.none(), values), max_size=4)


def wait_dead(rt, pid):
    """Bounded polling until pid's death has completed."""
    for _ in range(5000):
        if not lib.fdn_alive(rt, pid):
            return
        time.sleep(0.001)
    raise AssertionError("pid %d did not die" % pid)


def meta_from(fields):
    """A new fdn_meta_t holding fields (name -> (type, value); a value of
    None becomes a field of type FDN_META_NONE, which MERGE reads as
    "delete").  Deletions go first so that any reading of MERGE, in map
    order or as a whole, agrees on when FDN_META_MAX is passed."""
    meta = ffi.new("fdn_meta_t *")
    dels = [n for n, v in fields.items() if v is None]
    sets = [(n, v) for n, v in fields.items() if v is not None]
    for i, name in enumerate(dels):
        meta.fields[i].name = name
        meta.fields[i].value.type = lib.FDN_META_NONE
    meta.count = len(dels)
    for name, (kind, v) in sets:
        if kind == lib.FDN_META_INT:
            assert lib.fdn_meta_set_int(meta, name, v) == OK
        else:
            assert lib.fdn_meta_set_str(meta, name, v) == OK
    return meta


def fields_of(fields, n):
    """The model form of C fields[0..n)."""
    out = {}
    for i in range(n):
        f = fields[i]
        kind = f.value.type
        val = getattr(f.value, "as")  # `as` is a Python keyword
        if kind == lib.FDN_META_INT:
            out[ffi.string(f.name)] = (kind, val.i)
        elif kind == lib.FDN_META_STR:
            out[ffi.string(f.name)] = (kind, ffi.string(val.s))
        else:
            out[ffi.string(f.name)] = (kind, None)
    assert len(out) == n, "duplicate field names in %r" % out
    return out


@ffi.callback("void(void *, const char *, const char *)")
def collect_key(arg, ns_name, key):
    ffi.from_handle(arg).append((ffi.string(ns_name), ffi.string(key)))


@ffi.callback("void(void *, const char *, fdn_pid_t, "
              "const fdn_meta_field_t *, uint32_t)")
def collect_entry(arg, key, pid, fields, nfields):
    ffi.from_handle(arg).append((ffi.string(key), pid,
                                 fields_of(fields, nfields)))


def test_layout():
    """The cdefs above match the header: every struct size, field offset
    and constant the helper reports (fdn_prop_helper.c) is the same here."""
    n = helper.fdn_test_layout_count()
    assert n > 0
    for i in range(n):
        name = ffi.string(helper.fdn_test_layout_name(i)).decode()
        want = helper.fdn_test_layout_value(i)
        what, _, arg = name.partition(":")
        if what == "sizeof":
            got = ffi.sizeof(arg)
        elif what == "offsetof":
            typ, _, field = arg.partition(".")
            got = ffi.offsetof(typ, field)
        else:
            assert what == "const", name
            got = getattr(lib, arg)
        assert got == want, "%s: cffi says %d, the header %d" % (name, got,
                                                                  want)


class RegistryModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.reg = self.rt = self.ctx = None
        # A never-failing failing allocator counts live allocations, so
        # teardown can check that nothing is left (REG-L2).
        fa = ffi.new("fdn_failing_allocator_t **")
        assert lib.fdn_failing_allocator_create(0, False, fa) == OK
        self.fa = fa[0]
        opts = ffi.new("fdn_runtime_opts_t *")
        # fdn_runtime_opts_init is inline in the header: fill the struct as
        # this cdef knows it (zero fields mean defaults; size says how far).
        opts.size = ffi.sizeof("fdn_runtime_opts_t")
        opts.schedulers = 2
        opts.allocator = lib.fdn_failing_allocator_get(self.fa)
        rt = ffi.new("fdn_runtime_t **")
        assert lib.fdn_runtime_create(opts, rt) == OK
        self.rt = rt[0]
        reg = ffi.new("fdn_registry_t **")
        assert lib.fdn_registry_create(self.rt, ffi.NULL, reg) == OK
        self.reg = reg[0]
        self.ns = []
        for i, name in enumerate(NAMESPACES):
            ns = ffi.new("fdn_registry_ns_t **")
            nso = ffi.new("fdn_registry_ns_opts_t *")
            nso.size = ffi.sizeof("fdn_registry_ns_opts_t")
            if i == GROUP:
                nso.kind = lib.FDN_REGISTRY_DUPLICATE
            elif i == LRU:
                nso.max_entries = LRU_MAX
                nso.on_full = lib.FDN_REGISTRY_EVICT_LRU
            assert lib.fdn_registry_namespace_opts(self.reg, name, nso,
                                                   ns) == OK
            self.ns.append(ns[0])
        # The listener: this thread, attached.
        ctx = ffi.new("fdn_ctx_t **")
        assert lib.fdn_attach(self.rt, ctx) == OK
        self.ctx = ctx[0]
        self.listener = lib.fdn_self(self.ctx)
        for n, tag in WATCHED.items():
            assert lib.fdn_registry_subscribe(self.ns[n], self.listener,
                                              tag) == OK
        # The model.
        self.uniq = {n: {} for n in UNIQUE_NS}   # key -> (pid, fields)
        self.groups = {}                          # key -> {pid: fields}
        self.lru = []                             # LRU keys, oldest first
        # Per watched namespace: predicted events not yet received, as a
        # list of batches (a batch's events may arrive in any order), and
        # the last seq received.
        self.pending = {n: [] for n in WATCHED}
        self.seq = {n: 0 for n in WATCHED}
        self.alive = []
        self.dead = []
        # Pids with an owner record: every live pid that has ever made a
        # successful write.  A record stays while its owner lives, entries
        # or not; a refused write leaves none behind (owner.c).
        self.owners = set()

    def teardown(self):
        if self.reg is not None:
            lib.fdn_registry_destroy(self.reg)
        if self.ctx is not None:
            lib.fdn_detach(self.ctx)
        if self.rt is not None:
            lib.fdn_runtime_destroy(self.rt)
        live = lib.fdn_failing_allocator_live(self.fa)
        lib.fdn_failing_allocator_destroy(self.fa)
        assert live == 0, "%d allocations left after destroy" % live

    # ---- the model's helpers ---------------------------------------------

    def expect(self, n, *events):
        """Predicts events (kind, reason, key, pid, fields) in namespace n,
        each in order.  fields are the entry's metadata: the new map for
        UPDATED, the removed entry's for UNREGISTERED."""
        if n in WATCHED:
            for ev in events:
                self.pending[n].append([ev])

    def expect_batch(self, n, events):
        if n in WATCHED and events:
            self.pending[n].append(list(events))

    def seen(self, key):
        """key becomes the most recently seen entry of the LRU namespace."""
        self.lru.remove(key)
        self.lru.append(key)

    def entry(self, n, key, pid):
        """The model's fields of pid's entry under key in n, or None."""
        if n == GROUP:
            return self.groups.get(key, {}).get(pid)
        held = self.uniq[n].get(key)
        return held[1] if held is not None and held[0] == pid else None

    def set_entry(self, n, key, pid, fields):
        if n == GROUP:
            self.groups[key][pid] = fields
        else:
            self.uniq[n][key] = (pid, fields)

    def target(self, n, key, who, existing):
        """(n, key, pid) for a write to an entry, chosen by who: with
        existing 3, an entry of the LRU namespace (so that heartbeats and
        updates reorder what an eviction picks); 1 or 2, any entry the
        model holds; 0 (or nothing held), n, key and any pid, which may
        hold nothing there."""
        spaces = [LRU] if existing == 3 and self.uniq[LRU] else \
            range(len(NAMESPACES))
        held = [(m, k, p) for m in spaces for k in KEYS
                for p in self.model_entries(m, k)]
        if existing > 0 and held:
            return held[who % len(held)]
        return n, key, self.pick(who, include_dead=True)

    def pick(self, who, include_dead):
        pool = self.alive + (self.dead if include_dead else [])
        return pool[who % len(pool)]

    # ---- rules -----------------------------------------------------------

    @initialize()
    def first_owners(self):
        self.spawn()
        self.spawn()

    @precondition(lambda self: len(self.alive) < MAX_OWNERS)
    @rule()
    def spawn(self):
        pid = ffi.new("fdn_pid_t *")
        assert helper.fdn_test_spawn_idle(self.rt, pid) == OK
        self.alive.append(pid[0])

    # REG-I1, REG-S4, REG-I2, REG-C10, REG-S8
    @rule(n=st.sampled_from(UNIQUE_NS + [LRU, LRU]),
          key=st.sampled_from(KEYS), who=st.integers(0, 63),
          fields=small_meta)
    def register(self, n, key, who, fields):
        pid = self.pick(who, include_dead=True)
        winner = ffi.new("fdn_pid_t *")
        rc = lib.fdn_registry_register(self.ns[n], key, pid,
                                       meta_from(fields), winner)
        table = self.uniq[n]
        if pid in self.dead:
            assert rc == ENOPROC
        elif key in table:
            assert rc == EEXIST
            assert winner[0] == table[key][0]
        else:
            assert rc == OK
            self.owners.add(pid)
            table[key] = (pid, fields)
            self.expect(n, (REGISTERED, NONE, key, pid, fields))
            if n == LRU:
                self.lru.append(key)
                if len(table) > LRU_MAX:
                    # REG-C10: the least recently seen entry goes.  The
                    # registry inserts first and then evicts (write.c:
                    # put, evict_locked), so REGISTERED comes before
                    # EVICTED in seq order.
                    event("evicted")
                    old = self.lru.pop(0)
                    old_pid, old_fields = table.pop(old)
                    self.expect(n, (UNREGISTERED, EVICTED, old, old_pid,
                                    old_fields))

    # REG-C10: a live owner registers a key the LRU namespace lacks, so the
    # namespace fills and evicts often (register alone rarely gets there).
    @precondition(lambda self: self.alive)
    @rule(key=st.integers(0, 63), who=st.integers(0, 63), fields=small_meta)
    def register_lru_fresh(self, key, who, fields):
        free = [k for k in KEYS if k not in self.uniq[LRU]]
        self.register(LRU, free[key % len(free)], who % len(self.alive),
                      fields)

    # REG-S6, REG-C7 (unregister in a DUPLICATE namespace is leave)
    @rule(n=st.sampled_from(range(len(NAMESPACES))),
          key=st.sampled_from(KEYS), who=st.integers(0, 63),
          use_leave=st.booleans())
    def unregister(self, n, key, who, use_leave):
        pid = self.pick(who, include_dead=True)
        if n == GROUP and use_leave:
            rc = lib.fdn_registry_leave(self.ns[n], key, pid)
        else:
            rc = lib.fdn_registry_unregister(self.ns[n], key, pid)
        fields = self.entry(n, key, pid)
        if fields is None:
            assert rc == ENOENT
            return
        assert rc == OK
        if n == GROUP:
            del self.groups[key][pid]
            if not self.groups[key]:
                del self.groups[key]
        else:
            del self.uniq[n][key]
            if n == LRU:
                self.lru.remove(key)
        self.expect(n, (UNREGISTERED, EXPLICIT, key, pid, fields))

    # REG-C7, REG-I5
    @rule(key=st.sampled_from(KEYS), who=st.integers(0, 63),
          fields=small_meta)
    def join(self, key, who, fields):
        pid = self.pick(who, include_dead=True)
        reply = ffi.new("fdn_registry_reply_t *")
        rc = lib.fdn_registry_join(self.ns[GROUP], key, pid,
                                   meta_from(fields), reply)
        if pid in self.dead:
            assert rc == ENOPROC
        elif pid in self.groups.get(key, {}):
            assert rc == EEXIST
            assert reply.winner == pid
        else:
            assert rc == OK
            event("joined")
            self.owners.add(pid)
            self.groups.setdefault(key, {})[pid] = fields
            self.expect(GROUP, (REGISTERED, NONE, key, pid, fields))

    # REG-C8: REPLACE
    @rule(n=st.sampled_from(range(len(NAMESPACES))),
          key=st.sampled_from(KEYS), who=st.integers(0, 63),
          existing=st.integers(0, 3), fields=replace_meta)
    def update_replace(self, n, key, who, existing, fields):
        n, key, pid = self.target(n, key, who, existing)
        rc = lib.fdn_registry_update(self.ns[n], key, pid, meta_from(fields),
                                     lib.FDN_REGISTRY_REPLACE)
        if self.entry(n, key, pid) is None:
            assert rc == ENOENT
            return
        assert rc == OK
        self.set_entry(n, key, pid, dict(fields))
        if n == LRU:
            self.seen(key)
        self.expect(n, (UPDATED, NONE, key, pid, dict(fields)))

    # REG-C8: MERGE (a NONE field deletes; past FDN_META_MAX is refused
    # and changes nothing, not even the entry's last-seen time)
    @rule(n=st.sampled_from(range(len(NAMESPACES))),
          key=st.sampled_from(KEYS), who=st.integers(0, 63),
          existing=st.integers(0, 3), ops=merge_ops)
    def update_merge(self, n, key, who, existing, ops):
        self.merge(*self.target(n, key, who, existing), ops)

    # REG-C8: a merge that would pass FDN_META_MAX fields is refused
    @rule(who=st.integers(0, 63))
    def update_merge_overflow(self, who):
        n, key, pid = self.target(ALPHA, KEYS[0], who, 1)
        have = self.entry(n, key, pid) or {}
        # One field too many (an entry without fields cannot overflow: a
        # map holds at most FDN_META_MAX, so that merge succeeds).
        extra = [f for f in FIELD_NAMES if f not in have]
        count = min(META_MAX, META_MAX + 1 - len(have))
        self.merge(n, key, pid, {f: (lib.FDN_META_INT, 1)
                                 for f in extra[:count]})

    def merge(self, n, key, pid, ops):
        rc = lib.fdn_registry_update(self.ns[n], key, pid, meta_from(ops),
                                     lib.FDN_REGISTRY_MERGE)
        old = self.entry(n, key, pid)
        if old is None:
            assert rc == ENOENT
            return
        new = dict(old)
        for name, v in ops.items():
            if v is None:
                new.pop(name, None)
            else:
                new[name] = v
        if len(new) > META_MAX:
            event("merge past FDN_META_MAX")
            assert rc == ELIMIT
            return
        assert rc == OK
        event("merged")
        self.set_entry(n, key, pid, new)
        if n == LRU:
            self.seen(key)
        self.expect(n, (UPDATED, NONE, key, pid, dict(new)))

    # REG-C9, REG-C10: a heartbeat makes the entry the most recently seen
    @rule(n=st.sampled_from(range(len(NAMESPACES))),
          key=st.sampled_from(KEYS), who=st.integers(0, 63),
          existing=st.integers(0, 3))
    def touch(self, n, key, who, existing):
        n, key, pid = self.target(n, key, who, existing)
        rc = lib.fdn_registry_touch(self.ns[n], key, pid)
        if self.entry(n, key, pid) is None:
            assert rc == ENOENT
            return
        assert rc == OK
        if n == LRU:
            event("touched an LRU entry")
            self.seen(key)

    # REG-S2 (two namespaces share key names); lookups do not count as
    # seeing an entry, so they never change what an eviction picks.
    @rule(n=st.sampled_from(UNIQUE_NS), key=st.sampled_from(KEYS))
    def lookup(self, n, key):
        self.check_lookup(n, key)

    # REG-L1
    @precondition(lambda self: self.alive)
    @rule(who=st.integers(0, 63))
    def kill(self, who):
        pid = self.pick(who, include_dead=False)
        assert lib.fdn_exit(self.rt, ffi.NULL, pid,
                            lib.FDN_REASON_KILL) == OK
        wait_dead(self.rt, pid)
        self.alive.remove(pid)
        self.dead.append(pid)
        self.owners.discard(pid)
        for n in UNIQUE_NS:
            gone = [(k, f) for k, (p, f) in self.uniq[n].items() if p == pid]
            for k, _f in gone:
                del self.uniq[n][k]
                if n == LRU:
                    self.lru.remove(k)
            self.expect_batch(n, [(UNREGISTERED, DOWN, k, pid, f)
                                  for k, f in gone])
        gone = [(k, m[pid]) for k, m in self.groups.items() if pid in m]
        for k, _f in gone:
            del self.groups[k][pid]
            if not self.groups[k]:
                del self.groups[k]
        self.expect_batch(GROUP, [(UNREGISTERED, DOWN, k, pid, f)
                                  for k, f in gone])

    # REG-C1, REG-C6, REG-S10: bad input and the wrong kind of namespace
    # change nothing (the event check after this step sees no event).
    @precondition(lambda self: self.alive)
    @rule(n=st.sampled_from(UNIQUE_NS), who=st.integers(0, 63))
    def bad_input(self, n, who):
        pid = self.pick(who, include_dead=False)
        long_key = b"k" * (KEY_MAX + 1)
        group = self.ns[GROUP]
        found = ffi.new("size_t *")
        assert lib.fdn_registry_lookup(self.ns[n], long_key, ffi.NULL,
                                       ffi.NULL) == ETOOBIG
        assert lib.fdn_registry_lookup(self.ns[n], b"", ffi.NULL,
                                       ffi.NULL) == EINVAL
        assert lib.fdn_registry_register(self.ns[n], b"a", 0, ffi.NULL,
                                         ffi.NULL) == EINVAL
        assert lib.fdn_registry_register(self.ns[n], long_key, pid,
                                         ffi.NULL, ffi.NULL) == ETOOBIG
        assert lib.fdn_registry_join(group, b"", pid, ffi.NULL,
                                     ffi.NULL) == EINVAL
        assert lib.fdn_registry_join(group, b"a", 0, ffi.NULL,
                                     ffi.NULL) == EINVAL
        assert lib.fdn_registry_members(group, long_key, ffi.NULL, 0,
                                        found) == ETOOBIG
        # The wrong kind of namespace.
        assert lib.fdn_registry_join(self.ns[n], b"a", pid, ffi.NULL,
                                     ffi.NULL) == ENOTSUP
        assert lib.fdn_registry_register(group, b"a", pid, ffi.NULL,
                                         ffi.NULL) == ENOTSUP
        assert lib.fdn_registry_lookup(group, b"a", ffi.NULL,
                                       ffi.NULL) == ENOTSUP

    # ---- checks after every step -----------------------------------------

    def check_lookup(self, n, key):
        pid = ffi.new("fdn_pid_t *")
        meta = ffi.new("fdn_meta_t *")
        rc = lib.fdn_registry_lookup(self.ns[n], key, pid, meta)
        held = self.uniq[n].get(key)
        if held is None:
            assert rc == ENOENT, (NAMESPACES[n], key)
        else:
            assert rc == OK, (NAMESPACES[n], key, rc)
            assert pid[0] == held[0]
            assert fields_of(meta.fields, meta.count) == held[1]

    def model_entries(self, n, key):
        """{pid: fields} under key in namespace n."""
        if n == GROUP:
            return self.groups.get(key, {})
        held = self.uniq[n].get(key)
        return {held[0]: held[1]} if held is not None else {}

    # REG-I1, REG-I5, REG-S2, REG-C7, REG-C8, REG-C10
    @invariant()
    def entries_match_model(self):
        pids = ffi.new("fdn_pid_t[%d]" % (MAX_OWNERS + 1))
        found = ffi.new("size_t *")
        meta = ffi.new("fdn_meta_t *")
        for n in range(len(NAMESPACES)):
            for key in KEYS:
                want = self.model_entries(n, key)
                if n != GROUP:
                    self.check_lookup(n, key)
                assert lib.fdn_registry_members(self.ns[n], key, pids,
                                                MAX_OWNERS + 1, found) == OK
                assert found[0] == len(want)
                assert sorted(pids[i] for i in range(found[0])) == \
                    sorted(want)
                seen = []
                handle = ffi.new_handle(seen)
                assert lib.fdn_registry_dispatch(self.ns[n], key,
                                                 collect_entry,
                                                 handle) == len(want)
                assert sorted((p, sorted(f.items())) for _k, p, f in seen) \
                    == sorted((p, sorted(f.items())) for p, f in want.items())
                assert all(k == key for k, _p, _f in seen)
                for pid, fields in want.items():
                    assert lib.fdn_registry_get(self.ns[n], key, pid, meta,
                                                ffi.NULL) == OK
                    assert fields_of(meta.fields, meta.count) == fields
        assert sorted(self.lru) == sorted(self.uniq[LRU])

    # REG-I3, REG-I6, REG-C8 (metadata bytes follow updates)
    @invariant()
    def counts_match_model(self):
        total = 0
        for n in range(len(NAMESPACES)):
            entries = [f for key in KEYS
                       for f in self.model_entries(n, key).values()]
            assert lib.fdn_registry_count(self.ns[n]) == len(entries)
            assert lib.fdn_registry_meta_bytes(self.ns[n]) == \
                FIELD_BYTES * sum(len(f) for f in entries)
            total += len(entries)
        assert lib.fdn_registry_total(self.reg) == total
        assert len(self.uniq[LRU]) <= LRU_MAX
        # REG-I2, REG-S10: one owner record per live writer, none left by
        # refused writes or dead owners.
        assert lib.fdn_registry_owner_count(self.reg) == len(self.owners)

    # REG-I2, REG-L1: keys(pid) is exactly the model's, dead owners hold
    # nothing
    @invariant()
    def keys_match_model(self):
        for pid in self.alive + self.dead:
            want = sorted((NAMESPACES[n], key)
                          for n in range(len(NAMESPACES)) for key in KEYS
                          if pid in self.model_entries(n, key))
            if pid in self.dead:
                assert want == []
            got = []
            handle = ffi.new_handle(got)
            assert lib.fdn_registry_keys(self.reg, pid, collect_key,
                                         handle) == len(want)
            assert sorted(got) == want
            assert lib.fdn_registry_keys(self.reg, pid, ffi.NULL,
                                         ffi.NULL) == len(want)

    def receive_event(self, timeout_ns):
        """The next listener message as (namespace index, event tuple,
        seq), or None if none came within timeout_ns."""
        msgp = ffi.new("fdn_msg_t **")
        rc = lib.fdn_receive(self.ctx, timeout_ns, msgp)
        if rc == lib.FDN_ETIMEDOUT:
            return None
        assert rc == OK, rc
        msg = msgp[0]
        try:
            assert msg.kind == lib.FDN_MSG_USER
            assert getattr(msg, "from") == 0  # FDN_PID_NONE
            n = {tag: n for n, tag in WATCHED.items()}.get(msg.tag)
            assert n is not None, "unexpected tag %d" % msg.tag
            assert msg.size >= EVENT_HEAD
            ev = ffi.cast("fdn_registry_event_t *", msg.data)
            assert ev.nfields <= META_MAX
            assert msg.size == EVENT_HEAD + ev.nfields * FIELD_BYTES
            assert ffi.string(ev.ns) == NAMESPACES[n]
            event = (ev.kind, ev.reason, ffi.string(ev.key), ev.pid,
                     fields_of(ev.fields, ev.nfields))
            return n, event, ev.seq
        finally:
            lib.fdn_msg_free(self.ctx, msg)

    # REG-S8, REG-C13: the events received equal the predicted ones, in
    # order (a death's in any order), seq gap-free from 1.
    @invariant()
    def events_match_model(self):
        want = sum(len(b) for bs in self.pending.values() for b in bs)
        got = {n: [] for n in WATCHED}
        deadline = time.monotonic() + 5.0
        while want > 0:
            # Events of a step are sent before its call returns (or, for a
            # death, before the pid stops being alive): a short bounded
            # wait only covers a slow wake-up.
            r = self.receive_event(10 * 1000 * 1000)
            if r is None:
                assert time.monotonic() < deadline, \
                    "missing events: %r, got %r" % (self.pending, got)
                continue
            n, event, seq = r
            self.seq[n] += 1
            assert seq == self.seq[n], "seq %d, expected %d" % (seq,
                                                                 self.seq[n])
            got[n].append(event)
            want -= 1
        # Nothing more than predicted.
        extra = self.receive_event(0)
        assert extra is None, "unexpected event %r" % (extra,)
        for n in WATCHED:
            i = 0
            for batch in self.pending[n]:
                part = got[n][i:i + len(batch)]
                assert sorted(part, key=repr) == sorted(batch, key=repr), \
                    "events of %s: got %r, expected %r" % (
                        NAMESPACES[n].decode(), got[n], self.pending[n])
                i += len(batch)
            assert i == len(got[n])
            self.pending[n] = []


# About 20 s on an idle 2-core machine.
RegistryModel.TestCase.settings = settings(max_examples=200, deadline=None,
                                           stateful_step_count=60)
TestRegistryModel = RegistryModel.TestCase
