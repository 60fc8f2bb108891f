/*
 * test_registry_summary_pages.c - pages of a stored summary's variables
 * found by scanning its text (src/registry/summary_pages.h) agree with a
 * full jansson parse: every page, the head with variables_truncated,
 * strings holding quotes, escapes and brackets, nested values, an empty
 * array, a summary without variables, malformed texts.
 */
#include "registry/summary_pages.h"
#include "util/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *make_summary(size_t n)
{
    json_t *vars = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[64], desc[96];
        snprintf(name, sizeof name, "v%zu", i);
        snprintf(desc, sizeof desc, "a \"quoted\" ]}[{ \\ text, %zu \xc3\xa9", i);
        json_array_append_new(vars, json_pack("{s:s,s:s,s:s,s:o,s:{s:[i,i]}}", "name", name, "type", "Float64",
                                              "description", desc, "start", i % 3 ? json_string("1e-3") : json_null(),
                                              "nested", "k", (int)i, -1));
    }
    return json_pack("{s:s,s:o,s:{s:I},s:[s]}", "model_name", "M [\"x\"]", "variables", vars, "counts", "variables",
                     (json_int_t)n, "interfaces", "CoSimulation");
}

static void test_pages_agree(void **state)
{
    (void)state;
    json_t *sum = make_summary(2345);
    char *text = json_dumps(sum, JSON_COMPACT);
    size_t len = strlen(text);
    json_t *all = json_object_get(sum, "variables");
    for (uint64_t off = 0; off < 2400; off += 700) {
        json_t *page = NULL;
        size_t total = 0;
        assert_int_equal(summary_pages_slice(&page, &total, text, len, off, 700), 0);
        assert_int_equal(total, 2345);
        size_t want = off >= 2345 ? 0 : 2345 - off < 700 ? 2345 - off : 700;
        assert_int_equal(json_array_size(page), want);
        for (size_t i = 0; i < want; i++)
            assert_true(json_equal(json_array_get(page, i), json_array_get(all, off + i)));
        json_decref(page);
    }
    json_t *head = summary_pages_head(text, len, 1000);
    assert_non_null(head);
    assert_int_equal(json_array_size(json_object_get(head, "variables")), 1000);
    assert_true(json_is_true(json_object_get(head, "variables_truncated")));
    assert_string_equal(json_string_value(json_object_get(head, "model_name")), "M [\"x\"]");
    assert_true(json_equal(json_object_get(head, "counts"), json_object_get(sum, "counts")));
    json_decref(head);
    head = summary_pages_head(text, len, 5000);
    assert_false(json_is_true(json_object_get(head, "variables_truncated")));
    assert_int_equal(json_array_size(json_object_get(head, "variables")), 2345);
    json_decref(head);
    free(text);
    json_decref(sum);
}

static void test_edges(void **state)
{
    (void)state;
    json_t *page = NULL;
    size_t total = 9;
    const char *empty = "{\"a\":1,\"variables\":[],\"b\":{\"variables\":[1]}}";
    assert_int_equal(summary_pages_slice(&page, &total, empty, strlen(empty), 0, 10), 0);
    assert_int_equal(total, 0);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    /* only the top-level member counts */
    const char *nested = "{\"b\":{\"variables\":[1,2]},\"c\":\"\\\"variables\\\":[3]\"}";
    assert_int_equal(summary_pages_slice(&page, &total, nested, strlen(nested), 0, 10), FMUGW_ENOTFOUND);
    assert_null(summary_pages_head(nested, strlen(nested), 10));
    const char *bad[] = { "", "[1]", "{\"variables\":[1,}", "{\"variables\":[\"x]}", "{\"variables\" [1]}",
                          "{\"variables\":[1 2]}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = summary_pages_slice(&page, &total, bad[i], strlen(bad[i]), 0, 10);
        assert_true(rc == FMUGW_EINVALID || rc == FMUGW_ENOTFOUND);
        assert_null(page);
    }
    /* whitespace as a pretty printer writes it */
    const char *pretty = "{ \"variables\" : [ 1 ,\n 2 , {\"x\": [3]} ] }";
    assert_int_equal(summary_pages_slice(&page, &total, pretty, strlen(pretty), 1, 5), 0);
    assert_int_equal(total, 3);
    assert_int_equal(json_array_size(page), 2);
    json_decref(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_agree),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
