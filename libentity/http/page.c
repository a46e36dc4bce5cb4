/* entity-http: the page at GET /, embedded in the library (page.html, turned into bytes by
 * CMakeLists.txt), so a server needs no files beside it and the page fetches nothing from
 * elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "page_html.h" /* static const unsigned char ent_http_page_html[]; */

enum MHD_Result ent_http__page(struct MHD_Connection *c)
{
    size_t n = sizeof ent_http_page_html;
    char *body = malloc(n);
    static const char *const hdr[] = {"Content-Security-Policy",
                                      "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
                                      "X-Content-Type-Options", "nosniff", NULL};
    if (!body) return MHD_NO;
    memcpy(body, ent_http_page_html, n);
    return ent_http__reply(c, MHD_HTTP_OK, body, n, "text/html; charset=utf-8", hdr);
}
