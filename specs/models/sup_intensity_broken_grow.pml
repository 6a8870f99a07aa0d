/*
 * sup_intensity_broken_grow.pml — a known-broken variant of
 * sup_intensity.pml that must FAIL (scripts/check_models.sh asserts it
 * does): growing the ring copies the stamps from index 0 instead of from
 * its head, so after the ring has wrapped the oldest stamp is no longer
 * first and the record forgets the wrong restarts.
 *
 * expect-violation: alloc_failed||(impl_ok==ref_ok)
 */
#define BROKEN_GROW 1
#include "sup_intensity.pml"
