/* Waits under a wall clock that steps (NTP, an operator's `date`, a virtual machine resumed): the
 * binary is linked with -Wl,--wrap=clock_gettime, so every CLOCK_REALTIME read of the library
 * (linked statically) goes through the wrapper below, which adds a chosen offset; the kernel's
 * own clock, which pthread_cond_timedwait() compares a deadline with, does not move. An offset of
 * +1 hour is a step back by an hour just after each deadline was computed: a wait measured on the
 * wall clock sleeps an hour more. A timeout must measure the monotonic clock. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

int __real_clock_gettime(clockid_t clk, struct timespec *ts);

static volatile time_t wall_offset_s;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    int rc = __real_clock_gettime(clk, ts);
    if (rc == 0 && clk == CLOCK_REALTIME) ts->tv_sec += wall_offset_s;
    return rc;
}

static const char schema_json[] =
    "{\"schema\":\"c\",\"version\":1,\"types\":{\"tick\":{\"key\":\"auto\",\"fields\":{"
    "\"n\":{\"id\":1,\"type\":\"uint\"}}}}}";

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

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_wrapper_reaches_library),
        ENT_TEST(t_memory_wait_wall_clock_step_back),
        {NULL, NULL},
    };
    return ent_test_run("clock_step", cases);
}
