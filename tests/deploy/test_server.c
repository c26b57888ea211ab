/* tests/deploy/test_server.c — the HTTP API, driven by a real HTTP client
** (libcurl) against a server on a free loopback port. */
#include <curl/curl.h>
#include <jansson.h>

#include "data/ingest/ingest.h"
#include "deploy/server/server.h"
#include "test.h"

static int port;

typedef struct response {
    long status;
    char body[1 << 16];
    size_t len;
    char allow[64];
} response;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    response *r = ctx;
    size_t bytes = size * n;
    size_t room = sizeof r->body - 1 - r->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = '\0';
    return bytes;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    response *r = ctx;
    size_t bytes = size * n;
    if (bytes > 7 && strncasecmp(data, "Allow: ", 7) == 0) {
        size_t len = bytes - 7;
        while (len && (data[7 + len - 1] == '\r' || data[7 + len - 1] == '\n'))
            len--;
        if (len < sizeof r->allow) {
            memcpy(r->allow, data + 7, len);
            r->allow[len] = '\0';
        }
    }
    return bytes;
}

static json_t *request(const char *method, const char *path, const char *body, size_t body_len,
                       response *r)
{
    memset(r, 0, sizeof *r);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "  curl: %s\n", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return json_loads(r->body, 0, NULL);
}

static json_t *post(const char *path, const char *body, response *r)
{
    return request("POST", path, body, strlen(body), r);
}

static const char *error_code(json_t *v)
{
    return json_string_value(json_object_get(json_object_get(v, "error"), "code"));
}

static const char *error_message(json_t *v)
{
    return json_string_value(json_object_get(json_object_get(v, "error"), "message"));
}

static void test_health(void)
{
    response r;
    json_t *v = request("GET", "/health", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(v, "status")), "ok");
    CHECK_EQ_STR(json_string_value(json_object_get(v, "version")), mast_version());
    json_decref(v);
}

static void test_collections_lists_counts(void)
{
    response r;
    json_t *v = request("GET", "/v1/collections", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *data = json_object_get(v, "data");
    REQUIRE(json_array_size(data) == 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(data, 0), "name")), "docs");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(data, 0), "documents")), 2);
    json_decref(v);
}

static void test_search_returns_ranked_results(void)
{
    response r;
    json_t *v = post("/v1/collections/docs/search", "{\"query\": \"zebra stripes\", \"k\": 1}", &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *results = json_object_get(v, "results");
    REQUIRE(json_array_size(results) == 1);
    json_t *first = json_array_get(results, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(first, "rank")), 1);
    CHECK(json_real_value(json_object_get(first, "score")) > 0);
    CHECK(strstr(json_string_value(json_object_get(first, "uri")), "zebra.txt") != NULL);
    CHECK(strstr(json_string_value(json_object_get(first, "text")), "stripes") != NULL);
    const char *fields[] = {"chunk_id", "doc_id", "title", "heading"};
    for (int i = 0; i < 4; i++)
        CHECK(json_object_get(first, fields[i]) != NULL);
    json_decref(v);
}

static void test_ask_returns_answer_and_citations(void)
{
    response r;
    json_t *v = post("/v1/collections/docs/ask", "{\"question\": \"What do zebras have?\"}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(json_string_value(json_object_get(v, "answer")), "[1]") != NULL);
    json_t *cites = json_object_get(v, "citations");
    REQUIRE(json_array_size(cites) >= 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(cites, 0), "n")), 1);
    CHECK(json_is_true(json_object_get(v, "extractive")));
    json_decref(v);
}

static void test_malformed_json_is_400_with_line_and_column(void)
{
    response r;
    json_t *v = post("/v1/collections/docs/search", "{\"query\": \n \"x\",, }", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(error_code(v), "invalid_request");
    CHECK(strstr(error_message(v), "invalid JSON at line 2, column") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(v, "error"), "type")),
                 "invalid_request_error");
    json_decref(v);
    v = post("/v1/collections/docs/search", "{\"query\": \"x\", \"k\": 0}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(error_message(v), "\"k\" must be an integer from 1 to 1000");
    json_decref(v);
    v = post("/v1/collections/docs/search", "{\"k\": 3}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(error_message(v), "give \"query\" (a string) or \"vector\" (numbers), or both");
    json_decref(v);
    v = post("/v1/collections/docs/search", "{\"query\": \"x\", \"mode\": \"dense\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK(strstr(error_message(v), "mode 'dense' needs an embedding model and this collection has none") != NULL);
    json_decref(v);
    v = post("/v1/collections/docs/search", "{\"query\": \"x\", \"mode\": \"fuzzy\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(error_message(v), "\"mode\" must be bm25, dense, hybrid or auto");
    json_decref(v);
    v = post("/v1/collections/docs/ask", "[]", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(error_message(v), "request body: expected a JSON object");
    json_decref(v);
}

static void test_unknown_collection_and_route_are_404(void)
{
    response r;
    json_t *v = post("/v1/collections/nope/search", "{\"query\": \"x\"}", &r);
    CHECK_EQ_INT(r.status, 404);
    CHECK_EQ_STR(error_message(v), "collection 'nope' does not exist");
    json_decref(v);
    v = request("GET", "/v2/whatever", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 404);
    CHECK_EQ_STR(error_code(v), "not_found");
    json_decref(v);
}

static void test_oversized_body_is_413(void)
{
    size_t n = (1 << 20) + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"query\": \"", 11);
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    response r;
    json_t *v = request("POST", "/v1/collections/docs/search", big, n, &r);
    CHECK_EQ_INT(r.status, 413);
    CHECK_EQ_STR(error_message(v), "request body is larger than the limit of 1048576 bytes");
    json_decref(v);
    free(big);
}

static void test_wrong_method_is_405_with_allow(void)
{
    response r;
    json_t *v = request("GET", "/v1/collections/docs/search", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 405);
    CHECK_EQ_STR(r.allow, "POST, OPTIONS");
    CHECK_EQ_STR(error_code(v), "method_not_allowed");
    json_decref(v);
    v = request("DELETE", "/health", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 405);
    CHECK_EQ_STR(r.allow, "GET, HEAD, OPTIONS");
    json_decref(v);
}

static void test_every_request_is_traced(void)
{
    response r;
    json_t *v = request("GET", "/v1/traces?limit=100", NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *data = json_object_get(v, "data");
    /* each of the 15 earlier requests of this file left exactly one trace */
    CHECK_EQ_INT(json_array_size(data), 15);
    const char *id = json_string_value(json_object_get(json_array_get(data, 0), "id"));
    char path[128];
    snprintf(path, sizeof path, "/v1/traces/%s", id);
    json_t *t = request("GET", path, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(t, "name")), "http.request");
    json_decref(t);
    /* a search trace has the retrieve span nested under the request */
    size_t i;
    json_t *row;
    int found = 0;
    json_array_foreach(data, i, row) {
        json_t *attrs = json_object_get(row, "attributes");
        const char *p = json_string_value(json_object_get(attrs, "url.path"));
        if (p && strcmp(p, "/v1/collections/docs/search") == 0 &&
            json_integer_value(json_object_get(attrs, "http.response.status_code")) == 200) {
            snprintf(path, sizeof path, "/v1/traces/%s",
                     json_string_value(json_object_get(row, "id")));
            t = request("GET", path, NULL, 0, &r);
            json_t *spans = json_object_get(t, "spans");
            size_t j;
            json_t *s;
            json_array_foreach(spans, j, s) found |=
                strcmp(json_string_value(json_object_get(s, "name")), "retrieve") == 0;
            json_decref(t);
            break;
        }
    }
    CHECK(found);
    json_decref(v);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *dir = test_tmpdir();
    char db[512], doc[512];
    snprintf(db, sizeof db, "%s/m.db", dir);
    snprintf(doc, sizeof doc, "%s/zebra.txt", dir);
    test_write_file(doc, "Zebras have black and white stripes.\n\nThey live in herds.\n");
    snprintf(doc, sizeof doc, "%s/moon.txt", dir);
    test_write_file(doc, "The moon orbits the earth.\n");
    mast_store *store;
    if (mast_store_open(&store, db) != MAST_OK)
        return 1;
    mast_ingest_stats s;
    const char *paths[] = {dir};
    if (mast_ingest(store, "docs", paths, 1, NULL, NULL, &s) != MAST_OK || s.docs_ingested != 2)
        return 1;
    mast_store_close(store);

    mast_server *server;
    mast_server_opts opts = {.host = "127.0.0.1", .port = 0, .db_path = db, .threads = 2};
    if (mast_server_start(&server, &opts) != MAST_OK) {
        fprintf(stderr, "cannot start server: %s\n", mast_errmsg());
        return 1;
    }
    port = mast_server_port(server);
    RUN(test_health);
    RUN(test_collections_lists_counts);
    RUN(test_search_returns_ranked_results);
    RUN(test_ask_returns_answer_and_citations);
    RUN(test_malformed_json_is_400_with_line_and_column);
    RUN(test_unknown_collection_and_route_are_404);
    RUN(test_oversized_body_is_413);
    RUN(test_wrong_method_is_405_with_allow);
    RUN(test_every_request_is_traced);
    mast_server_stop(server);
    curl_global_cleanup();
    free(dir);
    return test_summary();
}
