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

/* The version of this header. A host linked against a shared libentity compares it with
 * ent_version(), the library's at run time. */
#define ENT_VERSION_MAJOR 0
#define ENT_VERSION_MINOR 1
#define ENT_VERSION_PATCH 0
#define ENT_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library running: "MAJOR.MINOR.PATCH" (static storage), and its parts in
 * *major, *minor, *patch (each may be NULL). */
ENT_EXTERN(const char *) ent_version(int *major, int *minor, int *patch);

#ifdef __cplusplus
}
#endif

#endif
