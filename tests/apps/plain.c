/* plain.c — an ordinary C program that knows nothing of libgmp. Run with and without
 * LD_PRELOAD=libgmp.so, it must behave the same: argv, exit code, atexit handlers, stdout
 * flushed at exit. It also reports (last line) whether main runs on the process's original
 * thread stack — the one difference expected: under libgmp main is goroutine 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bye(void) { printf("atexit handler ran\n"); }

/* onThreadStack: whether addr lies in the [stack] mapping of /proc/self/maps. */
static int onThreadStack(const void *addr) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
      found = (unsigned long)addr >= lo && (unsigned long)addr < hi;
    }
  }
  if (f) fclose(f);
  return found;
}

int main(int argc, char **argv) {
  int local = 0;
  atexit(bye);
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, i == 0 ? "(self)" : argv[i]);
  char *p = malloc(1 << 20);
  memset(p, 'x', 1 << 20);
  free(p);
  printf("main on thread stack: %s\n", onThreadStack(&local) ? "yes" : "no");
  printf("unflushed tail without newline");
  return argc > 1 ? atoi(argv[1]) : 0;
}
