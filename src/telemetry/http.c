/* telemetry/http.c — the HTTP endpoint (placeholder). */
#include "telemetry/internal.h"

int fdn_telemetry_http_start(fdn_telemetry_t *t,
                             const fdn_telemetry_http_opts_t *opts,
                             fdn_telemetry_http_t **out)
{
    (void)t, (void)opts, (void)out;
    return FDN_ENOTSUP;
}
uint16_t fdn_telemetry_http_port(const fdn_telemetry_http_t *h)
{
    (void)h;
    return 0;
}
void fdn_telemetry_http_stop(fdn_telemetry_http_t *h) { (void)h; }
