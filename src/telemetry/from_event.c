/* telemetry/from_event.c — metrics fed by events (placeholder). */
#include "telemetry/internal.h"

int fdn_telemetry_metric_from_event(fdn_telemetry_t *t, fdn_metric_t *m,
                                    const char *event_name,
                                    const char *measurement,
                                    const char *const *label_keys,
                                    size_t n_label_keys, uint64_t *id)
{
    (void)t, (void)m, (void)event_name, (void)measurement, (void)label_keys;
    (void)n_label_keys, (void)id;
    return FDN_ENOTSUP;
}
