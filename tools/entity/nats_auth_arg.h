/* The options of a secured NATS (named as the `nats` CLI names them), shared by `entity relay`,
 * `entity mirror` and entity-nats-bench: one parser, one set of names. */
#ifndef ENT_TOOL_NATS_AUTH_ARG_H
#define ENT_TOOL_NATS_AUTH_ARG_H

#include <stddef.h>

#include <entity/nats.h>

/* "--tlsca FILE --tlscert FILE --tlskey FILE --tls-hostname NAME --nkey SEEDFILE --creds FILE" */
#define ENT_TOOL_NATS_AUTH_USAGE \
    "[--tlsca FILE] [--tlscert FILE --tlskey FILE] [--tls-hostname NAME] [--nkey SEEDFILE | --creds FILE]"

/* One of those options at argv[*i] with its value: 1, the value (borrowed from argv) in *a and *i
 * moved past it; 0 when argv[*i] is none of them (or has no value after it); -1 for an empty
 * value, which the library would read as none (`--tlsca "$CA"` with CA unset connected without
 * it): why (size bytes) then says so, naming the option. */
int ent_tool_nats_auth_arg(ent_nats_auth *a, int argc, char **argv, int *i, char *why, size_t size);

/* Whether any member of a is given. */
int ent_tool_nats_auth_any(const ent_nats_auth *a);

#endif
