"""Model-based property test of the registry (Hypothesis stateful testing).

Rules register, unregister, look up, spawn and kill owners against the real
shared library (cffi, ABI mode) and compare every result with a Python dict
model.  Requirement ids checked: REG-I1, REG-I2, REG-I3, REG-S2, REG-S4,
REG-S6, REG-L1, REG-L2, REG-C1.  A failing run prints the falsifying rule sequence;
replay a run with `pytest --hypothesis-seed=N`.

Environment: FDN_LIB is libfoundation.so, FDN_PROP_HELPER the helper module
(tests/property/fdn_prop_helper.c) that spawns idle owner processes.
"""
import os
import time

import cffi
from hypothesis import settings, strategies as st
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
int fdn_failing_allocator_create(uint64_t fail_at, bool fail_sticky,
                                 fdn_failing_allocator_t **out);
void fdn_failing_allocator_destroy(fdn_failing_allocator_t *fa);
const fdn_allocator_t *fdn_failing_allocator_get(fdn_failing_allocator_t *fa);
int64_t fdn_failing_allocator_live(const fdn_failing_allocator_t *fa);
int fdn_runtime_create(const fdn_runtime_opts_t *opts, fdn_runtime_t **out);
void fdn_runtime_destroy(fdn_runtime_t *rt);
uint64_t fdn_runtime_process_count(const fdn_runtime_t *rt);
bool fdn_alive(const fdn_runtime_t *rt, fdn_pid_t pid);
int fdn_exit(fdn_runtime_t *rt, fdn_ctx_t *ctx, fdn_pid_t pid,
             fdn_reason_t reason);

int fdn_meta_set_int(fdn_meta_t *m, const char *name, int64_t v);
const fdn_meta_value_t *fdn_meta_get(const fdn_meta_t *m, const char *name);

int fdn_registry_create(fdn_runtime_t *rt, const void *opts,
                        fdn_registry_t **out);
void fdn_registry_destroy(fdn_registry_t *reg);
int fdn_registry_namespace(fdn_registry_t *reg, const char *name,
                           fdn_registry_ns_t **out);
int fdn_registry_register(fdn_registry_ns_t *ns, const char *key,
                          fdn_pid_t pid, const fdn_meta_t *meta,
                          fdn_pid_t *winner);
int fdn_registry_unregister(fdn_registry_ns_t *ns, const char *key,
                            fdn_pid_t pid);
int fdn_registry_lookup(fdn_registry_ns_t *ns, const char *key,
                        fdn_pid_t *pid, fdn_meta_t *meta);
uint64_t fdn_registry_count(const fdn_registry_ns_t *ns);
uint64_t fdn_registry_total(const fdn_registry_t *reg);
int fdn_registry_keys(fdn_registry_t *reg, fdn_pid_t pid, void *fn,
                      void *arg);
""")
ffi.cdef("int fdn_test_spawn_idle(fdn_runtime_t *rt, fdn_pid_t *pid);")

lib = ffi.dlopen(os.environ["FDN_LIB"])
helper = ffi.dlopen(os.environ["FDN_PROP_HELPER"])

OK, EINVAL, ENOPROC, EEXIST, ENOENT, ETOOBIG = 0, -1, -3, -4, -5, -12
REASON_KILL = 2
KEY_MAX = 127
NAMESPACES = [b"alpha", b"beta"]
KEYS = [b"a", b"b", b"worker/1", b"k" * KEY_MAX]
MAX_OWNERS = 5


def wait_dead(rt, pid):
    """Bounded polling until pid's death has completed."""
    for _ in range(5000):
        if not lib.fdn_alive(rt, pid):
            return
        time.sleep(0.001)
    raise AssertionError("pid %d did not die" % pid)


class RegistryModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
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
        for name in NAMESPACES:
            ns = ffi.new("fdn_registry_ns_t **")
            assert lib.fdn_registry_namespace(self.reg, name, ns) == OK
            self.ns.append(ns[0])
        self.model = {}   # (ns index, key) -> (pid, value)
        self.alive = []
        self.dead = []

    def teardown(self):
        lib.fdn_registry_destroy(self.reg)
        lib.fdn_runtime_destroy(self.rt)
        live = lib.fdn_failing_allocator_live(self.fa)
        lib.fdn_failing_allocator_destroy(self.fa)
        assert live == 0, "%d allocations left after destroy" % live

    @initialize()
    def first_owners(self):
        self.spawn()
        self.spawn()

    def pick(self, who, include_dead):
        pool = self.alive + (self.dead if include_dead else [])
        return pool[who % len(pool)]

    @precondition(lambda self: len(self.alive) < MAX_OWNERS)
    @rule()
    def spawn(self):
        pid = ffi.new("fdn_pid_t *")
        assert helper.fdn_test_spawn_idle(self.rt, pid) == OK
        self.alive.append(pid[0])

    # REG-I1, REG-S4, REG-I2
    @precondition(lambda self: self.alive or self.dead)
    @rule(n=st.integers(0, 1), key=st.sampled_from(KEYS),
          who=st.integers(0, 63), value=st.integers(-3, 3))
    def register(self, n, key, who, value):
        pid = self.pick(who, include_dead=True)
        meta = ffi.new("fdn_meta_t *")
        assert lib.fdn_meta_set_int(meta, b"v", value) == OK
        winner = ffi.new("fdn_pid_t *")
        rc = lib.fdn_registry_register(self.ns[n], key, pid, meta, winner)
        if pid in self.dead:
            assert rc == ENOPROC
        elif (n, key) in self.model:
            assert rc == EEXIST
            assert winner[0] == self.model[(n, key)][0]
        else:
            assert rc == OK
            self.model[(n, key)] = (pid, value)

    # REG-S6
    @precondition(lambda self: self.alive or self.dead)
    @rule(n=st.integers(0, 1), key=st.sampled_from(KEYS),
          who=st.integers(0, 63))
    def unregister(self, n, key, who):
        pid = self.pick(who, include_dead=True)
        rc = lib.fdn_registry_unregister(self.ns[n], key, pid)
        held = self.model.get((n, key))
        if held is not None and held[0] == pid:
            assert rc == OK
            del self.model[(n, key)]
        else:
            assert rc == ENOENT

    # REG-S2 (two namespaces share key names)
    @rule(n=st.integers(0, 1), key=st.sampled_from(KEYS))
    def lookup(self, n, key):
        pid = ffi.new("fdn_pid_t *")
        meta = ffi.new("fdn_meta_t *")
        rc = lib.fdn_registry_lookup(self.ns[n], key, pid, meta)
        held = self.model.get((n, key))
        if held is None:
            assert rc == ENOENT
        else:
            assert rc == OK
            assert pid[0] == held[0]
            assert meta.count == 1
            v = lib.fdn_meta_get(meta, b"v")
            assert v != ffi.NULL
            # The union member is called `as`, a Python keyword.
            assert getattr(v, "as").i == held[1]

    # REG-L1
    @precondition(lambda self: self.alive)
    @rule(who=st.integers(0, 63))
    def kill(self, who):
        pid = self.pick(who, include_dead=False)
        assert lib.fdn_exit(self.rt, ffi.NULL, pid, REASON_KILL) == OK
        wait_dead(self.rt, pid)
        self.alive.remove(pid)
        self.dead.append(pid)
        self.model = {k: v for k, v in self.model.items() if v[0] != pid}

    # REG-C1
    @rule(n=st.integers(0, 1))
    def bad_input(self, n):
        long_key = b"k" * (KEY_MAX + 1)
        assert lib.fdn_registry_lookup(self.ns[n], long_key, ffi.NULL,
                                       ffi.NULL) == ETOOBIG
        assert lib.fdn_registry_lookup(self.ns[n], b"", ffi.NULL,
                                       ffi.NULL) == EINVAL
        assert lib.fdn_registry_register(self.ns[n], b"a", 0, ffi.NULL,
                                         ffi.NULL) == EINVAL

    # REG-I3
    @invariant()
    def counts_match_model(self):
        total = 0
        for n in range(len(NAMESPACES)):
            want = sum(1 for (m, _k) in self.model if m == n)
            assert lib.fdn_registry_count(self.ns[n]) == want
            total += want
        assert lib.fdn_registry_total(self.reg) == total

    # REG-I2
    @invariant()
    def keys_match_model(self):
        for pid in self.alive + self.dead:
            want = sum(1 for v in self.model.values() if v[0] == pid)
            assert lib.fdn_registry_keys(self.reg, pid, ffi.NULL,
                                         ffi.NULL) == want


RegistryModel.TestCase.settings = settings(max_examples=100, deadline=None,
                                           stateful_step_count=40)
TestRegistryModel = RegistryModel.TestCase
