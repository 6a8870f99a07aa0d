/*
 * mailbox_broken_idle.pml — a known-broken variant of mailbox.pml that must
 * FAIL (scripts/check_models.sh asserts it does): at the end of a turn the
 * scheduler stores IDLE instead of CAS(RUNNING -> IDLE), so a sender that set
 * DIRTY during the turn has its notification overwritten and its message is
 * stranded in the mailbox of an idle process (violates RT-L1).
 *
 * expect-violation: next[head]==0
 */
#define BROKEN_IDLE_STORE 1
#include "mailbox.pml"
