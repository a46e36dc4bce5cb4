/* Print the name of every backend in the table of src/backends.c, one a line: the build turns the
 * list into one run of each contract suite per backend (tests/contract_tests.cmake). */
#include <stdio.h>

#include "backend.h"

int main(void)
{
    const ent_backend_ops *b;
    for (size_t i = 0; (b = ent__backend_at(i)); i++) printf("%s\n", b->name);
    return 0;
}
