/* Fork generation: changes in a child process after fork(); see fork.c. */
#ifndef ENT_FORK_H
#define ENT_FORK_H

unsigned ent__fork_gen(void);

#endif
