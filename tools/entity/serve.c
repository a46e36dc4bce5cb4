/* entity serve: the store over HTTP (entity-http), until SIGINT or SIGTERM. */
#include <entity/entity.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"

#ifdef ENT_HAVE_HTTP
#include <entity/http.h>
#include <pthread.h>

/* The last line logged, so that a refused start's reason, which the library logs too, is said
 * once. Under a lock: once started, the server logs from its connection and stream threads. */
static char last_logged[1024];
static pthread_mutex_t last_logged_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_line(const char *line, void *payload)
{
    (void)payload;
    pthread_mutex_lock(&last_logged_mu);
    snprintf(last_logged, sizeof last_logged, "%s", line);
    pthread_mutex_unlock(&last_logged_mu);
    msg("serve: %s", line);
}

/* The longest token taken: far above any bearer token, far below the 16 KiB a request head holds. */
#define TOKEN_MAX 4096
/* The longest first line read: the token and the blanks after it, which are trimmed (an editor's
 * or a generator's padding), so the token's bound applies after the trim. */
#define TOKEN_LINE_MAX (64 * 1024)

/* The token: the file's first line, without its line end and trailing blanks. Returns 0, or 1
 * with a message. Read with a bound (getline() read --token-file /dev/zero until memory ran out),
 * and a NUL byte is refused: the token is a C string, and "abc\0def" served as the token "abc". */
static int read_token(char **out, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t n = 0;
    int c = 0, err = 0, cut = 0;
    const char *bad = NULL;
    if (!f) {
        msg("serve: --token-file %s: %s", path, strerror(errno));
        return 1;
    }
    if (!(line = malloc(TOKEN_LINE_MAX + 1))) {
        fclose(f);
        msg("serve: --token-file %s: out of memory", path);
        return 1;
    }
    while (n < TOKEN_LINE_MAX && (c = getc(f)) != EOF && c != '\n') line[n++] = (char)c;
    /* a line of exactly TOKEN_LINE_MAX bytes is whole when its end comes next (it was cut
     * whatever followed, so a 4096-byte token with its 64 blanks was "too long") */
    if (n == TOKEN_LINE_MAX && (c = getc(f)) != EOF && c != '\n') cut = 1;
    if (ferror(f)) err = errno;
    fclose(f);
    line[n] = '\0';
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';
    if (err) bad = strerror(err);
    else if (cut) bad = "its first line is too long for a token (over 65536 bytes; a token is 4096 bytes at most)";
    else if (n > TOKEN_MAX) bad = "its first line is too long for a token (4096 bytes at most, after trailing blanks)";
    else if (memchr(line, '\0', n)) bad = "its first line holds a NUL byte";
    else if (!n) bad = "no token in its first line";
    if (bad) {
        free(line);
        msg("serve: --token-file %s: %s", path, bad);
        return 1;
    }
    {
        char *fit = realloc(line, n + 1); /* the line's room, not kept for the server's life */
        if (fit) line = fit;
    }
    *out = line;
    return 0;
}

/* serve [--listen ADDR:PORT] [--token-file F] [--read-only] [--max-body BYTES] [--allow-host NAME[,NAME]]
 *       [--max-clients N] [--max-streams-per-address N] [--request-timeout SECONDS] [--client-buffer BYTES] [--heartbeat SECONDS]
 *       [--wait SUB] [--wait-timeout MS] */
int cmd_serve(int argc, char **argv)
{
    ent_http_opts o = ENT_HTTP_OPTS_INIT;
    const char *token_file = NULL;
    char *token = NULL, *hosts = NULL;
    ent_store *s = NULL;
    ent_http *h = NULL;
    sigset_t sigs;
    uint64_t v;
    int rc = 0, sig = 0;
    for (int i = 1; i < argc && !rc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) o.listen = argv[++i];
        else if (!strcmp(argv[i], "--token-file") && i + 1 < argc) token_file = argv[++i];
        else if (!strcmp(argv[i], "--read-only")) o.read_only = 1;
        else if (!strcmp(argv[i], "--max-body") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--max-body"))) break;
            if (!v) rc = (msg("--max-body must be at least 1"), 2);
            o.max_body = (size_t)v;
        } else if (!strcmp(argv[i], "--client-buffer") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--client-buffer"))) break;
            if (!v) rc = (msg("--client-buffer must be at least 1"), 2);
            o.client_buffer = (size_t)v;
        } else if (!strcmp(argv[i], "--heartbeat") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--heartbeat"))) break;
            if (!v || v > 3600) rc = (msg("--heartbeat must be 1 to 3600 seconds"), 2);
            o.heartbeat_ms = (unsigned)v * 1000;
        } else if (!strcmp(argv[i], "--allow-host") && i + 1 < argc) {
            /* repeatable: every use's names, joined as the library takes them */
            const char *name = argv[++i];
            size_t have = hosts ? strlen(hosts) : 0, len = strlen(name);
            char *more;
            if (!name[0] || strpbrk(name, " \t"))
                rc = (msg("--allow-host: \"%s\" is not a host name (NAME, .DOMAIN for it and its subdomains, or *)", name), 2);
            else if (name[0] == ',' || name[len - 1] == ',' || strstr(name, ",,")) /* names nothing: a typo */
                rc = (msg("--allow-host: \"%s\" has an empty name between its commas", name), 2);
            else if (!(more = realloc(hosts, have + strlen(name) + 2))) rc = (msg("serve: out of memory"), 1);
            else snprintf((hosts = more) + have, strlen(name) + 2, "%s%s", have ? "," : "", name);
        } else if (!strcmp(argv[i], "--max-clients") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--max-clients"))) break;
            if (!v || v > 100000) rc = (msg("--max-clients must be 1 to 100000"), 2);
            o.max_clients = (unsigned)v;
        } else if (!strcmp(argv[i], "--max-streams-per-address") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--max-streams-per-address"))) break;
            if (!v || v > 100000) rc = (msg("--max-streams-per-address must be 1 to 100000"), 2);
            o.max_streams_per_addr = (unsigned)v;
        } else if (!strcmp(argv[i], "--request-timeout") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--request-timeout"))) break;
            if (!v || v > 3600) rc = (msg("--request-timeout must be 1 to 3600 seconds"), 2);
            o.request_timeout_ms = (unsigned)v * 1000;
        } else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
            /* every write waits for SUB's acknowledgement unless its ?wait= names another */
            o.wait_sub = argv[++i];
            if (!o.wait_sub[0]) rc = (msg("--wait needs a subscription name (e.g. relay)"), 2);
        } else if (!strcmp(argv[i], "--wait-timeout") && i + 1 < argc) {
            if ((rc = parse_u64(&v, argv[++i], "--wait-timeout"))) break;
            if (!v || v > 3600000) rc = (msg("--wait-timeout must be 1 to 3600000 ms"), 2);
            o.wait_ms = (unsigned)v;
        } else rc = bad_word(argv[0], argv[i]);
    }
    if (rc) {
        free(hosts);
        return rc;
    }
    o.allow_hosts = hosts;
    if (token_file && read_token(&token, token_file)) return (free(hosts), 1);
    {
        /* every connection is a file: the soft limit (often 1024) up to the hard one, as servers
         * do, so that --max-clients (default 1000) fits; the server lowers it if not */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    o.token = token;
    o.log = log_line;
    if ((rc = open_store(&s, o.read_only))) {
        free(token);
        free(hosts);
        return rc;
    }
    /* SIGINT and SIGTERM are blocked before the server's threads start, so they inherit the mask
     * and the signal reaches sigwait() below, not a random thread. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = ent_http_start(&h, s, &o);
    free(token);
    free(hosts);
    if (rc) {
        if (strcmp(ent_errmsg(), last_logged))
            msg("serve: cannot start: %s", ent_errmsg()[0] ? ent_errmsg() : ent_strerror(rc));
        ent_store_close(s);
        return rc == ENT_INVALID ? 2 : 1; /* the options' own values (--listen) */
    }
    {
        const char *l = o.listen ? o.listen : "127.0.0.1:8080", *colon = strrchr(l, ':');
        /* the port actually bound (port 0 asks for a free one): tests read it from this line */
        msg("serving %s on http://%.*s:%u/%s%s; SIGINT or SIGTERM stops", store_dir, (int)(colon ? colon - l : 0), l,
            ent_http_port(h), o.read_only ? " (read-only)" : "", token_file ? " (token required)" : "");
    }
    {
        /* A store removed, or replaced by another (moved to its path, a backup put back), under
         * the server: its clients' writes went on into the files it has open, which no other
         * process reads any more (201s for writes lost, or kept in a store moved away). It stops
         * as the relay and the mirror do, looking every 200 ms between signals. */
        int how = 0;
        for (;;) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            sig = sigtimedwait(&sigs, NULL, &ts);
            if (sig == SIGINT || sig == SIGTERM) break;
            if ((how = store_moved(s))) break;
        }
        if (how == 1)
            msg("serve: %s/data.mdb was removed: the store it served is gone; serve stops (run it again on the store "
                "at that path)", store_dir);
        else if (how == 2)
            msg("serve: %s/data.mdb is another file now (the store was replaced); serve stops (run it again on the "
                "store now there)", store_dir);
        else msg("serve: %s: closing the clients", sig == SIGINT ? "SIGINT" : "SIGTERM");
        ent_http_stop(h);
        ent_store_close(s);
        return how ? 1 : 0;
    }
}
#endif /* without entity-http, main.c's cmd_unbuilt() answers serve */
