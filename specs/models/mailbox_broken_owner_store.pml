/*
 * mailbox_broken_owner_store.pml — a known-broken variant of mailbox.pml
 * that must FAIL (scripts/check_models.sh asserts it does): it shows that
 * the owner's exchange to RUNNING (fdn__sched_run) is needed under TSO even
 * though senders always CAS.  Here the owner stores RUNNING and QUEUED
 * plainly.  Its RUNNING can still sit in its store buffer when its pop reads
 * the mailbox empty; a sender links, its CAS drains the link and reads the
 * stale QUEUED, and leaves it unchanged; the owner's CAS to IDLE then
 * succeeds and the message is stranded (violates RT-L1).
 *
 * expect-violation: next[head]==0
 */
#define TSO 1
#define BROKEN_OWNER_STORE 1
#include "mailbox.pml"
