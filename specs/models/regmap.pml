/*
 * regmap.pml — the registry's hash table (src/registry/map.h, map.c):
 * lock-free lookups, per-bucket writer locks with trylock-and-retry along
 * a probe path, overflow counts, and resizing by copy into a new table;
 * checked exhaustively by spin (scripts/check_models.sh).
 *
 * The protocol (map.h's top comment has the whole of it).
 *   A table is an array of buckets; a bucket has slots (item pointers) and
 *   one control word: a lock bit, an overflow count (the items that passed
 *   this bucket to a later one) and a tag per slot (0: empty).  An item
 *   lives in the first bucket from its home (hash mod size) with a free
 *   slot, and every bucket it passed counts it.
 *   lookup (probe): load the current table; from the home bucket on, load
 *     the control word, load each slot whose tag matches and ask match;
 *     stop after the first bucket that counts no overflow.
 *   add_unique: lock the home bucket (spinning; when the table is frozen
 *     and the bucket locked, wait for the resize and start again on the new
 *     table); probe for the key under that lock; if absent, place the item:
 *     trylock each further bucket needed (busy: unlock the path, start
 *     again), raise the overflow counts of the buckets passed, store the
 *     slot, then the tag.
 *   del: lock home, locate the item (trylocking along the path while the
 *     buckets count overflow), clear its tag, clear the slot, lower the
 *     overflow counts of the buckets passed, unlock the path.
 *   replace: lock home, locate old, store the new item in its slot (the
 *     tag, same hash, stays), unlock.
 *   resize: take the resize mutex, set frozen, lock every bucket in order
 *     (waiting out the writers inside), copy every item into the new
 *     private table, publish it, release the mutex.  The old table's
 *     buckets stay locked for good.
 *
 * The model.
 *   cur, frozen[t], mutex   m->cur, t->frozen, m->resize_mutex.  Table 0 is
 *                           the old table (NB0 = 3 buckets), table 1 the
 *                           new one (NB1 buckets, 2 or 4); NS = 2 slots per
 *                           bucket (the code below spells out both slots).
 *   lck, ovf, tag           each bucket's control word, split into its
 *                           fields.  Each C store to a control word changes
 *                           one field (the lock bit, one overflow count or
 *                           one tag), so one Promela assignment is one C
 *                           store; a probe's one acquire load of the word
 *                           is one atomic step that copies what it needs
 *                           (the mask of slots with the key's tag, and
 *                           "overflow > 0").
 *   slot                    the slot pointers, as item ids (0: NULL).
 *   proctype client         the writers (clients 0 and 1) and the reader
 *                           (client 2), one proctype so that the probe's
 *                           steps, which add_unique runs too, are written
 *                           once.  Each runs a script of calls (below).  A
 *                           client is a loop of atomic steps, each guarded
 *                           by its phase `ph`: each step makes one shared
 *                           access of the C code (a load, a store, a CAS)
 *                           with the local work that follows it up to the
 *                           next, so the interleavings are those of the C
 *                           code's shared accesses (the few folded
 *                           together are named below).  The phases
 *                           name the C code's steps: W_LOCK home_lock,
 *                           W_EXT path_extend, W_OVF / W_SLOT / W_TAG
 *                           place's stores, W_CLR / W_NULL / W_DEC del's,
 *                           W_REPL replace's, W_UNL path_unlock's, P_CTL /
 *                           P_S0 / P_S1 probe's loads.  A lock holder's
 *                           reads of the buckets it holds (held_ctl, the
 *                           slots in locate) are folded into the step before
 *                           them: nobody else stores to a locked bucket.
 *   home_lock               the CAS, when the bucket is free; spinning is
 *                           modelled as waiting for that.  A writer on a
 *                           frozen table may instead, once the resize has
 *                           released the mutex, start again (the C code's
 *                           wait on the mutex, lock + unlock, and its
 *                           return false, folded into one step).  The model
 *                           lets it do so whether or not it saw the bucket
 *                           locked (in C it first saw that): more
 *                           behaviours than the C code, which is safe for
 *                           the properties below.
 *   proctype resizer        resize() as called from fdn__map_fit: the mutex
 *                           and frozen (one step: the mutex is only seen by
 *                           writers that saw frozen), the bucket locks in
 *                           order (spin-waits, blocking here), the copy
 *                           (place_private into a table nobody sees yet,
 *                           folded into the step of the last lock), the
 *                           publication of m->cur (release) with the mutex
 *                           unlock.  One resize per run; -DNORESIZE leaves
 *                           it out.
 *   proctype checker        the checks at quiescence (below).
 *
 * Ghost state (no C counterpart) and linearization points.  `live` is the
 * set of items in the map, pres[k] the number of items of key k in it;
 * they change at the linearization points write.c names: an add at its tag
 * store, a del at its tag clear, a replace at its slot store (a resize
 * changes nothing).  `pend` holds the items whose add has stored the slot
 * but not yet the tag.  For the lookup in progress: its key (rkey), whether
 * that key was in the map when the lookup loaded the table (p0), whether
 * it came or went since (rchg, set by the writers), and the items in the
 * map (rwin) or in pend (rahead) at some moment of the lookup.
 *
 * Properties checked.
 *   (a) A key present for the whole of a lookup is found: a lookup that
 *       finds nothing must have started without the key or seen it come or
 *       go (assert miss == 0).  The stable key KS is in the map before any
 *       process starts and never leaves it, so every lookup of it finds it
 *       (assert sfound == 1), whichever table the lookup loaded, and in
 *       scenarios 2 and 3 from an overflow position.
 *   (b) add_unique never leaves two items of one key: asserted at the tag
 *       store of every add (the key has no item then: assert dup == 0) and
 *       at quiescence by counting the table (assert dups == 0).  An
 *       add_unique that finds an item returns one that is in the map.
 *   (c) A replace is seen as the old or the new item, never neither: the
 *       key stays present, so (a) says a lookup during the replace finds
 *       it; and what a lookup returns must have been in the map at some
 *       moment of the lookup, or (without -DSTRICT) in pend (assert
 *       inwin == 1): a slot read that returned something else would fail
 *       match or this.
 *   (d) No deadlock, with the trylock-and-retry rule and the resizer
 *       locking every bucket: `checker` waits for `timeout` (no process can
 *       move) and asserts that every process finished (assert done ==
 *       NPROC); spin would also report any other stuck state as an invalid
 *       end state.  Livelock (writers making each other retry forever) is
 *       not a safety property and is not checked.
 *   At quiescence the current table holds exactly the items of `live`,
 *   each once, under its key's tag; an empty slot holds NULL; every
 *   overflow count is exactly the number of items that passed its bucket;
 *   no bucket of the current table is locked (asserts bad == 0, seen ==
 *   live).  A change lost by a resize, or a count that drifted, fails here.
 *   del and replace return true exactly when the item is in the map: their
 *   MAP_NONE asserts that it is not (every call here names an item that
 *   is).
 *
 * A flaw this model found in map.c's first probe, now fixed (the re-check
 * below is map.c's probe; -DNO_RECHECK is the old one, and with it the
 * strict check fails: regmap_broken_stale_tag.pml).  A lookup could
 * return an item whose add_unique has stored the slot but not yet the tag:
 * the lookup loads bucket b's control word while slot s holds item X of
 * key K; X is deleted (tag, then slot, cleared); an add_unique of K (a new
 * item Y, K's home locked) takes the same free slot s and stores Y there;
 * the lookup loads slot s, sees Y, match accepts it, and the lookup returns
 * Y although Y's tag, its linearization point, is not stored yet.  A second
 * lookup of K that starts after the first returned, and runs before Y's tag
 * store, loads the word without Y's tag and returns nothing: the key
 * appears (Y), disappears and appears again with nobody removing it, which
 * no order of these operations explains.  With -DLAX the model accepts
 * such an item (inwin counts pend); by default (STRICT) it does not.  The
 * fix (RECHECK, the default): after match accepts the item of slot s, load
 * the control word again and take the item only if slot s still shows the
 * tag, else go on as if the tag had not matched.  With it the strict check
 * passes.
 * (Under C11 the re-load sees at least X's tag clear, which happens before
 * Y's slot store, which the slot load acquired.)
 *
 * Memory model.  Every Promela step is atomic and the steps interleave:
 * sequential consistency.  The C code's orderings (acquire CAS and release
 * unlock on the locks; the slot's release store before the tag's; the
 * reader's acquire loads; the release publication of the new table; the
 * seq_cst store of frozen) are argued in the commit that brought the map
 * ("Locks and orderings") and in map.c's header comment; this model checks
 * the protocol's interleavings, not those orderings.
 *
 * Scenarios (SCEN), chosen to force overflow.  Items are never reused.
 *   1 (default)  Keys KS (stable), KF, KA; hashes 0, 6, 12: home bucket 0
 *     in both tables (NB1 = 2).  KS and KA share a tag, so a lookup of one
 *     loads the other's slot and match must reject it.  Before any process:
 *     old bucket 0 = {1 (KS), 2 (KF)}.
 *       writer 0: add_unique(KA, 3); if it added: replace(3 -> 5), del(5).
 *       writer 1: del(2); add_unique(KA, 4).
 *     KA's first item overflows into bucket 1 unless KF went first; the two
 *     add_uniques race; the replace and the del run on an overflowed item;
 *     a freed slot is taken again by the other writer's KA.
 *   2  Keys KS, KF, KG, KA with hashes 2, 5, 8, 11: home bucket 2 in the
 *     old table, so paths wrap round to bucket 0; in the new one (NB1 = 2)
 *     KS and KG go to bucket 0, KF and KA to bucket 1.  Before any process:
 *     bucket 2 = {2 (KF), 3 (KG)}, and 1 (KS) wrapped round to bucket 0,
 *     counted by bucket 2.
 *       writer 0: add_unique(KA, 4) (wraps to bucket 0 unless KF went
 *                 first); if it added: del(4).
 *       writer 1: del(2); add_unique(KA, 5).
 *     The resizer holds buckets 0 and 1 while a writer holds bucket 2 and
 *     needs bucket 0: the trylock's busy path.
 *   3  Keys KS, KF, KG, KA, KB; hashes 0, 3, 12, 6, 4: home bucket 0 in the
 *     old table but for KB's (1); in the new one (NB1 = 4, a grow) KS, KG
 *     and KB go to bucket 0, KA to 2, KF to 3.  Before any process: bucket
 *     0 = {2 (KF), 3 (KG)}, bucket 1 = {1 (KS)}, counted by bucket 0.
 *       writer 0: add_unique(KB, 4) (fills bucket 1); del(4).
 *       writer 1: add_unique(KA, 5) (to bucket 1, or past it to bucket 2,
 *                 counted by buckets 0 and 1); del(5).
 *     Paths of writers with different homes overlap (writer 1 holding
 *     bucket 0 needs bucket 1, writer 0's home), and the stable key's
 *     bucket counts overflow that comes and goes.
 *   In every scenario the reader makes NLOOK lookups (default 3), each of
 *   KS or KA, chosen nondeterministically.
 *
 * Not modelled: the overflow count's saturation at 127; grow_full (a full
 * table: place's MAP_NONE is asserted not to happen, the tables are big
 * enough); a failed resize (out of memory: frozen cleared, buckets
 * unlocked); a second resize; fdn__map_next; grace periods and frees (map.h
 * relies on them for the memory safety of a stale slot read; here items
 * are never reused); power-of-two sizes (homes are hash mod size; the
 * protocol uses the mask only to wrap).
 *
 * Configurations checked by scripts/check_models.sh (exhaustive, no
 * bitstate, no partial-order reduction), one per line, each with map.c's
 * probe (RECHECK) against the strict property; the last checks the old
 * probe against the lax one.  (Runs without the resizer are covered: the
 * resizer may always go last.)
 * spin-config:
 * spin-config: -DSCEN=2
 * spin-config: -DSCEN=3
 * spin-config: -DNO_RECHECK -DLAX
 *
 * Broken variants (must FAIL; regmap_broken_*.pml define these and include
 * this file; each changes one step of the protocol):
 *   BROKEN_DEC_FIRST       del lowers the overflow counts before it clears
 *                          the tag: a lookup of the item being deleted stops
 *                          at its home bucket while the item is still in the
 *                          map (regmap_broken_dec_first.pml: miss == 0).
 *   BROKEN_UNLOCKED_PROBE  add_unique probes before it takes the home lock:
 *                          both writers find KA absent and both add it
 *                          (regmap_broken_unlocked_probe.pml: dup == 0).
 *   BROKEN_RESIZE_NOLOCK   the resizer copies without locking the old
 *                          table's buckets: a writer's change to the old
 *                          table after the copy is lost
 *                          (regmap_broken_resize_nolock.pml: seen == live).
 *   BROKEN_BLOCKING_EXTEND path_extend waits for a busy bucket instead of
 *                          dropping the path: in scenario 2 the writer
 *                          holding bucket 2 waits for bucket 0, which the
 *                          resizer holds while it waits for bucket 2
 *                          (regmap_broken_blocking_extend.pml: done == 4).
 *   NO_RECHECK             map.c's first probe, without the re-check,
 *                          against the strict linearization points (above)
 *                          (regmap_broken_stale_tag.pml: inwin == 1).
 * Other orderings, tried while writing the model and all caught the same
 * way (not kept as files): the tag stored before the overflow counts are
 * raised (scenario 1: miss), the tag before the slot (miss), the slot
 * cleared before the tag (miss), a probe that ignores the overflow count
 * (add_unique's probe then misses the key: dup).
 */

#ifndef NO_RECHECK
#define RECHECK 1
#endif
#ifndef LAX
#define STRICT 1
#endif
#ifndef SCEN
#define SCEN 1
#endif
#ifndef NLOOK
#define NLOOK 3
#endif

#define NB0 3                 /* buckets of the old table (table 0) */
#if SCEN == 3
#define NB1 4                 /* buckets of the new table (table 1) */
#else
#define NB1 2
#endif
#define NS 2                  /* slots per bucket (the code below has two) */
#define NBALL (NB0 + NB1)

#define NBT(t) (NB0 + (t) * (NB1 - NB0))          /* buckets of table t */
#define BI(t, b) ((t) * NB0 + (b))                 /* bucket index */
#define SI(t, b, s) (((t) * NB0 + (b)) * NS + (s)) /* slot index */
#define BIT(i) (1 << (i))

/* Keys and items (item 0 is NULL). */
#define KS 0                  /* stable */
#define KF 1                  /* filler */
#define KA 2                  /* contested */
#define KG 3                  /* second filler (SCEN 2, 3) */
#define KB 4                  /* another home (SCEN 3) */
#define NK 5
#define NOKEY 255
#define NI 6
#define NOSLOT 255

#ifdef NORESIZE
#define NPROC 3
#else
#define NPROC 4
#endif

/* Calls. */
#define OP_END 0
#define OP_ADD 1
#define OP_DEL 2
#define OP_REPL 3
#define OP_LOOKUP 4

/* Phases: each names the next shared access of its process. */
#define W_NEXT 1              /* next call: load m->cur */
#define W_START 2             /* writer: start again, load m->cur */
#define W_LOCK 3              /* home_lock */
#define W_EXT 4               /* path_extend: trylock the next bucket */
#define W_OVF 5               /* place: raise one overflow count */
#define W_SLOT 6              /* place: store the slot (release) */
#define W_TAG 7               /* place: store the tag */
#define W_CLR 8               /* del: clear the tag */
#define W_NULL 9              /* del: clear the slot */
#define W_DEC 10              /* del: lower one overflow count */
#define W_REPL 11             /* replace: store the slot (release) */
#define W_UNL 12              /* path_unlock: one bucket */
#define P_CTL 13              /* probe: load a control word (acquire) */
#define P_S0 14               /* probe: load slot 0 (acquire), match */
#define P_S1 15               /* probe: load slot 1 (acquire), match */
#define P_R0 16               /* RECHECK: the control word again, slot 0 */
#define P_R1 17               /* RECHECK: the control word again, slot 1 */

byte khash[NK];               /* a key's hash (immutable) */
byte ktag[NK];                /* its tag (immutable) */
byte ikey[NI];                /* an item's key (immutable) */

/* The map. */
byte cur = 0;                 /* m->cur */
bit frozen[2];                /* t->frozen */
bit mutex;                    /* m->resize_mutex */
bit lck[NBALL];               /* control word: lock bit */
byte ovf[NBALL];              /* control word: overflow count */
byte tag[NBALL * NS];         /* control word: slot tags */
byte slot[NBALL * NS];        /* slots */

/* Ghost state (see the file comment). */
byte live;                    /* items in the map */
byte pres[NK];                /* items of each key in the map */
byte pend;                    /* items whose slot is stored, tag not yet */
byte rkey = NOKEY;            /* the key of the lookup in progress */
bit rchg;                     /* rkey came or went during the lookup */
byte rwin;                    /* items in the map at some moment of it */
byte rahead;                  /* items in pend at some moment of it */
byte done;                    /* processes finished */

/* The items a lookup may return: those in the map at some moment of it
 * (STRICT: every lookup is linearizable, the adds at their tag stores),
 * or also those whose add had stored the slot but not yet the tag (what
 * map.c's probe allows: see the file comment). */
#ifdef STRICT
#define WINDOW rwin
#else
#define WINDOW (rwin | rahead)
#endif

/* ---- ghost updates, inside the atomic step of their store ------------- */

inline g_slot(i)
{
    pend = pend | BIT(i);
    if
    :: rkey != NOKEY -> rahead = rahead | BIT(i)
    :: else
    fi
}

inline g_add(i)
{
    dup = pres[ikey[i]];
    assert(dup == 0);                           /* (b) */
    pend = pend & ~BIT(i);
    pres[ikey[i]]++;
    live = live | BIT(i);
    if
    :: rkey != NOKEY -> rwin = rwin | BIT(i)
    :: else
    fi;
    if
    :: ikey[i] == rkey -> rchg = 1
    :: else
    fi;
    dup = 0
}

inline g_del(i)
{
    pres[ikey[i]]--;
    live = live & ~BIT(i);
    if
    :: ikey[i] == rkey -> rchg = 1
    :: else
    fi
}

inline g_repl(o, i)
{
    live = (live & ~BIT(o)) | BIT(i);
    if
    :: rkey != NOKEY -> rwin = rwin | BIT(i)
    :: else
    fi
}

/* ---- probe (map.c probe(): lookups, and add_unique under the lock) ---- */

/* The end of a lookup (reader): the checks of (a) and (c), in the step of
 * the lookup's last load. */
inline reader_done()
{
    miss = (found == 0 && p0 && !rchg);
    assert(miss == 0);                          /* (a) */
    sfound = (k != KS || found != 0);
    assert(sfound == 1);                        /* (a), the stable key */
    inwin = (found == 0 || (WINDOW & BIT(found)) != 0);
    assert(inwin == 1);                         /* (c) */
    rkey = NOKEY; rchg = 0; rwin = 0; rahead = 0;
    t = 0; k = 0; b = 0; n = 0; m = 0; more = 0; found = 0;
    p0 = 0; miss = 0; sfound = 0; inwin = 0; op = 0;
    ph = W_NEXT
}

/* The end of add_unique's probe, home bucket held. */
inline writer_probed()
{
    n = 0; m = 0; more = 0;
#ifdef BROKEN_UNLOCKED_PROBE
    ph = W_LOCK
#else
    if
    :: found != 0 ->
        /* The key is there: unlock home, return what was found. */
        assert((live & BIT(found)) != 0);
        res = found; retry = 0; j = 0; ph = W_UNL
    :: else -> place_next()
    fi
#endif
}

inline probe_done()
{
    if
    :: op == OP_LOOKUP -> reader_done()
    :: else -> writer_probed()
    fi
}

/* After bucket b: the next one if b counts overflow, else the end. */
inline probe_next()
{
    if
    :: more && n + 1 < NBT(t) -> n++; ph = P_CTL
    :: else -> probe_done()
    fi
}

#ifdef RECHECK
#define MATCHED(r) ph = r
#else
#define MATCHED(r) probe_done()
#endif

/* ---- writers' decisions on the locked path [h, h + held) -------------- */

/* place(): the last bucket's first free slot (the holder's own view), then
 * the overflow counts, the slot and the tag; or the next bucket. */
inline place_next()
{
    b = (h + held - 1) % NBT(t);
    if
    :: tag[SI(t, b, 0)] == 0 -> s = 0
    :: tag[SI(t, b, 0)] != 0 && tag[SI(t, b, 1)] == 0 -> s = 1
    :: else -> s = NOSLOT
    fi;
    if
    :: s != NOSLOT && held > 1 -> j = 0; ph = W_OVF
    :: s != NOSLOT && held == 1 -> ph = W_SLOT
    :: s == NOSLOT -> 
        assert(held < NBT(t));                  /* MAP_NONE: not modelled */
        ph = W_EXT
    fi
}

#ifdef BROKEN_DEC_FIRST
#define DEL_FIRST (held > 1 -> W_DEC : W_CLR)
#define AFTER_NULL W_UNL
#define AFTER_DEC W_CLR
#else
#define DEL_FIRST W_CLR
#define AFTER_NULL (held > 1 -> W_DEC : W_UNL)
#define AFTER_DEC W_UNL
#endif

/* locate(): the item (old for a replace) in the last bucket, or on to the
 * next bucket while this one counts overflow, or not there. */
inline locate_next()
{
    b = (h + held - 1) % NBT(t);
    it = (op == OP_REPL -> old : item);
    if
    :: tag[SI(t, b, 0)] != 0 && slot[SI(t, b, 0)] == it -> s = 0
    :: !(tag[SI(t, b, 0)] != 0 && slot[SI(t, b, 0)] == it) &&
       tag[SI(t, b, 1)] != 0 && slot[SI(t, b, 1)] == it -> s = 1
    :: else -> s = NOSLOT
    fi;
    if
    :: s != NOSLOT ->
        j = 0;
        ph = (op == OP_REPL -> W_REPL : DEL_FIRST)
    :: s == NOSLOT && (ovf[BI(t, b)] == 0 || held >= NBT(t)) ->
        /* MAP_NONE: the item is not in the map (every call here
         * names an item that is). */
        assert((live & BIT(it)) == 0);
        res = 0; retry = 0; j = 0; ph = W_UNL
    :: s == NOSLOT && ovf[BI(t, b)] != 0 && held < NBT(t) -> ph = W_EXT
    fi;
    it = 0
}

/* path_extend() may go ahead: always (a trylock), or, in the broken
 * variant that waits for the lock, once the next bucket is free. */
#ifdef BROKEN_BLOCKING_EXTEND
#define EXT_READY (lck[BI(t, (h + held) % NBT(t))] == 0)
#else
#define EXT_READY 1
#endif

/* The first step of a call once m->cur is loaded. */
#ifdef BROKEN_UNLOCKED_PROBE
#define CALL_BEGIN \
    if \
    :: op == OP_ADD -> n = 0; found = 0; ph = P_CTL \
    :: else -> ph = W_LOCK \
    fi
#else
#define CALL_BEGIN ph = W_LOCK
#endif

/* The scripts (see the file comment). */
inline next_call()
{
    if
    :: id == 2 && pc < NLOOK -> op = OP_LOOKUP; k = KS
    :: id == 2 && pc < NLOOK -> op = OP_LOOKUP; k = KA
#if SCEN == 1
    :: id == 0 && pc == 0 -> op = OP_ADD; k = KA; item = 3
    :: id == 0 && pc == 1 && res == 3 -> op = OP_REPL; k = KA; old = 3; item = 5
    :: id == 0 && pc == 2 -> op = OP_DEL; k = KA; item = 5
    :: id == 1 && pc == 0 -> op = OP_DEL; k = KF; item = 2
    :: id == 1 && pc == 1 -> op = OP_ADD; k = KA; item = 4
#elif SCEN == 2
    :: id == 0 && pc == 0 -> op = OP_ADD; k = KA; item = 4
    :: id == 0 && pc == 1 && res == 4 -> op = OP_DEL; k = KA; item = 4
    :: id == 1 && pc == 0 -> op = OP_DEL; k = KF; item = 2
    :: id == 1 && pc == 1 -> op = OP_ADD; k = KA; item = 5
#else
    :: id == 0 && pc == 0 -> op = OP_ADD; k = KB; item = 4
    :: id == 0 && pc == 1 -> op = OP_DEL; k = KB; item = 4
    :: id == 1 && pc == 0 -> op = OP_ADD; k = KA; item = 5
    :: id == 1 && pc == 1 -> op = OP_DEL; k = KA; item = 5
#endif
    :: else -> op = OP_END
    fi;
    pc++;
    res = 0
}

/* ---- clients: the writers and the reader --------------------------- */

/* One proctype, so that the probe's steps (add_unique's and the
 * reader's) are written once: client 0 and 1 are the writers, client 2 is
 * the reader, each running its script of calls. */
proctype client(byte id)
{
    byte ph, t, h, k, b, n, m, it, found, s, held, j, dup;
    byte pc, op, item, old, res;
    bit more, retry, p0, miss, sfound, inwin;

    ph = W_NEXT;
    do
    :: atomic { ph == W_NEXT ->
           next_call();
           if
           :: op == OP_END -> pc = 0; done++; break
           :: else
           fi;
           t = cur;
           if
           :: op == OP_LOOKUP ->
               /* The lookup loads the table; the ghost notes its start. */
               rkey = k; rchg = 0; rwin = live; rahead = pend;
               p0 = (pres[k] > 0);
               n = 0; found = 0; ph = P_CTL
           :: else ->
               h = khash[k] % NBT(t);
               CALL_BEGIN
           fi
       }
    :: atomic { ph == W_START ->
           t = cur; h = khash[k] % NBT(t);
           CALL_BEGIN
       }
    /* home_lock(): the CAS succeeds, */
    :: atomic { ph == W_LOCK && lck[BI(t, h)] == 0 ->
           lck[BI(t, h)] = 1;
           held = 1;
           if
           :: op == OP_ADD ->
#ifdef BROKEN_UNLOCKED_PROBE
               /* (probed before the lock) */
               if
               :: found != 0 -> res = found; retry = 0; j = 0; ph = W_UNL
               :: else -> place_next()
               fi
#else
               n = 0; found = 0; ph = P_CTL
#endif
           :: else -> locate_next()
           fi
       }
    /* or the table is frozen: wait on the resize mutex (lock + unlock),
     * then start again on the new table. */
    :: atomic { ph == W_LOCK && frozen[t] && mutex == 0 -> ph = W_START }
    /* probe(): one acquire load of bucket b's control word: the slots
     * whose tag is k's, and whether b counts overflow. */
    :: atomic { ph == P_CTL ->
           b = (khash[k] + n) % NBT(t);
           m = (tag[SI(t, b, 0)] == ktag[k] -> 1 : 0) |
               (tag[SI(t, b, 1)] == ktag[k] -> 2 : 0);
           more = (ovf[BI(t, b)] > 0);
           if
           :: m & 1 -> ph = P_S0
           :: m == 2 -> ph = P_S1
           :: m == 0 -> probe_next()
           fi
       }
    /* An acquire load of a slot whose tag matched, and match. */
    :: atomic { ph == P_S0 ->
           it = slot[SI(t, b, 0)];
           if
           :: it != 0 && ikey[it] == k -> found = it
           :: else
           fi;
           it = 0;
           if
           :: found != 0 -> MATCHED(P_R0)
           :: found == 0 && (m & 2) -> ph = P_S1
           :: found == 0 && (m & 2) == 0 -> probe_next()
           fi
       }
    :: atomic { ph == P_S1 ->
           it = slot[SI(t, b, 1)];
           if
           :: it != 0 && ikey[it] == k -> found = it
           :: else
           fi;
           it = 0;
           if
           :: found != 0 -> MATCHED(P_R1)
           :: else -> probe_next()
           fi
       }
#ifdef RECHECK
    /* The proposed fix: the control word again; the slot must still show
     * k's tag. */
    :: atomic { ph == P_R0 ->
           if
           :: tag[SI(t, b, 0)] != ktag[k] -> found = 0
           :: else
           fi;
           if
           :: found != 0 -> probe_done()
           :: found == 0 && (m & 2) -> ph = P_S1
           :: found == 0 && (m & 2) == 0 -> probe_next()
           fi
       }
    :: atomic { ph == P_R1 ->
           if
           :: tag[SI(t, b, 1)] != ktag[k] -> found = 0
           :: else
           fi;
           if
           :: found != 0 -> probe_done()
           :: else -> probe_next()
           fi
       }
#endif
    /* path_extend(): trylock; busy: drop the path, start again. */
    :: atomic { ph == W_EXT && EXT_READY ->
           b = (h + held) % NBT(t);
           if
           :: lck[BI(t, b)] == 0 ->
               lck[BI(t, b)] = 1;
               held++;
               if
               :: op == OP_ADD -> place_next()
               :: else -> locate_next()
               fi
           :: else ->
               retry = 1; j = 0; ph = W_UNL
           fi
       }
    /* place(): overflow counts first, then the slot, then the tag. */
    :: atomic { ph == W_OVF ->
           ovf[BI(t, (h + j) % NBT(t))]++;
           j++;
           if
           :: j + 1 >= held -> j = 0; ph = W_SLOT
           :: else
           fi
       }
    :: atomic { ph == W_SLOT -> slot[SI(t, b, s)] = item; g_slot(item); ph = W_TAG }
    :: atomic { ph == W_TAG ->
           tag[SI(t, b, s)] = ktag[k];
           g_add(item);
           res = item; retry = 0; j = 0; ph = W_UNL
       }
    /* del(): the tag goes first, then the slot, then the counts. */
    :: atomic { ph == W_CLR -> tag[SI(t, b, s)] = 0; g_del(item); ph = W_NULL }
    :: atomic { ph == W_NULL ->
           slot[SI(t, b, s)] = 0;
           res = 1; retry = 0; j = 0; ph = AFTER_NULL
       }
    :: atomic { ph == W_DEC ->
           ovf[BI(t, (h + j) % NBT(t))]--;
           j++;
           if
           :: j + 1 >= held -> j = 0; ph = AFTER_DEC
           :: else
           fi
       }
    /* replace(): the new item in the old one's slot; the tag stays. */
    :: atomic { ph == W_REPL ->
           slot[SI(t, b, s)] = item;
           g_repl(old, item);
           res = 1; retry = 0; j = 0; ph = W_UNL
       }
    /* path_unlock(), in order; then the call returns or starts again. */
    :: atomic { ph == W_UNL ->
           lck[BI(t, (h + j) % NBT(t))] = 0;
           j++;
           if
           :: j >= held ->
               ph = (retry -> W_START : W_NEXT);
               b = 0; s = 0; n = 0; m = 0; more = 0; found = 0;
               held = 0; j = 0; retry = 0;
               if
               :: ph == W_NEXT -> t = 0; h = 0; k = 0; op = 0; item = 0; old = 0
               :: else
               fi
           :: else
           fi
       }
    od
}


/* place_private(): item i into the first free slot from its home in the
 * new table, counting it in the buckets it passes. */
inline place_private(i)
{
    d = 0;
    y = NOSLOT;
    do
    :: y == NOSLOT && d < NB1 ->
        x = (khash[ikey[i]] + d) % NB1;
        if
        :: tag[SI(1, x, 0)] == 0 -> y = 0
        :: tag[SI(1, x, 0)] != 0 && tag[SI(1, x, 1)] == 0 -> y = 1
        :: else -> d++
        fi
    :: else -> break
    od;
    assert(y != NOSLOT);                        /* "new table too small" */
    j = 0;
    do
    :: j < d -> ovf[BI(1, (khash[ikey[i]] + j) % NB1)]++; j++
    :: else -> break
    od;
    slot[SI(1, x, y)] = i;
    tag[SI(1, x, y)] = ktag[ikey[i]]
}

/* The copy into table 1 (nobody else sees it yet). */
inline copy_table()
{
    c = 0;
    do
    :: c < NB0 ->
        s = 0;
        do
        :: s < NS ->
            if
            :: tag[SI(0, c, s)] != 0 ->
                i = slot[SI(0, c, s)];
                place_private(i)
            :: else
            fi;
            s++
        :: else -> break
        od;
        c++
    :: else -> break
    od;
    c = 0; s = 0; i = 0; d = 0; x = 0; y = 0; j = 0
}

proctype resizer()
{
    byte b, c, s, i, d, x, y, j;

    /* fdn__map_fit: the mutex (trylock), then frozen (seq_cst). */
    atomic { mutex = 1; frozen[0] = 1 };
#ifdef BROKEN_RESIZE_NOLOCK
    atomic { copy_table() };
#else
    /* Lock every bucket, in order, waiting out the writers inside; the
     * copy is made in the step of the last lock. */
    do
    :: atomic { b < NB0 && lck[BI(0, b)] == 0 ->
           lck[BI(0, b)] = 1;
           b++;
           if
           :: b == NB0 -> copy_table(); break
           :: else
           fi
       }
    od;
#endif
    /* Publish the new table (release), unlock the mutex. */
    atomic { cur = 1; mutex = 0; b = 0; done++ }
}

/* Quiescence: every other process has ended (or the model is stuck). */
proctype checker()
{
    byte t, b, s, i, d, j, seen, bad, dups;
    byte cnt[NBALL];
    byte nk[NK];

    timeout ->
    assert(done == NPROC);                      /* (d) */
    atomic {
        t = cur;
        bad = 0;
        b = 0;
        do
        :: b < NBT(t) ->
            if
            :: lck[BI(t, b)] != 0 -> bad = 1
            :: else
            fi;
            s = 0;
            do
            :: s < NS ->
                i = slot[SI(t, b, s)];
                if
                :: tag[SI(t, b, s)] == 0 && i != 0 -> bad = 2
                :: tag[SI(t, b, s)] != 0 && i == 0 -> bad = 3
                :: tag[SI(t, b, s)] != 0 && i != 0 ->
                    if
                    :: tag[SI(t, b, s)] != ktag[ikey[i]] -> bad = 4
                    :: (seen & BIT(i)) != 0 -> bad = 5
                    :: else
                    fi;
                    seen = seen | BIT(i);
                    nk[ikey[i]]++;
                    if
                    :: nk[ikey[i]] > 1 -> dups++
                    :: else
                    fi;
                    /* The buckets it passed count it. */
                    d = (b + NBT(t) - khash[ikey[i]] % NBT(t)) % NBT(t);
                    j = 0;
                    do
                    :: j < d -> cnt[(khash[ikey[i]] + j) % NBT(t)]++; j++
                    :: else -> break
                    od
                :: else
                fi;
                s++
            :: else -> break
            od;
            b++
        :: else -> break
        od;
        b = 0;
        do
        :: b < NBT(t) ->
            if
            :: cnt[b] != ovf[BI(t, b)] -> bad = 6
            :: else
            fi;
            b++
        :: else -> break
        od
    };
    assert(bad == 0);                           /* table well-formed */
    assert(seen == live);                       /* no change lost */
    assert(dups == 0)                           /* (b) */
}

init
{
    atomic {
#if SCEN == 1
        /* Every key's home is bucket 0 in both tables. */
        khash[KS] = 0;  ktag[KS] = 1;
        khash[KF] = 6;  ktag[KF] = 2;
        khash[KA] = 12; ktag[KA] = 1;
        ikey[1] = KS; ikey[2] = KF; ikey[3] = KA; ikey[4] = KA; ikey[5] = KA;
        /* Old table: bucket 0 = {1, 2}. */
        slot[SI(0, 0, 0)] = 1; tag[SI(0, 0, 0)] = ktag[KS];
        slot[SI(0, 0, 1)] = 2; tag[SI(0, 0, 1)] = ktag[KF];
        live = BIT(1) | BIT(2);
        pres[KS] = 1; pres[KF] = 1;
#elif SCEN == 2
        /* Every key's home is bucket 2 in the old table; in the new one
         * KS and KG go to bucket 0, KF and KA to bucket 1. */
        khash[KS] = 2;  ktag[KS] = 1;
        khash[KF] = 5;  ktag[KF] = 2;
        khash[KG] = 8;  ktag[KG] = 3;
        khash[KA] = 11; ktag[KA] = 1;
        ikey[1] = KS; ikey[2] = KF; ikey[3] = KG; ikey[4] = KA; ikey[5] = KA;
        /* Old table: bucket 2 = {2, 3}, and 1 wrapped round to bucket 0,
         * counted by bucket 2. */
        slot[SI(0, 2, 0)] = 2; tag[SI(0, 2, 0)] = ktag[KF];
        slot[SI(0, 2, 1)] = 3; tag[SI(0, 2, 1)] = ktag[KG];
        slot[SI(0, 0, 0)] = 1; tag[SI(0, 0, 0)] = ktag[KS];
        ovf[BI(0, 2)] = 1;
        live = BIT(1) | BIT(2) | BIT(3);
        pres[KS] = 1; pres[KF] = 1; pres[KG] = 1;
#else
        /* Homes in the old table: KB bucket 1, every other key bucket 0;
         * in the new one (4 buckets): KS, KG, KB 0, KA 2, KF 3. */
        khash[KS] = 0;  ktag[KS] = 1;
        khash[KF] = 3;  ktag[KF] = 2;
        khash[KG] = 12; ktag[KG] = 3;
        khash[KA] = 6;  ktag[KA] = 1;
        khash[KB] = 4;  ktag[KB] = 2;
        ikey[1] = KS; ikey[2] = KF; ikey[3] = KG; ikey[4] = KB; ikey[5] = KA;
        /* Old table: bucket 0 = {2, 3}, bucket 1 = {1}, counted by
         * bucket 0. */
        slot[SI(0, 0, 0)] = 2; tag[SI(0, 0, 0)] = ktag[KF];
        slot[SI(0, 0, 1)] = 3; tag[SI(0, 0, 1)] = ktag[KG];
        slot[SI(0, 1, 0)] = 1; tag[SI(0, 1, 0)] = ktag[KS];
        ovf[BI(0, 0)] = 1;
        live = BIT(1) | BIT(2) | BIT(3);
        pres[KS] = 1; pres[KF] = 1; pres[KG] = 1;
#endif
        run client(0);
        run client(1);
        run client(2);
#ifndef NORESIZE
        run resizer();
#endif
        run checker()
    }
}
