/* Fork detection without a system call per check. getpid() is a real system call in current
 * glibc, and the store checks for a fork on every call; an atfork handler bumps a generation
 * number in the child instead, and a handle compares the number it was opened under. This
 * process-wide counter is written only by the child handler. */
#include <pthread.h>
#include <stdatomic.h>

#include "fork.h"

static atomic_uint fork_gen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void in_child(void) { atomic_fetch_add(&fork_gen, 1); }
static void install(void) { pthread_atfork(NULL, NULL, in_child); }

unsigned ent__fork_gen(void)
{
    pthread_once(&once, install);
    return atomic_load_explicit(&fork_gen, memory_order_relaxed);
}
