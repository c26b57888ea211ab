/*
** tests/deploy/test_prompts.c — the prompt registry (deploy/prompts.h):
** variables, versions that never change, labels that move, rendering that
** names what is missing.
*/
#include <jansson.h>

#include "data/store.h"
#include "deploy/prompts.h"
#include "test.h"

static mast_store *fresh(void)
{
    char path[512], *dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/p.db", dir);
    free(dir);
    mast_store *s = NULL;
    return mast_store_open(&s, path) == MAST_OK ? s : NULL;
}

static void test_variables(void)
{
    json_t *t = json_string("Hi {{ who }}, {{what}} and {{who}} again"), *names;
    REQUIRE(mast_prompt_variables("text", t, &names) == MAST_OK);
    char *s = json_dumps(names, JSON_COMPACT);
    CHECK_EQ_STR(s, "[\"who\",\"what\"]");
    free(s);
    json_decref(names);
    json_decref(t);
    const char *bad[][2] = {{"oops {{ who", "an unclosed '{{'"}, {"{{}}", "an empty '{{ }}'"},
                            {"{{a b}}", "'{{a b}}' is not a variable's name"}};
    for (int i = 0; i < 3; i++) {
        t = json_string(bad[i][0]);
        CHECK_EQ_INT(mast_prompt_variables("text", t, &names), MAST_ERR_INVALID);
        CHECK(strstr(mast_errmsg(), bad[i][1]) != NULL);
        json_decref(t);
    }
    t = json_loads("[{\"role\":\"robot\",\"content\":\"x\"}]", 0, NULL);
    CHECK_EQ_INT(mast_prompt_variables("chat", t, &names), MAST_ERR_INVALID);
    json_decref(t);
}

static void test_versions_and_labels(void)
{
    mast_store *s = fresh();
    REQUIRE(s);
    json_t *v1 = json_string("v1 {{x}}"), *v2 = json_string("v2 {{x}}"), *cfg = json_pack("{s:f}", "temperature", 0.5);
    json_t *out = NULL;
    REQUIRE(mast_prompt_create(s, "p", "text", v1, cfg, "production", &out) == MAST_OK);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "version")), 1);
    json_decref(out);
    CHECK_EQ_INT(mast_prompt_create(s, "p", "text", v1, NULL, NULL, NULL), MAST_ERR_EXISTS);
    CHECK_EQ_INT(mast_prompt_create(s, "q", "voice", v1, NULL, NULL, NULL), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_prompt_create(s, "r", "text", v1, NULL, "latest", NULL), MAST_ERR_INVALID);
    REQUIRE(mast_prompt_update(s, "p", v2, NULL, NULL, NULL) == MAST_OK);
    /* latest moved; production did not; the config carried over */
    REQUIRE(mast_prompt_get(s, "p", NULL, 0, &out) == MAST_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(out, "template")), "v2 {{x}}");
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(out, "config"), "temperature")), 0.5, 1e-9);
    json_decref(out);
    REQUIRE(mast_prompt_get(s, "p", "production", 0, &out) == MAST_OK);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "version")), 1);
    json_t *vars = json_pack("{s:s}", "x", "X"), *r = NULL;
    REQUIRE(mast_prompt_render(out, vars, &r) == MAST_OK);
    CHECK_EQ_STR(json_string_value(r), "v1 X");
    json_decref(r);
    CHECK_EQ_INT(mast_prompt_render(out, NULL, &r), MAST_ERR_INVALID);
    CHECK_EQ_STR(mast_errmsg(), "prompt p version 1: the variable 'x' is missing");
    json_decref(out);
    /* deploy and roll back are label moves; a version that does not exist cannot be labelled */
    REQUIRE(mast_prompt_label(s, "p", "production", 2) == MAST_OK);
    REQUIRE(mast_prompt_get(s, "p", "production", 0, &out) == MAST_OK);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "version")), 2);
    json_decref(out);
    CHECK_EQ_INT(mast_prompt_label(s, "p", "production", 9), MAST_ERR_NOT_FOUND);
    CHECK_EQ_INT(mast_prompt_get(s, "p", "staging", 0, &out), MAST_ERR_NOT_FOUND);
    CHECK_EQ_STR(mast_errmsg(), "prompt 'p' has no label 'staging'");
    /* version 1 is as it was */
    REQUIRE(mast_prompt_get(s, "p", NULL, 1, &out) == MAST_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(out, "template")), "v1 {{x}}");
    json_decref(out);
    REQUIRE(mast_prompt_history(s, "p", &out) == MAST_OK);
    CHECK_EQ_INT(json_array_size(out), 2);
    json_decref(out);
    json_decref(vars);
    json_decref(v1);
    json_decref(v2);
    json_decref(cfg);
    mast_store_close(s);
}

int main(void)
{
    RUN(test_variables);
    RUN(test_versions_and_labels);
    return test_summary();
}
