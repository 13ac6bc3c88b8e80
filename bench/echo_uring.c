/* bench/echo_uring.c — bench/echo.cc's server with no runtime: one thread, one io_uring
 * (liburing), a receive and then a send per connection in flight, every SQE of a round of
 * completions submitted in one io_uring_enter. No scheduler, no hooks, no goroutine stacks:
 * the kernel's own cost of an echo round trip on io_uring, which no runtime on it can beat
 * (compare.py's `uring` column). Prints `port N`; runs until killed. */
#define _GNU_SOURCE  /* accept4 */
#include <liburing.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echolisten.h"

/* conn: a connection's buffer and what its one operation in flight is doing. */
struct conn {
    int fd;
    int sending;    /* 0: a receive is in flight; 1: a send of buf[off..len) */
    size_t off, len;
    char buf[4096];
};

static struct io_uring ring;

static struct io_uring_sqe *sqe(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { /* the submission queue is full: send these, take another */
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static void recvnext(struct conn *c) {
    struct io_uring_sqe *s = sqe();
    c->sending = 0;
    io_uring_prep_recv(s, c->fd, c->buf, sizeof c->buf, 0);
    io_uring_sqe_set_data(s, c);
}

static void sendrest(struct conn *c) {
    struct io_uring_sqe *s = sqe();
    c->sending = 1;
    io_uring_prep_send(s, c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    io_uring_sqe_set_data(s, c);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN; /* as libgmp's rings */
    params.cq_entries = 8192;
    int err = io_uring_queue_init_params(256, &ring, &params);
    if (err < 0) {
        fprintf(stderr, "echo_uring: io_uring_queue_init: %s\n", strerror(-err));
        return 1;
    }
    int ls = echolisten("echo_uring: listen", port, SOCK_NONBLOCK); /* accepts between rounds */
    if (ls < 0) return 1;
    int one = 1;
    for (;;) {
        /* New connections, between rounds (the listener is non-blocking). */
        for (int c; (c = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0;) {
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct conn *k = malloc(sizeof *k);
            if (!k) {
                close(c);
                continue;
            }
            k->fd = c;
            recvnext(k);
        }
        /* Submit the round and wait for a completion (1 ms at most: accepts come too). */
        struct __kernel_timespec ts = {0, 1000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            struct conn *c = io_uring_cqe_get_data(cqe);
            n++;
            if (cqe->res <= 0) { /* the peer closed, or an error: the connection ends */
                close(c->fd);
                free(c);
                continue;
            }
            if (!c->sending) {
                c->off = 0;
                c->len = (size_t)cqe->res;
            } else {
                c->off += (size_t)cqe->res;
            }
            if (c->off < c->len) sendrest(c); else recvnext(c);
        }
        io_uring_cq_advance(&ring, n);
    }
}
