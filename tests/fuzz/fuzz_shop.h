/* The small shop store the store-level harnesses start from (schemas/shop.json). */
#ifndef ENT_FUZZ_SHOP_H
#define ENT_FUZZ_SHOP_H

#include "fuzz_util.h"

static inline void must(int rc, const char *what)
{
    FUZZ_CHECK(rc == ENT_OK, "%s: rc %d", what, rc);
}

/* Three customers, two products, three orders, an update, a delete, a subscription. */
static inline void fill(ent_store *s)
{
    const ent_type *cu = ent_store_type(s, "customer"), *pr = ent_store_type(s, "product"),
                   *od = ent_store_type(s, "order");
    static const char *const emails[] = {"ada@x", "grace@x", "edsger@x"};
    static const char *const skus[] = {"tea", "pot"};
    ent_entity *e;
    for (int i = 0; i < 3; i++) {
        must(ent_entity_new(&e, cu), "new");
        must(ent_entity_set_string(e, "email", emails[i]), "set");
        must(ent_entity_set_string(e, "name", emails[i]), "set");
        must(ent_entity_set_timestamp(e, "joined", 1000 * i), "set");
        must(ent_create(s, NULL, e), "create customer");
        ent_entity_free(e);
    }
    for (int i = 0; i < 2; i++) {
        ent_key k = ent_key_str(skus[i]);
        must(ent_entity_new(&e, pr), "new");
        must(ent_entity_set_key(e, &k), "key");
        must(ent_entity_set_float(e, "price", 2.5 * i), "set");
        must(ent_entity_set_int(e, "stock", 3 + i), "set");
        must(ent_entity_array_insert(e, "tags", 0), "tags");
        must(ent_entity_set_string(e, "tags[0]", skus[i]), "set");
        must(ent_entity_set_string(e, "attrs.color", "red"), "set");
        must(ent_create(s, NULL, e), "create product");
        ent_entity_free(e);
    }
    for (int i = 0; i < 3; i++) {
        must(ent_entity_new(&e, od), "new");
        must(ent_entity_set_uint(e, "customer", (uint64_t)(i % 2 + 1)), "set");
        must(ent_entity_array_insert(e, "lines", 0), "lines");
        must(ent_entity_set_string(e, "lines[0].sku", skus[i % 2]), "set");
        must(ent_entity_set_uint(e, "lines[0].qty", (uint64_t)i + 1), "set");
        must(ent_create(s, NULL, e), "create order");
        if (i == 0) {
            must(ent_entity_set_string(e, "status", "paid"), "set");
            must(ent_update(s, NULL, e, ENT_VERSION_ANY), "update");
        }
        ent_entity_free(e);
    }
    {
        ent_key k = ent_key_id(3);
        must(ent_delete(s, NULL, od, &k, ENT_VERSION_ANY), "delete");
    }
    must(ent_sub_create(s, "mailer", 0), "sub");
    must(ent_sub_ack(s, NULL, "mailer", 2), "ack");
}

#endif
