/* closedpipe — writes to pipes whose reader is gone, from a second thread: at once, as the
 * thread's first calls (EPIPE: no file table anywhere in the process may hold the read end),
 * and after the write waited on a full pipe that its reader then closed. The kernel sends
 * SIGPIPE to the thread that wrote: with a handler, the handler runs on the writer before
 * the write returns; with SIGPIPE blocked, it is pending on the writer, where sigtimedwait
 * takes it (and the process lives). Prints what each saw; the same natively and preloaded. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled, onwriter;
static pthread_t writer;

static void onpipe(int sig) {
    (void)sig;
    handled++;
    onwriter += pthread_equal(pthread_self(), writer);
}

static void *closer(void *arg) {
    usleep(20 * 1000);
    close(*(int *)arg);
    return NULL;
}

/* waited: a write of more than the pipe holds, its reader closing meanwhile. */
static ssize_t waited(void) {
    static char big[1 << 17];
    int p[2];
    pthread_t t;
    if (pipe(p) != 0) return -2;
    pthread_create(&t, NULL, closer, &p[0]);
    ssize_t r = write(p[1], big, sizeof big);
    pthread_join(t, NULL);
    close(p[1]);
    return r;
}

static void *run(void *arg) {
    (void)arg;
    writer = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onpipe;
    sigaction(SIGPIPE, &sa, NULL);
    int p[2];
    pipe(p);
    close(p[0]);
    errno = 0;
    ssize_t r = write(p[1], "x", 1);
    printf("at once: %zd %s, handled %d\n", r, strerrorname_np(errno), (int)handled);
    close(p[1]);

    for (int i = 0; i < 3; i++) {
        handled = onwriter = 0;
        r = waited();
        int h = handled;
        printf("handler: wrote %s, handled %d, on the writer %d\n", r > 0 ? "some" : "none", h,
               (int)onwriter);
    }

    sigset_t pipeset;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, NULL);
    for (int i = 0; i < 3; i++) {
        r = waited();
        sigset_t pend;
        sigpending(&pend);
        struct timespec zero = {0, 0};
        int sig = sigtimedwait(&pipeset, NULL, &zero);
        printf("blocked: wrote %s, pending %d, taken %d\n", r > 0 ? "some" : "none",
               sigismember(&pend, SIGPIPE), sig);
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, run, NULL);
    pthread_join(t, NULL);
    puts("end");
    return 0;
}
