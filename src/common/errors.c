/*
 * errors.c — fdn_strerror, fdn_errname and fdn_version, generated from the
 * single FDN_ERRORS list in foundation/common.h.
 */
#include "internal/common.h"

FDN_API const char *fdn_version(void) { return FDN_VERSION_STRING; }

FDN_API const char *fdn_strerror(int err)
{
    switch (err) {
#define FDN__ERR_TEXT(name, value, text)                                     \
    case value:                                                              \
        return text;
        FDN_ERRORS(FDN__ERR_TEXT)
#undef FDN__ERR_TEXT
    default:
        return "unknown error";
    }
}

FDN_API const char *fdn_errname(int err)
{
    switch (err) {
#define FDN__ERR_NAME(name, value, text)                                     \
    case value:                                                              \
        return #name;
        FDN_ERRORS(FDN__ERR_NAME)
#undef FDN__ERR_NAME
    default:
        return "FDN_E?";
    }
}

bool fdn__is_status(int rc)
{
    switch (rc) {
#define FDN__ERR_CASE(name, value, text) case value:
        FDN_ERRORS(FDN__ERR_CASE)
#undef FDN__ERR_CASE
        return true;
    default:
        return false;
    }
}
