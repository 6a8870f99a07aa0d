/*
 * links_broken_link_dying.pml — a known-broken variant of links.pml that
 * must FAIL (scripts/check_models.sh asserts it does): fdn_link
 * (signals.c) checks only that the target's pid matches, not its `exiting`
 * flag (is_live_locked), so a link made to a process whose death has
 * already taken its link list is added to that list: the dying process
 * never signals it and the record is left behind on a dead process (a leak
 * in C).  Caught by the link invariant: an exiting process holds no link
 * record.  Needs the dynamic configuration, where processes link and
 * unlink while others die.
 *
 * expect-violation: (exiting[a]==0)||(links[a]==0)
 */
#define DYNAMIC 1
#define BROKEN_LINK_DYING 1
#include "links.pml"
