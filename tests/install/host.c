/* A tiny host program built against an installed libentity (see run.sh): it defines a schema,
 * opens a store, writes, reads back and looks up by index, through the public API only. */
#include <entity/entity.h>
#include <stdio.h>
#include <string.h>

static const char schema_json[] =
    "{\"schema\":\"host\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"stars\":{\"id\":2,\"type\":\"int\",\"indexed\":true,\"default\":0}}}}}";

int main(int argc, char **argv)
{
    ent_schema *schema = NULL;
    ent_store *store = NULL;
    ent_entity *e = NULL, *got = NULL;
    ent_store_opts opts = ENT_STORE_OPTS_INIT;
    const ent_type *note;
    ent_key key;
    ent_value title = ent_value_string("hello");
    const char *s = NULL;
    size_t n = 0;
    int rc;

    int major = -1, minor = -1, patch = -1;
    char hdr[32];

    /* the library found at run time is the one this host was compiled for */
    snprintf(hdr, sizeof hdr, "%d.%d.%d", ENT_VERSION_MAJOR, ENT_VERSION_MINOR, ENT_VERSION_PATCH);
    s = ent_version(&major, &minor, &patch);
    if (strcmp(s, ENT_VERSION_STRING) || strcmp(hdr, ENT_VERSION_STRING) || major != ENT_VERSION_MAJOR ||
        minor != ENT_VERSION_MINOR || patch != ENT_VERSION_PATCH || ent_version(NULL, NULL, NULL) != s) {
        fprintf(stderr, "host: ent_version() says %s (%d.%d.%d), the header %s\n", s, major, minor, patch, ENT_VERSION_STRING);
        return 1;
    }
    s = NULL;
    opts.backend = argc > 1 ? argv[1] : "memory";
    if ((rc = ent_schema_load_json(&schema, schema_json, strlen(schema_json), "host")) ||
        (rc = ent_store_open(&store, argc > 2 ? argv[2] : "", schema, &opts)))
        goto fail;
    note = ent_store_type(store, "note");
    if ((rc = ent_entity_new(&e, note)) || (rc = ent_entity_set_string(e, "title", "hello")) ||
        (rc = ent_create(store, NULL, e)))
        goto fail;
    key = ent_entity_key(e);
    if ((rc = ent_find_unique(&got, store, NULL, ent_type_field(note, "title"), &title))) goto fail;
    if ((rc = ent_entity_get_string(&s, &n, got, "title"))) goto fail;
    printf("host ok: note %llu \"%s\" version %llu\n", (unsigned long long)key.id, s,
           (unsigned long long)ent_entity_version(got));
    ent_entity_free(got);
    ent_entity_free(e);
    ent_store_close(store);
    ent_schema_free(schema);
    return 0;
fail:
    fprintf(stderr, "host: %s: %s\n", ent_strerror(rc), ent_errmsg());
    ent_entity_free(got);
    ent_entity_free(e);
    ent_store_close(store);
    ent_schema_free(schema);
    return 1;
}
