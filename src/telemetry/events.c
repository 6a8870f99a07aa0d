/* telemetry/events.c — handlers and emit (placeholder until events land). */
#include "telemetry/internal.h"

int fdn__tel_events_init(fdn_telemetry_t *t)
{
    (void)t;
    return FDN_OK;
}
void fdn__tel_events_fini(fdn_telemetry_t *t) { (void)t; }

int fdn_telemetry_attach(fdn_telemetry_t *t, const char *pattern,
                         fdn_telemetry_handler_fn fn, void *ctx, uint64_t *id)
{
    (void)t, (void)pattern, (void)fn, (void)ctx, (void)id;
    return FDN_ENOTSUP;
}
int fdn_telemetry_detach(fdn_telemetry_t *t, uint64_t id)
{
    (void)t, (void)id;
    return FDN_ENOTSUP;
}
bool fdn_telemetry_is_listened(fdn_telemetry_t *t, const char *name)
{
    (void)t, (void)name;
    return false;
}
void fdn_telemetry_emit(fdn_telemetry_t *t, const char *name,
                        const fdn_telemetry_measurement_t *m, size_t n_m,
                        const fdn_telemetry_meta_t *md, size_t n_md)
{
    (void)t, (void)name, (void)m, (void)n_m, (void)md, (void)n_md;
}
