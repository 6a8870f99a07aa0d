/* telemetry/collect.c — collectors (placeholder). */
#include "telemetry/internal.h"

int fdn__tel_collectors_init(fdn_telemetry_t *t)
{
    (void)t;
    return FDN_OK;
}
void fdn__tel_collectors_fini(fdn_telemetry_t *t) { (void)t; }
void fdn__tel_collect(fdn_telemetry_t *t) { (void)t; }
int fdn_telemetry_collector_add(fdn_telemetry_t *t, fdn_telemetry_collect_fn fn,
                                void *ctx, uint64_t *id)
{
    (void)t, (void)fn, (void)ctx, (void)id;
    return FDN_ENOTSUP;
}
int fdn_telemetry_collector_remove(fdn_telemetry_t *t, uint64_t id)
{
    (void)t, (void)id;
    return FDN_ENOTSUP;
}
