/* telemetry/instrument.c — the runtime's and registry's metrics (placeholder). */
#include "telemetry/internal.h"

int fdn_telemetry_instrument_runtime(fdn_telemetry_t *t, fdn_runtime_t *rt,
                                     uint64_t *id)
{
    (void)t, (void)rt, (void)id;
    return FDN_ENOTSUP;
}
int fdn_telemetry_instrument_registry(fdn_telemetry_t *t, fdn_registry_t *reg,
                                      const char *const *ns_names, size_t n_ns,
                                      uint64_t *id)
{
    (void)t, (void)reg, (void)ns_names, (void)n_ns, (void)id;
    return FDN_ENOTSUP;
}
