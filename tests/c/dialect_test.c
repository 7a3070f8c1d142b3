/*
 * A core that answers a little differently from the simulator's defaults, through the C API:
 * batch replies whose paths are echoed normalised (mikrobill-sim --batch-paths normalised) and
 * replies written in CP1251 (--reply-encoding cp1251). The protocol only infers what a real core
 * writes, so each reply must come back with rc 0 and the server's bytes exactly, never a failure
 * code. Run by tests/c/run.sh under AddressSanitizer.
 *
 * usage: dialect_test NORMALISED_SIM_PORT CP1251_SIM_PORT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikrobill.h"

/* The simulator's demo keys and data (see docs/src/simulator.md). */
#define KEY1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2 "EBESExQVFhcYGRobHB0eHw=="
#define CLIENT "API.Client.633824158637492"
#define ACCOUNTS CLIENT ".AutorizeInfo.Accounts"
#define ACCOUNT ACCOUNTS ".28236356495083"
#define NAME CLIENT ".AutorizeInfo.Name"
/* How --batch-paths normalised echoes ACCOUNT: Client -> Clients, a leading zero on each number. */
#define ECHOED "API.Clients.0633824158637492.AutorizeInfo.Accounts.028236356495083."

static int passed, failed;

static void check_reply(long long h, const char *path, const char *value, const char *expected,
                        size_t expected_len, int line) {
    char *reply = NULL;
    int rc = mb_process(h, path, value, 0, &reply);
    if (rc == 0 && reply != NULL && strlen(reply) == expected_len &&
        memcmp(reply, expected, expected_len) == 0) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAILED dialect_test.c:%d: %s -> rc %d, reply %s\n", line, path, rc,
                reply ? reply : "(none)");
    }
    mb_free(reply);
}

#define CHECK_REPLY(h, path, value, expected) \
    check_reply(h, path, value, expected, sizeof(expected) - 1, __LINE__)

static long long connect_to(int port) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"api\",\"password\":\"secret\","
             "\"key1\":\"" KEY1 "\",\"key2\":\"" KEY2 "\"}",
             port);
    long long h = 0;
    int rc = mb_connect(config, &h);
    if (rc != 0) {
        fprintf(stderr, "mb_connect to port %d failed with code %d\n", port, rc);
        exit(2);
    }
    return h;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NORMALISED_SIM_PORT CP1251_SIM_PORT\n", argv[0]);
        return 2;
    }

    /* Batch paths echoed normalised: no path is textually under the request's, and the reply is
     * handed over as the core wrote it (0.2 dropped the connection with 9012). */
    long long normalised = connect_to(atoi(argv[1]));
    CHECK_REPLY(normalised, ACCOUNTS, "{\"28236356495083\":[\"IP\",\"MAC\"]}",
                "[{\"return\":\"1.1.1.1\",\"code\":0,\"path\":\"" ECHOED "ip\"},"
                "{\"return\":\"AA:AA:AA:AA:AA:AA\",\"code\":0,\"path\":\"" ECHOED "mac\"}]");
    /* A batch set is reported as done, and it was done: read back on the same handle. */
    CHECK_REPLY(normalised, ACCOUNTS, "{\"28236356495083\":{\"IP\":\"192.168.25.110\"}}",
                "[{\"return\":\"OK\",\"code\":0,\"path\":\"" ECHOED "ip\"}]");
    CHECK_REPLY(normalised, ACCOUNT ".IP", NULL, "{\"return\":\"192.168.25.110\",\"code\":0}");
    mb_close(normalised);

    /* Replies in CP1251: the bytes as the core sent them (0.2 refused them with 9004). */
    long long cp1251 = connect_to(atoi(argv[2]));
    /* "Иванов Иван Иванович" in CP1251. */
    CHECK_REPLY(cp1251, NAME, NULL,
                "{\"return\":\"\xc8\xe2\xe0\xed\xee\xe2 \xc8\xe2\xe0\xed \xc8\xe2\xe0\xed\xee\xe2"
                "\xe8\xf7\",\"code\":0}");
    /* "Семён «Ёж» №5 Иё ✓" sent as PHP escapes it; read back in CP1251, with ✓ (which CP1251
     * lacks) still escaped. "Иё" is C8 B8, valid UTF-8 by accident: the bytes must stay. */
    CHECK_REPLY(cp1251, NAME,
                "\"\\u0421\\u0435\\u043c\\u0451\\u043d \\u00ab\\u0401\\u0436\\u00bb \\u21165 "
                "\\u0418\\u0451 \\u2713\"",
                "{\"return\":\"OK\",\"code\":0}");
    CHECK_REPLY(cp1251, NAME, NULL,
                "{\"return\":\"\xd1\xe5\xec\xb8\xed \xab\xa8\xe6\xbb \xb9"
                "5 \xc8\xb8 \\u2713\",\"code\":0}");
    mb_close(cp1251);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
