/*
 * regmap_broken_resize_nolock.pml — a known-broken variant of regmap.pml
 * that must FAIL (scripts/check_models.sh asserts it does): the resizer
 * sets frozen and copies the old table without first locking its buckets
 * (map.c resize() locks every bucket before the copy).  A writer that
 * finds its home bucket free still changes the old table; when it does so
 * after the copy, its change (an add, a delete or a replace) never reaches
 * the new table, and the table at quiescence differs from the map's ghost
 * contents (violates "no change lost").
 *
 * expect-violation: seen==live
 */
#define BROKEN_RESIZE_NOLOCK 1
#include "regmap.pml"
