/*
 * links_broken_take_at_death.pml — a known-broken variant of links.pml that
 * must FAIL (scripts/check_models.sh asserts it does): the code before
 * 01c942c.  A death takes the survivor's link record (link_take_locked
 * under the survivor's lock in fdn__signals_on_death, signals.c) instead of
 * marking it is_down, and fdn__signal_eval acts on a popped link signal
 * without looking for the record.  An fdn_unlink between the take and the
 * pop finds nothing to remove, returns, and the queued signal still kills
 * the caller (or reaches it as EXIT if it traps): Erlang's unlink
 * guarantee, the last sentence of RT-S5, is broken.  Caught by property
 * (h), asserted where a process acts on a link signal.  Needs the dynamic
 * configuration, where processes unlink while others die.
 *
 * expect-violation: ((unl[i]>>from)&1)==0
 */
#define DYNAMIC 1
#define BROKEN_TAKE_AT_DEATH 1
#include "links.pml"
