/* Fuzz the schema descriptor loader (JSON from a file or from a store's meta table).
 * Properties: any text loads or is refused with a known code and a message; a schema that loads
 * renders to JSON that loads again into an equal schema (compare() accepts both directions and the
 * second rendering is the same text); every type of it gives entities that encode and decode; a
 * memory store opens with it. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ent_schema *a = NULL, *b = NULL;
    char *ja = NULL, *jb = NULL;
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc = ent_schema_load_json(&a, (const char *)data, size, "<fuzz>");
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (rc != ENT_OK) {
        FUZZ_CHECK(a == NULL, "failed load left a schema");
        return 0;
    }
    rc = ent_schema_to_json(&ja, a, 0);
    FUZZ_CHECK(rc == ENT_OK, "to_json rc %d", rc);
    rc = ent_schema_load_json(&b, ja, strlen(ja), "<rendered>");
    FUZZ_CHECK(rc == ENT_OK, "rendering does not load again: %s", ja);
    FUZZ_CHECK(ent_schema_compare(a, b) == ENT_OK, "rendered schema differs (a->b)");
    FUZZ_CHECK(ent_schema_compare(b, a) == ENT_OK, "rendered schema differs (b->a)");
    rc = ent_schema_to_json(&jb, b, 0);
    FUZZ_CHECK(rc == ENT_OK && strcmp(ja, jb) == 0, "second rendering differs:\n%s\n%s", ja, jb);

    for (size_t i = 0; i < ent_schema_type_count(a); i++) {
        const ent_type *t = ent_schema_type_at(a, i);
        ent_entity *e = NULL, *d = NULL;
        void *rec = NULL;
        size_t len = 0;
        FUZZ_CHECK(ent_entity_new(&e, t) == ENT_OK, "entity_new");
        FUZZ_CHECK(ent_entity_apply_defaults(e) == ENT_OK, "apply_defaults");
        (void)ent_entity_validate(e); /* defaults alone need not satisfy required fields */
        FUZZ_CHECK(ent_entity_encode(&rec, &len, e) == ENT_OK, "encode");
        FUZZ_CHECK(ent_entity_decode(&d, t, rec, len) == ENT_OK, "a record of defaults does not decode");
        free(rec);
        ent_entity_free(d);
        ent_entity_free(e);
    }

    o.backend = "memory";
    rc = ent_store_open(&st, NULL, a, &o);
    FUZZ_CHECK(rc == ENT_OK || rc == ENT_FULL, "memory store refused a checked schema: rc %d", rc);
    ent_store_close(st);
    free(ja);
    free(jb);
    ent_schema_free(a);
    ent_schema_free(b);
    return 0;
}
