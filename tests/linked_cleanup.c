// linked_cleanup.c — plain C (no -fexceptions): pthread_cleanup_push registers its handler
// through __pthread_register_cancel and the setjmp of glibc's macros, the form libgmp hooks.
#include <pthread.h>

static void note(void* arg) {
  char** at = arg;
  *(*at)++ = 'c';
}

// cleanupexit: leaves the calling thread (or goroutine) with a C handler registered, which
// appends 'c' at *at.
void cleanupexit(char** at, void* value) {
  pthread_cleanup_push(note, at);
  pthread_exit(value);
  pthread_cleanup_pop(0);
}
