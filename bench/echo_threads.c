/* bench/echo_threads.c — bench/echo.cc with one native thread per connection (run without
 * libgmp): the classic blocking server the issue compares against. Prints `port N`. */
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echolisten.h"

static void *serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t r = read(c, buf, sizeof buf);
        if (r <= 0) break;
        if (write(c, buf, (size_t)r) != r) break;
    }
    close(c);
    return NULL;
}

int main(int argc, char **argv) {
    int ls = echolisten("echo_threads: listen", argc > 1 ? atoi(argv[1]) : 0, 0);
    if (ls < 0) return 1;
    int one = 1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)c) != 0) close(c);
    }
}
