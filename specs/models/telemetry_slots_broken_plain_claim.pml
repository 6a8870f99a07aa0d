/*
 * telemetry_slots_broken_plain_claim.pml — a known-broken variant of
 * telemetry_slots.pml that must FAIL (scripts/check_models.sh asserts it
 * does): the claim tests the flag and sets it in two steps instead of one
 * CAS, so two threads can own one slot, and their plain load-and-store adds
 * overwrite each other (violates TEL-I1 and TEL-S1).
 *
 * expect-violation: owners[s]<=1
 */
#define BROKEN_PLAIN_CLAIM 1
#include "telemetry_slots.pml"
