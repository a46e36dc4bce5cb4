/* The names of a store's files outlast a power cut. The fsync of a file covers its data, not the
 * directory entry that names it (POSIX; ext4 without a journal loses it), so a durable commit into
 * a wal or data.mdb made moments before could come back as no store. Here every fsync of a
 * directory and every sync of a file in the store (fsync, fdatasync: interposed, libentity being
 * linked statically and LMDB resolving them through the executable) is recorded in order, with what
 * the directory held at that moment: a new store's directory is synced once its data.mdb and wal
 * are there, before any of its files is synced (any commit called durable), and so is the
 * directory that holds it; a wal made again, or left without a header by an open cut short, has
 * its name synced; `ent_store_copy` syncs the copy's directory and its parent; a store reopened
 * pays no directory sync, nor does a `none` one. */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static const char schema_json[] =
    "{\"schema\":\"ds\",\"version\":1,\"types\":{\"t\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}";

typedef struct sync_ev {
    int dir;           /* 1: a directory's fsync; 0: a file's sync */
    dev_t dev;         /* the directory (dir) */
    ino_t ino;
    int has_data;      /* dir: what it held then */
    int has_wal;
    int has_child;     /* dir: it held an entry named `child` */
    char path[ENT_TEST_PATH_MAX]; /* a file: its path */
} sync_ev;

static sync_ev evs[512];
static int nev;
static char child[256]; /* the name of the store directory in its parent, while a test looks */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void record(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return;
    pthread_mutex_lock(&mu);
    if (nev < (int)(sizeof evs / sizeof evs[0])) {
        sync_ev *ev = &evs[nev++];
        memset(ev, 0, sizeof *ev);
        ev->dir = S_ISDIR(st.st_mode);
        ev->dev = st.st_dev;
        ev->ino = st.st_ino;
        if (ev->dir) {
            ev->has_data = faccessat(fd, "data.mdb", F_OK, 0) == 0;
            ev->has_wal = faccessat(fd, "wal", F_OK, 0) == 0;
            ev->has_child = child[0] && faccessat(fd, child, F_OK, 0) == 0;
        } else {
            char l[64];
            ssize_t n;
            snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
            n = readlink(l, ev->path, sizeof ev->path - 1);
            ev->path[n > 0 ? n : 0] = '\0';
        }
    }
    pthread_mutex_unlock(&mu);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fsync");
    record(fd);
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    record(fd);
    return real(fd);
}

static void reset(const char *name)
{
    pthread_mutex_lock(&mu);
    nev = 0;
    snprintf(child, sizeof child, "%s", name ? name : "");
    pthread_mutex_unlock(&mu);
}

/* The index of the first fsync of directory `dir` (by its inode), -1 when none. */
static int dir_sync(const char *dir)
{
    struct stat st;
    CU_ASSERT_FATAL(stat(dir, &st) == 0);
    for (int i = 0; i < nev; i++)
        if (evs[i].dir && evs[i].dev == st.st_dev && evs[i].ino == st.st_ino) return i;
    return -1;
}

static int dir_syncs(void)
{
    int n = 0;
    for (int i = 0; i < nev; i++) n += evs[i].dir;
    return n;
}

/* The index of the first sync of a file inside dir (by its real path), -1 when none. */
static int first_file_sync(const char *dir)
{
    char real[ENT_TEST_PATH_MAX];
    size_t n;
    CU_ASSERT_FATAL(realpath(dir, real) != NULL);
    n = strlen(real);
    for (int i = 0; i < nev; i++)
        if (!evs[i].dir && !strncmp(evs[i].path, real, n) && evs[i].path[n] == '/') return i;
    return -1;
}

static void create_one(ent_store *s)
{
    ent_entity *e = NULL;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "t")));
    ENT_OK_(ent_entity_set_int(e, "n", 7));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
}

static void open_store(ent_store **s, const char *dir, ent_schema *sc, int d)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.durability = d;
    ENT_OK_(ent_store_open(s, dir, sc, &o));
}

static void test_new_store(void)
{
    static const int modes[] = {ENT_DURABLE, ENT_LAZY};
    char base[ENT_TEST_PATH_MAX], dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ds"));
    ENT_TEST_MKDTEMP(base, "dir-sync");
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        /* a directory the open makes, and one the host made just before (as `entity init` does) */
        for (int host_made = 0; host_made < 2; host_made++) {
            char name[32];
            int d, p, f;
            snprintf(name, sizeof name, "s%zu%d", m, host_made);
            ENT_TEST_PATH(dir, "%s/%s", base, name);
            if (host_made) CU_ASSERT_FATAL(mkdir(dir, 0775) == 0);
            reset(name);
            open_store(&s, dir, sc, modes[m]);
            create_one(s);
            ent_store_close(s);
            d = dir_sync(dir);
            p = dir_sync(base);
            f = first_file_sync(dir);
            CU_ASSERT(d >= 0);
            CU_ASSERT(p >= 0);
            if (d >= 0) {
                CU_ASSERT(evs[d].has_data);
                CU_ASSERT(evs[d].has_wal);
            }
            if (p >= 0) CU_ASSERT(evs[p].has_child);
            /* the names are on the disk before any commit into the files is */
            CU_ASSERT(f >= 0); /* durable syncs at each commit, lazy at least at its close */
            CU_ASSERT(d >= 0 && f > d);
            CU_ASSERT(p >= 0 && f > p);
            if (f <= d || f <= p) fprintf(stderr, "\n  %s: dir sync %d, parent %d, first file sync %d (%s)\n", name, d, p, f, f >= 0 ? evs[f].path : "");
            /* reopened: nothing new to name, no directory sync */
            reset(name);
            open_store(&s, dir, NULL, modes[m]);
            create_one(s);
            ent_store_close(s);
            CU_ASSERT_EQUAL(dir_syncs(), 0);
        }
    }
    {
        /* a relative path without a slash: its parent is the working directory */
        char cwd[ENT_TEST_PATH_MAX];
        int p;
        CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
        CU_ASSERT_FATAL(chdir(base) == 0);
        reset("rel");
        open_store(&s, "rel", sc, ENT_DURABLE);
        ent_store_close(s);
        p = dir_sync(".");
        CU_ASSERT(p >= 0 && evs[p].has_child);
        CU_ASSERT_FATAL(chdir(cwd) == 0);
    }
    /* none: it syncs nothing, its directory neither */
    ENT_TEST_PATH(dir, "%s/none", base);
    reset("none");
    open_store(&s, dir, sc, ENT_NONE);
    create_one(s);
    ent_store_close(s);
    CU_ASSERT_EQUAL(dir_syncs(), 0);
    reset(NULL);
    ent_test_rm_rf(base);
    ent_schema_free(sc);
}

static void test_wal_made_again(void)
{
    char dir[ENT_TEST_PATH_MAX], wal[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    int d, f, fd;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ds"));
    ENT_TEST_MKDTEMP(dir, "dir-sync-wal");
    open_store(&s, dir, sc, ENT_DURABLE);
    create_one(s);
    ent_store_close(s);
    ENT_TEST_PATH(wal, "%s/wal", dir);
    /* moved away after a clean close (a store closed whole opens without it): made again */
    CU_ASSERT_FATAL(unlink(wal) == 0);
    reset(NULL);
    open_store(&s, dir, NULL, ENT_DURABLE);
    create_one(s);
    ent_store_close(s);
    d = dir_sync(dir);
    f = first_file_sync(dir);
    CU_ASSERT(d >= 0);
    if (d >= 0) CU_ASSERT(evs[d].has_wal);
    CU_ASSERT(f > d);
    /* an empty wal, as an open cut short (kill -9) before its first checkpoint leaves it */
    CU_ASSERT_FATAL(unlink(wal) == 0);
    fd = open(wal, O_WRONLY | O_CREAT, 0664);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    reset(NULL);
    open_store(&s, dir, NULL, ENT_DURABLE);
    create_one(s);
    ent_store_close(s);
    d = dir_sync(dir);
    CU_ASSERT(d >= 0);
    CU_ASSERT(first_file_sync(dir) > d);
    ent_test_rm_rf(dir);
    ent_schema_free(sc);
}

static void test_copy(void)
{
    char dir[ENT_TEST_PATH_MAX], base[ENT_TEST_PATH_MAX], dest[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ds"));
    ENT_TEST_MKDTEMP(dir, "dir-sync-src");
    ENT_TEST_MKDTEMP(base, "dir-sync-copy");
    open_store(&s, dir, sc, ENT_DURABLE);
    create_one(s);
    for (int compact = 0; compact < 2; compact++) {
        int d, p, f;
        ENT_TEST_PATH(dest, "%s/c%d", base, compact);
        reset(compact ? "c1" : "c0");
        ENT_OK_(ent_store_copy(s, dest, compact));
        d = dir_sync(dest);
        p = dir_sync(base);
        f = first_file_sync(dest);
        CU_ASSERT(d >= 0 && evs[d].has_data);
        CU_ASSERT(p >= 0 && evs[p].has_child);
        CU_ASSERT(f >= 0 && d > f); /* the name once the data is there: a copy that returned is whole */
    }
    reset(NULL);
    ent_store_close(s);
    ent_test_rm_rf(dir);
    ent_test_rm_rf(base);
    ent_schema_free(sc);
}

/* A store made in a directory its process may write but not read (mode 0311: it cannot be opened
 * to sync): made all the same, as before the syncs (root is run without the capabilities that let
 * it read any directory). */
static void test_parent_unreadable(void)
{
    char base[ENT_TEST_PATH_MAX], dir[ENT_TEST_PATH_MAX], data[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    pid_t pid;
    int st = 0;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ds"));
    ENT_TEST_MKDTEMP(base, "dir-sync-0311");
    ENT_TEST_PATH(dir, "%s/s", base);
    CU_ASSERT_FATAL(chmod(base, 0311) == 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *s = NULL;
        int rc;
        if (geteuid() == 0) {
            struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct cd[2];
            if (syscall(SYS_capget, &ch, cd) != 0) _exit(3);
            cd[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
            if (syscall(SYS_capset, &ch, cd) != 0) _exit(3);
        }
        if (open(base, O_RDONLY | O_DIRECTORY) >= 0) _exit(4); /* the case is not made */
        open_store(&s, dir, sc, ENT_DURABLE);
        rc = s ? ENT_OK : 1;
        if (s) {
            create_one(s);
            ent_store_close(s);
        } else {
            fprintf(stderr, "\n  open in a directory of mode 0311: %s\n", ent_errmsg());
        }
        _exit(rc);
    }
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_FATAL(chmod(base, 0700) == 0);
    ENT_TEST_PATH(data, "%s/data.mdb", dir);
    CU_ASSERT(access(data, F_OK) == 0);
    ent_test_rm_rf(base);
    ent_schema_free(sc);
}

/* ent_store_set_stored_durability() on a handle that syncs nothing (`none`, a read copy's mode;
 * `entity promote --durability durable` calls it on the mirror's handle): the setting is on the
 * disk when the call returns. It was left in the page cache: a power cut before the next sync
 * brought the store back `none` with no word, and every later commit, acknowledged to hosts that
 * open it in the stored mode, synced nothing. */
static void test_stored_durability_synced(void)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "ds"));
    ENT_TEST_MKDTEMP(dir, "dir-sync-setdur");
    open_store(&s, dir, sc, ENT_NONE);
    create_one(s);
    reset(NULL);
    ENT_OK_(ent_store_set_stored_durability(s, ENT_DURABLE));
    CU_ASSERT(first_file_sync(dir) >= 0);
    ent_store_close(s);
    reset(NULL);
    ent_test_rm_rf(dir);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_new_store), ENT_TEST(test_wal_made_again), ENT_TEST(test_copy), ENT_TEST(test_parent_unreadable),
                                          ENT_TEST(test_stored_durability_synced), {NULL, NULL}};
    return ent_test_run("dir_sync", cases);
}
