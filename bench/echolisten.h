/* bench/echolisten.h — the echo servers' listener (echo.cc, echo_threads.c, echo_uring.c),
 * C and C++ alike: a TCP socket on 127.0.0.1:port (0: any) with flags added to its type
 * (SOCK_NONBLOCK), whose port is printed as `port N` for the load generator. Several servers
 * may share the port (SO_REUSEPORT; bench/echoload.sh: two 1-P servers against one 2-P
 * server), the kernel spreading the connections over them. -1 after perror(who) when it
 * cannot listen. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static inline int echolisten(const char *who, int port, int flags) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof addr;
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 4096) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &len) != 0) {
        perror(who);
        return -1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return ls;
}
