/*
 * regmap_broken_unlocked_probe.pml — a known-broken variant of regmap.pml
 * that must FAIL (scripts/check_models.sh asserts it does): add_unique
 * probes for the key before it takes the home bucket's lock, instead of
 * under it (map.c fdn__map_add_unique probes after home_lock).  In scenario
 * 1 both writers find KA absent, then take the home lock one after the
 * other and both place an item of KA: two items of one key (violates (b);
 * the model asserts it at the second tag store).
 *
 * expect-violation: dup==0
 */
#define BROKEN_UNLOCKED_PROBE 1
#include "regmap.pml"
