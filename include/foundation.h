/*
 * foundation.h — the umbrella header: every public Foundation module.
 */
#ifndef FOUNDATION_H
#define FOUNDATION_H

#include "foundation/common.h"
#include "foundation/runtime.h"
#include "foundation/supervisor.h"
#include "foundation/registry.h"
#include "foundation/telemetry.h"

#endif /* FOUNDATION_H */
