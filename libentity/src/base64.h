/* RFC 4648 base64 (standard alphabet, padded), for bytes values in entity JSON. */
#ifndef ENT_BASE64_H
#define ENT_BASE64_H

#include <stddef.h>

/* Length of the encoding of n bytes, without the NUL. */
size_t ent__b64_enc_len(size_t n);
/* Write the encoding of p[0..n) and a NUL to out (ent__b64_enc_len(n) + 1 bytes). */
void ent__b64_encode(char *out, const void *p, size_t n);
/* Decode s[0..n) strictly: canonical padded base64 only (length a multiple of 4, no whitespace,
 * '=' only at the end, unused bits zero). out needs n / 4 * 3 bytes; *out_len gets the count.
 * Returns 0, or -1 when s is not valid base64. */
int ent__b64_decode(void *out, size_t *out_len, const char *s, size_t n);
/* Why ent__b64_decode() refuses s[0..n), for a message ("'!' at byte 2 is not of base64's
 * alphabet"): the first byte outside the alphabet, else a length that is no multiple of 4, else a
 * '=' before the end, else set bits after the last byte. Into buf (size bytes); returns buf. */
const char *ent__b64_why(char *buf, size_t size, const char *s, size_t n);

#endif
