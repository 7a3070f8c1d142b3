/*
 * fork() through the C API, as php-fpm, Apache prefork and any C server that forks use it: while
 * other threads of the parent hold the library's locks and handles, hundreds of children each use
 * an inherited handle and a new one, and must finish within their deadline; a child whose handle
 * was in the middle of a call at the fork gets its own connection and its own deadline; and a
 * child that closed its inherited descriptors and reused their numbers keeps its files when it
 * uses the pool. A child that hangs is killed after 10 s and counted as failed. Run by
 * tests/c/run.sh without a sanitizer (see there why).
 *
 * usage: fork_test SIM_PORT HOSTILE_PORT
 * (HOSTILE_PORT: examples/hostile-server, whose login "timeout" is never answered)
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mikrobill.h"

#define KEY1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY2 "EBESExQVFhcYGRobHB0eHw=="
#define READ_PATH "API.Client.633824158637492.BillingInfo.Money"
#define CHILD_BOUND_MS 10000

static atomic_int stop;
static int sim_port;
static atomic_int failed;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static long long connect_with(int port, const char *login, const char *extra) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"login\":\"%s\",\"password\":\"secret\","
             "\"key1\":\"" KEY1 "\",\"key2\":\"" KEY2 "\",\"call_timeout_ms\":3000%s}",
             port, login, extra);
    long long h = 0;
    return mb_connect(config, &h) == 0 ? h : 0;
}

/* mb_process's code, the reply freed. */
static int process(long long h, const char *path) {
    char *reply = NULL;
    int rc = mb_process(h, path, NULL, 0, &reply);
    mb_free(reply);
    return rc;
}

/* Runs child(arg) in a forked child and returns its exit status, or -1 when it did not exit on
 * its own within CHILD_BOUND_MS (it is then killed). */
static int in_child(int (*child)(void *), void *arg) {
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        _exit(child(arg));
    }
    double started = now_ms();
    for (;;) {
        int status = 0;
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (now_ms() - started > CHILD_BOUND_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(2);
    }
}

/* Keeps the library's process-wide locks busy: the handle registry, the pool, cancel tokens,
 * issued strings and the worker cache. */
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        long long h = connect_with(sim_port, "api", ",\"persistent\":true");
        if (h == 0 || process(h, READ_PATH) != 0 || mb_close(h) != 0) {
            fprintf(stderr, "FAILED: a parent thread's call\n");
            atomic_fetch_add(&stop, 1);
            atomic_fetch_add(&failed, 1);
            break;
        }
        long long token = 0;
        char *stats = NULL;
        mb_cancel_token_new(&token);
        mb_pool_stats(&stats);
        mb_free(stats);
        mb_worker_cache_set("fork-test", "value");
        mb_cancel_token_free(token);
    }
    return NULL;
}

static void *use_shared(void *arg) {
    long long shared = *(long long *)arg;
    while (!atomic_load(&stop)) {
        process(shared, READ_PATH);
    }
    return NULL;
}

/* The inherited handle's first call reconnects (or gets a client of its own when a parent
 * thread held its client at the fork); a new handle works as usual. */
static int child_uses_inherited_and_new(void *arg) {
    long long shared = *(long long *)arg;
    if (process(shared, READ_PATH) != 0) {
        return 1;
    }
    long long fresh = connect_with(sim_port, "api", "");
    if (fresh == 0 || process(fresh, READ_PATH) != 0 || mb_close(fresh) != 0) {
        return 2;
    }
    return 0;
}

static void hundreds_of_forks_beside_busy_threads(void) {
    pthread_t workers[3], user;
    long long shared = connect_with(sim_port, "api", "");
    atomic_store(&stop, 0);
    for (int i = 0; i < 3; i++) {
        pthread_create(&workers[i], NULL, churn, NULL);
    }
    pthread_create(&user, NULL, use_shared, &shared);
    int bad = 0;
    for (int round = 0; round < 300 && bad < 3; round++) {
        int status = in_child(child_uses_inherited_and_new, &shared);
        if (status != 0) {
            fprintf(stderr, "FAILED: fork round %d: child %s (%d)\n", round,
                    status < 0 ? "hung" : "failed", status);
            bad++;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(workers[i], NULL);
    }
    pthread_join(user, NULL);
    mb_close(shared);
    atomic_fetch_add(&failed, bad);
    printf("300 forks beside busy threads: %s\n", bad ? "FAILED" : "ok");
}

struct stalled_call {
    long long handle;
    int rc;
};

static void *call_stalled(void *arg) {
    struct stalled_call *call = arg;
    call->rc = process(call->handle, "API.Stalled");
    return NULL;
}

/* The parent's call holds the handle (the peer never answers) for its whole 3 s deadline: the
 * child's call must not wait for it, but end at its own deadline. */
static int child_calls_the_stalled_handle(void *arg) {
    long long stalled = *(long long *)arg;
    double started = now_ms();
    int rc = process(stalled, "API.Child");
    return rc == MB_TIMEOUT && now_ms() - started < 4500 ? 0 : 1;
}

static void a_handle_in_a_call_at_the_fork(int hostile_port) {
    int bad = 0;
    for (int round = 0; round < 5; round++) {
        struct stalled_call call = {connect_with(hostile_port, "timeout", ""), -1};
        pthread_t caller;
        pthread_create(&caller, NULL, call_stalled, &call);
        sleep_ms(300);
        int status = in_child(child_calls_the_stalled_handle, &call.handle);
        pthread_join(caller, NULL);
        if (status != 0 || call.rc != MB_TIMEOUT) {
            fprintf(stderr, "FAILED: stalled round %d: child %d, parent's call %d\n", round, status,
                    call.rc);
            bad++;
        }
        mb_close(call.handle);
    }
    atomic_fetch_add(&failed, bad);
    printf("a child of a call in progress ends at its own deadline: %s\n", bad ? "FAILED" : "ok");
}

/* As a daemonizing child does: close every inherited descriptor, open files of its own (which
 * get the freed numbers, the pooled socket's among them), then use the pool. Every number must
 * still name the same file. */
static int child_reuses_descriptor_numbers(void *arg) {
    (void)arg;
    for (int fd = 3; fd < 1024; fd++) {
        close(fd);
    }
    int files[256];
    for (int i = 0; i < 256; i++) {
        files[i] = open("/dev/null", O_WRONLY);
        if (files[i] < 0) {
            return 3;
        }
    }
    struct stat first;
    if (fstat(files[0], &first) != 0) {
        return 4;
    }
    long long h = connect_with(sim_port, "api", ",\"persistent\":true");
    process(h, READ_PATH);
    mb_close(h);
    for (int i = 0; i < 256; i++) {
        struct stat st;
        if (fstat(files[i], &st) != 0 || st.st_dev != first.st_dev || st.st_ino != first.st_ino) {
            return 5;
        }
    }
    return 0;
}

static void a_child_that_reuses_descriptor_numbers(void) {
    int bad = 0;
    for (int round = 0; round < 50; round++) {
        long long h = connect_with(sim_port, "api", ",\"persistent\":true");
        if (h == 0 || process(h, READ_PATH) != 0 || mb_close(h) != 0) {
            fprintf(stderr, "FAILED: the parent's pooled call\n");
            bad++;
            break;
        }
        /* The connection now waits in the pool; the child inherits its descriptor. */
        int status = in_child(child_reuses_descriptor_numbers, NULL);
        if (status != 0) {
            fprintf(stderr, "FAILED: descriptor round %d: child %d\n", round, status);
            bad++;
        }
    }
    atomic_fetch_add(&failed, bad);
    printf("50 children that reuse descriptor numbers keep their files: %s\n", bad ? "FAILED" : "ok");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SIM_PORT HOSTILE_PORT\n", argv[0]);
        return 2;
    }
    sim_port = atoi(argv[1]);
    hundreds_of_forks_beside_busy_threads();
    a_handle_in_a_call_at_the_fork(atoi(argv[2]));
    a_child_that_reuses_descriptor_numbers();
    mb_pool_clear(NULL);
    return atomic_load(&failed) ? 1 : 0;
}
