/*
 * The C API exercised the way a C integrator would use it, written only from include/mikrobill.h
 * (the C reference). Run by tests/c/run.sh against the simulator and a hostile peer, under
 * AddressSanitizer and under valgrind, and by tests/windows/run.sh cross-compiled with mingw against
 * mikrobill.dll under wine.
 *
 * The 0.3 contract checked throughout: every export but mb_free and mb_version returns 0 or the
 * error's code; out-parameters are written only on success, except mb_process's reply, which
 * carries the error JSON on failure; mb_last_error_message gives this thread's last failure as
 * text holding "(code N)", or NULL after a success.
 *
 * usage: mikrobill_test SIM_PORT HOSTILE_PORT DEAD_PORT
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET socket_t;
#define close_socket closesocket
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
typedef int socket_t;
#define close_socket close
#endif

/* After the platform's headers: windows.h defines MB_OK (a MessageBox flag), which the header
 * must not clash with. */
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

/* Put in an out-parameter before a call, to see whether the call wrote it. Never issued by the
 * library, so it is never given to mb_free. */
static char unwritten_text[] = "unwritten";
#define UNWRITTEN unwritten_text
#define UNWRITTEN_NUMBER (-424242LL)

static char config[1024];

static const char *make_config(const char *host, int port, const char *login, const char *password,
                               const char *key1, const char *extra) {
    snprintf(config, sizeof config,
             "{\"host\":\"%s\",\"port\":%d,\"login\":\"%s\",\"password\":\"%s\","
             "\"key1\":\"%s\",\"key2\":\"%s\"%s}",
             host, port, login, password, key1, KEY2, extra);
    return config;
}

/* A handle from `config_json`, or 0 (and a failed check) when mb_connect refused it. */
static long long connect_or_fail(const char *config_json) {
    long long handle = UNWRITTEN_NUMBER;
    int code = mb_connect(config_json, &handle);
    CHECK(code == 0 && handle > 0);
    return code == 0 ? handle : 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The "code" of a reply object, or -99999 when it has none. */
static long reply_code(const char *reply) {
    const char *at = strstr(reply, "\"code\":");
    return at ? strtol(at + 7, NULL, 10) : -99999;
}

/* Whether this thread's last error is `expected`: for 0, no last error at all (the message is
 * NULL); otherwise a one-line message that names the code as "(code N)". Reading it twice gives
 * the same text: reading changes nothing. */
static int last_error_is(long expected) {
    char *first = UNWRITTEN, *second = UNWRITTEN;
    int read_first = mb_last_error_message(&first);
    int read_second = mb_last_error_message(&second);
    char wanted[40];
    snprintf(wanted, sizeof wanted, "(code %ld)", expected);
    int written = read_first == 0 && read_second == 0 && first != UNWRITTEN && second != UNWRITTEN;
    int ok = written && (expected == 0 ? first == NULL && second == NULL
                                       : first != NULL && second != NULL && strcmp(first, second) == 0 &&
                                             strstr(first, wanted) != NULL && strchr(first, '\n') == NULL);
    if (!ok)
        fprintf(stderr, "  last error (read %d, %d): %s (wanted %ld)\n", read_first, read_second,
                !written ? "not written" : first ? first : "NULL", expected);
    if (written) {
        mb_free(first);
        mb_free(second);
    }
    return ok;
}

/* Whether this thread's last error message holds `text`. */
static int last_error_says(const char *text) {
    char *message = NULL;
    int ok = mb_last_error_message(&message) == 0 && message != NULL && strstr(message, text) != NULL;
    if (!ok) fprintf(stderr, "  last error %s (wanted it to say \"%s\")\n", message ? message : "NULL", text);
    mb_free(message);
    return ok;
}

/* The text under "return" in an error JSON, with the JSON escapes \" \\ \/ undone; empty when
 * there is none or it holds another escape. */
static void return_text(const char *reply, char *text, size_t size) {
    const char *at = strstr(reply, "\"return\":\"");
    size_t n = 0;
    text[0] = '\0';
    if (at == NULL) return;
    for (at += 10; *at != '\0' && *at != '"' && n + 1 < size; at++) {
        if (*at == '\\') {
            at++;
            if (*at != '"' && *at != '\\' && *at != '/') {
                text[0] = '\0';
                return;
            }
        }
        text[n++] = *at;
    }
    text[n] = '\0';
}

/* Calls mb_process with `token`, checks the status and the reply's code, frees the reply; returns
 * whether they matched. The reply is written either way: the server's on success, the error JSON
 * on failure. A failure is also the last error, whose message tells the same text as the error
 * JSON, and it is still there after the reply was freed. */
static int expect_call(long long h, const char *path, const char *value, long long token, long code) {
    char *reply = UNWRITTEN;
    int status = mb_process(h, path, value, token, &reply);
    int written = reply != UNWRITTEN && reply != NULL;
    int ok = status == code && written && reply_code(reply) == code;
    if (!ok)
        fprintf(stderr, "  %s -> %d, %s (wanted code %ld)\n", path ? path : "NULL", status,
                !written ? "not written" : reply, code);
    if (written && code != 0) {
        char text[256];
        return_text(reply, text, sizeof text);
        ok = ok && text[0] != '\0' && last_error_says(text);
    }
    if (written) mb_free(reply);
    return ok && last_error_is(code);
}

static int expect_code(long long h, const char *path, const char *value, long code) {
    return expect_call(h, path, value, 0, code);
}

/* mb_process that must succeed (a failed check otherwise); the reply, for mb_free. */
static char *fetch(long long h, const char *path, const char *value) {
    static char nothing[] = "";
    char *reply = UNWRITTEN;
    int status = mb_process(h, path, value, 0, &reply);
    CHECK(status == 0 && reply != UNWRITTEN && reply != NULL);
    if (status != 0) fprintf(stderr, "  %s -> %d, %s\n", path, status, reply && reply != UNWRITTEN ? reply : "-");
    return reply != UNWRITTEN && reply != NULL ? reply : nothing; /* mb_free ignores `nothing` */
}

static void test_happy_path(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(last_error_is(0));
    CHECK(mb_check_connection(h, 0) == 0);
    CHECK(last_error_is(0));

    char *clients = fetch(h, "API.GetClients", NULL);
    CHECK(strstr(clients, "633824158637492") != NULL);
    CHECK(strstr(clients, "9527563927532953") != NULL);
    CHECK(reply_code(clients) == 0);
    mb_free(clients);

    char *money = fetch(h, "API.Client.633824158637492.BillingInfo.Money", NULL);
    CHECK(strcmp(money, "{\"return\":\"100.01\",\"code\":0}") == 0);
    mb_free(money);

    char *set = fetch(h, "API.Client.633824158637492.PersonalDataInfo.MobileTel", "\"+79990000001\"");
    CHECK(strcmp(set, "{\"return\":\"OK\",\"code\":0}") == 0);
    mb_free(set);
    char *tel = fetch(h, "API.Client.633824158637492.PersonalDataInfo.MobileTel", NULL);
    CHECK(strstr(tel, "+79990000001") != NULL);
    mb_free(tel);

    /* The manual's batch read: two leaves, in document order, each with its full path. */
    char *batch = fetch(h, "API.Client.633824158637492.AutorizeInfo.Accounts",
                        "{\"28236356495083\":[\"IP\",\"MAC\"]}");
    const char *ip = strstr(batch, "Accounts.28236356495083.IP\"");
    const char *mac = strstr(batch, "Accounts.28236356495083.MAC\"");
    CHECK(batch[0] == '[' && ip != NULL && mac != NULL && ip < mac);
    mb_free(batch);

    /* A server-side error passes through with the server's non-zero code, and the call itself
     * succeeded: status 0, no last error. */
    char *unknown = fetch(h, "API.Client.1.AutorizeInfo.Name", NULL);
    CHECK(reply_code(unknown) != 0 && reply_code(unknown) != -99999);
    mb_free(unknown);
    CHECK(last_error_is(0));

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
    CHECK(mb_check_connection(h, 0) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_CLOSED_HANDLE));
}

/* mb_discard releases without the DISCONNECT courtesy, for finalizers. */
static void test_discard(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_discard(h) == 0);
    CHECK(last_error_is(0));
    CHECK(mb_discard(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(mb_close(h) == MB_CLOSED_HANDLE);
    CHECK(last_error_is(MB_CLOSED_HANDLE));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_CLOSED_HANDLE));
    long long never_connected = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(mb_discard(never_connected) == 0);
}

/* A cancel token stops the calls given it, even one that has not started: nothing is sent. */
static void test_cancel_tokens(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    long long token = UNWRITTEN_NUMBER;
    CHECK(mb_cancel_token_new(&token) == 0 && token > 0);
    CHECK(last_error_is(0));
    CHECK(expect_call(h, "API.GetClients", NULL, token, 0));
    CHECK(expect_call(h, "API.GetClients", NULL, 0, 0));
    CHECK(mb_cancel_token_cancel(token) == 0);
    CHECK(last_error_is(0));
    CHECK(expect_call(h, "API.GetClients", NULL, token, MB_CANCELLED));
    CHECK(last_error_says("nothing was sent"));
    CHECK(mb_check_connection(h, token) == MB_CANCELLED);
    CHECK(last_error_is(MB_CANCELLED));
    CHECK(mb_cancel_token_cancel(token) == 0); /* cancelled for good; cancelling again is harmless */
    CHECK(expect_code(h, "API.GetClients", NULL, 0)); /* the handle is untouched */
    CHECK(mb_check_connection(h, 0) == 0);
    long long other = UNWRITTEN_NUMBER;
    CHECK(mb_cancel_token_new(&other) == 0 && other > 0 && other != token);
    CHECK(expect_call(h, "API.GetClients", NULL, other, 0)); /* a new token starts uncancelled */
    CHECK(mb_cancel_token_free(token) == 0);
    CHECK(last_error_is(0));
    CHECK(mb_cancel_token_free(token) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_cancel_token_cancel(token) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(expect_call(h, "API.GetClients", NULL, token, MB_INVALID_ARGUMENT));
    CHECK(mb_check_connection(h, token) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(expect_call(h, "API.GetClients", NULL, 987654321, MB_INVALID_ARGUMENT)); /* never issued */
    CHECK(expect_call(h, NULL, NULL, 0, MB_INVALID_ARGUMENT));
    CHECK(mb_cancel_token_free(other) == 0);
    CHECK(mb_close(h) == 0);
}

/* A listening socket of this program's own on 127.0.0.1, to see whether the library connected:
 * the kernel accepts connections into the backlog, so a pending one shows the listener readable. */
static socket_t listen_locally(int *port) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socket_t listener = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t length = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 8) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &length) != 0) {
        fprintf(stderr, "cannot listen on 127.0.0.1\n");
        exit(2);
    }
    *port = ntohs(addr.sin_port);
    return listener;
}

/* Whether a connection is waiting on `listener` within `ms`; takes it and closes it if so. */
static int connection_arrived(socket_t listener, long ms) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    struct timeval wait = {ms / 1000, (ms % 1000) * 1000};
    if (select((int)listener + 1, &readable, NULL, NULL, &wait) != 1) return 0;
    socket_t peer = accept(listener, NULL, NULL);
    close_socket(peer);
    return 1;
}

/* A call that is refused before it starts sends nothing: a cancelled token, an unknown token, a
 * NULL reply_out. Seen from a listener of our own, which no connection reaches, and against the
 * dead port, where the cancel is reported instead of the refused connect. */
static void test_refused_calls_send_nothing(void) {
    int port;
    socket_t listener = listen_locally(&port);
    long long h = connect_or_fail(make_config("127.0.0.1", port, "api", "secret", KEY1, ",\"io_timeout_ms\":300"));
    long long token = UNWRITTEN_NUMBER;
    CHECK(mb_cancel_token_new(&token) == 0);
    CHECK(mb_cancel_token_cancel(token) == 0);
    CHECK(expect_call(h, "API.GetClients", NULL, token, MB_CANCELLED));
    CHECK(last_error_says("nothing was sent"));
    CHECK(mb_check_connection(h, token) == MB_CANCELLED);
    CHECK(last_error_is(MB_CANCELLED));
    CHECK(expect_call(h, "API.GetClients", NULL, 987654321, MB_INVALID_ARGUMENT));
    CHECK(mb_process(h, "API.GetClients", NULL, 0, NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(!connection_arrived(listener, 300));
    /* The control: an uncancelled check does connect; nothing answers its auth, which the
     * original client reports as no usable auth reply (6). */
    CHECK(mb_check_connection(h, 0) == MB_NULL_RESPONSE);
    CHECK(last_error_is(MB_NULL_RESPONSE));
    CHECK(connection_arrived(listener, 0));
    CHECK(mb_close(h) == 0);
    close_socket(listener);

    h = connect_or_fail(make_config("127.0.0.1", dead_port, "api", "secret", KEY1, ""));
    CHECK(expect_call(h, "API.GetClients", NULL, token, MB_CANCELLED));
    CHECK(last_error_says("nothing was sent"));
    CHECK(mb_check_connection(h, token) == MB_CANCELLED);
    CHECK(expect_call(h, "API.GetClients", NULL, 0, CONNECTION_REFUSED)); /* the control */
    CHECK(mb_cancel_token_free(token) == 0);
    CHECK(mb_close(h) == 0);
}

/* A call blocked on the hostile peer's "timeout" login, which reads requests and never answers. */
struct blocked_call {
    long long handle, token;
    int status;
    long reply_code;
    double seconds;
};

static void *run_blocked_call(void *arg) {
    struct blocked_call *call = arg;
    double start = now_seconds();
    char *reply = NULL;
    call->status = mb_process(call->handle, "API.GetClients", NULL, call->token, &reply);
    call->seconds = now_seconds() - start;
    call->reply_code = reply != NULL ? reply_code(reply) : -99999;
    mb_free(reply);
    return NULL;
}

/* Cancelling a token stops the call in progress that was given it within moments, and no other
 * call: not one on another handle in another thread, not the next one waiting for the handle. */
static void test_a_token_reaches_only_its_call(void) {
    const char *extra = ",\"io_timeout_ms\":4000";
    struct blocked_call calls[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        calls[i] = (struct blocked_call){0, 0, -1, -1, 0};
        calls[i].handle = connect_or_fail(make_config("127.0.0.1", hostile_port, "timeout", "pw", KEY1, extra));
        CHECK(mb_cancel_token_new(&calls[i].token) == 0);
        CHECK(pthread_create(&threads[i], NULL, run_blocked_call, &calls[i]) == 0);
    }
    sleep_ms(500);
    CHECK(mb_cancel_token_cancel(calls[0].token) == 0);
    double cancelled_at = now_seconds();
    pthread_join(threads[0], NULL);
    double took = now_seconds() - cancelled_at;
    CHECK(calls[0].status == MB_CANCELLED && calls[0].reply_code == MB_CANCELLED);
    CHECK(took < 1.5); /* promptly, long before its 4 s io_timeout */
    pthread_join(threads[1], NULL);
    CHECK(calls[1].status == MB_TIMEOUT && calls[1].reply_code == MB_TIMEOUT); /* ran its course */
    CHECK(calls[1].seconds >= 3.5);
    for (int i = 0; i < 2; i++) {
        CHECK(mb_cancel_token_free(calls[i].token) == 0);
        CHECK(mb_close(calls[i].handle) == 0);
    }

    /* One handle: the second call waits for the first; cancelling the first's token leaves the
     * second to run its course. (Either may get the handle first; the codes are the same.) */
    extra = ",\"io_timeout_ms\":2000";
    long long h = connect_or_fail(make_config("127.0.0.1", hostile_port, "timeout", "pw", KEY1, extra));
    for (int i = 0; i < 2; i++) {
        calls[i] = (struct blocked_call){h, 0, -1, -1, 0};
        CHECK(mb_cancel_token_new(&calls[i].token) == 0);
        CHECK(pthread_create(&threads[i], NULL, run_blocked_call, &calls[i]) == 0);
        sleep_ms(300);
    }
    CHECK(mb_cancel_token_cancel(calls[0].token) == 0);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    CHECK(calls[0].status == MB_CANCELLED && calls[0].reply_code == MB_CANCELLED);
    CHECK(calls[1].status == MB_TIMEOUT && calls[1].reply_code == MB_TIMEOUT);
    for (int i = 0; i < 2; i++) CHECK(mb_cancel_token_free(calls[i].token) == 0);
    CHECK(mb_close(h) == 0);
}

/* mb_connect refuses a bad config with the error's code, leaving *handle_out as it was. */
static int connect_refused(const char *config_json, long code) {
    long long handle = UNWRITTEN_NUMBER;
    int status = mb_connect(config_json, &handle);
    int ok = status == code && handle == UNWRITTEN_NUMBER;
    if (!ok) fprintf(stderr, "  mb_connect -> %d, handle %lld (wanted %ld)\n", status, handle, code);
    return ok && last_error_is(code);
}

static void test_connect_refusals(void) {
    CHECK(connect_refused(NULL, MB_INVALID_ARGUMENT));
    CHECK(connect_refused("{not json", MB_INVALID_ARGUMENT));
    CHECK(connect_refused(make_config("127.0.0.1", 1, "a", "b", KEY1, ",\"colour\":1"), MB_INVALID_ARGUMENT));
    CHECK(connect_refused(make_config("127.0.0.1", 1, "a", "b", KEY1, ",\"io_timeout_ms\":\"5\""),
                          MB_INVALID_ARGUMENT));
    CHECK(connect_refused("{\"host\":\"\xff\"}", MB_INVALID_ARGUMENT));
    CHECK(connect_refused(make_config("127.0.0.1", 1, "a", "b", "not base64!", ""), MB_INVALID_KEY));
    CHECK(connect_refused(make_config("127.0.0.1", 1, "a", "b", "AAEC", ""), MB_INVALID_KEY));
}

static void test_call_errors(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
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

    /* The server's refusal of the login is the error: its code is the status and the reply's. */
    h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "wrong", KEY1, ""));
    char *rejected = UNWRITTEN;
    int status = mb_process(h, "API.GetClients", NULL, 0, &rejected);
    CHECK(rejected != UNWRITTEN && rejected != NULL);
    long refusal = rejected != UNWRITTEN && rejected != NULL ? reply_code(rejected) : -99999;
    CHECK(refusal != 0 && refusal != -99999 && status == refusal);
    CHECK(rejected != UNWRITTEN && rejected != NULL && strstr(rejected, "\"result\":") != NULL);
    if (rejected != UNWRITTEN) mb_free(rejected);
    CHECK(last_error_is(refusal));
    CHECK(mb_check_connection(h, 0) == refusal);
    CHECK(last_error_is(refusal));
    CHECK(mb_close(h) == 0);

    h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", "AAECAwQFBgcICQoLDA0ODw==", ""));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_NULL_RESPONSE));
    CHECK(mb_check_connection(h, 0) == MB_NULL_RESPONSE);
    mb_close(h);

    h = connect_or_fail(make_config("127.0.0.1", dead_port, "api", "secret", KEY1, ""));
    char *refused = UNWRITTEN;
    CHECK(mb_process(h, "API.GetClients", NULL, 0, &refused) == CONNECTION_REFUSED);
    CHECK(refused != UNWRITTEN && refused != NULL && reply_code(refused) == CONNECTION_REFUSED);
    CHECK(refused != UNWRITTEN && refused != NULL && strstr(refused, "\"return\":\"Can`t connect!\"") != NULL);
    if (refused != UNWRITTEN) mb_free(refused);
    CHECK(last_error_is(CONNECTION_REFUSED));
    CHECK(last_error_says("Can`t connect!"));
    CHECK(mb_check_connection(h, 0) == CONNECTION_REFUSED); /* offline: the reason's code */
    CHECK(last_error_is(CONNECTION_REFUSED));
    mb_close(h);

    h = connect_or_fail(make_config("name.invalid", 7403, "api", "secret", KEY1, ""));
    CHECK(expect_code(h, "API.GetClients", NULL, MB_HOST_NOT_RESOLVED));
    mb_close(h);
}

/* password_base64 carries the password's raw bytes ("c2VjcmV0" is "secret"); exactly one of
 * password and password_base64, and a bad one is refused without showing it. */
static void test_password_base64(void) {
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"password_base64\":\"c2VjcmV0\","
             "\"key1\":\"%s\",\"key2\":\"%s\"}",
             sim_port, KEY1, KEY2);
    long long h = connect_or_fail(cfg);
    CHECK(mb_check_connection(h, 0) == 0);
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_close(h) == 0);

    /* A cashier whose password was saved in CP1251 (tests/c/run.sh gives the simulator the
     * cashier "kassa1251" with the bytes of "Пароль" in CP1251, "z+Dw7uv8"): its bytes log in,
     * the same word as UTF-8 text does not. */
    snprintf(cfg, sizeof cfg,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"kassa1251\",\"password_base64\":\"z+Dw7uv8\","
             "\"key1\":\"%s\",\"key2\":\"%s\"}",
             sim_port, KEY1, KEY2);
    h = connect_or_fail(cfg);
    CHECK(mb_check_connection(h, 0) == 0);
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_close(h) == 0);
    h = connect_or_fail(make_config("127.0.0.1", sim_port, "kassa1251", "\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c", KEY1, ""));
    CHECK(mb_check_connection(h, 0) != 0);
    CHECK(mb_close(h) == 0);

    /* "d3Jvbmc=" is "wrong": refused by the server as the text password "wrong" is. */
    h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "wrong", KEY1, ""));
    int text_refusal = mb_check_connection(h, 0);
    CHECK(text_refusal != 0);
    CHECK(mb_close(h) == 0);
    snprintf(cfg, sizeof cfg,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"password_base64\":\"d3Jvbmc=\","
             "\"key1\":\"%s\",\"key2\":\"%s\"}",
             sim_port, KEY1, KEY2);
    h = connect_or_fail(cfg);
    CHECK(mb_check_connection(h, 0) == text_refusal);
    CHECK(mb_close(h) == 0);

    CHECK(connect_refused(make_config("127.0.0.1", sim_port, "api", "secret", KEY1,
                                      ",\"password_base64\":\"c2VjcmV0\""),
                          MB_INVALID_ARGUMENT));
    snprintf(cfg, sizeof cfg,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"password_base64\":\"s3cr3t!!\","
             "\"key1\":\"%s\",\"key2\":\"%s\"}",
             sim_port, KEY1, KEY2);
    CHECK(connect_refused(cfg, MB_INVALID_ARGUMENT));
    char *message = NULL;
    CHECK(mb_last_error_message(&message) == 0 && message != NULL && strstr(message, "s3cr3t") == NULL);
    mb_free(message);
    snprintf(cfg, sizeof cfg, "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"key1\":\"%s\",\"key2\":\"%s\"}",
             sim_port, KEY1, KEY2);
    CHECK(connect_refused(cfg, MB_INVALID_ARGUMENT)); /* neither */
}

static void test_hostile_peer(void) {
    static const struct { const char *login; long code; } cases[] = {
        {"timeout", MB_TIMEOUT},        {"drop", MB_CONNECTION_LOST},
        {"huge", MB_FRAME_TOO_LARGE},   {"misaligned", MB_MALFORMED_REPLY},
        {"not-utf8", 0 /* passed through as bytes, see below */}, {"nul", MB_MALFORMED_REPLY},
        {"empty", MB_MALFORMED_REPLY},    {"truncated", MB_CONNECTION_LOST},
        {"close-auth", MB_NULL_RESPONSE}, {"garbage-auth", MB_NULL_RESPONSE},
        {"reject", 101},                  {"not-json", MB_REPLY_NOT_JSON},
        {"unsolicited", MB_OUT_OF_STEP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long h = connect_or_fail(make_config("127.0.0.1", hostile_port, cases[i].login, "pw", KEY1,
                                                  ",\"io_timeout_ms\":300,\"max_frame_bytes\":65536"));
        CHECK(expect_code(h, "API.GetClients", NULL, cases[i].code));
        CHECK(mb_close(h) == 0);
        CHECK(last_error_is(0));
    }
    /* A reply that is not UTF-8 (a core answering in CP1251) is handed over byte for byte. */
    long long h = connect_or_fail(make_config("127.0.0.1", hostile_port, "not-utf8", "pw", KEY1, ""));
    char *reply = NULL;
    CHECK(mb_process(h, "API.GetClients", NULL, 0, &reply) == 0);
    CHECK(reply != NULL && strcmp(reply, "{\"return\":\"\xff\xfe\",\"code\":0}") == 0);
    mb_free(reply);
    CHECK(mb_close(h) == 0);
}

/* A rejected login reads as the original client's reply (its text under "result") and as the
 * server's (under "return"). */
static void test_auth_rejection_has_result_and_return(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", hostile_port, "reject", "pw", KEY1, ""));
    char *reply = UNWRITTEN;
    CHECK(mb_process(h, "API.GetClients", NULL, 0, &reply) == 101);
    int ok = reply != UNWRITTEN && reply != NULL &&
             strcmp(reply, "{\"result\":\"Access denied\",\"return\":\"Access denied\",\"code\":101}") == 0;
    if (!ok) fprintf(stderr, "  rejection: %s\n", reply != UNWRITTEN && reply ? reply : "not written");
    CHECK(ok);
    if (reply != UNWRITTEN) mb_free(reply);
    CHECK(last_error_says("Access denied"));
    CHECK(mb_close(h) == 0);
}

struct worker { long long handle; int id; int mismatches; };

static void *hammer(void *arg) {
    struct worker *w = arg;
    char path[64], wanted[96];
    for (int i = 0; i < 25; i++) {
        snprintf(path, sizeof path, "API.Thread%d.Call%d", w->id, i);
        snprintf(wanted, sizeof wanted, "{\\\"path\\\":\\\"%s\\\"", path);
        char *reply = NULL;
        if (mb_process(w->handle, path, NULL, 0, &reply) != 0) w->mismatches++;
        if (reply == NULL || strstr(reply, wanted) == NULL) w->mismatches++;
        mb_free(reply);
        char *message = UNWRITTEN;
        /* per thread, and these succeeded */
        if (mb_last_error_message(&message) != 0 || message != NULL) w->mismatches++;
        if (message != UNWRITTEN) mb_free(message);
    }
    return NULL;
}

static void test_threads_share_a_handle(void) {
    long long h = connect_or_fail(make_config("127.0.0.1", hostile_port, "echo", "pw", KEY1, ""));
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
    const char *version = mb_version();
    CHECK(version != NULL && strncmp(version, "0.3.", 4) == 0);
    CHECK(mb_version() == version); /* static: the same string every time */
    CHECK(last_error_is(0));
    /* Never to be freed; mb_free ignores it, as it ignores any pointer it did not issue (under
     * AddressSanitizer and valgrind a real free of it would be reported). */
    mb_free((char *)version);
    mb_free((char *)version);
    CHECK(mb_version() == version && strncmp(version, "0.3.", 4) == 0);
    mb_free(NULL);
    char local[] = "not from the library";
    mb_free(local); /* ignored: not ours */
    CHECK(strcmp(local, "not from the library") == 0);

    long long h = UNWRITTEN_NUMBER;
    CHECK(mb_connect(NULL, &h) == MB_INVALID_ARGUMENT && h == UNWRITTEN_NUMBER);
    char *err = NULL;
    CHECK(mb_last_error_message(&err) == 0 && err != NULL);
    mb_free(err);
    CHECK(mb_version() == version);
    /* neither reading, freeing nor asking the version clears it */
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_connect(make_config("127.0.0.1", 1, "a", "b", KEY1, ""), &h) == 0 && h > 0);
    CHECK(last_error_is(0)); /* cleared by the successful connect */
    CHECK(mb_close(h) == 0);
}

/* A NULL out-parameter is 9005; a failure writes no out-parameter (mb_process's reply aside,
 * checked with every expect_call). */
static void test_out_parameters(void) {
    CHECK(mb_connect(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""), NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_cancel_token_new(NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_pool_stats(NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_pool_clear(NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_worker_cache_set("c-out", "kept") == 0);
    CHECK(mb_worker_cache_get("c-out", NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(mb_last_error_message(NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));

    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ""));
    CHECK(mb_process(h, "API.GetClients", NULL, 0, NULL) == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    CHECK(expect_code(h, "API.GetClients", NULL, 0)); /* the handle is fine */
    CHECK(mb_close(h) == 0);

    char *value = UNWRITTEN;
    CHECK(mb_worker_cache_get(NULL, &value) == MB_INVALID_ARGUMENT && value == UNWRITTEN);
    CHECK(mb_worker_cache_get("c-out", &value) == 0 && value != UNWRITTEN && value != NULL &&
          strcmp(value, "kept") == 0);
    if (value != UNWRITTEN) mb_free(value);
    CHECK(mb_worker_cache_set("c-out", NULL) == 0);
}

/* The number after "NAME": in a flat JSON object, or -1. */
static long long json_count(const char *json, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = json ? strstr(json, key) : NULL;
    return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

static long long pool_count(const char *name) {
    char *stats = UNWRITTEN;
    if (mb_pool_stats(&stats) != 0 || stats == UNWRITTEN) return -2;
    long long n = json_count(stats, name);
    mb_free(stats);
    return n;
}

static int pool_cleared(void) {
    long long closed = UNWRITTEN_NUMBER;
    return mb_pool_clear(&closed) == 0 && closed >= 0;
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
        long long h = 0;
        if (mb_connect(cfg, &h) != 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
        char *reply = NULL;
        int status = mb_process(h, "API.GetClients", NULL, 0, &reply);
        if (status != 0 || reply == NULL || reply_code(reply) != 0)
            __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
        mb_free(reply);
        if ((i % 2 ? mb_close(h) : mb_discard(h)) != 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Inspects and drains the pool while pages run. */
static void *inspector(void *arg) {
    (void)arg;
    for (int i = 0; i < 40; i++) {
        if (pool_count("idle") < 0) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
        if (i % 10 == 9 && !pool_cleared()) __atomic_add_fetch(&pool_failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_persistent_pool(void) {
    CHECK(pool_cleared());
    long long reused = pool_count("reused");
    CHECK(reused >= 0);
    long long h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":true"));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(mb_close(h) == 0);
    CHECK(pool_count("idle") == 1);
    CHECK(mb_pool_clear(NULL) == MB_INVALID_ARGUMENT); /* refused before closing anything */
    CHECK(pool_count("idle") == 1);
    h = connect_or_fail(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":true"));
    CHECK(expect_code(h, "API.GetClients", NULL, 0));
    CHECK(pool_count("reused") == reused + 1);
    CHECK(mb_close(h) == 0);
    long long closed = UNWRITTEN_NUMBER;
    CHECK(mb_pool_clear(&closed) == 0 && closed == 1);
    CHECK(pool_count("idle") == 0);

    pthread_t threads[6];
    for (int i = 0; i < 6; i++) CHECK(pthread_create(&threads[i], NULL, i < 5 ? pages : inspector, NULL) == 0);
    for (int i = 0; i < 6; i++) pthread_join(threads[i], NULL);
    CHECK(pool_failures == 0);
    CHECK(pool_count("idle") <= 4); /* the default bound per identity */
    CHECK(pool_cleared());
    CHECK(pool_count("idle") == 0);

    /* Bad persistence settings are refused like any other config error. */
    CHECK(connect_refused(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"persistent\":\"yes\""),
                          MB_INVALID_ARGUMENT));
    CHECK(connect_refused(make_config("127.0.0.1", sim_port, "api", "secret", KEY1, ",\"pool_idle_timeout_ms\":0"),
                          MB_INVALID_ARGUMENT));
}

static void test_worker_cache(void) {
    char *got = UNWRITTEN;
    CHECK(mb_worker_cache_get("c-test", &got) == 0 && got == NULL); /* none: written as NULL */
    CHECK(mb_worker_cache_set("c-test", "value") == 0);
    got = UNWRITTEN;
    CHECK(mb_worker_cache_get("c-test", &got) == 0 && got != UNWRITTEN && got != NULL && strcmp(got, "value") == 0);
    if (got != UNWRITTEN) mb_free(got);
    CHECK(mb_worker_cache_set("c-test", NULL) == 0);
    got = UNWRITTEN;
    CHECK(mb_worker_cache_get("c-test", &got) == 0 && got == NULL);
    CHECK(mb_worker_cache_set(NULL, "x") == MB_INVALID_ARGUMENT);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
    got = UNWRITTEN;
    CHECK(mb_worker_cache_get(NULL, &got) == MB_INVALID_ARGUMENT && got == UNWRITTEN);
    CHECK(last_error_is(MB_INVALID_ARGUMENT));
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SIM_PORT HOSTILE_PORT DEAD_PORT\n", argv[0]);
        return 2;
    }
#ifdef _WIN32
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        fprintf(stderr, "WSAStartup failed\n");
        return 2;
    }
#endif
    sim_port = atoi(argv[1]);
    hostile_port = atoi(argv[2]);
    dead_port = atoi(argv[3]);
    test_happy_path();
    test_discard();
    test_cancel_tokens();
    test_refused_calls_send_nothing();
    test_a_token_reaches_only_its_call();
    test_connect_refusals();
    test_call_errors();
    test_password_base64();
    test_hostile_peer();
    test_auth_rejection_has_result_and_return();
    test_threads_share_a_handle();
    test_free_functions();
    test_out_parameters();
    test_persistent_pool();
    test_worker_cache();
#ifdef _WIN32
    WSACleanup();
#endif
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
