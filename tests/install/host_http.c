/* A host program built against an installed libentity and entity-http (see run.sh): it serves a
 * memory store on a free port and asks for one entity over a socket, through the public APIs. */
#include <arpa/inet.h>
#include <entity/entity.h>
#include <entity/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char schema_json[] =
    "{\"schema\":\"host\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\"}}}}}";

/* GET path from 127.0.0.1:port; the whole answer in buf (NUL-terminated). */
static int get(unsigned port, const char *path, char *buf, size_t cap)
{
    struct sockaddr_in a;
    char req[256];
    size_t n = 0;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) || write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
    buf[n] = '\0';
    close(fd);
    return 0;
}

int main(void)
{
    ent_schema *schema = NULL;
    ent_store *store = NULL;
    ent_entity *e = NULL;
    ent_http *h = NULL;
    ent_store_opts opts = ENT_STORE_OPTS_INIT;
    ent_http_opts hopts;
    char answer[4096];
    int rc, ok;

    opts.backend = "memory";
    memset(&hopts, 0, sizeof hopts);
    hopts.version = ENT_HTTP_OPTS_VERSION;
    hopts.listen = "127.0.0.1:0";
    if ((rc = ent_schema_load_json(&schema, schema_json, strlen(schema_json), "host")) ||
        (rc = ent_store_open(&store, "", schema, &opts)) || (rc = ent_entity_new(&e, ent_store_type(store, "note"))) ||
        (rc = ent_entity_set_string(e, "title", "over http")) || (rc = ent_create(store, NULL, e)) ||
        (rc = ent_http_start(&h, store, &hopts))) {
        fprintf(stderr, "host_http: %s: %s\n", ent_strerror(rc), ent_errmsg());
        return 1;
    }
    ok = get(ent_http_port(h), "/api/note/1", answer, sizeof answer) == 0 && strstr(answer, " 200 ") &&
         strstr(answer, "\"title\":\"over http\"");
    if (ok) printf("host_http ok: note 1 over http\n");
    else fprintf(stderr, "host_http: unexpected answer:\n%s\n", answer);
    ent_http_stop(h);
    ent_entity_free(e);
    ent_store_close(store);
    ent_schema_free(schema);
    return ok ? 0 : 1;
}
