/* entity demo: a small shop built through the public API, narrated. */
#include <entity/entity.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "shop_schema.h"

/* ---- demo ------------------------------------------------------------------------------------ */

typedef struct demo_counts {
    unsigned long created, updated, deleted;
} demo_counts;

static void on_event(const ent_event *ev, void *payload)
{
    demo_counts *c = payload;
    if (ev->op == ENT_OP_CREATE) c->created++;
    else if (ev->op == ENT_OP_UPDATE) c->updated++;
    else c->deleted++;
}

#define DEMO_CHECK(x, what)                                                                        \
    do {                                                                                           \
        if ((x) != ENT_OK) {                                                                       \
            rc = fail(what);                                                                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

int cmd_demo(void)
{
    static const char *first[] = {"ada", "grace", "edsger", "barbara", "ken", "dennis", "margaret", "donald",
                                  "frances", "john", "radia", "leslie"};
    static const char *goods[][2] = {{"tea-sencha", "tea"}, {"tea-assam", "tea"}, {"mug-white", "kitchen"},
                                     {"kettle-steel", "kitchen"}, {"honey-acacia", "pantry"},
                                     {"biscuits-oat", "pantry"}, {"teapot-cast", "kitchen"}, {"tea-rooibos", "tea"}};
    static char tool[16400], dir[16400]; /* shell words of paths up to 4 kB: 4 bytes a byte at most */
    ent_schema *schema = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_subscriber *sub = NULL;
    ent_txn *t = NULL;
    demo_counts counts = {0, 0, 0};
    const ent_type *customer, *product, *order;
    char path[4096];
    uint64_t n_orders = 0, first_seq = 0, last_seq = 0;
    int rc = 0;
    struct stat st;

    snprintf(path, sizeof path, "%s/data.mdb", store_dir);
    if (stat(path, &st) == 0) {
        msg("a store exists at %s already; remove it (rm -rf %s) or choose another with -s DIR", store_dir, store_dir);
        return 1;
    }
    DEMO_CHECK(ent_schema_load_json(&schema, ent_shop_schema_json, strlen(ent_shop_schema_json), "shop.json"), "schema");
    o.durability = ENT_LAZY;
    DEMO_CHECK(ent_store_open(&s, store_dir, schema, &o), store_dir);
    customer = ent_store_type(s, "customer");
    product = ent_store_type(s, "product");
    order = ent_store_type(s, "order");
    DEMO_CHECK(ent_subscribe(&sub, s, NULL, 0, on_event, &counts), "subscribe");
    DEMO_CHECK(ent_sub_create(s, "mailer", 0), "subscription");
    printf("Created a shop store in %s (schema shop v1: customer, product, order; durability lazy).\n", store_dir);

    /* Products and customers in one transaction each: all or nothing. */
    DEMO_CHECK(ent_txn_begin(&t, s, ENT_TXN_WRITE), "begin");
    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        ent_entity *p = NULL;
        ent_key k = ent_key_str(goods[i][0]);
        char json[256];
        snprintf(json, sizeof json, "{\"price\":%.2f,\"stock\":%zu,\"tags\":[\"%s\"],\"attrs\":{\"origin\":\"demo\"},"
                 "\"dims\":{\"w\":%zu.5,\"h\":%zu.0}}", 2.5 + (double)i * 3.25, 10 + i * 7, goods[i][1], i + 1, i + 2);
        rc = ent_entity_from_json(&p, product, json, strlen(json));
        if (!rc) rc = ent_entity_set_key(p, &k);
        if (!rc) rc = ent_create(s, t, p);
        ent_entity_free(p);
        DEMO_CHECK(rc, "product");
    }
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        ent_entity *c = NULL;
        char email[64];
        snprintf(email, sizeof email, "%s@example.com", first[i]);
        rc = ent_entity_new(&c, customer);
        if (!rc) rc = ent_entity_set_string(c, "email", email);
        if (!rc) rc = ent_entity_set_string(c, "name", first[i]);
        if (!rc) rc = ent_entity_set_timestamp(c, "joined", 1767225600000000000LL + (int64_t)i * 86400000000000LL);
        if (!rc && i % 4 == 0) rc = ent_entity_set_bool(c, "vip", 1);
        if (!rc) rc = ent_create(s, t, c);
        ent_entity_free(c);
        DEMO_CHECK(rc, "customer");
    }
    DEMO_CHECK(ent_txn_commit(t), "commit");
    t = NULL;
    printf("Added %zu products and %zu customers in two transactions.\n", sizeof goods / sizeof goods[0],
           sizeof first / sizeof first[0]);

    /* Orders, one transaction each, some paid and shipped later. */
    for (unsigned i = 0; i < 30; i++) {
        ent_entity *od = NULL;
        unsigned nl = 1 + i % 3;
        rc = ent_entity_new(&od, order);
        if (!rc) rc = ent_entity_set_uint(od, "customer", 1 + (i * 5) % (sizeof first / sizeof first[0]));
        for (unsigned l = 0; !rc && l < nl; l++) {
            char p[32];
            rc = ent_entity_array_insert(od, "lines", l);
            snprintf(p, sizeof p, "lines[%u].sku", l);
            if (!rc) rc = ent_entity_set_string(od, p, goods[(i + l) % (sizeof goods / sizeof goods[0])][0]);
            snprintf(p, sizeof p, "lines[%u].qty", l);
            if (!rc) rc = ent_entity_set_uint(od, p, 1 + (i + l) % 4);
        }
        if (!rc) rc = ent_create(s, NULL, od);
        if (!rc && i % 2 == 0) {
            rc = ent_entity_set_string(od, "status", "paid");
            if (!rc) rc = ent_update(s, NULL, od, ent_entity_version(od));
        }
        if (!rc && i % 6 == 0) {
            rc = ent_entity_set_string(od, "status", "shipped");
            if (!rc) rc = ent_update(s, NULL, od, ent_entity_version(od));
        }
        ent_entity_free(od);
        DEMO_CHECK(rc, "order");
    }
    {
        ent_key k = ent_key_id(30);
        DEMO_CHECK(ent_delete(s, NULL, order, &k, ENT_VERSION_ANY), "delete");
    }
    DEMO_CHECK(ent_count(&n_orders, s, NULL, order), "count");
    printf("Placed 30 orders, marked 15 paid and shipped 5 of those, cancelled (deleted) order 30: %llu remain.\n",
           (unsigned long long)n_orders);

    /* What the store refuses, with the message a host gets. */
    {
        ent_entity *c = NULL;
        ent_key k = ent_key_id(1);
        ent_entity_new(&c, customer);
        ent_entity_set_string(c, "email", "ada@example.com");
        ent_entity_set_string(c, "name", "another ada");
        if (ent_create(s, NULL, c) == ENT_CONFLICT) printf("Refused as expected: %s\n", ent_errmsg());
        ent_entity_free(c);
        if (ent_delete(s, NULL, customer, &k, ENT_VERSION_ANY) == ENT_CONFLICT)
            printf("Refused as expected: %s\n", ent_errmsg());
    }
    {
        ent_value paid = ent_value_string("paid");
        ent_iter *it = NULL;
        ent_entity *e;
        unsigned long n = 0;
        DEMO_CHECK(ent_find(&it, s, NULL, ent_type_field(order, "status"), &paid), "find");
        while (ent_iter_next(&e, it) == ENT_OK) {
            n++;
            ent_entity_free(e);
        }
        ent_iter_free(it);
        printf("Index look-up: %lu orders have status \"paid\".\n", n);
    }
    DEMO_CHECK(ent_log_bounds(&first_seq, &last_seq, s, NULL), "log");
    printf("Event log: seq %llu..%llu; the in-process subscriber saw %lu creates, %lu updates, %lu deletes;\n"
           "the durable subscription \"mailer\" has %llu events to read.\n",
           (unsigned long long)first_seq, (unsigned long long)last_seq, counts.created, counts.updated,
           counts.deleted, (unsigned long long)last_seq);
    /* commands to paste as they are: the tool as it was run (./build/entity from the build, entity
     * from the PATH) and the store's path, each one shell word (a path with a space was split, and
     * the tool was ./build/entity wherever it was) */
    if (shell_word(tool, sizeof tool, prog_name)) snprintf(tool, sizeof tool, "entity");
    if (shell_word(dir, sizeof dir, store_dir)) snprintf(dir, sizeof dir, "DIR");
    printf("\nLook around:\n"
           "  %s -s %s schema\n"
           "  %s -s %s ls customer --limit 3\n"
           "  %s -s %s get order 1\n"
           "  %s -s %s count order\n"
           "  %s -s %s events --from %llu\n",
           tool, dir, tool, dir, tool, dir, tool, dir, tool, dir,
           (unsigned long long)(last_seq > 4 ? last_seq - 4 : 1));
out:
    if (t) ent_txn_abort(t);
    if (sub) ent_unsubscribe(s, sub);
    ent_store_close(s);
    ent_schema_free(schema);
    return rc;
}

