// bench/echo.cc — a TCP echo server made of goroutines that use plain blocking calls.
//
// Listens on 127.0.0.1 (port argv[1], default 0: any) and prints `port N` once it listens;
// one goroutine accepts, and each connection gets a goroutine that reads up to 4 KiB and
// writes it back until the peer closes. No libgmp I/O API: accept, read and write are
// libc's names, which libgmp's hooks park on io_uring. Runs until killed. The same server
// in Go is bench/go/echo; with a native thread per connection, bench/echo_threads.c; the
// load comes from bench/go/loadgen.
#include <gmp/gmp.h>

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "echolisten.h"

namespace {

void serve(void *arg) {
    const int c = int(reinterpret_cast<intptr_t>(arg));
    char buf[4096];
    for (;;) {
        ssize_t r = read(c, buf, sizeof buf);
        if (r <= 0) break;
        if (write(c, buf, size_t(r)) != r) break;
    }
    close(c);
}

}  // namespace

int main(int argc, char **argv) {
    int ls = echolisten("echo: listen", argc > 1 ? atoi(argv[1]) : 0, 0);
    if (ls < 0) return 1;
    int one = 1;
    for (;;) {
        int c = accept(ls, nullptr, nullptr);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (gmp_go(serve, reinterpret_cast<void *>(intptr_t(c))) <= 0) close(c);
    }
}
