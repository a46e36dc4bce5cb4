/* The library's version at run time (entity.h). */
#include <entity/entity.h>

#define ENT_STR_(x) #x
#define ENT_STR(x) ENT_STR_(x)

/* Built from the three numbers, so the string cannot disagree with them; CMake checks that
 * ENT_VERSION_STRING and project() agree, and tests/install checks the string against these. */
static const char version[] = ENT_STR(ENT_VERSION_MAJOR) "." ENT_STR(ENT_VERSION_MINOR) "." ENT_STR(ENT_VERSION_PATCH);

const char *ent_version(int *major, int *minor, int *patch)
{
    if (major) *major = ENT_VERSION_MAJOR;
    if (minor) *minor = ENT_VERSION_MINOR;
    if (patch) *patch = ENT_VERSION_PATCH;
    return version;
}
