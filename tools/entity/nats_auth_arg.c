/* The options of a secured NATS (nats_auth_arg.h). */
#include <stdio.h>
#include <string.h>

#include "nats_auth_arg.h"

static const struct {
    const char *opt;
    size_t off;
} opts[] = {{"--tlsca", offsetof(ent_nats_auth, tls_ca)},   {"--tlscert", offsetof(ent_nats_auth, tls_cert)},
            {"--tlskey", offsetof(ent_nats_auth, tls_key)}, {"--tls-hostname", offsetof(ent_nats_auth, tls_hostname)},
            {"--nkey", offsetof(ent_nats_auth, nkey_seed)}, {"--creds", offsetof(ent_nats_auth, creds)}};

int ent_tool_nats_auth_arg(ent_nats_auth *a, int argc, char **argv, int *i, char *why, size_t size)
{
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if (!strcmp(argv[*i], opts[k].opt) && *i + 1 < argc) {
            if (!*argv[*i + 1]) {
                snprintf(why, size, "%s needs a %s, not an empty word", opts[k].opt, k == 3 ? "name" : "file");
                return -1;
            }
            *(const char **)((char *)a + opts[k].off) = argv[++*i];
            return 1;
        }
    return 0;
}

int ent_tool_nats_auth_any(const ent_nats_auth *a)
{
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if (*(const char *const *)((const char *)a + opts[k].off)) return 1;
    return 0;
}
