/*
 * shim_main.c — the runner behind tests/tsan_shim/criterion/criterion.h:
 * runs every registered test in this process, in registration order, and
 * prints a Criterion-style synthesis line.  TSan builds only.
 */
#include "criterion/criterion.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct fdn_shim_test *tests, **tests_tail = &tests;
static struct fdn_shim_suite *suites;
static jmp_buf bail;
static bool failed;

void fdn_shim_register(struct fdn_shim_test *t)
{
    *tests_tail = t;
    tests_tail = &t->next;
}

void fdn_shim_register_suite(struct fdn_shim_suite *s)
{
    s->next = suites;
    suites = s;
}

void fdn_shim_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[----] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fdn_shim_check(bool ok, bool fatal, const char *file, int line,
                    const char *expr, const char *fmt, ...)
{
    if (ok)
        return;
    failed = true;
    fprintf(stderr, "[----] %s:%d: Assertion failed: %s", file, line, expr);
    if (fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    if (fatal)
        longjmp(bail, 1);
}

int main(int argc, char **argv)
{
    const char *filter = getenv("FDN_SHIM_FILTER");
    (void)argc;
    (void)argv;
    int run = 0, pass = 0, fail = 0;
    for (struct fdn_shim_test *t = tests; t; t = t->next) {
        if (t->opts.disabled || (filter && strstr(t->name, filter) == NULL))
            continue;
        struct fdn_shim_opts o = t->opts;
        for (struct fdn_shim_suite *s = suites; s; s = s->next) {
            if (strcmp(s->name, t->suite) == 0) {
                if (o.init == NULL)
                    o.init = s->opts.init;
                if (o.fini == NULL)
                    o.fini = s->opts.fini;
            }
        }
        run++;
        failed = false;
        alarm(600);
        fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
        if (setjmp(bail) == 0) {
            if (o.init)
                o.init();
            t->fn();
            if (o.fini)
                o.fini();
        }
        alarm(0);
        if (failed) {
            fail++;
            fprintf(stderr, "[FAIL] %s::%s\n", t->suite, t->name);
            break; /* state after a fatal assertion is unknown: stop */
        }
        pass++;
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n",
            run, pass, fail);
    return fail ? 1 : 0;
}
