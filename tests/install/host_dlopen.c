/* A host that loads the installed shared libraries at run time, as a plugin host does (see run.sh):
 * dlopen(), use, dlclose(), three times. usage: host_dlopen LIBENTITY_SO LMDB_DIR [LIBENTITY_NATS_SO]
 *
 * libentity.so: a store of each backend opened, written, closed; a failure's message read; after
 * dlclose() the library is gone (nothing of it keeps it loaded: no thread, no handler).
 * libentity-nats.so: a relay run once against a port where nothing listens starts libnats's own
 * threads (its timers and callbacks), which live until the process ends. Unloaded with
 * libentity-nats, libnats's code would go from under them (a crash when one wakes: a SIGSEGV
 * after the third round, at random), and each round would start three more: libentity-nats stays
 * loaded (-z nodelete), so its second and third rounds start no thread. */
#define _GNU_SOURCE
#include <entity/entity.h>
#ifdef WITH_NATS /* run.sh: where libentity-nats is installed */
#include <entity/nats.h>
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const char schema_json[] =
    "{\"schema\":\"host\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\",\"required\":true}}}}}";

static int threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    if (!d) return -1;
    while ((de = readdir(d))) n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* POSIX's way to a function pointer from dlsym() (ISO C has no cast between the two kinds) */
#define SYM(h, var, name)                                                                          \
    do {                                                                                           \
        *(void **)(&var) = dlsym(h, name);                                                         \
        if (!var) {                                                                                \
            fprintf(stderr, "host_dlopen: no %s: %s\n", name, dlerror());                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int core_round(const char *so, const char *dir, int round)
{
    int (*load)(ent_schema **, const char *, size_t, const char *);
    int (*open)(ent_store **, const char *, const ent_schema *, const ent_store_opts *);
    void (*close)(ent_store *);
    void (*schema_free)(ent_schema *);
    const ent_type *(*type)(const ent_store *, const char *);
    int (*entity_new)(ent_entity **, const ent_type *);
    int (*set_string)(ent_entity *, const char *, const char *);
    int (*create)(ent_store *, ent_txn *, ent_entity *);
    void (*entity_free)(ent_entity *);
    const char *(*errmsg)(void);
    ent_schema *schema = NULL;
    ent_store *stores[2] = {NULL, NULL}, *missing = NULL;
    ent_store_opts opts[2] = {ENT_STORE_OPTS_INIT, ENT_STORE_OPTS_INIT};
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "host_dlopen: %s\n", dlerror());
        return 1;
    }
    SYM(h, load, "ent_schema_load_json");
    SYM(h, open, "ent_store_open");
    SYM(h, close, "ent_store_close");
    SYM(h, schema_free, "ent_schema_free");
    SYM(h, type, "ent_store_type");
    SYM(h, entity_new, "ent_entity_new");
    SYM(h, set_string, "ent_entity_set_string");
    SYM(h, create, "ent_create");
    SYM(h, entity_free, "ent_entity_free");
    SYM(h, errmsg, "ent_errmsg");
    opts[1].backend = "memory";
    opts[0].map_size = (size_t)16 << 20; /* valgrind maps no 64 GiB */
    if (load(&schema, schema_json, strlen(schema_json), "host") != ENT_OK) goto fail;
    for (int i = 0; i < 2; i++) {
        ent_entity *e = NULL;
        if (open(&stores[i], i ? NULL : dir, schema, &opts[i]) != ENT_OK ||
            entity_new(&e, type(stores[i], "note")) != ENT_OK || set_string(e, "title", "dl") != ENT_OK ||
            create(stores[i], NULL, e) != ENT_OK) {
            entity_free(e);
            goto fail;
        }
        entity_free(e);
    }
    opts[0].no_create = 1;
    if (open(&missing, "/nonexistent/entity-store", schema, &opts[0]) != ENT_NOTFOUND ||
        !strstr(errmsg(), "/nonexistent/entity-store")) {
        fprintf(stderr, "host_dlopen: a missing store: %s\n", errmsg());
        return 1;
    }
    close(stores[1]);
    close(stores[0]);
    schema_free(schema);
    dlclose(h);
    if (dlopen(so, RTLD_NOW | RTLD_NOLOAD)) {
        fprintf(stderr, "host_dlopen: round %d: %s is still loaded after dlclose()\n", round, so);
        return 1;
    }
    return 0;
fail:
    fprintf(stderr, "host_dlopen: round %d: %s\n", round, errmsg());
    return 1;
}

#ifdef WITH_NATS
static int nats_round(const char *so, int round, int *threads_after)
{
    /* the core's calls through libentity-nats's handle (the library it needs): this host links
     * no libentity */
    int (*run)(ent_store *, const ent_relay_opts *, volatile int *);
    int (*load)(ent_schema **, const char *, size_t, const char *);
    int (*open)(ent_store **, const char *, const ent_schema *, const ent_store_opts *);
    void (*close)(ent_store *);
    void (*schema_free)(ent_schema *);
    const char *(*errmsg)(void);
    ent_schema *schema = NULL;
    ent_store *store = NULL;
    ent_store_opts opts = ENT_STORE_OPTS_INIT;
    ent_relay_opts ropts = ENT_RELAY_OPTS_INIT;
    static volatile int stop = 0;
    int rc;
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "host_dlopen: %s\n", dlerror());
        return 1;
    }
    SYM(h, run, "ent_relay_run");
    SYM(h, load, "ent_schema_load_json");
    SYM(h, open, "ent_store_open");
    SYM(h, close, "ent_store_close");
    SYM(h, schema_free, "ent_schema_free");
    SYM(h, errmsg, "ent_errmsg");
    opts.backend = "memory";
    if (load(&schema, schema_json, strlen(schema_json), "host") != ENT_OK ||
        open(&store, NULL, schema, &opts) != ENT_OK) {
        fprintf(stderr, "host_dlopen: %s\n", errmsg());
        return 1;
    }
    ropts.url = "nats://127.0.0.1:1";
    ropts.stream = "HOST";
    ropts.once = 1;
    rc = run(store, &ropts, &stop);
    if (rc != ENT_IO) {
        fprintf(stderr, "host_dlopen: relay round %d: %d: %s\n", round, rc, errmsg());
        return 1;
    }
    close(store);
    schema_free(schema);
    dlclose(h);
    *threads_after = threads();
    return 0;
}
#endif

int main(int argc, char **argv)
{
    int before;
#ifdef WITH_NATS
    int after[3];
#endif
    if (argc < 3) {
        fprintf(stderr, "usage: host_dlopen LIBENTITY_SO LMDB_DIR [LIBENTITY_NATS_SO]\n");
        return 2;
    }
    before = threads();
    for (int round = 0; round < 3; round++)
        if (core_round(argv[1], argv[2], round)) return 1;
    if (threads() != before) {
        fprintf(stderr, "host_dlopen: %d threads after libentity's rounds, %d before\n", threads(), before);
        return 1;
    }
    printf("host_dlopen ok: libentity loaded, used and unloaded 3 times\n");
#ifndef WITH_NATS
    return argc < 4 ? 0 : 2;
#else
    if (argc < 4) return 0;
    for (int round = 0; round < 3; round++)
        if (nats_round(argv[3], round, &after[round])) return 1;
    if (after[1] != after[0] || after[2] != after[0]) {
        fprintf(stderr, "host_dlopen: threads after each relay round: %d, %d, %d (libnats unloaded under "
                        "its threads, new ones each time)\n", after[0], after[1], after[2]);
        return 1;
    }
    printf("host_dlopen ok: libentity-nats loaded, used and closed 3 times, %d threads\n", after[2]);
    return 0;
#endif
}
