/*
 * regmap_broken_blocking_extend.pml — a known-broken variant of regmap.pml
 * that must FAIL (scripts/check_models.sh asserts it does): path_extend
 * waits for a busy bucket instead of failing, so that the writer keeps its
 * path locked while it waits (map.c path_extend only tries the lock, and
 * the caller drops the path and starts again).  In scenario 2 writer 0
 * holds bucket 2, its home, and needs bucket 0 to place KA's item; the
 * resizer has locked buckets 0 and 1 and waits for bucket 2: a cycle, and
 * no process can move (violates (d); the checker's end-state assertion).
 *
 * expect-violation: done==4
 */
#define BROKEN_BLOCKING_EXTEND 1
#define SCEN 2
#include "regmap.pml"
