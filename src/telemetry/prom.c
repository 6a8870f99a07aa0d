/* telemetry/prom.c — the Prometheus text exposition (placeholder). */
#include "telemetry/internal.h"

int fdn_telemetry_prometheus(fdn_telemetry_t *t, char **out, size_t *len)
{
    (void)t, (void)out, (void)len;
    return FDN_ENOTSUP;
}
