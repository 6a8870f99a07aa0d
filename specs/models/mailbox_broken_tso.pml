/*
 * mailbox_broken_tso.pml — a known-broken variant of mailbox.pml that must
 * FAIL (scripts/check_models.sh asserts it does): the previous protocol
 * (PLAIN: the owner stores RUNNING plainly, a sender that reads QUEUED or
 * DIRTY returns without an RMW) on x86-TSO store buffers without seq_cst
 * fences.  A scheduler's store of RUNNING is still buffered when it finds
 * the mailbox empty; a sender links a message and reads the stale QUEUED,
 * so it leaves; the scheduler then goes IDLE and the message is stranded
 * (violates RT-L1).  mailbox.pml fixes this either with read-modify-writes
 * (its default, the current code, "-DTSO") or with the two fences
 * ("-DTSO -DFENCE").
 *
 * expect-violation: next[head]==0
 */
#define TSO 1
#define PLAIN 1
#include "mailbox.pml"
