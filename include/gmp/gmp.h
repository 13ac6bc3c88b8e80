/*
 * gmp.h — the C ABI of libgmp, Go's G/M/P scheduler for C and C++ on Linux/amd64.
 *
 * Include as <gmp/gmp.h> (never <gmp.h>: that name belongs to GNU MP).
 *
 * Conventions
 *   - Every function is safe to call at any time, including from ELF constructors that run
 *     before the runtime has started and from threads that are not goroutines. Where a call
 *     cannot be honoured it returns an error code; it never crashes or aborts.
 *   - Errors are negative errno values (-EINVAL, -ENOMEM, -EAGAIN, ...) returned directly;
 *     errno is not touched. The calls that return a pointer (gmp_chan_make, gmp_timer_new,
 *     gmp_timer_chan, gmp_after) return NULL and set errno instead, as malloc does.
 *   - A "goroutine" is a function run by the runtime's scheduler on its own stack. The
 *     program's main() runs as goroutine 1 once libgmp has taken over (preloaded or linked).
 */
#ifndef GMP_GMP_H
#define GMP_GMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GMP_API __attribute__((visibility("default")))
#else
#define GMP_API
#endif

/*
 * gmp_go starts fn(arg) as a new goroutine and returns its goroutine id (> 0).
 * The goroutine runs on a 64 KiB stack (GMPSTACK=<bytes> changes the default) that is bound
 * to it when it first runs; when fn returns the goroutine ends. Called on a goroutine, every
 * 256th gmp_go (or gmp_go_with) of that goroutine yields before it returns (as gmp_yield),
 * so that what a spawning loop made can run, as Go's preemption lets it: queued goroutines
 * cost memory.
 *
 * Errors:
 *   -EINVAL  fn is NULL
 *   -EAGAIN  the runtime has not started (called from an ELF constructor) or is shutting down
 *   -ENOMEM  no memory for the goroutine record
 */
GMP_API int64_t gmp_go(void (*fn)(void *), void *arg);

/*
 * gmp_go_attr_t: how gmp_go_with starts a goroutine. Zero it (gmp_go_attr_t a = {0};) and
 * set what you need: a zeroed one starts a goroutine as gmp_go does.
 *
 *   stack_size  bytes (rounded up to pages), from GMP_GO_STACK_MIN to GMP_GO_STACK_MAX;
 *               0: the default (64 KiB, or GMPSTACK)
 *   flags       0 or GMP_GO_OWN_TLS
 *
 * GMP_GO_OWN_TLS gives the goroutine thread-local storage of its own, as pthread_create
 * gives a thread: its thread_local variables, errno, malloc's thread cache and
 * pthread_self() are its own on whichever OS thread it runs, and its thread_local
 * destructors and pthread key destructors run when it ends. Without it, a goroutine shares
 * the TLS of the OS thread it runs on, and may resume on another one after any park: code
 * that keeps a TLS address across a blocking call (gcc -O2 turns `errno = 0; read(...);
 * return errno;` into one __errno_location() call before the read) then reads another
 * thread's. The cost: a thread control block (about 6 KiB) made at start and freed at the
 * end, and a write of the %fs base at every switch to or from the goroutine (one
 * instruction with FSGSBASE, a system call on CPUs and VMs that hide it).
 */
typedef struct gmp_go_attr {
  size_t stack_size;
  unsigned flags;
} gmp_go_attr_t;

#define GMP_GO_OWN_TLS 0x1u
#define GMP_GO_STACK_MIN ((size_t)16 << 10)
#define GMP_GO_STACK_MAX ((size_t)1 << 30)

/*
 * gmp_go_with starts fn(arg) as a new goroutine as attr says and returns its id (> 0).
 *
 * Errors:
 *   -EINVAL   fn or attr is NULL, attr->flags has a bit not defined above, or a non-zero
 *             attr->stack_size is out of [GMP_GO_STACK_MIN, GMP_GO_STACK_MAX]
 *   -ENOTSUP  GMP_GO_OWN_TLS where goroutines cannot have TLS of their own: an ASan build
 *             (its interceptors keep per-thread state there), or a glibc whose thread
 *             control block the runtime does not recognise
 *   -EAGAIN   the runtime has not started
 *   -ENOMEM   no memory for the goroutine record or its thread control block, or no room
 *             for a stack of attr->stack_size (mapped now, where a default-sized stack is
 *             taken when the goroutine first runs)
 */
GMP_API int64_t gmp_go_with(void (*fn)(void *), void *arg, const gmp_go_attr_t *attr);

/*
 * gmp_yield lets other runnable goroutines run; the caller stays runnable and continues
 * later, possibly on another OS thread. Off a goroutine it yields the OS thread
 * (sched_yield) instead.
 */
GMP_API void gmp_yield(void);

/* gmp_goid returns the calling goroutine's id, or 0 when called off a goroutine. */
GMP_API int64_t gmp_goid(void);

/*
 * gmp_maxprocs sets the number of Ps (goroutines running user code at once) to n and returns
 * the previous value; n <= 0 only queries. The default is GMPMAXPROCS, else the CPUs in the
 * affinity mask capped by a cgroup v2 cpu.max quota. Changing it stops the world: it waits
 * until every running goroutine reaches a scheduling point (a yield, park or exit).
 * Values above 1024 are clamped to 1024.
 *
 * Errors:
 *   -EAGAIN  the runtime has not started
 *   -EPERM   n > 0 and the caller is not a goroutine (only a goroutine may stop the world)
 */
GMP_API int gmp_maxprocs(int n);

/* gmp_num_goroutine returns the number of live goroutines (0 before the runtime starts). */
GMP_API int64_t gmp_num_goroutine(void);

/*
 * gmp_dump writes a dump of every goroutine to fd, as SIGQUIT does but without exiting:
 * the caller's goroutine first, then the others, each as
 *
 *     goroutine 7 [semacquire, 3 minutes]:
 *     worker(void*)+0x1d
 *     	/path/to/module+0x11e2
 *     created by main+0x4c in goroutine 1
 *     	/path/to/module+0x1234
 *
 * (status or wait reason, and the wait time once it exceeds a minute; then each frame's
 * demangled function and offset, and the module with the pc's address in it, which
 * `addr2line -f -e module address` takes). Goroutines running on other threads are
 * asked to print their own stack (a SIGURG to their thread); one that does not answer
 * within a second is listed with "stack unavailable". Other goroutines keep running while
 * the dump is written, so it is a snapshot only per goroutine.
 *
 * Environment: GMPTRACEBACK=none|single|all|crash sets what a fatal error (a fatal signal
 * on a goroutine, SIGQUIT, a runtime failure) prints before the process exits with status
 * 2: nothing, the failing goroutine only, all goroutines (the default), or all and then
 * the default action of the signal (SIGABRT where there is none), so that a core is written.
 *
 * Returns 0, or:
 *   -EBADF   fd is not an open file descriptor
 *   -EAGAIN  the runtime has not started
 */
GMP_API int gmp_dump(int fd);

/*
 * gmp_panic ends the process as an unrecovered Go panic does: "gmp: panic: <msg>", the
 * goroutine dump (as GMPTRACEBACK says), exit status 2. gmp.hpp's gmp::go calls it for an
 * exception that escapes a goroutine. Never returns.
 */
GMP_API void gmp_panic(const char *msg) __attribute__((noreturn));

/*
 * Runtime counters, for monitoring (Go's runtime/metrics, in small). Counts since the
 * runtime started unless said; each is read without stopping anything, so the values are
 * not one consistent snapshot.
 *
 * The struct only grows at its end: pass sizeof(struct gmp_stats) as your header knows it,
 * and the runtime fills that many bytes (older callers keep working with a newer library).
 * As with stat(2), the function shares the struct's name: C++ too must say `struct gmp_stats`.
 */
struct gmp_stats {
  int64_t goroutines;          /* live goroutines now (as gmp_num_goroutine) */
  uint64_t goroutines_created; /* goroutines created */
  int32_t ms;                  /* OS threads the runtime made (Ms), sysmon's included */
  int32_t ms_idle;             /* of those, parked waiting for work now */
  int32_t ps;                  /* Ps (GMPMAXPROCS) now */
  int32_t ps_idle;             /* of those, idle now */
  uint64_t context_switches;   /* times a goroutine was started or resumed on an M */
  uint64_t steals;             /* steals from another P's run queue that took work */
  uint64_t parks;              /* times a goroutine blocked (parked) */
  uint64_t netpoll_waits;      /* blocking waits of the idle M in the poller (Go's netpoll(delay):
                                  for the next timer and for io_uring completions) */
  uint64_t sysmon_rounds;      /* rounds of the system monitor: each a sleep of 20 us to 10 ms
                                  and a look at every P; none while the process is idle */
  uint64_t preemptions;        /* goroutines stopped by sysmon after 10 ms of running while
                                  others waited for their P (asynchronous preemption: only
                                  goroutines with TLS of their own, see gmp_go_with) */
};

/*
 * gmp_stats fills *out with the runtime's counters: min(size, sizeof(struct gmp_stats))
 * bytes of it. Returns 0, or:
 *   -EINVAL  out is NULL or size is 0
 *   -EAGAIN  the runtime has not started
 */
GMP_API int gmp_stats(struct gmp_stats *out, size_t size);

/*
 * Channels — Go's chan, for values of a fixed size (elem_size bytes, copied in and out).
 *
 * Any thread may use a channel: a goroutine that blocks parks (its OS thread runs other
 * goroutines); a thread that is not a goroutine (one the program made before the runtime
 * started, or a foreign thread calling into a library built on libgmp) blocks on a futex.
 * Unbuffered channels hand a value straight from sender to receiver; buffered ones are
 * rings. Blocked senders and receivers are served first come, first served.
 *
 * C has no garbage collector: a channel carries a reference count. gmp_chan_make returns it
 * with one reference; gmp_chan_retain adds one, gmp_chan_release drops one and frees the
 * channel at zero. Every party that may still call it must hold a reference: releasing the
 * last one while a call on it is in progress is a use after free.
 */
typedef struct gmp_chan gmp_chan_t;

/*
 * gmp_chan_make returns a channel of elements of elem_size bytes (0 allowed: a channel of
 * signals) with room for cap buffered values (0: unbuffered), or NULL with errno set:
 * EINVAL (elem_size >= 65536, or the buffer would not fit in memory), ENOMEM.
 */
GMP_API gmp_chan_t *gmp_chan_make(size_t elem_size, size_t cap);

/*
 * gmp_chan_make_drop is gmp_chan_make for elements that own something: drop(elem) is
 * called on each value still buffered when the channel is freed (the last release).
 */
GMP_API gmp_chan_t *gmp_chan_make_drop(size_t elem_size, size_t cap, void (*drop)(void *elem));

/*
 * gmp_chan_send sends the elem_size bytes at elem (elem may be NULL when elem_size is 0),
 * blocking until a receiver takes them or there is room in the buffer. Returns 0, or:
 *   -EPIPE   the channel is closed (before the call, or while the caller waited)
 *   -EINVAL  ch is NULL, or elem is NULL and elem_size is not 0
 */
GMP_API int gmp_chan_send(gmp_chan_t *ch, const void *elem);

/*
 * gmp_chan_recv receives a value into elem_out (NULL: discard it), blocking until there is
 * one. Returns 1 with a value, 0 once the channel is closed and drained (elem_out zeroed, as
 * Go's `v, ok := <-c` gives the zero value and false), or -EINVAL (ch is NULL).
 */
GMP_API int gmp_chan_recv(gmp_chan_t *ch, void *elem_out);

/*
 * gmp_chan_close closes the channel: blocked receivers get 0 (closed), blocked senders
 * -EPIPE; buffered values can still be received. Returns 0, or -EPIPE (already closed),
 * -EINVAL (NULL).
 */
GMP_API int gmp_chan_close(gmp_chan_t *ch);

/* The number of buffered values and the capacity (0 for NULL). */
GMP_API size_t gmp_chan_len(gmp_chan_t *ch);
GMP_API size_t gmp_chan_cap(gmp_chan_t *ch);

/* Reference counting (see above). retain returns ch; both ignore NULL. */
GMP_API gmp_chan_t *gmp_chan_retain(gmp_chan_t *ch);
GMP_API void gmp_chan_release(gmp_chan_t *ch);

/* Select. */
enum { GMP_SEND = 1, GMP_RECV = 2 };
typedef struct gmp_select_case {
  gmp_chan_t *chan; /* NULL: the case never fires (Go's nil channel) */
  int dir;          /* GMP_SEND or GMP_RECV */
  void *elem;       /* the value to send, or where to receive (NULL: discard) */
  bool ok;          /* receives: set to true with a value, false when closed and drained */
} gmp_select_case;

/*
 * gmp_select waits until one of the n cases can proceed, performs it and returns its index.
 * When several are ready, one is chosen at random. timeout_ns < 0 waits for ever; 0 does
 * not wait (Go's `default`); > 0 waits at most that long.
 * Errors:
 *   -EAGAIN     timeout_ns is 0 and no case is ready
 *   -ETIMEDOUT  timeout_ns > 0 passed with no case ready
 *   -EPIPE      the chosen case is a send on a closed channel
 *   -EINVAL     cases is NULL with n > 0, a dir is neither GMP_SEND nor GMP_RECV, or a
 *               send case has a NULL elem on a channel whose elem_size is not 0
 *   -ENOMEM     more than 16 cases and no memory for their records
 * With no case to wait on (n == 0, or every chan NULL) and timeout_ns < 0, the caller blocks
 * for ever, as Go's `select {}`.
 */
GMP_API int gmp_select(gmp_select_case *cases, size_t n, int64_t timeout_ns);

/*
 * Time. gmp_nanotime is a monotonic clock in ns (CLOCK_MONOTONIC). gmp_sleep pauses the
 * caller for at least ns (<= 0: returns at once): a goroutine parks on a timer (its OS
 * thread runs other goroutines meanwhile); a thread that is not a goroutine sleeps.
 */
GMP_API int64_t gmp_nanotime(void);
GMP_API void gmp_sleep(int64_t ns);

/*
 * Timers and tickers — Go's time.NewTimer, time.NewTicker and time.After: each delivers the
 * time it fired (gmp_nanotime() then, an int64_t) on a channel of capacity 1. A value that
 * finds the channel full is dropped, so a slow receiver of a ticker gets one waiting tick,
 * never a backlog (as Go's). The timers live on the per-P timer heaps and fire within a
 * scheduler round of their deadline while a P runs; any thread may make and use them.
 *
 * gmp_timer_new: fires once after ns (<= 0: at once), and then, with period_ns > 0, every
 *   period_ns (a ticker; ticks a busy process missed are skipped, not sent late in a burst).
 *   NULL with errno EINVAL (period_ns < 0), ENOMEM, or EAGAIN (the runtime has not started:
 *   an ELF constructor).
 * gmp_timer_chan: its channel, which the timer holds a reference to until gmp_timer_free
 *   (gmp_chan_retain it to keep it longer); NULL with errno EINVAL for a NULL timer.
 * gmp_timer_stop: nothing more is sent once it returns. 1 if it stopped a pending firing, 0
 *   if the timer had already fired (a one-shot) or was stopped. A value sent before stays in
 *   the channel (Go before 1.23).
 * gmp_timer_reset: stops it and arms it again as gmp_timer_new(ns, period_ns) would; 1 or 0
 *   as gmp_timer_stop for what was pending, -EINVAL for period_ns < 0.
 * gmp_timer_free: stops it and drops its channel reference; the timer is gone after it.
 *   stop, reset and free return -EINVAL for a NULL timer; they may run on any thread, also
 *   while the timer fires, but free must be the timer's last call.
 * gmp_after: a channel that receives one value after ns (time.After), or NULL with errno
 *   ENOMEM or EAGAIN (as gmp_timer_new). The caller owns its one reference and releases
 *   it, before or after the value came: its timer frees itself once it has fired.
 */
typedef struct gmp_timer gmp_timer_t;
GMP_API gmp_timer_t *gmp_timer_new(int64_t ns, int64_t period_ns);
GMP_API gmp_chan_t *gmp_timer_chan(gmp_timer_t *t);
GMP_API int gmp_timer_stop(gmp_timer_t *t);
GMP_API int gmp_timer_reset(gmp_timer_t *t, int64_t ns, int64_t period_ns);
GMP_API int gmp_timer_free(gmp_timer_t *t);
GMP_API gmp_chan_t *gmp_after(int64_t ns);

/*
 * Synchronization — Go's sync package. Every type is a plain struct that its _INIT macro
 * (or zeroing) initializes; none needs destroying. Waiting goroutines park (their OS thread
 * runs other goroutines); threads that are not goroutines sleep on a futex. All functions
 * return 0, or -EINVAL for a NULL argument, plus the errors listed.
 *
 * gmp_mutex_t: sync.Mutex. Spins briefly while the holder runs on another CPU, then parks;
 * a waiter kept waiting over 1 ms switches it to starvation mode (strict FIFO hand-off).
 * gmp_mutex_trylock: -EBUSY when locked. gmp_mutex_unlock: -EPERM when not locked (nothing
 * changes). Not recursive; any thread may unlock a mutex another locked (as Go's).
 */
typedef struct gmp_mutex { int64_t state; uint32_t sema; } gmp_mutex_t;
#define GMP_MUTEX_INIT {0, 0}
GMP_API int gmp_mutex_lock(gmp_mutex_t *m);
GMP_API int gmp_mutex_trylock(gmp_mutex_t *m);
GMP_API int gmp_mutex_unlock(gmp_mutex_t *m);

/*
 * gmp_rwmutex_t: sync.RWMutex. Many readers or one writer; a waiting writer keeps new
 * readers out. runlock/unlock: -EPERM when not read-/write-locked (nothing changes). As in
 * Go, a runlock without a read lock while a writer holds the lock is not told from a
 * reader's, and breaks the lock.
 */
typedef struct gmp_rwmutex {
  gmp_mutex_t w;
  uint32_t writer_sem, reader_sem;
  int32_t reader_count, reader_wait;
} gmp_rwmutex_t;
#define GMP_RWMUTEX_INIT {GMP_MUTEX_INIT, 0, 0, 0, 0}
GMP_API int gmp_rwmutex_rlock(gmp_rwmutex_t *rw);
GMP_API int gmp_rwmutex_runlock(gmp_rwmutex_t *rw);
GMP_API int gmp_rwmutex_lock(gmp_rwmutex_t *rw);
GMP_API int gmp_rwmutex_unlock(gmp_rwmutex_t *rw);
/* Non-blocking: 0 when locked, -EBUSY otherwise (Go's TryRLock / TryLock). */
GMP_API int gmp_rwmutex_tryrlock(gmp_rwmutex_t *rw);
GMP_API int gmp_rwmutex_trylock(gmp_rwmutex_t *rw);

/*
 * gmp_waitgroup_t: sync.WaitGroup. add(delta) (done is add(-1)): -EINVAL if the counter
 * would go negative or past INT32_MAX (it is left unchanged). wait blocks until the
 * counter is 0.
 */
typedef struct gmp_waitgroup { uint64_t state; uint32_t sema; } gmp_waitgroup_t;
#define GMP_WAITGROUP_INIT {0, 0}
GMP_API int gmp_waitgroup_add(gmp_waitgroup_t *wg, int64_t delta);
GMP_API int gmp_waitgroup_done(gmp_waitgroup_t *wg);
GMP_API int gmp_waitgroup_wait(gmp_waitgroup_t *wg);

/* gmp_once_t: sync.Once. gmp_once runs fn(arg) the first time; later calls wait for it. */
typedef struct gmp_once { uint32_t done; gmp_mutex_t m; } gmp_once_t;
#define GMP_ONCE_INIT {0, GMP_MUTEX_INIT}
GMP_API int gmp_once(gmp_once_t *o, void (*fn)(void *), void *arg);

/*
 * gmp_cond_t: sync.Cond. wait unlocks m, waits for signal or broadcast, relocks m (-EPERM if
 * m is not locked). Wake-ups are not spurious but, as with any condition, re-check it.
 */
typedef struct gmp_cond { uint32_t lock; void *head, *tail; } gmp_cond_t;
#define GMP_COND_INIT {0, 0, 0}
GMP_API int gmp_cond_wait(gmp_cond_t *c, gmp_mutex_t *m);
GMP_API int gmp_cond_signal(gmp_cond_t *c);
GMP_API int gmp_cond_broadcast(gmp_cond_t *c);

/*
 * gmp_sem_t: a counting semaphore. tryacquire: -EAGAIN when the count is 0; release:
 * -EOVERFLOW when it is UINT32_MAX (nothing changes).
 */
typedef struct gmp_sem { uint32_t count; } gmp_sem_t;
#define GMP_SEM_INIT(n) {(n)}
GMP_API int gmp_sem_acquire(gmp_sem_t *s);
GMP_API int gmp_sem_tryacquire(gmp_sem_t *s);
GMP_API int gmp_sem_release(gmp_sem_t *s);

#ifdef __cplusplus
}
#endif

#endif /* GMP_GMP_H */
