/*
 * regmap_broken_stale_tag.pml — regmap.pml with map.c's first probe
 * (-DNO_RECHECK), checked against the linearization points write.c states
 * (an add at its tag store).  It must FAIL (scripts/check_models.sh
 * asserts it does).  It records a real flaw the model found, since fixed:
 * a lookup trusted a control word it loaded before the slot was freed and
 * taken again.  In scenario 1 the lookup of KA loads bucket b's word while
 * slot s holds KA's item 5; writer 0 deletes 5; writer 1's add_unique(KA,
 * 4) stores 4 in slot s; the lookup loads slot s and returns 4 before 4's
 * tag, its linearization point, is stored, and a lookup after it but before
 * the tag store finds nothing.  map.c's probe now loads the control word
 * again and takes the item only if its tag still shows (regmap.pml's
 * RECHECK, its default).
 *
 * expect-violation: inwin==1
 */
#define NO_RECHECK 1
#include "regmap.pml"
