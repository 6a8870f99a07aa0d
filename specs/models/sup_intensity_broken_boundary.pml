/*
 * sup_intensity_broken_boundary.pml — a known-broken variant of
 * sup_intensity.pml that must FAIL (scripts/check_models.sh asserts it
 * does): the record forgets only restarts strictly more than a period old,
 * so a restart exactly one period after an earlier one still counts it and
 * is refused although SUP-C2 allows it.
 *
 * expect-violation: alloc_failed||(impl_ok==ref_ok)
 */
#define BROKEN_BOUNDARY 1
#include "sup_intensity.pml"
