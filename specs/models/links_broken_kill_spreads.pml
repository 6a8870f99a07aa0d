/*
 * links_broken_kill_spreads.pml — a known-broken variant of links.pml that
 * must FAIL (scripts/check_models.sh asserts it does): the death sends its
 * own reason through its links without mapping KILL to KILLED
 * (fdn__signals_on_death, signals.c), so a process whose handler stops with
 * FDN_REASON_KILL sends an untrappable KILL to its links and kills a
 * trapping neighbour, which must instead receive an EXIT (violates RT-S5:
 * nobody dies but the victim and the non-trapping processes reachable from
 * it).
 *
 * expect-violation: trap[y]==0
 */
#define BROKEN_KILL_SPREADS 1
#include "links.pml"
