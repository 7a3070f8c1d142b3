/* A complete C session with a MikroBILL core: connect, check, read, set, batch, close.
 * Build: gcc -Iinclude examples/c/example.c -Ltarget/release -lmikrobill -o example
 * Run:   LD_LIBRARY_PATH=target/release ./example 127.0.0.1 7403 */
#include <stdio.h>
#include "mikrobill.h"

/* Prints why the last call on this thread failed; returns 1 for main. */
static int fail(const char *what, int code) {
    char *why = NULL;
    mb_last_error_message(&why);
    fprintf(stderr, "%s failed with code %d: %s\n", what, code, why ? why : "");
    mb_free(why);
    return 1;
}

/* One call: 0 when the server replied (whatever its reply's own code), else the error's code. */
static int show(long long api, const char *path, const char *value) {
    char *reply = NULL; /* the server's reply, or on failure the error JSON; mb_free it */
    int code = mb_process(api, path, value, 0, &reply);
    printf("%s%s%s\n  -> %s\n", path, value ? " = " : "", value ? value : "", reply);
    mb_free(reply);
    return code;
}

int main(int argc, char **argv) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"host\":\"%s\",\"port\":%s,\"login\":\"api\",\"password\":\"secret\","
             "\"key1\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
             "\"key2\":\"EBESExQVFhcYGRobHB0eHw==\",\"io_timeout_ms\":5000}",
             argc > 1 ? argv[1] : "127.0.0.1", argc > 2 ? argv[2] : "7403");

    long long api = 0;
    int code = mb_connect(config, &api);
    if (code != 0) return fail("mb_connect", code);
    code = mb_check_connection(api, 0); /* 0: online and the login accepted */
    if (code != 0) {
        fail("mb_check_connection", code);
        mb_close(api);
        return 1;
    }
    int failures = 0;
    failures += show(api, "API.GetClients", NULL) != 0;
    failures += show(api, "API.Client.633824158637492.AutorizeInfo.Name", NULL) != 0;
    failures += show(api, "API.Client.633824158637492.BillingInfo.Money", NULL) != 0;
    failures += show(api, "API.Client.633824158637492.PersonalDataInfo.MobileTel", "\"+79001112233\"") != 0;
    failures += show(api, "API.Client", /* one round trip: a read of one client, a set on another */
                     "{\"0\":\"633824158637492.BillingInfo.Money\","
                     "\"9527563927532953.AutorizeInfo.Accounts.835354904534456\":{\"MAC\":\"aa:bb:cc:dd:ee:ff\"}}") != 0;
    mb_close(api);
    return failures == 0 ? 0 : 1;
}
