/* Waits under a wall clock that steps (NTP, an operator's `date`, a virtual machine resumed): the
 * binary is linked with -Wl,--wrap=clock_gettime, so every CLOCK_REALTIME read of the library
 * (linked statically) goes through the wrapper below, which adds a chosen offset; the kernel's
 * own clock, which pthread_cond_timedwait() compares a deadline with, does not move. An offset of
 * +1 hour is a step back by an hour just after each deadline was computed: a wait measured on the
 * wall clock sleeps an hour more. A timeout must measure the monotonic clock: a memory store's
 * ent_log_wait(), and an LMDB map growth's wait for the other transactions of its process. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

int __real_clock_gettime(clockid_t clk, struct timespec *ts);

static volatile time_t wall_offset_s;

/* The monotonic clock shifted back by less than a second: mono_arm set, the next CLOCK_MONOTONIC
 * read is made to fall 1 ns before a whole second (mono_first), and the reads after it keep the
 * same offset, so they advance as the kernel's clock does. */
static volatile int mono_arm;
static volatile long mono_offset_ns;
static struct timespec mono_first;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    int rc = __real_clock_gettime(clk, ts);
    if (rc == 0 && clk == CLOCK_REALTIME) ts->tv_sec += wall_offset_s;
    if (rc == 0 && clk == CLOCK_MONOTONIC) {
        if (mono_arm) {
            mono_arm = 0;
            mono_offset_ns = ts->tv_nsec + 1;
            mono_first.tv_sec = ts->tv_sec - 1;
            mono_first.tv_nsec = 999999999;
        }
        ts->tv_nsec -= mono_offset_ns;
        if (ts->tv_nsec < 0) {
            ts->tv_nsec += 1000000000L;
            ts->tv_sec--;
        }
    }
    return rc;
}

static const char schema_json[] =
    "{\"schema\":\"c\",\"version\":1,\"types\":{\"tick\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"uint\"},\"p\":{\"id\":2,\"type\":\"string\"}}}}}";

static void open_mem(ent_store **s, ent_schema **sc)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = "memory";
    ENT_OK_(ent_schema_load_json(sc, schema_json, strlen(schema_json), "c"));
    ENT_OK_(ent_store_open(s, NULL, *sc, &o));
}

/* The wrapper is in the link: the library's event times take the offset. Without this, the test
 * below could pass for a wrapper that never ran. */
static void t_wrapper_reaches_library(void)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_entity *e = NULL;
    ent_event *ev = NULL;
    struct timespec now;
    open_mem(&s, &sc);
    wall_offset_s = 3600;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_log_get(&ev, s, NULL, 1));
    __real_clock_gettime(CLOCK_REALTIME, &now);
    wall_offset_s = 0;
    CU_ASSERT(ev->ts / 1000000000 >= (int64_t)now.tv_sec + 3000);
    ent_event_free(ev);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A memory store's ent_log_wait() with a 50 ms timeout and no commit: ENT_TIMEOUT, not an hour
 * later. The alarm ends a run that sleeps the hour (as it did). */
static void t_memory_wait_wall_clock_step_back(void)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    uint64_t last = 99;
    open_mem(&s, &sc);
    wall_offset_s = 3600;
    alarm(30);
    ENT_CHECK_RC(ent_log_wait(&last, s, 0, 50), ENT_TIMEOUT);
    alarm(0);
    wall_offset_s = 0;
    CU_ASSERT_EQUAL(last, 0);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A read transaction held by another thread of the process while a write must grow the map: the
 * growth waits for it 10 s (GROW_WAIT_S), then the write gives way with ENT_BUSY (the reader may
 * be waiting for the writer). That wait measured the wall clock: with it stepped back an hour, the
 * write waited the hour. Not under ThreadSanitizer, whose builds keep the wall clock there
 * (backend_lmdb_env.c). */
#if !defined(__SANITIZE_THREAD__)
typedef struct holder {
    ent_store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held, done, rc;
} holder;

static void *hold_read(void *p)
{
    holder *h = p;
    ent_txn *t = NULL;
    h->rc = ent_txn_begin(&t, h->s, ENT_TXN_READ);
    pthread_mutex_lock(&h->mu);
    h->held = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->done) pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    ent_txn_abort(t);
    return NULL;
}
#endif

static void t_lmdb_growth_wait_wall_clock_step_back(void)
{
#if defined(__SANITIZE_THREAD__)
    printf("(skipped under ThreadSanitizer) ");
#else
    char dir[ENT_TEST_PATH_MAX];
    static char big[16 * 1024];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    holder h = {0};
    pthread_t th;
    int rc = ENT_OK, n = 0;
    ENT_TEST_MKDTEMP(dir, "clock-step");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "c"));
    o.map_size = ENT_MAP_SIZE_MIN;
    o.durability = ENT_NONE;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    memset(big, 'x', sizeof big - 1);
    h.s = s;
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, hold_read, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.held) pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    ENT_OK_(h.rc);
    wall_offset_s = 3600;
    alarm(120);
    /* Each create adds 16 KiB: the map (64 KiB, then what the open made of it) fills within a
     * few hundred; the loop's bound only ends a broken run. */
    while (rc == ENT_OK && n++ < 100000) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(s, "tick")));
        ENT_OK_(ent_entity_set_string(e, "p", big));
        rc = ent_create(s, NULL, e);
        ent_entity_free(e);
    }
    alarm(0);
    wall_offset_s = 0;
    ENT_CHECK_RC(rc, ENT_BUSY);
    ENT_ASSERT_MSG("stayed open");
    pthread_mutex_lock(&h.mu);
    h.done = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
#endif
}

/* ent_log_wait() measured its elapsed time in milliseconds of each field apart: the nanoseconds'
 * difference, negative when a whole second of the clock passes between its two reads, was cut
 * toward zero, so a few microseconds across one read as up to a millisecond. A 1 ms wait begun
 * just before a whole second returned ENT_TIMEOUT at once without waiting (test_follow_process
 * counted on that wait to clear a killed follower's count, and found it left). Here it begins 1 ns
 * before one: its ENT_TIMEOUT must come 1 ms or more after it began, on the clock it reads. A
 * wait that sleeps longer passes; only one cut short fails. */
static void t_wait_across_a_whole_second(void)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    struct timespec end;
    uint64_t last = 99;
    long long ns;
    open_mem(&s, &sc);
    mono_arm = 1; /* ent_log_wait()'s first read of the clock is its start */
    ENT_CHECK_RC(ent_log_wait(&last, s, 0, 1), ENT_TIMEOUT);
    CU_ASSERT_EQUAL(mono_arm, 0); /* it read the clock */
    clock_gettime(CLOCK_MONOTONIC, &end);
    mono_offset_ns = 0;
    ns = (long long)(end.tv_sec - mono_first.tv_sec) * 1000000000LL + (end.tv_nsec - mono_first.tv_nsec);
    if (ns < 1000000) fprintf(stderr, "\n  a 1 ms wait timed out after %lld ns\n", ns);
    CU_ASSERT(ns >= 1000000);
    CU_ASSERT_EQUAL(last, 0);
    ent_store_close(s);
    ent_schema_free(sc);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_wrapper_reaches_library),
        ENT_TEST(t_memory_wait_wall_clock_step_back),
        ENT_TEST(t_wait_across_a_whole_second),
        ENT_TEST(t_lmdb_growth_wait_wall_clock_step_back),
        {NULL, NULL},
    };
    return ent_test_run("clock_step", cases);
}
