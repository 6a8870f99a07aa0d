/*
 * supervisor_intensity_broken_fixed.pml — a known-broken variant of
 * supervisor_intensity.pml that must FAIL (scripts/check_models.sh asserts
 * it does): a fixed window instead of a sliding one: sup_note_restart
 * forgets every recorded time at once when the oldest is a period old, so
 * restarts just before and just after that reset add up to more than N
 * within less than a period and the supervisor gives up too late (violates
 * SUP-C2).  The ring assertions are off so that the oracle's decision check
 * alone is shown to catch it.
 *
 * expect-violation: ok==expect
 */
#define BROKEN_FIXED_WINDOW 1
#define NO_RING_ASSERT 1
#include "supervisor_intensity.pml"
