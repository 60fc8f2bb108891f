/*
 * test_http_config.c - fmugwd configuration (src/server/config.c):
 * defaults, the key = value file, environment overrides (FMUGW_* and the
 * plain names), validation, secret redaction, the 0700 data directory; and
 * the JSON log helpers (src/http/log.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/log.h"
#include "server/config.h"
#include "util/error.h"
#include "util/fsutil.h"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    return fmugw_mkdtemp(&tmpdir, "fmugw-config-");
}

static int teardown(void **state)
{
    (void)state;
    fmugw_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

static const char *const env_names[] = {
    "FMUGW_LISTEN", "FMUGW_DATA_DIR", "FMUGW_ROLE", "FMUGW_THREADS", "FMUGW_DATABASE_URL",
    "DATABASE_URL", "FMUGW_REDIS_URL", "REDIS_URL", "FMUGW_JWT_SECRET", "JWT_SECRET",
    "FMUGW_S3_BUCKET", "S3_BUCKET", "FMUGW_MASTER_KEY", "FMUGW_LOG_LEVEL", NULL
};

static void clear_env(void)
{
    for (int i = 0; env_names[i]; i++)
        unsetenv(env_names[i]);
}

static char *write_file(const char *name, const char *text)
{
    char *path = fmugw_path_join(tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void **state)
{
    fmugw_config *c;
    (void)state;
    assert_int_equal(config_new(&c), 0);
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->data_dir, "./data");
    assert_int_equal(c->role, FMUGW_ROLE_ALL);
    assert_int_equal(c->threads, 4);
    assert_int_equal(c->log_level, FMUGW_LOG_INFO);
    assert_int_equal(c->max_body_bytes, 1048576);
    assert_string_equal(c->jwt_secret, "");
    config_free(c);
    config_free(NULL);
}

static void test_file_env_precedence(void **state)
{
    fmugw_config *c;
    (void)state;
    clear_env();
    char *path = write_file("a.conf",
                            "# comment\n"
                            "\n"
                            "listen = 0.0.0.0:9000\n"
                            "  role=api  \n"
                            "threads = 8\r\n"
                            "jwt_secret = \"file secret with spaces\"\n"
                            "max_body_bytes = 2M\n"
                            "database_url = postgres://gw:pa55word@db.internal/gw\n"
                            "log_level = debug\n");
    assert_int_equal(config_new(&c), 0);
    assert_int_equal(config_load_file(c, path), 0);
    assert_string_equal(c->listen, "0.0.0.0:9000");
    assert_int_equal(c->role, FMUGW_ROLE_API);
    assert_int_equal(c->threads, 8);
    assert_string_equal(c->jwt_secret, "file secret with spaces");
    assert_int_equal(c->max_body_bytes, 2 * 1024 * 1024);
    assert_int_equal(c->log_level, FMUGW_LOG_DEBUG);

    /* The environment overrides the file; FMUGW_X wins over plain X. */
    setenv("FMUGW_LISTEN", "127.0.0.1:0", 1);
    setenv("JWT_SECRET", "plain", 1);
    setenv("FMUGW_JWT_SECRET", "prefixed", 1);
    setenv("REDIS_URL", "redis://:hunter2@cache:6379/0", 1);
    setenv("S3_BUCKET", "blobs", 1);
    setenv("FMUGW_MASTER_KEY", "00112233", 1);
    assert_int_equal(config_load_env(c), 0);
    assert_string_equal(c->listen, "127.0.0.1:0");
    assert_string_equal(c->jwt_secret, "prefixed");
    assert_string_equal(c->redis_url, "redis://:hunter2@cache:6379/0");
    assert_string_equal(c->s3_bucket, "blobs");
    assert_int_equal(c->threads, 8); /* untouched by the environment */

    /* Flags (config_set) override the environment. */
    assert_int_equal(config_set(c, "listen", "127.0.0.1:1234"), 0);
    assert_string_equal(c->listen, "127.0.0.1:1234");

    /* The dump shows everything but the secrets. */
    json_t *d = config_dump(c);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_null(strstr(text, "prefixed"));
    assert_null(strstr(text, "pa55word"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "00112233"));
    assert_string_equal(json_string_value(json_object_get(d, "jwt_secret")), "***");
    assert_string_equal(json_string_value(json_object_get(d, "database_url")),
                        "postgres://gw:***@db.internal/gw");
    assert_string_equal(json_string_value(json_object_get(d, "redis_url")), "redis://:***@cache:6379/0");
    assert_string_equal(json_string_value(json_object_get(d, "listen")), "127.0.0.1:1234");
    assert_string_equal(json_string_value(json_object_get(d, "role")), "api");
    assert_int_equal(json_integer_value(json_object_get(d, "threads")), 8);
    free(text);
    json_decref(d);
    config_free(c);
    clear_env();
    free(path);
}

static void test_plain_database_url(void **state)
{
    fmugw_config *c;
    (void)state;
    clear_env();
    setenv("DATABASE_URL", "sqlite:///x.db", 1);
    assert_int_equal(config_new(&c), 0);
    assert_int_equal(config_load_env(c), 0);
    assert_string_equal(c->database_url, "sqlite:///x.db");
    config_free(c);
    clear_env();
}

static void test_errors(void **state)
{
    fmugw_config *c;
    (void)state;
    clear_env();
    assert_int_equal(config_new(&c), 0);
    assert_int_equal(config_set(c, "nope", "1"), FMUGW_ENOTFOUND);
    assert_int_equal(config_set(c, "threads", "0"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "threads", "12x"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "threads", "-3"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "role", "boss"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "log_level", "loud"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "max_body_bytes", "5Q"), FMUGW_EINVALID);
    assert_int_equal(config_set(c, "listen", ""), FMUGW_EINVALID);
    assert_int_equal(c->threads, 4); /* failed sets change nothing */

    char *bad = write_file("bad.conf", "listen = 127.0.0.1:1\nthis line has no equals\n");
    assert_int_equal(config_load_file(c, bad), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), ":2:"));
    char *unknown = write_file("unknown.conf", "lsiten = 1\n");
    assert_int_equal(config_load_file(c, unknown), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "lsiten"));
    char *missing = fmugw_path_join(tmpdir, "missing.conf");
    assert_int_equal(config_load_file(c, missing), FMUGW_ENOTFOUND);
    setenv("FMUGW_THREADS", "many", 1);
    assert_int_equal(config_load_env(c), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "FMUGW_THREADS"));
    clear_env();
    config_free(c);
    free(bad);
    free(unknown);
    free(missing);
}

static void test_data_dir(void **state)
{
    fmugw_config *c;
    struct stat st;
    (void)state;
    assert_int_equal(config_new(&c), 0);
    char *dir = fmugw_path_join(tmpdir, "deep/er/data");
    assert_int_equal(config_set(c, "data_dir", dir), 0);
    assert_int_equal(config_prepare_data_dir(c), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(config_prepare_data_dir(c), 0); /* existing is fine */
    char *file = write_file("plainfile", "x");
    assert_int_equal(config_set(c, "data_dir", file), 0);
    assert_int_equal(config_prepare_data_dir(c), FMUGW_EIO);
    free(dir);
    free(file);
    config_free(c);
}

static void test_log_lines(void **state)
{
    int level;
    (void)state;
    assert_int_equal(fmugw_log_level_parse(&level, "WARNING"), 0);
    assert_int_equal(level, FMUGW_LOG_WARN);
    assert_int_equal(fmugw_log_level_parse(&level, "chatty"), FMUGW_EINVALID);

    char *path = fmugw_path_join(tmpdir, "log.txt");
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    fmugw_log_set_fd(fd);
    fmugw_log_set_level(FMUGW_LOG_INFO);
    fmugw_log_json(FMUGW_LOG_DEBUG, "hidden", json_pack("{s:i}", "n", 1));
    fmugw_log_json(FMUGW_LOG_INFO, "shown", json_pack("{s:i,s:s}", "n", 2, "s", "a\"b\n"));
    fmugw_log(FMUGW_LOG_ERROR, "formatted %d", 42);
    fmugw_log_set_fd(2);
    close(fd);
    char *text;
    size_t len;
    assert_int_equal(fmugw_read_file(&text, &len, path, 1 << 20), 0);
    assert_null(strstr(text, "hidden"));
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "shown");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "s")), "a\"b\n");
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_int_equal(strlen(ts), 24); /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(ts[23], 'Z');
    json_decref(j);
    assert_non_null(strstr(nl + 1, "\"msg\":\"formatted 42\""));
    assert_non_null(strstr(nl + 1, "\"level\":\"error\""));
    free(text);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_env_precedence),
        cmocka_unit_test(test_plain_database_url),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_data_dir),
        cmocka_unit_test(test_log_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
