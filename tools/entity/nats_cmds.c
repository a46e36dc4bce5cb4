/* entity relay / entity mirror: the NATS component (entity/nats.h) driven from the command line.
 * Runs until SIGINT or SIGTERM (exit 0), or with --once until the work present at start is done. */
#include <entity/entity.h>
#include <entity/nats.h>
#include <nats/nats.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nats_auth_arg.h"

static volatile int stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void state_line(const char *line, void *payload)
{
    (void)payload;
    msg("%s", line);
}

/* One of the options of a secured NATS at argv[*i] (nats_auth_arg.c, the parser entity-nats-bench
 * shares), its value taken: 1; else 0; -1 (said) for an empty value. */
static int auth_arg(ent_nats_auth *a, int argc, char **argv, int *i)
{
    char why[128];
    int rc = ent_tool_nats_auth_arg(a, argc, argv, i, why, sizeof why);
    if (rc < 0) msg("%s: %s", argv[0], why);
    return rc;
}

/* --nats URL --stream NAME [--once] [auth] plus the options in `extra` (each taking a value). */
static int parse_common(int argc, char **argv, const char **url, const char **stream, int *once, ent_nats_auth *auth,
                        const char *extra, const char **extra_val)
{
    for (int i = 1; i < argc; i++) {
        int a = auth_arg(auth, argc, argv, &i);
        if (a < 0) return 2;
        if (a) continue;
        if (!strcmp(argv[i], "--nats") && i + 1 < argc) *url = argv[++i];
        else if (!strcmp(argv[i], "--stream") && i + 1 < argc) *stream = argv[++i];
        else if (!strcmp(argv[i], "--once")) *once = 1;
        else if (extra && !strcmp(argv[i], extra) && i + 1 < argc) *extra_val = argv[++i];
        else return bad_word(argv[0], argv[i]);
    }
    if (!*url || !*stream) return missing(argv[0], !*url && !*stream ? "--nats URL and --stream NAME" : !*url ? "--nats URL" : "--stream NAME");
    return 0;
}

/* A URL, stream name or primary id that no server could ever take is the caller's mistake: wrong
 * usage (2), told before the store is opened or anything connected. It exited 1 as a failure,
 * like an unreachable server or a stream the server refuses, which stay 1. */
static int check_syntax(const char *cmd, const char *url, const char *stream, const char *primary_id)
{
    if (ent_nats_check(url, stream, primary_id) == ENT_OK) return 0;
    msg("%s: %s", cmd, ent_errmsg()); /* one line, as every wrong value of an option says */
    return 2;
}

/* The TLS, NKey and credentials options, before the store is opened or a mirror's directory made:
 * options that do not go together (a certificate without its key, two ways to authenticate) are
 * wrong usage (2); a file that cannot be read or is not of its kind exits 1, as serve's
 * --token-file does. */
static int check_auth(const char *cmd, const char *url, const ent_nats_auth *auth)
{
    int rc = ent_nats_check_auth(url, auth);
    if (rc == ENT_OK) return 0;
    msg("%s: %s", cmd, ent_errmsg());
    return rc == ENT_INVALID ? 2 : 1;
}

/* relay --nats URL --stream NAME [--once] [--window N] [auth] */
int cmd_relay(int argc, char **argv)
{
    ent_relay_opts o = ENT_RELAY_OPTS_INIT;
    const char *window = NULL;
    ent_store *s = NULL;
    int rc;
    if ((rc = parse_common(argc, argv, &o.url, &o.stream, &o.once, &o.auth, "--window", &window))) return rc;
    if ((rc = check_syntax(argv[0], o.url, o.stream, NULL))) return rc;
    if (window) {
        uint64_t w;
        if ((rc = parse_u64(&w, window, "--window"))) return rc;
        if (w < 1 || w > 1000000) {
            msg("--window: give 1 to 1000000 messages, not %s", window);
            return 2;
        }
        o.window = (int)w;
    }
    if ((rc = check_auth(argv[0], o.url, &o.auth))) return rc;
    o.log = state_line;
    if ((rc = open_store(&s, 0))) return rc;
    catch_signals();
    rc = ent_relay_run(s, &o, &stop_flag) == ENT_OK ? 0 : fail("relay");
    ent_store_close(s);
    nats_Close();
    return rc;
}

/* mirror --nats URL --stream NAME [--once] [--primary ID] [--durability durable|lazy|none]
 * The durability is the mirror store's: stored when this run creates it (default durable), used
 * for this run when it exists (default: the stored one). */
int cmd_mirror(int argc, char **argv)
{
    ent_follow_opts o = ENT_FOLLOW_OPTS_INIT;
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    int rc;
    for (int i = 1; i < argc; i++) {
        int a = auth_arg(&o.auth, argc, argv, &i);
        if (a < 0) return 2;
        if (a) continue;
        if (!strcmp(argv[i], "--nats") && i + 1 < argc) o.url = argv[++i];
        else if (!strcmp(argv[i], "--stream") && i + 1 < argc) o.stream = argv[++i];
        else if (!strcmp(argv[i], "--once")) o.once = 1;
        else if (!strcmp(argv[i], "--primary") && i + 1 < argc) o.primary_id = argv[++i];
        else if (!strcmp(argv[i], "--durability") && i + 1 < argc) {
            if ((rc = durability_arg(&so.durability, argv[++i]))) return rc;
        } else return bad_word(argv[0], argv[i]);
    }
    if (!o.url || !o.stream)
        return missing(argv[0], !o.url && !o.stream ? "--nats URL and --stream NAME" : !o.url ? "--nats URL" : "--stream NAME");
    if ((rc = check_syntax(argv[0], o.url, o.stream, o.primary_id))) return rc;
    if ((rc = check_auth(argv[0], o.url, &o.auth))) return rc;
    o.store_opts = &so;
    o.log = state_line;
    catch_signals();
    rc = ent_follow_run(store_dir, &o, &stop_flag) == ENT_OK ? 0 : fail("mirror");
    nats_Close();
    return rc;
}
