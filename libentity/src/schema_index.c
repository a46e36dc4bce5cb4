/* Hash tables of a schema's lists (types by name, fields by id, enum values), kept up to date as
 * the builder adds to a list. The builder refuses duplicates by looking the new name or id up here:
 * a scan of the list per addition made a type of 2 000 fields cost ~114 M instructions to load
 * from JSON (4 000: 376 M; callgrind), nearly all of it in strcmp. */
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "schema_int.h"

#define FIB 0x9E3779B97F4A7C15u

uint64_t ent__str_hash(const void *p, size_t len)
{
    /* FNV-1a: names and enum values are short; the Fibonacci multiply of the look-up spreads it */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 0x100000001b3u;
    return h;
}

static size_t start(unsigned bits, uint64_t h) { return (size_t)((h * FIB) >> (64 - bits)); }

/* Bits of a table that holds room entries at most half full: a miss (an unknown name) ends at an
 * empty slot after a probe or two. */
static unsigned bits_for(size_t room)
{
    unsigned bits = 3;
    while (((size_t)1 << bits) < 2 * room) bits++;
    return bits;
}

/* Fill a table over list[0..n) with room for `room` entries. */
static int rebuild(ent__itab *t, const void *list, size_t n, size_t room, ent__itab_hash hash)
{
    unsigned bits = bits_for(room);
    size_t mask;
    uint32_t *tab;
    mask = ((size_t)1 << bits) - 1;
    if (!(tab = calloc(mask + 1, sizeof *tab))) return ent__err(ENT_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t at = start(bits, hash(list, i));
        while (tab[at]) at = (at + 1) & mask;
        tab[at] = (uint32_t)i + 1;
    }
    free(t->slot);
    t->slot = tab;
    t->bits = bits;
    return ENT_OK;
}

int ent__itab_reserve(ent__itab *t, const void *list, size_t n, ent__itab_hash hash)
{
    /* doubling when half full: each entry is placed again O(1) times on average */
    if (!t->slot || 2 * n > ((size_t)1 << t->bits)) return rebuild(t, list, n - 1, 2 * n, hash);
    return ENT_OK;
}

void ent__itab_put(ent__itab *t, const void *list, size_t n, ent__itab_hash hash)
{
    size_t at, mask;
    mask = ((size_t)1 << t->bits) - 1;
    at = start(t->bits, hash(list, n - 1));
    while (t->slot[at]) at = (at + 1) & mask;
    t->slot[at] = (uint32_t)n;
}

int ent__itab_add(ent__itab *t, const void *list, size_t n, ent__itab_hash hash)
{
    int rc = ent__itab_reserve(t, list, n, hash);
    if (rc == ENT_OK) ent__itab_put(t, list, n, hash);
    return rc;
}

size_t ent__itab_find(const ent__itab *t, uint64_t h, const void *list, const void *key, size_t len,
                      ent__itab_eq eq)
{
    size_t mask, at;
    if (!t->slot) return (size_t)-1;
    mask = ((size_t)1 << t->bits) - 1;
    for (at = start(t->bits, h); t->slot[at]; at = (at + 1) & mask) {
        ent__schema_compares++;
        if (eq(list, t->slot[at] - 1, key, len)) return t->slot[at] - 1;
    }
    return (size_t)-1;
}

void ent__itab_free(ent__itab *t)
{
    free(t->slot);
    t->slot = NULL;
    t->bits = 0;
}

static void names_put(ent__name_slot *tab, unsigned shift, struct ent_field *const *fields, size_t i)
{
    size_t len, mask = ((size_t)1 << (64 - shift)) - 1;
    uint64_t k = ent__step_key(fields[i]->name, &len);
    size_t at = (size_t)((k * FIB) >> shift);
    while (tab[at].at) at = (at + 1) & mask;
    tab[at].key = k;
    tab[at].len = (uint32_t)len;
    tab[at].at = (uint32_t)i + 1;
}

static int names_fill(ent__names *nt, struct ent_field *const *fields, size_t n, size_t room)
{
    unsigned bits = bits_for(room);
    ent__name_slot *tab = calloc((size_t)1 << bits, sizeof *tab);
    if (!tab) return ent__err(ENT_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) names_put(tab, 64 - bits, fields, i);
    free(nt->slot);
    nt->slot = tab;
    nt->shift = 64 - bits;
    return ENT_OK;
}

int ent__names_build(ent__names *nt, struct ent_field *const *fields, size_t n)
{
    return names_fill(nt, fields, n, n);
}

int ent__names_reserve(ent__names *nt, struct ent_field *const *fields, size_t n)
{
    if (!nt->slot || 2 * n > ((size_t)1 << (64 - nt->shift))) return names_fill(nt, fields, n - 1, 2 * n);
    return ENT_OK;
}

void ent__names_put(ent__names *nt, struct ent_field *const *fields, size_t n)
{
    names_put(nt->slot, nt->shift, fields, n - 1);
}

/* ---- the lists ------------------------------------------------------------------------------- */

static uint64_t field_id_hash(const void *list, size_t i)
{
    return ((struct ent_field *const *)list)[i]->id;
}
static int field_id_eq(const void *list, size_t i, const void *key, size_t len)
{
    (void)len;
    return ((struct ent_field *const *)list)[i]->id == *(const unsigned *)key;
}
int ent__ids_reserve(ent__itab *t, struct ent_field *const *fields, size_t n)
{
    return ent__itab_reserve(t, fields, n, field_id_hash);
}
void ent__ids_put(ent__itab *t, struct ent_field *const *fields, size_t n)
{
    ent__itab_put(t, fields, n, field_id_hash);
}
struct ent_field *ent__ids_find(const ent__itab *t, struct ent_field *const *fields, unsigned id)
{
    size_t i = ent__itab_find(t, id, fields, &id, 0, field_id_eq);
    return i == (size_t)-1 ? NULL : fields[i];
}

static uint64_t type_hash(const void *list, size_t i)
{
    const char *n = ((struct ent_type *const *)list)[i]->name;
    return ent__str_hash(n, strlen(n));
}
static int type_eq(const void *list, size_t i, const void *key, size_t len)
{
    const char *n = ((struct ent_type *const *)list)[i]->name;
    return strncmp(n, key, len) == 0 && n[len] == '\0';
}
int ent__types_add(ent__itab *t, struct ent_type *const *types, size_t n)
{
    return ent__itab_add(t, types, n, type_hash);
}
struct ent_type *ent__types_find(const ent__itab *t, struct ent_type *const *types, const char *name)
{
    size_t len = strlen(name), i = ent__itab_find(t, ent__str_hash(name, len), types, name, len, type_eq);
    return i == (size_t)-1 ? NULL : types[i];
}

static uint64_t enum_hash(const void *list, size_t i)
{
    const char *v = ((char *const *)list)[i];
    return ent__str_hash(v, strlen(v));
}
static int enum_eq(const void *list, size_t i, const void *key, size_t len)
{
    /* the value may hold a NUL ("a\0b"): it must not match the enum value "a" */
    const char *v = ((char *const *)list)[i];
    return strlen(v) == len && memcmp(v, key, len) == 0;
}
int ent__enums_add(ent__itab *t, char *const *values, size_t n)
{
    return ent__itab_add(t, values, n, enum_hash);
}
int ent__enums_has(const ent__itab *t, char *const *values, const char *v, size_t len)
{
    return ent__itab_find(t, ent__str_hash(v, len), values, v, len, enum_eq) != (size_t)-1;
}
