/* Schemas shared by test_entity.c, test_codec.c and test_entity_json.c. */
#ifndef ENT_TEST_ENTITY_SCHEMAS_H
#define ENT_TEST_ENTITY_SCHEMAS_H

#include "test_util.h"

/* The shop of issue 2. */
static const char SHOP_JSON[] =
    "{\"schema\":\"shop\",\"version\":1,\"types\":{"
    "\"customer\":{\"key\":\"auto\",\"fields\":{"
    "\"email\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true,\"max_length\":254},"
    "\"name\":{\"id\":2,\"type\":\"string\",\"required\":true},"
    "\"joined\":{\"id\":3,\"type\":\"timestamp\",\"indexed\":true},"
    "\"vip\":{\"id\":4,\"type\":\"bool\",\"default\":false}}},"
    "\"product\":{\"key\":\"string\",\"fields\":{"
    "\"price\":{\"id\":1,\"type\":\"float\",\"min\":0,\"indexed\":true},"
    "\"stock\":{\"id\":2,\"type\":\"int\",\"min\":0,\"default\":0,\"indexed\":true},"
    "\"tags\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"string\",\"max_length\":32},\"max_length\":16},"
    "\"attrs\":{\"id\":4,\"type\":\"map\"},"
    "\"dims\":{\"id\":5,\"type\":\"map\",\"fields\":{\"w\":{\"id\":1,\"type\":\"float\"},\"h\":{\"id\":2,\"type\":\"float\"}}}}},"
    "\"order\":{\"key\":\"auto\",\"fields\":{"
    "\"customer\":{\"id\":1,\"type\":\"ref\",\"to\":\"customer\",\"required\":true},"
    "\"status\":{\"id\":2,\"type\":\"string\",\"enum\":[\"new\",\"paid\",\"shipped\"],\"default\":\"new\",\"indexed\":true},"
    "\"lines\":{\"id\":3,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{"
    "\"sku\":{\"id\":1,\"type\":\"string\",\"required\":true},"
    "\"qty\":{\"id\":2,\"type\":\"uint\",\"min\":1,\"required\":true}}}}}}}}";

/* Every kind, nested declared maps, arrays of arrays and of maps, free-form maps, refs to an
 * auto-key and a string-key type. */
static const char KITCHEN_JSON[] =
    "{\"schema\":\"kitchen\",\"version\":1,\"types\":{"
    "\"thing\":{\"key\":\"string\",\"fields\":{"
    "\"b\":{\"id\":1,\"type\":\"bool\"},"
    "\"i\":{\"id\":2,\"type\":\"int\",\"min\":-5,\"max\":100},"
    "\"u\":{\"id\":3,\"type\":\"uint\",\"min\":2},"
    "\"f\":{\"id\":4,\"type\":\"float\",\"min\":-1.5,\"max\":1e300},"
    "\"s\":{\"id\":5,\"type\":\"string\",\"max_length\":8},"
    "\"by\":{\"id\":6,\"type\":\"bytes\",\"max_length\":4},"
    "\"ts\":{\"id\":7,\"type\":\"timestamp\",\"min\":0},"
    "\"arr\":{\"id\":8,\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"int\"}}},"
    "\"maps\":{\"id\":9,\"type\":\"array\",\"items\":{\"type\":\"map\",\"fields\":{"
    "\"x\":{\"id\":1,\"type\":\"int\",\"required\":true},"
    "\"y\":{\"id\":2,\"type\":\"string\",\"default\":\"why\"}}}},"
    "\"nest\":{\"id\":10,\"type\":\"map\",\"fields\":{"
    "\"inner\":{\"id\":1,\"type\":\"map\",\"fields\":{\"deep\":{\"id\":1,\"type\":\"int\",\"default\":7}}},"
    "\"free\":{\"id\":2,\"type\":\"map\"},"
    "\"req\":{\"id\":3,\"type\":\"string\",\"required\":true}}},"
    "\"any\":{\"id\":11,\"type\":\"map\"},"
    "\"owner\":{\"id\":12,\"type\":\"ref\",\"to\":\"person\"},"
    "\"other\":{\"id\":13,\"type\":\"ref\",\"to\":\"thing\"},"
    "\"big\":{\"id\":14,\"type\":\"string\"},"
    "\"raw\":{\"id\":15,\"type\":\"bytes\"},"
    "\"fl\":{\"id\":16,\"type\":\"float\"},"
    "\"in\":{\"id\":17,\"type\":\"int\"},"
    "\"un\":{\"id\":18,\"type\":\"uint\"}}},"
    "\"person\":{\"key\":\"auto\",\"fields\":{\"name\":{\"id\":1,\"type\":\"string\"}}}}}";

static inline ent_schema *test_schema(const char *json)
{
    ent_schema *s = NULL;
    int rc = ent_schema_load_json(&s, json, strlen(json), "<test>");
    if (rc) fprintf(stderr, "\n  schema load failed: %s\n", ent_errmsg());
    CU_ASSERT_EQUAL_FATAL(rc, ENT_OK);
    return s;
}

static inline ent_entity *test_new(const ent_schema *s, const char *type)
{
    ent_entity *e = NULL;
    const ent_type *t = ent_schema_type(s, type);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    ENT_OK_(ent_entity_new(&e, t));
    return e;
}

#endif
