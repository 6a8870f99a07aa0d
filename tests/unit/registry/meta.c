/*
 * meta.c — unit tests of the metadata map setters, getter and equality.
 */
#include "unit/registry/reg_helpers.h"

/* Checks: REG-C4 */
Test(registry_meta, set_get_replace)
{
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "n", 42), FDN_OK);
    cr_assert_eq(fdn_meta_set_double(&m, "d", 2.5), FDN_OK);
    cr_assert_eq(fdn_meta_set_bool(&m, "b", true), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "s", "hello"), FDN_OK);
    cr_assert_eq(m.count, 4);
    const fdn_meta_value_t *v = fdn_meta_get(&m, "n");
    cr_assert_not_null(v);
    cr_assert_eq(v->type, FDN_META_INT);
    cr_assert_eq(v->as.i, 42);
    v = fdn_meta_get(&m, "d");
    cr_assert_eq(v->type, FDN_META_DOUBLE);
    cr_assert_float_eq(v->as.d, 2.5, 1e-12);
    v = fdn_meta_get(&m, "b");
    cr_assert_eq(v->type, FDN_META_BOOL);
    cr_assert(v->as.b);
    v = fdn_meta_get(&m, "s");
    cr_assert_eq(v->type, FDN_META_STR);
    cr_assert_str_eq(v->as.s, "hello");
    cr_assert_null(fdn_meta_get(&m, "absent"));

    /* Replacing by name keeps the count and may change the type. */
    cr_assert_eq(fdn_meta_set_str(&m, "n", "now a string"), FDN_OK);
    cr_assert_eq(m.count, 4);
    v = fdn_meta_get(&m, "n");
    cr_assert_eq(v->type, FDN_META_STR);
    cr_assert_str_eq(v->as.s, "now a string");
    /* Setting a field from its own string works (aliasing). */
    cr_assert_eq(fdn_meta_set_str(&m, "s", fdn_meta_get(&m, "s")->as.s),
                 FDN_OK);
    cr_assert_str_eq(fdn_meta_get(&m, "s")->as.s, "hello");
}

/* Checks: REG-C4 */
Test(registry_meta, rejects_too_long_and_full_without_change)
{
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "keep", 7), FDN_OK);
    fdn_meta_t before = m;

    char name[FDN_META_NAME_MAX + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0'; /* FDN_META_NAME_MAX + 1 bytes */
    cr_assert_eq(fdn_meta_set_int(&m, name, 1), FDN_ETOOBIG);
    cr_assert_eq(fdn_meta_set_str(&m, name, "v"), FDN_ETOOBIG);
    cr_assert_eq(memcmp(&m, &before, sizeof m), 0);
    name[FDN_META_NAME_MAX] = '\0'; /* exactly the maximum is fine */
    cr_assert_eq(fdn_meta_set_int(&m, name, 1), FDN_OK);
    cr_assert_eq(m.count, 2);
    before = m;

    char str[FDN_META_STR_MAX + 2];
    memset(str, 'y', sizeof str - 1);
    str[sizeof str - 1] = '\0';
    cr_assert_eq(fdn_meta_set_str(&m, "s", str), FDN_ETOOBIG);
    cr_assert_eq(fdn_meta_set_str(&m, "keep", str), FDN_ETOOBIG);
    cr_assert_eq(memcmp(&m, &before, sizeof m), 0);
    str[FDN_META_STR_MAX] = '\0';
    cr_assert_eq(fdn_meta_set_str(&m, "s", str), FDN_OK);
    cr_assert_eq(strlen(fdn_meta_get(&m, "s")->as.s), FDN_META_STR_MAX);

    /* Fill the map; one more new name is FDN_ELIMIT, a replace is fine. */
    char n[16];
    for (int i = (int)m.count; i < FDN_META_MAX; i++) {
        snprintf(n, sizeof n, "f%d", i);
        cr_assert_eq(fdn_meta_set_bool(&m, n, i % 2 == 0), FDN_OK);
    }
    cr_assert_eq(m.count, FDN_META_MAX);
    before = m;
    cr_assert_eq(fdn_meta_set_int(&m, "one-more", 1), FDN_ELIMIT);
    cr_assert_eq(fdn_meta_set_double(&m, "one-more", 1.0), FDN_ELIMIT);
    cr_assert_eq(fdn_meta_set_bool(&m, "one-more", true), FDN_ELIMIT);
    cr_assert_eq(fdn_meta_set_str(&m, "one-more", "x"), FDN_ELIMIT);
    cr_assert_eq(memcmp(&m, &before, sizeof m), 0);
    cr_assert_eq(fdn_meta_set_int(&m, "keep", 8), FDN_OK);
    cr_assert_eq(fdn_meta_get(&m, "keep")->as.i, 8);
}

/* Checks: REG-C1 */
Test(registry_meta, rejects_null)
{
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(NULL, "a", 1), FDN_EINVAL);
    cr_assert_eq(fdn_meta_set_int(&m, NULL, 1), FDN_EINVAL);
    cr_assert_eq(fdn_meta_set_str(&m, "a", NULL), FDN_EINVAL);
    cr_assert_eq(m.count, 0);
    cr_assert_null(fdn_meta_get(NULL, "a"));
    cr_assert_null(fdn_meta_get(&m, NULL));
}

Test(registry_meta, value_equality_needs_same_type_and_value)
{
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "i1", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_int(&m, "i2", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_double(&m, "d1", 1.0), FDN_OK);
    cr_assert_eq(fdn_meta_set_bool(&m, "b1", true), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "s1", "1"), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "s2", "1"), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "s3", "2"), FDN_OK);
    cr_assert(fdn_meta_value_equal(fdn_meta_get(&m, "i1"),
                                   fdn_meta_get(&m, "i2")));
    cr_assert(fdn_meta_value_equal(fdn_meta_get(&m, "s1"),
                                   fdn_meta_get(&m, "s2")));
    cr_assert_not(fdn_meta_value_equal(fdn_meta_get(&m, "s1"),
                                       fdn_meta_get(&m, "s3")));
    cr_assert_not(fdn_meta_value_equal(fdn_meta_get(&m, "i1"),
                                       fdn_meta_get(&m, "d1")));
    cr_assert_not(fdn_meta_value_equal(fdn_meta_get(&m, "i1"),
                                       fdn_meta_get(&m, "b1")));
    cr_assert_not(fdn_meta_value_equal(fdn_meta_get(&m, "i1"),
                                       fdn_meta_get(&m, "s1")));
    cr_assert_not(fdn_meta_value_equal(NULL, fdn_meta_get(&m, "i1")));
}
