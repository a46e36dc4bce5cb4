/* entity-bench: the benchmark as its own program, so the entity tool links neither SQLite nor the
 * benchmark; `entity bench ARGS` execs this with the same arguments. */
#include "bench.h"

int main(int argc, char **argv)
{
    return ent_bench_main(argc, argv);
}
