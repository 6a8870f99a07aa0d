/* telemetry/span.c — spans (placeholder until spans land). */
#include "telemetry/internal.h"

int fdn_span_start(fdn_telemetry_t *t, fdn_span_t *span, const char *name,
                   const fdn_span_t *parent, const fdn_telemetry_meta_t *md,
                   size_t n_md)
{
    (void)t, (void)span, (void)name, (void)parent, (void)md, (void)n_md;
    return FDN_ENOTSUP;
}
int fdn_span_stop(fdn_span_t *span, const fdn_telemetry_meta_t *md, size_t n_md)
{
    (void)span, (void)md, (void)n_md;
    return FDN_ENOTSUP;
}
int fdn_span_exception(fdn_span_t *span, const char *kind, const char *reason,
                       const fdn_telemetry_meta_t *md, size_t n_md)
{
    (void)span, (void)kind, (void)reason, (void)md, (void)n_md;
    return FDN_ENOTSUP;
}
uint64_t fdn_span_current_id(void) { return 0; }
