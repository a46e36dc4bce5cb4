/* entity — the command-line tool (first cut: demo, schema, get, ls, count, events).
 * A thin client of the public API: it opens any store with the schema stored inside it. */
#include <entity/entity.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shop_schema.h"

static const char *store_dir;

static void msg(const char *fmt, ...)
{
    va_list ap;
    fputs("entity: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int fail(const char *what) /* a library failure: exit 1 */
{
    msg("%s: %s", what, ent_errmsg()[0] ? ent_errmsg() : "failed");
    return 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: entity [-s DIR | --store DIR] COMMAND [ARGS]\n"
            "commands:\n"
            "  demo                    create a demo shop store and show what happened\n"
            "  schema                  print the stored schema\n"
            "  get TYPE KEY            print one entity\n"
            "  ls TYPE [--limit N]     list entities in key order (NDJSON)\n"
            "  count TYPE              number of entities of TYPE\n"
            "  events [--from SEQ] [--limit N]   print events (NDJSON)\n"
            "the store is -s DIR, else $ENTITY_STORE, else ./entity-store\n");
    return 2;
}

static int open_store(ent_store **out, int read_only)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.read_only = read_only;
    o.no_create = 1;
    if (ent_store_open(out, store_dir, NULL, &o) != ENT_OK) return fail(store_dir);
    return 0;
}

static int parse_key(ent_key *out, const ent_type *t, const char *text)
{
    if (ent_type_key(t) == ENT_KEY_AUTO) {
        char *end;
        unsigned long long id;
        errno = 0;
        id = strtoull(text, &end, 10);
        if (!*text || *end || errno || text[0] == '-') {
            msg("%s: key \"%s\" is not an id", ent_type_name(t), text);
            return 1;
        }
        *out = ent_key_id(id);
        return 0;
    }
    *out = ent_key_str(text);
    return 0;
}

static int print_entity(const ent_entity *e, unsigned flags)
{
    char *j = NULL;
    if (ent_entity_to_json(&j, e, ENT_JSON_ENTITY | flags) != ENT_OK) return fail("printing");
    puts(j);
    free(j);
    return 0;
}

static const ent_type *type_arg(ent_store *s, const char *name)
{
    const ent_type *t = ent_store_type(s, name);
    if (!t) msg("unknown type \"%s\"", name);
    return t;
}

static int cmd_schema(void)
{
    ent_store *s;
    char *j = NULL;
    int rc = open_store(&s, 1);
    if (rc) return rc;
    if (ent_schema_to_json(&j, ent_store_schema(s), isatty(1)) != ENT_OK) rc = fail("schema");
    else puts(j);
    free(j);
    ent_store_close(s);
    return rc;
}

static int cmd_get(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    ent_entity *e = NULL;
    ent_key k;
    int rc;
    if (argc != 3) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else if (ent_get(&e, s, NULL, t, &k) != ENT_OK) rc = fail("get");
    else rc = print_entity(e, isatty(1) ? ENT_JSON_PRETTY : 0);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

static int cmd_ls(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    ent_iter *it = NULL;
    ent_entity *e;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    int rc;
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--limit") == 0)) return usage();
    if (argc == 4) o.limit = strtoull(argv[3], NULL, 10);
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1]))) rc = 1;
    else if (ent_scan(&it, s, NULL, t, NULL, &o) != ENT_OK) rc = fail("ls");
    else {
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            print_entity(e, 0);
            ent_entity_free(e);
        }
        rc = rc == ENT_NOTFOUND ? 0 : fail("ls");
    }
    ent_iter_free(it);
    ent_store_close(s);
    return rc;
}

static int cmd_count(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    uint64_t n = 0;
    int rc;
    if (argc != 2) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1]))) rc = 1;
    else if (ent_count(&n, s, NULL, t) != ENT_OK) rc = fail("count");
    else printf("%llu\n", (unsigned long long)n);
    ent_store_close(s);
    return rc;
}

static int cmd_events(int argc, char **argv)
{
    ent_store *s;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    uint64_t from = 1, limit = 0, n = 0;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--from") == 0) from = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--limit") == 0) limit = strtoull(argv[++i], NULL, 10);
        else return usage();
    }
    if ((rc = open_store(&s, 1))) return rc;
    if (ent_log_cursor_open(&c, s, from, NULL, 0) != ENT_OK) rc = fail("events");
    else {
        while ((!limit || n < limit) && (rc = ent_log_next(&ev, c)) == ENT_OK) {
            printf("{\"seq\":%llu,\"txn\":%llu,\"type\":\"%s\",\"op\":\"%s\",\"version\":%llu}\n",
                   (unsigned long long)ev->seq, (unsigned long long)ev->txn, ent_type_name(ev->type),
                   ev->op == ENT_OP_CREATE ? "create" : ev->op == ENT_OP_UPDATE ? "update" : "delete",
                   (unsigned long long)ev->version);
            ent_event_free(ev);
            n++;
        }
        rc = rc == ENT_OK || rc == ENT_NOTFOUND ? 0 : fail("events");
    }
    ent_log_cursor_free(c);
    ent_store_close(s);
    return rc;
}

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

static int cmd_demo(void)
{
    static const char *first[] = {"ada", "grace", "edsger", "barbara", "ken", "dennis", "margaret", "donald",
                                  "frances", "john", "radia", "leslie"};
    static const char *goods[][2] = {{"tea-sencha", "tea"}, {"tea-assam", "tea"}, {"mug-white", "kitchen"},
                                     {"kettle-steel", "kitchen"}, {"honey-acacia", "pantry"},
                                     {"biscuits-oat", "pantry"}, {"teapot-cast", "kitchen"}, {"tea-rooibos", "tea"}};
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
    printf("\nLook around:\n"
           "  ./build/entity -s %s schema\n"
           "  ./build/entity -s %s ls customer --limit 3\n"
           "  ./build/entity -s %s get order 1\n"
           "  ./build/entity -s %s count order\n"
           "  ./build/entity -s %s events --from %llu\n",
           store_dir, store_dir, store_dir, store_dir, store_dir,
           (unsigned long long)(last_seq > 4 ? last_seq - 4 : 1));
out:
    if (t) ent_txn_abort(t);
    if (sub) ent_unsubscribe(s, sub);
    ent_store_close(s);
    ent_schema_free(schema);
    return rc;
}

int main(int argc, char **argv)
{
    int i = 1;
    store_dir = getenv("ENTITY_STORE");
    if (!store_dir || !*store_dir) store_dir = "./entity-store";
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--store") == 0) && i + 1 < argc) {
            store_dir = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("entity %s\n", ENT_VERSION_STRING);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            msg("unknown option %s", argv[i]);
            return usage();
        }
    }
    if (i >= argc) return usage();
    argc -= i;
    argv += i;
    if (strcmp(argv[0], "demo") == 0 && argc == 1) return cmd_demo();
    if (strcmp(argv[0], "schema") == 0 && argc == 1) return cmd_schema();
    if (strcmp(argv[0], "get") == 0) return cmd_get(argc, argv);
    if (strcmp(argv[0], "ls") == 0) return cmd_ls(argc, argv);
    if (strcmp(argv[0], "count") == 0) return cmd_count(argc, argv);
    if (strcmp(argv[0], "events") == 0) return cmd_events(argc, argv);
    msg("unknown command %s", argv[0]);
    return usage();
}
