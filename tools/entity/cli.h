/* Shared pieces of the entity tool. */
#ifndef ENT_CLI_H
#define ENT_CLI_H

#include <entity/entity.h>
#include <stdio.h>
#include <sys/types.h>

extern const char *store_dir;
extern const char *prog_name; /* argv[0]: how the user ran the tool (./build/entity, entity) */

void put_line(FILE *f, const char *s);      /* s and a newline, control characters as \xNN */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "entity: ..." on stderr */
/* Flush stdout: 1 when writing it failed (a full disk, a closed pipe when SIGPIPE is ignored),
 * with one "writing the output" message per run, else 0. */
int out_failed(void);
void out_line(const char *s); /* s and a newline on stdout; out_failed() tells a failed write */
int fail(const char *what);                  /* library failure message, returns 1 */
/* A non-negative integer option value; else a message and 2 (wrong usage). */
int parse_u64(uint64_t *out, const char *text, const char *what);
/* s as one shell word into out (a command printed for pasting): 0, or -1 when out is too small */
int shell_word(char *out, size_t size, const char *s);
int is_option(const char *arg);              /* "--word": an option, never a name or a value */
int usage(void);                             /* usage on stderr, returns 2 */
/* What a command lacks ("get needs KEY"), then usage(); returns 2. A usage alone said nothing of
 * which word was missing. */
int missing(const char *cmd, const char *what);
/* A command's word its parser does not take: named (an option without its value, OPT=VALUE,
 * an unknown option, an extra word), then usage(); returns 2. */
int bad_word(const char *cmd, const char *word);
/* get, rm and patch TYPE -- KEY ...: "--" between TYPE and KEY ends the options as elsewhere (a
 * key may start with '-'); argv is turned into TYPE KEY [-- rest], *argc adjusted. Returns 0, or
 * 2 with a message ("--" with no KEY after it; a second operand after get's or rm's KEY). */
int key_after_dashes(int *argc, char **argv);
int open_store(ent_store **out, int read_only); /* the store at store_dir, never created */
/* Whether the store a command has open is still the one at its path (ent_store_check_path()): 0 it
 * is (or cannot tell: a permission taken away), 1 its data.mdb was removed, 2 it is another file
 * (another store moved there, a backup put back). Every other process reads and writes the store
 * at the path, not the files a long-running command has open. */
int store_moved(ent_store *s);
/* "durable", "lazy" or "none" into *out; else a message and 2 (usage) */
int durability_arg(int *out, const char *text);
int parse_key(ent_key *out, const ent_type *t, const char *text);       /* with a message */
int parse_key_quiet(ent_key *out, const ent_type *t, const char *text); /* 1 when not a key */
int print_entity(const ent_entity *e, unsigned flags);
/* 1 when a JSON text of len bytes may be parsed: jansson's lexer overran its buffer short of
 * memory in a large text, so one of 1 MiB or more needs 4 times its size free; else 0. */
int room_to_parse(size_t len);
const ent_type *type_arg(ent_store *s, const char *name);
/* ent_iter_next() for a listing that goes on past damage: an entity whose record (or index entry)
 * is damaged (ENT_CORRUPT) is named as "entity: WHAT: ... (left out)", counted in *damaged and
 * skipped. Returns as ent_iter_next() otherwise (ENT_CORRUPT only when the iterator did not move
 * past it, which would repeat it for ever). */
int next_sound(ent_entity **out, ent_iter *it, const char *what, uint64_t *damaged);
/* After a listing: when damaged, "N damaged entities left out" and 1 (a listing short of an
 * entity must not pass for whole), else 0. */
int damaged_left_out(const char *what, uint64_t damaged);

int cmd_demo(void);
int cmd_init(int argc, char **argv);
int cmd_schema_apply(const char *file);
int cmd_put(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_find(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_subs(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_trim(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_relay(int argc, char **argv);  /* nats_cmds.c, when built with NATS; else main.c answers */
int cmd_mirror(int argc, char **argv);
int cmd_serve(int argc, char **argv);  /* serve.c, when built with entity-http; else main.c answers */

#endif
