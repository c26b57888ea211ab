/*
** deploy/server/anthropic.c — the Anthropic Messages API (placeholder until
** written below).
*/
#include "deploy/server/http.h"

http_reply mast_anthropic_api(http_ctx *c, const http_request *req, int *matched)
{
    (void)c;
    (void)req;
    *matched = 0;
    return (http_reply){.status = 404};
}
