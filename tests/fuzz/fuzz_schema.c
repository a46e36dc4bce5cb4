/* Fuzz the schema descriptor loader (JSON from a file or from a store's meta table).
 * Properties: any text loads or is refused with a known code and a message; a schema that loads
 * renders to JSON that loads again into an equal schema (compare() accepts both directions and the
 * second rendering is the same text); every type of it gives entities that encode and decode; a
 * memory store opens with it.
 * Input starting with byte 0x01 (never JSON): the rest is a schema a filled LMDB shop store (fill())
 * is opened with, as an evolution. Properties: compare(shop, it) and the open agree (refused by
 * compare, or not a higher version of "shop": refused by the open with ENT_SCHEMA and the store
 * untouched; accepted: opened, or ENT_CONFLICT for a new unique index over duplicates and nothing
 * changed); after an evolution the
 * store verifies clean, keeps its entities, and reopens with the new schema stored. */
#include "fuzz_shop.h"
#include "schema_int.h" /* ent__schema_check_new(): the rules a new store's schema meets */

static ent_schema *shop;
static char dir[ENT_TEST_PATH_MAX];

static void remove_dir(void) { fuzz_dir_remove(dir); }

static uint64_t count_all(ent_store *s)
{
    uint64_t total = 0, n;
    for (size_t i = 0; i < ent_schema_type_count(shop); i++) {
        const ent_type *t = ent_store_type(s, ent_type_name(ent_schema_type_at(shop, i)));
        FUZZ_CHECK(t && ent_count(&n, s, NULL, t) == ENT_OK, "count of a shop type after the open");
        total += n;
    }
    return total;
}

static void clean_and_same(ent_store *s, const ent_schema *want, uint64_t entities, const char *when)
{
    uint64_t problems = 0;
    FUZZ_CHECK(ent_schema_compare(want, ent_store_schema(s)) == ENT_OK &&
                   ent_schema_compare(ent_store_schema(s), want) == ENT_OK, "%s: the stored schema is not the one expected", when);
    FUZZ_CHECK(ent_store_verify(&problems, s, NULL, NULL) == ENT_OK && problems == 0, "%s: verify finds %llu problems", when,
               (unsigned long long)problems);
    FUZZ_CHECK(count_all(s) == entities, "%s: entities lost or gained", when);
}

static void evolve(const uint8_t *data, size_t size)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *b = NULL;
    ent_store *s = NULL;
    uint64_t n0;
    int crc, rc = ent_schema_load_json(&b, (const char *)data, size, "<fuzz>");
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (rc != ENT_OK) return;
    if (!shop) {
        shop = fuzz_schema("shop");
        /* in /dev/shm unless TMPDIR is set: thousands of stores, the inputs under test, not the disk */
        if (ent_test_mkdtemp_fast(dir, sizeof dir, "fuzz-schema")) abort();
        atexit(remove_dir);
    }
    fuzz_dir_wipe(dir);
    o.durability = ENT_NONE;
    must(ent_store_open(&s, dir, shop, &o), "open shop");
    fill(s);
    n0 = count_all(s);
    ent_store_close(s);
    crc = ent_schema_compare(shop, b);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(crc);
    rc = ent_store_open(&s, dir, b, &o);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (getenv("FUZZ_SCHEMA_SHOW")) dprintf(2, "compare %d, open %d: %s\n", crc, rc, ent_errmsg());
    if (crc != ENT_OK)
        FUZZ_CHECK(rc == ENT_SCHEMA, "compare refused the evolution (rc %d), the open gives %d", crc, rc);
    else if (ent_schema_version(b) <= ent_schema_version(shop) || strcmp(ent_schema_name(b), ent_schema_name(shop)))
        /* compare() judges the change alone; the open also wants a higher version of the same
         * schema (an equal one opens as it is) */
        FUZZ_CHECK(rc == ENT_SCHEMA || (rc == ENT_OK && ent_schema_version(b) == ent_schema_version(shop) &&
                                        ent_schema_compare(b, shop) == ENT_OK),
                   "an evolution to version %u of \"%s\" gives %d", (unsigned)ent_schema_version(b), ent_schema_name(b), rc);
    else if (ent__schema_check_new(b) != ENT_OK) /* nested past 24 levels, limits that admit no value */
        FUZZ_CHECK(rc == ENT_SCHEMA, "an evolution to a schema no new store takes gives %d", rc);
    else
        FUZZ_CHECK(rc == ENT_OK || rc == ENT_CONFLICT || rc == ENT_FULL, "compare accepted the evolution, the open gives %d", rc);
    if (rc == ENT_OK) {
        clean_and_same(s, b, n0, "after the evolution");
        ent_store_close(s);
        must(ent_store_open(&s, dir, NULL, &o), "reopen after the evolution");
        clean_and_same(s, b, n0, "reopened after the evolution");
    } else {
        FUZZ_CHECK(s == NULL, "a refused open returned a store");
        must(ent_store_open(&s, dir, NULL, &o), "reopen after a refused evolution");
        clean_and_same(s, shop, n0, "after a refused evolution");
    }
    ent_store_close(s);
    ent_schema_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ent_schema *a = NULL, *b = NULL;
    char *ja = NULL, *jb = NULL;
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    if (size && data[0] == 0x01) {
        evolve(data + 1, size - 1);
        return 0;
    }
    rc = ent_schema_load_json(&a, (const char *)data, size, "<fuzz>");
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
    if (ent__schema_check_new(a) != ENT_OK) /* nested past 24 levels, limits that admit no value */
        FUZZ_CHECK(rc == ENT_SCHEMA, "a schema no new store takes gave a memory store: rc %d", rc);
    else
        FUZZ_CHECK(rc == ENT_OK || rc == ENT_FULL, "memory store refused a checked schema: rc %d", rc);
    ent_store_close(st);
    free(ja);
    free(jb);
    ent_schema_free(a);
    ent_schema_free(b);
    return 0;
}
