/*
 * tests/tsan_shim/criterion/criterion.h — a minimal in-process stand-in
 * for the parts of Criterion our tests use, for ThreadSanitizer builds only.
 *
 * Why: Criterion's BoxFort sandbox cannot map its inheritable arena under
 * TSan ("Could not initialize inheritable arena: Resource temporarily
 * unavailable", Criterion issue #274, open).  In TSan builds CMake puts
 * this directory ahead of the system include path, so the same test
 * sources compile against these macros and run every test in one process,
 * in registration order, stopping at the first failed assertion.
 */
#ifndef FDN_TSAN_SHIM_CRITERION_H
#define FDN_TSAN_SHIM_CRITERION_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

struct fdn_shim_opts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
};

struct fdn_shim_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    struct fdn_shim_opts opts;
    struct fdn_shim_test *next;
};

struct fdn_shim_suite {
    const char *name;
    struct fdn_shim_opts opts;
    struct fdn_shim_suite *next;
};

void fdn_shim_register(struct fdn_shim_test *t);
void fdn_shim_register_suite(struct fdn_shim_suite *s);
void fdn_shim_check(bool ok, bool fatal, const char *file, int line,
                    const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void fdn_shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                               \
    static void fdn_shim_fn_##suite##_##name(void);                          \
    __attribute__((constructor)) static void                                 \
        fdn_shim_reg_##suite##_##name(void)                                  \
    {                                                                        \
        static struct fdn_shim_test t = {#suite, #name,                      \
                                         fdn_shim_fn_##suite##_##name,       \
                                         {__VA_ARGS__}, NULL};               \
        fdn_shim_register(&t);                                               \
    }                                                                        \
    static void fdn_shim_fn_##suite##_##name(void)

#define TestSuite(suite, ...)                                                \
    __attribute__((constructor)) static void fdn_shim_suite_##suite(void)    \
    {                                                                        \
        static struct fdn_shim_suite s = {#suite, {__VA_ARGS__}, NULL};      \
        fdn_shim_register_suite(&s);                                         \
    }

#define FDN_SHIM_CHECK(fatal, cond, text, ...)                               \
    fdn_shim_check((cond) ? true : false, (fatal), __FILE__, __LINE__, text, \
                   "" __VA_ARGS__)

#define cr_assert(cond, ...) FDN_SHIM_CHECK(true, cond, #cond, __VA_ARGS__)
#define cr_expect(cond, ...) FDN_SHIM_CHECK(false, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) FDN_SHIM_CHECK(true, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_fail(...) FDN_SHIM_CHECK(true, 0, "fail", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) FDN_SHIM_CHECK(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) FDN_SHIM_CHECK(false, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) FDN_SHIM_CHECK(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) FDN_SHIM_CHECK(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) FDN_SHIM_CHECK(true, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) FDN_SHIM_CHECK(true, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) FDN_SHIM_CHECK(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) FDN_SHIM_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) FDN_SHIM_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) FDN_SHIM_CHECK(true, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) FDN_SHIM_CHECK(true, fabs((double)(a) - (double)(b)) <= (eps), #a " ~= " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) FDN_SHIM_CHECK(false, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) FDN_SHIM_CHECK(false, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) FDN_SHIM_CHECK(false, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) FDN_SHIM_CHECK(false, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) FDN_SHIM_CHECK(false, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(p, ...) FDN_SHIM_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) FDN_SHIM_CHECK(false, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_float_eq(a, b, eps, ...) FDN_SHIM_CHECK(false, fabs((double)(a) - (double)(b)) <= (eps), #a " ~= " #b, __VA_ARGS__)
#define cr_log_info(...) fdn_shim_log(__VA_ARGS__)

#endif /* FDN_TSAN_SHIM_CRITERION_H */
