/* telemetry/json.c — the JSON snapshot (placeholder). */
#include "telemetry/internal.h"

int fdn_telemetry_json(fdn_telemetry_t *t, char **out, size_t *len)
{
    (void)t, (void)out, (void)len;
    return FDN_ENOTSUP;
}
