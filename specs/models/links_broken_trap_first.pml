/*
 * links_broken_trap_first.pml — a known-broken variant of links.pml that
 * must FAIL (scripts/check_models.sh asserts it does): fdn__signal_eval
 * (signals.c) tests trap_exit before it tests for KILL, so a trapping
 * process that is sent an exit signal carrying KILL takes it as an EXIT
 * message and survives (violates RT-S4: the victim must die with KILLED).
 *
 * expect-violation: alive[victim]!=vdies
 */
#define BROKEN_TRAP_FIRST 1
#include "links.pml"
