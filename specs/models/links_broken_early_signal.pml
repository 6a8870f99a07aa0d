/*
 * links_broken_early_signal.pml — a known-broken variant of links.pml that
 * must FAIL (scripts/check_models.sh asserts it does): the death sends its
 * link exit signals before the pid stops being alive (the atomic store of
 * pid = 0 in fdn__signals_on_death moved after the link loop), so a
 * trapping process can take the EXIT while fdn_alive still reports the dead
 * process alive (violates RT-S11; the model asserts it at the enqueue).
 *
 * expect-violation: alive[i]==0
 */
#define BROKEN_EARLY_SIGNAL 1
#include "links.pml"
