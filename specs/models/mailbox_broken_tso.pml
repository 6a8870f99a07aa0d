/*
 * mailbox_broken_tso.pml — a known-broken variant of mailbox.pml that must
 * FAIL (scripts/check_models.sh asserts it does): the hand-off on x86-TSO
 * store buffers without the two seq_cst fences.  A scheduler's store of
 * RUNNING is still buffered when it finds the mailbox empty; a sender links
 * a message and reads the stale QUEUED, so it leaves; the scheduler then
 * goes IDLE and the message is stranded (violates RT-L1).  mailbox.pml's
 * "-DTSO -DFENCE" configuration is the fixed protocol and passes.
 *
 * expect-violation: next[head]==0
 */
#define TSO 1
#include "mailbox.pml"
