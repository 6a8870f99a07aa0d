/*
 * supervisor_intensity_broken_edge.pml — a known-broken variant of
 * supervisor_intensity.pml that must FAIL (scripts/check_models.sh asserts
 * it does): sup_note_restart (supervisor.c) forgets only restart times more
 * than a period old (now - t > period instead of >=), an off-by-one at the
 * window's edge: a restart exactly one period after the N-th last one is
 * refused although the window holds only N-1 others (violates SUP-C2: the
 * supervisor gives up one restart too early).  The ring assertions are off
 * so that the oracle's decision check alone is shown to catch it.
 *
 * expect-violation: ok==expect
 */
#define BROKEN_WINDOW_EDGE 1
#define NO_RING_ASSERT 1
#include "supervisor_intensity.pml"
