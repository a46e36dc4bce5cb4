/* Fuzz entity JSON, merge patches and JSON Patches against the shop and fleet schemas.
 * Input: one byte choosing the type, the entity's JSON data, 0xff, a patch: an RFC 7396 merge
 * patch, or an RFC 6902 JSON Patch when it starts with '[' (as `entity patch` and PATCH take it).
 * Properties: a refusal has a known code and a message; an accepted entity renders to JSON that
 * parses back to the same rendering, and its record decodes to the same rendering, validating the
 * same; a refused patch leaves the entity as it was; an accepted one gives an entity that renders,
 * parses and encodes like any other. The same two texts also go through the body calls that
 * `entity put`/`patch` and entity-http take (ent_entity_from_body(), ent_entity_patch_body()),
 * with the same properties, and data that reads as data reads the same through them (no type of
 * these schemas has fields named like the entity JSON's members, the one body read otherwise). */
#include "fuzz_util.h"

static ent_schema *schemas[2];

static const ent_type *pick_type(unsigned b)
{
    size_t n0, n1;
    if (!schemas[0]) {
        schemas[0] = fuzz_schema("shop");
        schemas[1] = fuzz_schema("fleet");
    }
    n0 = ent_schema_type_count(schemas[0]);
    n1 = ent_schema_type_count(schemas[1]);
    b %= (unsigned)(n0 + n1);
    return b < n0 ? ent_schema_type_at(schemas[0], b) : ent_schema_type_at(schemas[1], b - n0);
}

/* e renders to JSON that parses back to the same rendering; its record decodes to it too. */
static void check_stable(const ent_entity *e, const ent_type *t)
{
    char *j1 = NULL, *j2 = NULL, *j3 = NULL;
    ent_entity *e2 = NULL, *e3 = NULL;
    void *rec = NULL;
    size_t len = 0;
    int v1 = ent_entity_validate(e), rc;
    FUZZ_CHECK(ent_entity_to_json(&j1, e, 0) == ENT_OK, "to_json");
    rc = ent_entity_from_json(&e2, t, j1, strlen(j1));
    FUZZ_CHECK(rc == ENT_OK, "own rendering refused: %s", j1);
    FUZZ_CHECK(ent_entity_to_json(&j2, e2, 0) == ENT_OK && strcmp(j1, j2) == 0, "rendering not stable:\n%s\n%s", j1, j2);
    FUZZ_CHECK(ent_entity_validate(e2) == v1, "validation differs after a round trip: %s", j1);
    FUZZ_CHECK(ent_entity_encode(&rec, &len, e) == ENT_OK, "encode");
    rc = ent_entity_decode(&e3, t, rec, len);
    FUZZ_CHECK(rc == ENT_OK, "own record refused: %s", j1);
    FUZZ_CHECK(ent_entity_to_json(&j3, e3, 0) == ENT_OK && strcmp(j1, j3) == 0, "record round trip differs:\n%s\n%s", j1, j3);
    FUZZ_CHECK(ent_entity_validate(e3) == v1, "validation differs after a record round trip: %s", j1);
    free(j1);
    free(j2);
    free(j3);
    free(rec);
    ent_entity_free(e2);
    ent_entity_free(e3);
}

/* ej as a write's body (data, or the entity's JSON), then pj as a patch body of what it gave.
 * data: the entity ej read to as data alone, or NULL. */
static void check_body(const ent_type *t, const ent_entity *data, const char *ej, size_t en, const char *pj, size_t pn)
{
    ent_entity *b = NULL;
    char *j1 = NULL, *j2 = NULL;
    uint64_t v = 1;
    int rc = ent_entity_from_body(&b, &v, t, ej, en);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (rc != ENT_OK) {
        FUZZ_CHECK(b == NULL && v == 0 && !data, "a refused body: entity %p, version %llu, data %p", (void *)b, (unsigned long long)v,
                   (const void *)data);
        return;
    }
    if (data) {
        FUZZ_CHECK(v == 0 && ent_entity_key(b).kind == ENT_KEY_NONE, "data read as a body has a key or version");
        FUZZ_CHECK(ent_entity_to_json(&j1, data, 0) == ENT_OK && ent_entity_to_json(&j2, b, 0) == ENT_OK && strcmp(j1, j2) == 0,
                   "data reads otherwise as a body:\n%s\n%s", j1, j2);
        free(j1);
        free(j2);
        j1 = j2 = NULL;
    }
    check_stable(b, t);
    FUZZ_CHECK(ent_entity_to_json(&j1, b, 0) == ENT_OK, "to_json");
    rc = ent_entity_patch_body(&v, b, pj, pn);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    FUZZ_CHECK(ent_entity_to_json(&j2, b, 0) == ENT_OK, "to_json");
    if (rc != ENT_OK) FUZZ_CHECK(v == 0 && strcmp(j1, j2) == 0, "a refused patch body changed the entity:\n%s\n%s", j1, j2);
    else check_stable(b, t);
    free(j1);
    free(j2);
    ent_entity_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    const ent_type *t = pick_type(fuzz_u8(&in));
    const uint8_t *ej, *pj;
    size_t en = fuzz_chunk(&in, &ej), pn = fuzz_chunk(&in, &pj);
    ent_entity *e = NULL;
    char *before = NULL, *after = NULL;
    int rc = ent_entity_from_json(&e, t, (const char *)ej, en);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    check_body(t, e, (const char *)ej, en, (const char *)pj, pn);
    if (rc != ENT_OK) {
        FUZZ_CHECK(e == NULL, "a refused entity was returned");
        return 0;
    }
    check_stable(e, t);
    FUZZ_CHECK(ent_entity_to_json(&before, e, 0) == ENT_OK, "to_json");
    rc = pn && pj[0] == '[' ? ent_entity_json_patch(e, (const char *)pj, pn) : ent_entity_patch_json(e, (const char *)pj, pn);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    FUZZ_CHECK(ent_entity_to_json(&after, e, 0) == ENT_OK, "to_json");
    if (rc != ENT_OK) FUZZ_CHECK(strcmp(before, after) == 0, "a refused patch changed the entity:\n%s\n%s", before, after);
    else check_stable(e, t);
    free(before);
    free(after);
    ent_entity_free(e);
    return 0;
}
