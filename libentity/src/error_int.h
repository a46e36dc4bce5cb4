/* Internal error reporting: set the per-thread message and return the code in one expression. */
#ifndef ENT_ERROR_INT_H
#define ENT_ERROR_INT_H

#include "entity/error.h"

#if defined(__GNUC__)
#define ENT__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ENT__PRINTF(a, b)
#endif

/* Set this thread's message (printf format) and return `code`. */
int ent__err(int code, const char *fmt, ...) ENT__PRINTF(2, 3);
/* As ent__err(), with the failure's ENT_DETAIL_* (ent_errdetail()); ent__err() sets NONE. To say
 * again what an earlier failure said (a saved message, a failed transaction), pass the detail
 * saved with it. */
int ent__errd(int code, int detail, const char *fmt, ...) ENT__PRINTF(3, 4);
/* Prepend context to this thread's message ("types.product: " + old message); returns `code`.
 * The detail stays: the cause is still the one the message names. */
int ent__err_prefix(int code, const char *fmt, ...) ENT__PRINTF(2, 3);
/* Forget the message and its detail. */
void ent__err_clear(void);

/* The article for a type word in a message: "an int", "an array", "a uint", "a map". */
static inline const char *ent__a(const char *word)
{
    char c = word ? word[0] : 0;
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' ? "an" : "a";
}

#endif
