/*
 * on_valgrind.h — FDN_TEST_ON_VALGRIND(): whether the test runs under
 * valgrind, where threads are serialised and every instruction is
 * ~50x slower.  Tests that race busy threads use it to run fewer rounds
 * or wait longer there; under valgrind they check memory, while the
 * plain and TSan runs check the race.  False when valgrind's header is
 * not installed (it comes with Debian's valgrind package).
 */
#ifndef FDN_TEST_ON_VALGRIND_H
#define FDN_TEST_ON_VALGRIND_H

#include <stdbool.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FDN_TEST_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef FDN_TEST_ON_VALGRIND
#define FDN_TEST_ON_VALGRIND() false
#endif

#endif /* FDN_TEST_ON_VALGRIND_H */
