/* tests/unit/auth/redis_test_util.h — a private redis-server for unit tests: free loopback
 * port, own temp dir, appendonly yes, started and stopped by pid (never by name). Can be
 * stopped and restarted on the same port and data (disconnect tests), and paused with
 * SIGSTOP/SIGCONT (deadline tests). Header-only; include once per test runner. */
#ifndef ONEGATE_TESTS_REDIS_TEST_UTIL_H
#define ONEGATE_TESTS_REDIS_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test_redis {
    pid_t pid;
    int port;
    char dir[64];
};

static inline int test_redis_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static inline int test_redis_can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (ok) {
        /* A PING answered means the server is really serving (not just listening). */
        const char ping[] = "PING\r\n";
        char buf[16] = { 0 };
        ok = write(fd, ping, sizeof(ping) - 1) == (ssize_t)(sizeof(ping) - 1) &&
             read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "+PONG", 5) == 0;
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts (or restarts on the same port and dir) the server; waits until it answers PING.
 * Returns 0 or -1. */
static inline int test_redis_spawn(struct test_redis *t)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", t->port);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--dir", t->dir, "--appendonly", "yes", "--save", "", "--daemonize", "no",
               "--protected-mode", "yes", (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    for (int i = 0; i < 500; i++) {
        if (test_redis_can_connect(t->port))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            t->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static inline int test_redis_start(struct test_redis *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/og-redis-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        t->port = test_redis_free_port();
        if (t->port > 0 && test_redis_spawn(t) == 0)
            return 0;
    }
    return -1;
}

/* Stops the server by its pid (SIGTERM, then waits; SIGKILL after 5 s). */
static inline void test_redis_stop(struct test_redis *t)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGCONT);
    kill(t->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        int st;
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
            t->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    t->pid = 0;
}

/* Stops the server and removes its data dir. */
static inline void test_redis_destroy(struct test_redis *t)
{
    test_redis_stop(t);
    if (t->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", t->dir);
        t->dir[0] = 0;
    }
}

/* Kills the server at once (SIGKILL, even while paused): replies in flight are lost. */
static inline void test_redis_kill(struct test_redis *t)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    t->pid = 0;
}

static inline void test_redis_pause(struct test_redis *t) { kill(t->pid, SIGSTOP); }
static inline void test_redis_resume(struct test_redis *t) { kill(t->pid, SIGCONT); }

#endif
