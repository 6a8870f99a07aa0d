/*
 * locale_helpers.h — a locale with a decimal comma for the tests that
 * check numbers are written the same in any locale (prom.c, from_event.c).
 */
#ifndef FDN_TEST_TELEMETRY_LOCALE_HELPERS_H
#define FDN_TEST_TELEMETRY_LOCALE_HELPERS_H

#include "unit/on_valgrind.h"

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * Switches LC_NUMERIC to a locale whose decimal point is a comma: an
 * installed one, else de_DE built by localedef into a temporary
 * directory dir (LOCPATH); not under valgrind, which would trace
 * localedef too.  Returns false when there is none.  Undo with
 * tel_locale_restore(dir).
 */
static inline bool tel_decimal_comma_locale(char *dir, size_t cap)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
                                        "fr_FR.UTF-8", "fr_FR.utf8"};
    dir[0] = '\0';
    for (size_t i = 0; i < 4; i++)
        if (setlocale(LC_NUMERIC, names[i]) != NULL)
            return true;
    if (FDN_TEST_ON_VALGRIND() || access("/usr/bin/localedef", X_OK) != 0)
        return false;
    snprintf(dir, cap, "/tmp/fdn-locale.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        dir[0] = '\0';
        return false;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1",
             dir);
    /* localedef exits 1 on mere warnings: whether setlocale works says. */
    (void)system(cmd);
    setenv("LOCPATH", dir, 1);
    return setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
}

/* Back to the "C" locale; removes what tel_decimal_comma_locale built. */
static inline void tel_locale_restore(const char *dir)
{
    setlocale(LC_NUMERIC, "C");
    if (dir[0] != '\0') {
        unsetenv("LOCPATH");
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void)system(cmd);
    }
}

#endif
