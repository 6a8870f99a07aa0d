/*
 * mailbox_broken_noop_cas.pml — a known-broken variant of mailbox.pml that
 * must FAIL (scripts/check_models.sh asserts it does): it shows that the
 * sender's no-op CAS of QUEUED and DIRTY onto themselves (fdn__deliver) is
 * needed under TSO even though the owner uses exchanges.  Here a sender that
 * loads QUEUED or DIRTY returns without an RMW, as the code did before
 * either fix.  Its link store can then still sit in its store buffer when
 * the owner's exchange to RUNNING is followed by a pop that reads the
 * mailbox empty and a successful CAS to IDLE; the link reaches memory
 * afterwards and the message is stranded in an idle process (violates
 * RT-L1).  The no-op CAS is a locked instruction: it drains the link before
 * it reads the state, which closes this.
 *
 * expect-violation: next[head]==0
 */
#define TSO 1
#define BROKEN_SENDER_LOAD 1
#include "mailbox.pml"
