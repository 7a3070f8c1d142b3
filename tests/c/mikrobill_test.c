/*
 * The C API exercised the way a C integrator would use it, written only from include/mikrobill.h
 * and the README. Run by tests/c/run.sh against the simulator and a hostile peer, under
 * AddressSanitizer and under valgrind, and by tests/windows/run.sh cross-compiled with mingw against
 * mikrobill.dll under wine.
 *
 * usage: mikrobill_test SIM_PORT HOSTILE_PORT DEAD_PORT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikrobill.h"

#define KEY1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2 "EBESExQVFhcYGRobHB0eHw=="

/* The OS's own "connection refused" number, as the original client reported it: ECONNREFUSED
 * on Linux, WSAECONNREFUSED on Windows. */
#ifdef _WIN32
#define CONNECTION_REFUSED 10061
#else
#define CONNECTION_REFUSED 111
#endif

static int passed, failed;
static int sim_port, hostile_port, dead_port;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (cond) {                                                                         \
            passed++;                                                                       \
        } else {                                                                            \
            failed++;                                                                       \
            fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                   \
    } while (0)

static char config[1024];

static const char *make_config(const char *host, int port, const char *login, const char *password,
                               const char *key1, const char *extra) {
    snprintf(config, sizeof config,
             "{\"host\":\"%s\",\"port\":%d,\"login\":\"%s\",\"password\":\"%s\","
             "\"key1\":\"%s\",\"key2\":\"%s\"%s}",
             host, port, login, password, key1, KEY2, extra);
    return config;
}

/* The "code" of a reply object, or -99999 when it has none. */
static long reply_code(const char *reply) {
    const char *at = strstr(reply, "\"code\":");
    return at ? strtol(at + 7, NULL, 10) : -99999;
}

/* Whether this thread's last error is `expected`, as a code and as JSON text whose code agrees;
 * 0 means no last error at all (mb_last_error gives NULL). Reading it changes nothing. */
static int last_error_is(long expected) {
    int code = mb_last_error_code();
    char *err = mb_last_error();
    int ok = code == expected && code == mb_last_error_code() &&
             (expected == 0 ? err == NULL : err != NULL && reply_code(err) == expected);
    if (!ok)
        fprintf(stderr, "  last error %d, %s (wanted %ld)\n", code, err ? err : "NULL", expected);
    mb_free(err);
    return ok;
}

/* Calls mb_process, checks the reply code, frees the reply; returns whether it matched. A
 * non-zero code here is the library's error, so it must also be the last error, with the same
 * text, and still be there after the reply was freed. */
static int expect_code(long long h, const char *path, const char *value, long code) {
    char *reply = mb_process(h, path, value);
    int ok = reply != NULL && reply_code(reply) == code;
    if (!ok) fprintf(stderr, "  %s -> %s (wanted code %ld)\n", path, reply ? reply : "NULL", code);
    if (reply != NULL && code != 0) {
        char *err = mb_last_error();
        int same = err != NULL && strcmp(err, reply) == 0;
        if (!same) fprintf(stderr, "  %s: last error %s, reply %s\n", path, err ? err : "NULL", reply);
        ok = ok && same;
        mb_free(err);
    }
    mb_free(reply);
    return ok && last_error_is(code);
}

static int last_error_code(long expected) {
    char *err = mb_last_error();
    int ok = err != NULL && reply_code(err) == expected;
    if (!ok) fprintf(stderr, "  last error %s (wanted %ld)\n", err ? err : "NULL", expected);
    mb_free(err);
    return ok && last_error_is(expected);
}

static void test_happy_path(void) {
    long long h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(h > 0);
    CHECK(mb_last_error() == NULL);
    CHECK(mb_last_error_code() == 0);
    CHECK(mb_check_connection(h) == 1);
    CHECK(last_error_is(0));

    char *clients = mb_process(h, "API.GetClients", NULL);
    CHECK(strstr(clients, "633824158637492") != NULL);
    CHECK(strstr(clients, "9527563927532953") != NULL);
    CHECK(reply_code(clients) == 0);
    mb_free(clients);

    char *money = mb_process(h, "API.Client.633824158637492.BillingInfo.Money", NULL);
    CHECK(strcmp(money, "{\"return\":\"100.01\",\"code\":0}") == 0);
    mb_free(money);

    char *set = mb_process(h, "API.Client.633824158637492.PersonalDataInfo.MobileTel", "\"+79990000001\"");
    CHECK(strcmp(set, "{\"return\":\"OK\",\"code\":0}") == 0);
    mb_free(set);
    char *tel = mb_process(h, "API.Client.633824158637492.PersonalDataInfo.MobileTel", NULL);
    CHECK(strstr(tel, "+79990000001") != NULL);
    mb_free(tel);

    /* The manual's batch read: two leaves, in document order, each with its full path. */
    char *batch = mb_process(h, "API.Client.633824158637492.AutorizeInfo.Accounts",
                             "{\"28236356495083\":[\"IP\",\"MAC\"]}");
    const char *ip = strstr(batch, "Accounts.28236356495083.IP\"");
    const char *mac = strstr(batch, "Accounts.28236356495083.MAC\"");
    CHECK(batch[0] == '[' && ip != NULL && mac != NULL && ip < mac);
    mb_free(batch);

    /* A server-side error passes through with the server's non-zero code. */
    char *unknown = mb_process(h, "API.Client.1.AutorizeInfo.Name", NULL);
    CHECK(reply_code(unknown) != 0 && reply_code(unknown) != -99999);
    mb_free(unknown);
    CHECK(last_error_is(0)); /* the server answered: the call itself succeeded */

    CHECK(mb_disconnect(h) == 0);
    CHECK(expect_code(h, "API.GetClients", NULL, 0)); /* reconnects */
    CHECK(mb_close(h) == 0);
    CHECK(last_error_is(0));
    CHECK(mb_close(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(mb_discard(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(mb_disconnect(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(mb_check_connection(h) == -1);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_CLOSED_HANDLE));
}

/* mb_discard releases without the DISCONNECT courtesy, for finalizers. */
static void test_discard(void) {
    long long h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_discard(h) == 0);
    CHECK(last_error_is(0));
    CHECK(mb_discard(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(mb_close(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_CLOSED_HANDLE));
    long long never_connected = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(mb_discard(never_connected) == 0);
}

/* A cancel token stops the calls given it, even one that has not started: nothing is sent. */
static int expect_code_with_token(long long h, const char *path, long long token, long code) {
    char *reply = mb_process_with_token(h, path, NULL, token);
    int ok = reply != NULL && reply_code(reply) == code;
    if (!ok) fprintf(stderr, "  %s -> %s (wanted code %ld)\n", path, reply ? reply : "NULL", code);
    mb_free(reply);
    return ok && last_error_is(code);
}

static void test_cancel_tokens(void) {
    long long h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    long long token = mb_token_new();
    CHECK(token > 0);
    CHECK(last_error_is(0));
    CHECK(expect_code_with_token(h, "API.GetClients", token, 0));
    CHECK(expect_code_with_token(h, "API.GetClients", 0, 0));
    CHECK(mb_token_cancel(token) == 0);
    CHECK(expect_code_with_token(h, "API.GetClients", token, MB_CANCELLED));
    CHECK(expect_code(h, "API.GetClients", NULL, 0)); /* the handle is untouched */
    CHECK(mb_token_free(token) == 0);
    CHECK(mb_token_free(token) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_token_cancel(token) == MB_INVALID_ARGUMENT);
    CHECK(expect_code_with_token(h, "API.GetClients", token, MB_INVALID_ARGUMENT));
    char *no_path = mb_process_with_token(h, NULL, NULL, 0);
    CHECK(no_path != NULL && reply_code(no_path) == MB_INVALID_ARGUMENT);
    mb_free(no_path);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_close(h) == 0);
}

static void test_connect_refusals(void) {
    CHECK(mb_connect(NULL) == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect("{not json") == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect(make_config("127.0.0.1", 1, "a", "b", KEY1, ",\"colour\":1")) == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect(make_config("127.0.0.1", 1, "a", "b", KEY1, ",\"io_timeout_ms\":\"5\"")) == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect("{\"host\":\"\xff\"}") == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect(make_config("127.0.0.1", 1, "a", "b", "not base64!", "")) == 0);
    CHECK(last_error_code(MB_INVALID_KEY));
    CHECK(mb_connect(make_config("127.0.0.1", 1, "a", "b", "AAEC", "")) == 0);
    CHECK(last_error_code(MB_INVALID_KEY));
}

static void test_call_errors(void) {
    long long h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(expect_code(h, NULL, NULL, MB_INVALID_ARGUMENT));
    CHECK(expect_code(h, "API.\xc3", NULL, MB_INVALID_ARGUMENT));
    CHECK(expect_code(h, "API.GetClients", "[1,", MB_INVALID_ARGUMENT));
    CHECK(expect_code(h, "API.GetClients", "\"\xff\"", MB_INVALID_ARGUMENT));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_close(h) == 0);

    CHECK(expect_code(0, "API.GetClients", NULL, MB_CLOSED_HANDLE));
    CHECK(expect_code(-1, "API.GetClients", NULL, MB_CLOSED_HANDLE));
    CHECK(mb_close(987654321) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));

    h = mb_connect(make_config("127.0.0.1", sim_port, "api", "wrong", KEY1, ""));
    char *rejected = mb_process(h, "API.GetClients", NULL);
    CHECK(reply_code(rejected) != 0 && reply_code(rejected) != -99999);
    CHECK(mb_last_error_code() == reply_code(rejected)); /* the server's refusal is the error */
    mb_free(rejected);
    CHECK(mb_check_connection(h) == 0);
    CHECK(mb_last_error_code() != 0 && last_error_is(mb_last_error_code()));
    mb_close(h);

    h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", "AAECAwQFBgcICQoLDA0ODw==", ""));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_NULL_RESPONSE));
    mb_close(h);

    h = mb_connect(make_config("127.0.0.1", dead_port, "api", "secret", KEY1, ""));
    char *refused = mb_process(h, "API.GetClients", NULL);
    CHECK(reply_code(refused) == CONNECTION_REFUSED);
    CHECK(strstr(refused, "\"return\":\"Can`t connect!\"") != NULL);
    mb_free(refused);
    CHECK(last_error_is(CONNECTION_REFUSED));
    CHECK(mb_check_connection(h) == 0); /* offline, not a failed check */
    CHECK(last_error_is(CONNECTION_REFUSED));
    mb_close(h);

    h = mb_connect(make_config("name.invalid", 7403, "api", "secret", KEY1, ""));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_HOST_NOT_RESOLVED));
    mb_close(h);
}

static void test_hostile_peer(void) {
    static const struct { const char *login; long code; } cases[] = {
        {"timeout", MB_TIMEOUT},        {"drop", MB_CONNECTION_LOST},
        {"huge", MB_FRAME_TOO_LARGE},   {"misaligned", MB_MALFORMED_REPLY},
        {"not-utf8", MB_MALFORMED_REPLY}, {"nul", MB_MALFORMED_REPLY},
        {"empty", MB_MALFORMED_REPLY},    {"truncated", MB_CONNECTION_LOST},
        {"close-auth", MB_NULL_RESPONSE}, {"garbage-auth", MB_NULL_RESPONSE},
        {"reject", 101},                  {"not-json", MB_REPLY_NOT_JSON},
        {"unsolicited", MB_OUT_OF_STEP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long h = mb_connect(make_config("127.0.0.1", hostile_port, cases[i].login, "pw", KEY1,
                                             ",\"io_timeout_ms\":300,\"max_frame_bytes\":65536"));
        CHECK(expect_code(h, "API.GetClients", NULL, cases[i].code));
        CHECK(mb_close(h) == 0);
        CHECK(last_error_is(0));
    }
}

/* A rejected login reads as the original client's reply (its text under "result") and as the
 * server's (under "return"). */
static void test_auth_rejection_has_result_and_return(void) {
    long long h = mb_connect(make_config("127.0.0.1", hostile_port, "reject", "pw", KEY1, ""));
    char *reply = mb_process(h, "API.GetClients", NULL);
    int ok = reply != NULL &&
             strcmp(reply, "{\"result\":\"Access denied\",\"return\":\"Access denied\",\"code\":101}") == 0;
    if (!ok) fprintf(stderr, "  rejection: %s\n", reply ? reply : "NULL");
    CHECK(ok);
    mb_free(reply);
    CHECK(mb_close(h) == 0);
}

struct worker { long long handle; int id; int mismatches; };

static void *hammer(void *arg) {
    struct worker *w = arg;
    char path[64], wanted[96];
    for (int i = 0; i < 25; i++) {
        snprintf(path, sizeof path, "API.Thread%d.Call%d", w->id, i);
        snprintf(wanted, sizeof wanted, "{\\\"path\\\":\\\"%s\\\"", path);
        char *reply = mb_process(w->handle, path, NULL);
        if (strstr(reply, wanted) == NULL) w->mismatches++;
        mb_free(reply);
        if (mb_last_error_code() != 0) w->mismatches++; /* per thread, and these succeeded */
    }
    return NULL;
}

static void test_threads_share_a_handle(void) {
    long long h = mb_connect(make_config("127.0.0.1", hostile_port, "echo", "pw", KEY1, ""));
    pthread_t threads[8];
    struct worker workers[8];
    for (int i = 0; i < 8; i++) {
        workers[i] = (struct worker){h, i, 0};
        CHECK(pthread_create(&threads[i], NULL, hammer, &workers[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].mismatches == 0);
    }
    CHECK(mb_close(h) == 0);
}

static void test_free_functions(void) {
    char *version = mb_version();
    CHECK(version != NULL && strncmp(version, "0.2.", 4) == 0);
    CHECK(last_error_is(0));
    mb_free(version);
    mb_free(version); /* ignored: not currently issued (no string was made in between) */
    mb_free(NULL);
    char local[] = "not from the library";
    mb_free(local); /* ignored: not ours */
    CHECK(mb_connect(NULL) == 0);
    char *err = mb_last_error();
    CHECK(err != NULL);
    mb_free(err);
    CHECK(mb_last_error_code() == MB_INVALID_ARGUMENT); /* neither reading nor freeing clears it */
    long long h = mb_connect(make_config("127.0.0.1", 1, "a", "b", KEY1, ""));
    CHECK(h > 0);
    CHECK(mb_last_error() == NULL); /* cleared by the successful connect */
    CHECK(mb_last_error_code() == 0);
    CHECK(mb_close(h) == 0);
}

/* The number after "NAME": in a flat JSON object, or -1. */
static long long json_count(const char *json, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = json ? strstr(json, key) : NULL;
    return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

static long long pool_count(const char *name) {
    char *stats = mb_pool_stats();
    long long n = json_count(stats, name);
    mb_free(stats);
    return n;
}

static int pool_failures;

/* A page: a persistent handle, a call, a close that hands the connection to the pool. */
static void *pages(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg,
                 "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"password\":\"secret\","
                 "\"key1\":\"%s\",\"key2\":\"%s\",\"persistent\":true}",
                 sim_port, KEY1, KEY2);
        long long h = mb_connect(cfg);
        char *reply = mb_process(h, "API.GetClients", NULL);
        if (reply == NULL || reply_code(reply) != 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
        mb_free(reply);
        if ((i % 2 ? mb_close(h) : mb_discard(h)) != 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Inspects and drains the pool while pages run. */
static void *inspector(void *arg) {
    (void)arg;
    for (int i = 0; i < 40; i++) {
        char *stats = mb_pool_stats();
        if (json_count(stats, "idle") < 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
        mb_free(stats);
        if (i % 10 == 9 && mb_pool_clear() < 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_persistent_pool(void) {
    CHECK(mb_pool_clear() >= 0);
    long long reused = pool_count("reused");
    long long h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":true"));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_close(h) == 0);
    CHECK(pool_count("idle") == 1);
    h = mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":true"));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(pool_count("reused") == reused + 1);
    CHECK(mb_close(h) == 0);

    pthread_t threads[6];
    for (int i = 0; i < 6; i++) CHECK(pthread_create(&threads[i], NULL, i < 5 ? pages : inspector, NULL) == 0);
    for (int i = 0; i < 6; i++) pthread_join(threads[i], NULL);
    CHECK(pool_failures == 0);
    CHECK(pool_count("idle") <= 4); /* the default bound per identity */
    CHECK(mb_pool_clear() >= 0);
    CHECK(pool_count("idle") == 0);

    /* Bad persistence settings are refused like any other config error. */
    CHECK(mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":\"yes\"")) == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
    CHECK(mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"pool_idle_timeout_ms\":0")) == 0);
    CHECK(last_error_code(MB_INVALID_ARGUMENT));
}

static void test_worker_cache(void) {
    CHECK(mb_worker_cache_get("c-test") == NULL);
    CHECK(mb_worker_cache_set("c-test", "value") == 0);
    char *got = mb_worker_cache_get("c-test");
    CHECK(got != NULL && strcmp(got, "value") == 0);
    mb_free(got);
    CHECK(mb_worker_cache_set("c-test", NULL) == 0);
    CHECK(mb_worker_cache_get("c-test") == NULL);
    CHECK(mb_worker_cache_set(NULL, "x") == MB_INVALID_ARGUMENT);
    CHECK(mb_worker_cache_get(NULL) == NULL);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SIM_PORT HOSTILE_PORT DEAD_PORT\n", argv[0]);
        return 2;
    }
    sim_port = atoi(argv[1]);
    hostile_port = atoi(argv[2]);
    dead_port = atoi(argv[3]);
    test_happy_path();
    test_discard();
    test_cancel_tokens();
    test_connect_refusals();
    test_call_errors();
    test_hostile_peer();
    test_auth_rejection_has_result_and_return();
    test_threads_share_a_handle();
    test_free_functions();
    test_persistent_pool();
    test_worker_cache();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
