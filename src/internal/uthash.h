/*
 * internal/uthash.h — the one way the library includes uthash (Debian's
 * uthash-dev): hash tables embedded in our own records.
 *
 * uthash allocates its tables through the uthash_malloc / uthash_free
 * macros, which take no context.  Here they expand to the allocator named
 * by a variable `fdn__uh_alloc` (a const fdn_allocator_t *) that must be in
 * scope wherever a HASH_ADD or HASH_DELETE (or HASH_CLEAR) is used, so the
 * tables go through the injectable allocator like everything else.  Out of
 * memory is non-fatal: uthash then leaves the table as it was, does not add
 * the element, and sets the bool `fdn__uh_oom`, which must be in scope at
 * every HASH_ADD too.
 */
#ifndef FDN_INTERNAL_UTHASH_H
#define FDN_INTERNAL_UTHASH_H

#include "internal/common.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) fdn__alloc(fdn__uh_alloc, (sz))
#define uthash_free(ptr, sz) fdn__free(fdn__uh_alloc, (ptr))
#define uthash_nonfatal_oom(obj) (fdn__uh_oom = true)

#include <uthash.h>

#endif /* FDN_INTERNAL_UTHASH_H */
