/* A host program built against an installed libentity and libentity-nats (see run.sh): a relay
 * run once against a port where no NATS server listens fails, naming the problem, after a real
 * connection attempt through the NATS client. */
#include <entity/entity.h>
#include <entity/nats.h>
#include <stdio.h>
#include <string.h>

static const char schema_json[] =
    "{\"schema\":\"host\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\"}}}}}";

int main(void)
{
    ent_schema *schema = NULL;
    ent_store *store = NULL;
    ent_store_opts opts = ENT_STORE_OPTS_INIT;
    ent_relay_opts ropts = ENT_RELAY_OPTS_INIT;
    static volatile int stop = 0;
    int rc;
    opts.backend = "memory";
    if ((rc = ent_schema_load_json(&schema, schema_json, strlen(schema_json), "host")) ||
        (rc = ent_store_open(&store, "", schema, &opts))) {
        fprintf(stderr, "host_nats: %s\n", ent_errmsg());
        return 1;
    }
    ropts.url = "nats://127.0.0.1:1";
    ropts.stream = "HOST";
    ropts.once = 1; /* an unreachable server is then an error, not a retry */
    rc = ent_relay_run(store, &ropts, &stop);
    if (rc == ENT_IO) printf("host_nats ok: %s\n", ent_errmsg());
    else fprintf(stderr, "host_nats: expected ENT_IO, got %s: %s\n", ent_strerror(rc), ent_errmsg());
    ent_store_close(store);
    ent_schema_free(schema);
    return rc == ENT_IO ? 0 : 1;
}
