/*
 * mailbox_broken_sender.pml — a known-broken variant of mailbox.pml that must
 * FAIL (scripts/check_models.sh asserts it does): a sender that sees IDLE
 * stores QUEUED instead of CAS(IDLE -> QUEUED), so two senders can both push
 * the process and two schedulers run it at once (violates RT-I2).
 *
 * expect-violation: running==1
 */
#define BROKEN_SENDER_STORE 1
#define NO_QUEUED_ASSERT 1
#include "mailbox.pml"
