/* libentity — the whole public API. A host includes this one header. */
#ifndef ENTITY_ENTITY_H
#define ENTITY_ENTITY_H

#include "common.h"
#include "error.h"
#include "schema.h"
#include "value.h"
#include "store.h"
#include "log.h"
#include "verify.h"
#include "mirror.h"

#define ENT_VERSION_STRING "0.1.0"

#endif
