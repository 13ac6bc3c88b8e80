/* execstack — a program that needs an executable stack (linked -z execstack): GCC's nested
 * functions that use a local of their parent are called through a trampoline the compiler
 * writes on the stack. On goroutine 1 (main) and on a second thread; prints the same
 * natively and preloaded (the goroutine stacks are executable where glibc's would be). */
#include <pthread.h>
#include <stdio.h>

static void call(void (*f)(void)) { f(); }

static void *run(void *who) {
    int n = 0;
    void bump(void) { n++; }
    call(bump);
    call(bump);
    printf("%s: %d\n", (const char *)who, n);
    return NULL;
}

int main(void) {
    run("main");
    pthread_t t;
    pthread_create(&t, NULL, run, "thread");
    pthread_join(t, NULL);
    return 0;
}
