/* libentity — what every public header shares: the export marker of the shared library.
 *
 * The library is compiled with hidden visibility, so only declarations marked ENT_EXTERN are in
 * libentity.so's dynamic symbol table; internal (ent__) functions never become ABI. The marker is
 * harmless for the static library and for hosts.
 */
#ifndef ENTITY_COMMON_H
#define ENTITY_COMMON_H

/* Declares a public function returning `type`: ENT_EXTERN(int) ent_txn_commit(ent_txn *txn); */
#if defined(__GNUC__) || defined(__clang__)
#define ENT_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define ENT_EXTERN(type) extern type
#endif

#endif
