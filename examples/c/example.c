/* A complete C session with a MikroBILL core: connect, read, set, batch, close.
 * Build: gcc -Iinclude examples/c/example.c -Ltarget/release -lmikrobill -o example
 * Run:   LD_LIBRARY_PATH=target/release ./example 127.0.0.1 7403 */
#include <stdio.h>
#include <stdlib.h>
#include "mikrobill.h"

static void show(long long api, const char *path, const char *value) {
    char *reply = mb_process(api, path, value); /* never NULL; always JSON */
    printf("%s%s%s\n  -> %s\n", path, value ? " = " : "", value ? value : "", reply);
    mb_free(reply);
}

int main(int argc, char **argv) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"host\":\"%s\",\"port\":%s,\"login\":\"api\",\"password\":\"secret\","
             "\"key1\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
             "\"key2\":\"EBESExQVFhcYGRobHB0eHw==\",\"io_timeout_ms\":5000}",
             argc > 1 ? argv[1] : "127.0.0.1", argc > 2 ? argv[2] : "7403");

    long long api = mb_connect(config);
    if (api == 0) {
        char *why = mb_last_error();
        fprintf(stderr, "refused: %s\n", why);
        mb_free(why);
        return 1;
    }
    if (mb_check_connection(api) != 1) {
        fprintf(stderr, "the billing is offline\n");
        mb_close(api);
        return 1;
    }
    show(api, "API.GetClients", NULL);
    show(api, "API.Client.633824158637492.AutorizeInfo.Name", NULL);
    show(api, "API.Client.633824158637492.BillingInfo.Money", NULL);
    show(api, "API.Client.633824158637492.PersonalDataInfo.MobileTel", "\"+79001112233\"");
    show(api, "API.Client", /* one round trip: a read of one client and a set on another */
         "{\"0\":\"633824158637492.BillingInfo.Money\","
         "\"9527563927532953.AutorizeInfo.Accounts.835354904534456\":{\"MAC\":\"aa:bb:cc:dd:ee:ff\"}}");
    mb_close(api);
    return 0;
}
