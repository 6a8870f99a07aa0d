/*
 * regmap_broken_dec_first.pml — a known-broken variant of regmap.pml that
 * must FAIL (scripts/check_models.sh asserts it does): del lowers the
 * overflow counts of the buckets the item passed before it clears the
 * item's tag (map.c fdn__map_del clears the tag first).  In scenario 1
 * writer 0 deletes item 5 of KA, which overflowed from bucket 0 into bucket
 * 1; once bucket 0's count is back to 0, a lookup of KA reads bucket 0, no
 * match and no overflow, and stops, while item 5's tag is still set: a key
 * present for the whole lookup is not found (violates (a)).
 *
 * expect-violation: miss==0
 */
#define BROKEN_DEC_FIRST 1
#include "regmap.pml"
