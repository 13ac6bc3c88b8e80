// linked_test.cc — a program linked with -lgmp (libgmp.so, not the test objects) and only
// the public header: rt0 takes over through the link, main is goroutine 1.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "gmp/gmp.h"
#include "gmp/gmp.hpp"

namespace {
std::atomic<int64_t> sum{0};
std::atomic<int> done{0};
}  // namespace

TEST(Linked, MainIsGoroutineOne) { EXPECT_EQ(gmp_goid(), 1); }

TEST(Linked, GoroutinesRunThroughThePublicAbi) {
  constexpr int n = 100000;
  for (int i = 0; i < n; i++) {
    ASSERT_GT(gmp_go(
                  [](void* a) {
                    sum.fetch_add(reinterpret_cast<intptr_t>(a));
                    done.fetch_add(1, std::memory_order_release);
                  },
                  reinterpret_cast<void*>(intptr_t(i))),
              0);
  }
  while (done.load(std::memory_order_acquire) < n) gmp_yield();
  EXPECT_EQ(sum.load(), int64_t(n) * (n - 1) / 2);
  EXPECT_GE(gmp_num_goroutine(), 1);
  EXPECT_GE(gmp_maxprocs(0), 1);
}

namespace {
// leave: parks, then ends the calling goroutine from a frame below its function.
__attribute__((noinline)) void leave(int* reached) {
  gmp_sleep(1000 * 1000);
  pthread_exit(nullptr);
  ++*reached;
}

struct tracked {
  static inline std::atomic<int> live{0};
  tracked() { live++; }
  ~tracked() { live--; }
};

// takeover: libgmp.so's pthread shim is there (not in an ASan build: meson.build).
bool takeover() {
  Dl_info info{};
  return dladdr(reinterpret_cast<void*>(&pthread_exit), &info) && info.dli_fname &&
         strstr(info.dli_fname, "libgmp") != nullptr;
}
}  // namespace

// pthread_exit on a goroutine of gmp_go's ends it as Go's Goexit ends one: the destructors
// of its frames run (the callable's own too), its code after the call does not, the other
// goroutines go on. (Before, glibc's pthread_exit ended the M's OS thread.)
TEST(Linked, PthreadExitEndsAGoroutineAsGoexit) {
  if (!takeover()) GTEST_SKIP() << "pthread_exit is glibc's here: an ASan build has no pthread shim";
  int old = gmp_maxprocs(1);
  for (int procs : {1, 2}) {
    gmp_maxprocs(procs);
    int64_t before = gmp_num_goroutine();
    gmp::chan<int> done(1);
    int reached = 0;
    gmp::go([done, &reached, t = std::make_unique<tracked>()]() mutable {
      struct sentinel {
        gmp::chan<int>& c;
        ~sentinel() { c.send(1); }
      } s{done};
      leave(&reached);
      reached += 10;
    });
    EXPECT_EQ(done.recv(), 1);
    for (int i = 0; i < 10000 && (tracked::live.load() != 0 || gmp_num_goroutine() != before); i++) {
      gmp_sleep(100 * 1000);
    }
    EXPECT_EQ(tracked::live.load(), 0) << "GMPMAXPROCS=" << procs;
    EXPECT_EQ(gmp_num_goroutine(), before);
    EXPECT_EQ(reached, 0);
  }
  gmp_maxprocs(old);
}

extern "C" void cleanupexit(char** at, void* value);  // linked_cleanup.c

namespace {
struct order {
  char s[8] = {};
  char* at = s;
};
// leavethrough: a C++ frame whose destructor appends 'd', then C code that leaves by
// pthread_exit with a C handler registered.
__attribute__((noinline)) void leavethrough(order* o, void* value) {
  struct dtor {
    order* o;
    ~dtor() { *o->at++ = 'd'; }
  } d{o};
  cleanupexit(&o->at, value);
}
}  // namespace

// The C handler of the innermost frame runs first, then the C++ destructor of the frame
// that called it: on a thread of pthread_create's (its value joined) and on a goroutine of
// gmp_go's (which then ends).
TEST(Linked, CleanupHandlersAndDestructorsRunInnermostFirst) {
  if (!takeover()) GTEST_SKIP() << "pthread_exit is glibc's here: an ASan build has no pthread shim";
  order t;
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, [](void* a) -> void* {
    leavethrough(static_cast<order*>(a), reinterpret_cast<void*>(7));
    return nullptr;
  }, &t), 0);
  void* v = nullptr;
  ASSERT_EQ(pthread_join(th, &v), 0);
  EXPECT_STREQ(t.s, "cd");
  EXPECT_EQ(v, reinterpret_cast<void*>(7));

  order g;
  gmp::chan<int> done(1);
  gmp::go([&g, done] {
    struct sentinel {
      gmp::chan<int> c;
      ~sentinel() { c.send(1); }
    } s{done};
    leavethrough(&g, nullptr);
  });
  EXPECT_EQ(done.recv(), 1);
  EXPECT_STREQ(g.s, "cd");
}

namespace {
std::atomic<int> tlsdtors{0}, keydtors{0};
struct countsdtor {
  bool used = false;
  ~countsdtor() {
    if (used) tlsdtors.fetch_add(1);
  }
};
thread_local countsdtor tlsobj;
thread_local int ownvalue = 0;
pthread_key_t countedkey;
}  // namespace

// A goroutine with TLS of its own (gmp::go_with, GMP_GO_OWN_TLS) starts from fresh
// thread_local values and ends as a thread does: its thread_local destructors and pthread
// key destructors run, on its own TLS, and not on main's.
TEST(Linked, OwnTlsGoroutineRunsItsDestructorsAtTheEnd) {
  gmp_go_attr_t attr{};
  attr.flags = GMP_GO_OWN_TLS;
  if (!takeover()) {
    EXPECT_THROW(gmp::go_with(attr, [] {}), std::system_error);
    GTEST_SKIP() << "an ASan build: goroutines cannot have TLS of their own (ENOTSUP checked)";
  }
  ASSERT_EQ(pthread_key_create(&countedkey, [](void* v) {
    if (v == &countedkey) keydtors.fetch_add(1);
  }), 0);
  const int64_t base = gmp_num_goroutine();  // earlier tests may leave some parked
  constexpr int n = 1000;
  gmp::wait_group wg;
  std::atomic<int> fresh{0};
  wg.add(n);
  for (int i = 0; i < n; i++) {
    gmp::go_with(attr, [&] {
      tlsobj.used = true;
      if (ownvalue++ == 0) fresh.fetch_add(1);  // a TLS block of its own: from the image
      pthread_setspecific(countedkey, &countedkey);
      gmp_yield();
      wg.done();
    });
  }
  wg.wait();
  // Each ends after its done: wait (10 s at most) until they are gone.
  for (int64_t until = gmp_nanotime() + 10000000000; gmp_num_goroutine() > base;) {
    ASSERT_LT(gmp_nanotime(), until) << gmp_num_goroutine() << " goroutines left";
    gmp_yield();
  }
  EXPECT_EQ(fresh.load(), n);
  EXPECT_EQ(tlsdtors.load(), n);
  EXPECT_EQ(keydtors.load(), n);
  EXPECT_EQ(pthread_getspecific(countedkey), nullptr) << "main's key value is its own";
  EXPECT_FALSE(tlsobj.used) << "main's thread_local is its own";
  EXPECT_EQ(ownvalue, 0);
  pthread_key_delete(countedkey);
}
