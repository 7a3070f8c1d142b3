/* A library with every export of the 0.3 C ABI that does nothing, reporting as its version
 * whatever $MIKROBILL_FAKE_VERSION says at the moment (read on each call, so that one build
 * serves every version a test needs). test_loader.py builds it with cc; run-tests-debian.sh
 * builds it on the host for the Debian roots, which have no compiler. */
#include <stdlib.h>

int mb_connect(const char *c, long long *h) { return 9005; }
int mb_process(long long h, const char *p, const char *v, long long t, char **r) { return 9007; }
int mb_check_connection(long long h, long long t) { return 9007; }
int mb_disconnect(long long h) { return 9007; }
int mb_close(long long h) { return 9007; }
int mb_discard(long long h) { return 9007; }
int mb_cancel_token_new(long long *t) { return 9005; }
int mb_cancel_token_cancel(long long t) { return 9005; }
int mb_cancel_token_free(long long t) { return 9005; }
int mb_last_error_message(char **m) { *m = NULL; return 0; }
void mb_free(char *t) { (void)t; }
int mb_pool_stats(char **s) { return 9005; }
int mb_pool_clear(long long *n) { return 9005; }

const char *mb_version(void) {
    const char *version = getenv("MIKROBILL_FAKE_VERSION");
    return version ? version : "0.0.0";
}
