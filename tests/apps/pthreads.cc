// pthreads.cc — a plain program (it never includes gmp.h) that leans on thread semantics:
// run natively and under the preload, its output must be identical. Every line is a fact
// the program checked itself; a wrong one prints what it saw.
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {
thread_local int tl = 7;
thread_local std::string tlname = "init";
std::atomic<int> tldtors{0};
struct counted {
  ~counted() { tldtors++; }
};
thread_local counted tlc;

void check(bool ok, const char* what) { std::printf("%s: %s\n", what, ok ? "ok" : "WRONG"); }

// Threads, TLS, errno, keys, exit values.
pthread_key_t key;
std::atomic<int> keydtors{0};
void* worker(void* arg) {
  long id = reinterpret_cast<long>(arg);
  (void)tlc;
  bool fresh = tl == 7 && tlname == "init";
  tl = int(id);
  tlname = "t" + std::to_string(id);
  errno = 0;
  pthread_setspecific(key, new long(id));
  for (int i = 0; i < 20; i++) {
    usleep(100);  // parks under the preload: may resume on another M
    if (tl != id || tlname != "t" + std::to_string(id) || errno != 0) return nullptr;
    if (*static_cast<long*>(pthread_getspecific(key)) != id) return nullptr;
  }
  if (!fresh) return nullptr;
  if (id % 2) pthread_exit(reinterpret_cast<void*>(id + 1000));
  return reinterpret_cast<void*>(id + 1000);
}

void threads() {
  pthread_key_create(&key, [](void* p) {
    keydtors++;
    delete static_cast<long*>(p);
  });
  constexpr int n = 100;
  pthread_t t[n];
  for (long i = 0; i < n; i++) pthread_create(&t[i], nullptr, worker, reinterpret_cast<void*>(i));
  bool all = true;
  for (long i = 0; i < n; i++) {
    void* r;
    all &= pthread_join(t[i], &r) == 0 && r == reinterpret_cast<void*>(i + 1000);
  }
  check(all, "100 threads: own thread_local and errno across parks, pthread_exit values");
  check(keydtors == n, "key destructors ran once per thread");
  check(tldtors == n, "thread_local destructors ran once per thread");
  check(tl == 7 && tlname == "init", "main's thread_local untouched");
  pthread_t self = pthread_self();
  check(pthread_join(self, nullptr) == EDEADLK, "join of itself: EDEADLK");
}

// Detach, tryjoin, timedjoin, names, attributes.
void* sleeper(void* arg) {
  usleep(reinterpret_cast<long>(arg));
  return nullptr;
}
void lifecycle() {
  pthread_t t;
  pthread_create(&t, nullptr, sleeper, reinterpret_cast<void*>(200000));
  check(pthread_tryjoin_np(t, nullptr) == EBUSY, "tryjoin of a running thread: EBUSY");
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 20 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
  check(pthread_timedjoin_np(t, nullptr, &ts) == ETIMEDOUT, "timedjoin too soon: ETIMEDOUT");
  check(pthread_setname_np(t, "sleeper-one") == 0, "setname");
  char name[16];
  check(pthread_getname_np(t, name, sizeof name) == 0 && strcmp(name, "sleeper-one") == 0,
        "getname");
  check(pthread_setname_np(t, "a-name-far-too-long") == ERANGE, "setname too long: ERANGE");
  check(pthread_join(t, nullptr) == 0, "join");
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 1 << 20);
  pthread_create(&t, &a, sleeper, reinterpret_cast<void*>(1000));
  pthread_attr_destroy(&a);
  std::atomic<size_t> stack{0};
  std::thread([&] {
    pthread_attr_t ga;
    pthread_getattr_np(pthread_self(), &ga);
    void* lo;
    size_t size;
    pthread_attr_getstack(&ga, &lo, &size);
    char here;
    if (&here > static_cast<char*>(lo) && &here < static_cast<char*>(lo) + size) stack = size;
    pthread_attr_destroy(&ga);
  }).join();
  check(stack >= 16384, "getattr_np: the thread's own stack holds its locals");
  usleep(5000);  // the detached one ends
}

// Mutexes of every kind, conditions, timed waits.
void mutexes() {
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_t rec;
  pthread_mutex_init(&rec, &ma);
  check(pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0 &&
            pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0,
        "recursive mutex");
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t ec;
  pthread_mutex_init(&ec, &ma);
  pthread_mutex_lock(&ec);
  check(pthread_mutex_lock(&ec) == EDEADLK, "error-checking mutex: relock is EDEADLK");
  int other = -1;
  std::thread([&] { other = pthread_mutex_unlock(&ec); }).join();
  check(other == EPERM, "error-checking mutex: another thread's unlock is EPERM");
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 10 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
  std::thread([&] { other = pthread_mutex_timedlock(&ec, &ts); }).join();
  check(other == ETIMEDOUT, "timedlock of a held mutex: ETIMEDOUT");
  pthread_mutex_unlock(&ec);
  static pthread_mutex_t rs = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  check(pthread_mutex_lock(&rs) == 0 && pthread_mutex_lock(&rs) == 0, "static recursive");

  // A robust mutex whose owner thread ends holding it: the next lock, or a waiter, gets
  // EOWNERDEAD and the mutex; made consistent, it works on.
  pthread_mutexattr_t ra;
  pthread_mutexattr_init(&ra);
  pthread_mutexattr_setrobust(&ra, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t rm;
  pthread_mutex_init(&rm, &ra);
  std::thread([&] { pthread_mutex_lock(&rm); }).join();
  int dead = pthread_mutex_trylock(&rm);
  int consistent = pthread_mutex_consistent(&rm);
  pthread_mutex_unlock(&rm);
  int again = pthread_mutex_lock(&rm);
  pthread_mutex_unlock(&rm);
  check(dead == EOWNERDEAD && consistent == 0 && again == 0,
        "robust mutex: its owner ended, EOWNERDEAD, consistent, locks again");
  std::atomic<bool> held{false};
  std::thread owner([&] {
    pthread_mutex_lock(&rm);
    held = true;
    usleep(20 * 1000);
  });
  while (!held) usleep(1000);
  int waited = pthread_mutex_lock(&rm);  // until the owner ends
  owner.join();
  pthread_mutex_consistent(&rm);
  pthread_mutex_unlock(&rm);
  check(waited == EOWNERDEAD, "robust mutex: a waiter gets EOWNERDEAD when the owner ends");
  pthread_mutex_destroy(&rm);

  // A spin lock: glibc's free value is 1 on x86-64 (init and unlock store it).
  pthread_spinlock_t spin;
  pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
  check(pthread_spin_lock(&spin) == 0 && pthread_spin_trylock(&spin) == EBUSY,
        "spin lock: taken, then trylock is EBUSY");
  pthread_spin_unlock(&spin);
  long spun = 0;
  std::vector<std::thread> spinners;
  for (int t = 0; t < 4; t++) {
    spinners.emplace_back([&] {
      for (int i = 0; i < 10000; i++) {
        pthread_spin_lock(&spin);
        spun++;
        pthread_spin_unlock(&spin);
      }
    });
  }
  for (auto& t : spinners) t.join();
  check(spun == 40000 && pthread_spin_trylock(&spin) == 0, "spin lock: 4 threads x 10000 increments");
  pthread_spin_destroy(&spin);

  // sem_timedwait checks its deadline before it takes a count (EINVAL, the count kept).
  sem_t sem;
  sem_init(&sem, 0, 1);
  timespec bad{0, 1000000000};
  int sr = sem_timedwait(&sem, &bad);
  int se = errno, left = -1;
  sem_getvalue(&sem, &left);
  check(sr == -1 && se == EINVAL && left == 1, "sem_timedwait with a bad deadline: EINVAL, count kept");
  sem_destroy(&sem);

  std::mutex mu;
  std::condition_variable cv;
  long total = 0;
  int done = 0;
  std::vector<std::thread> ts8;
  for (int t = 0; t < 8; t++) {
    ts8.emplace_back([&] {
      for (int i = 0; i < 10000; i++) {
        std::lock_guard<std::mutex> g(mu);
        total++;
      }
      std::lock_guard<std::mutex> g(mu);
      done++;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return done == 8; });
  }
  for (auto& t : ts8) t.join();
  check(total == 80000, "std::mutex: 8 threads x 10000 increments");
  std::unique_lock<std::mutex> g(mu);
  check(cv.wait_for(g, std::chrono::milliseconds(10)) == std::cv_status::timeout,
        "condition_variable::wait_for times out");
}

void others() {
  std::shared_mutex sm;
  std::atomic<int> readers{0}, maxreaders{0};
  std::vector<std::thread> v;
  for (int i = 0; i < 4; i++) {
    v.emplace_back([&] {
      std::shared_lock<std::shared_mutex> r(sm);
      int n = ++readers;
      int m = maxreaders;
      while (n > m && !maxreaders.compare_exchange_weak(m, n)) {
      }
      usleep(20000);
      --readers;
    });
  }
  for (auto& t : v) t.join();
  {
    std::unique_lock<std::shared_mutex> w(sm);
    check(readers == 0, "shared_mutex: writer alone");
  }
  check(maxreaders > 1, "shared_mutex: readers together");

  pthread_barrier_t b;
  pthread_barrier_init(&b, nullptr, 4);
  std::atomic<int> serial{0}, passed{0};
  v.clear();
  for (int i = 0; i < 4; i++) {
    v.emplace_back([&] {
      for (int r = 0; r < 100; r++) {
        if (pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD) serial++;
        passed++;
      }
    });
  }
  for (auto& t : v) t.join();
  check(serial == 100 && passed == 400, "barrier: 100 rounds of 4, one serial thread each");
  check(pthread_barrier_destroy(&b) == 0, "barrier destroyed");
  // The serial thread destroys, wipes and frees it at once: a destroy that returned while a
  // waiter had yet to take its wake-up would leave that waiter waiting for ever.
  int rounds = 0;
  for (int round = 0; round < 200; round++) {
    auto* hb = new pthread_barrier_t;
    pthread_barrier_init(hb, nullptr, 3);
    std::thread t1([hb] {
      if (pthread_barrier_wait(hb) == PTHREAD_BARRIER_SERIAL_THREAD) {
        pthread_barrier_destroy(hb);
        memset(hb, 0, sizeof *hb);
        delete hb;
      }
    });
    std::thread t2([hb] {
      if (pthread_barrier_wait(hb) == PTHREAD_BARRIER_SERIAL_THREAD) {
        pthread_barrier_destroy(hb);
        memset(hb, 0, sizeof *hb);
        delete hb;
      }
    });
    if (pthread_barrier_wait(hb) == PTHREAD_BARRIER_SERIAL_THREAD) {
      pthread_barrier_destroy(hb);
      memset(hb, 0, sizeof *hb);
      delete hb;
    }
    t1.join();
    t2.join();
    rounds++;
  }
  check(rounds == 200, "barriers destroyed and wiped by their serial thread at once, 200 times");

  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  pthread_rwlock_wrlock(&rw);
  check(pthread_rwlock_wrlock(&rw) == EDEADLK && pthread_rwlock_rdlock(&rw) == EDEADLK,
        "rwlock: the writer asking again gets EDEADLK");
  int other = -1;
  std::thread([&] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    other = pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &ts);
  }).join();
  check(other == ETIMEDOUT, "rwlock: a timed read lock behind the writer times out");
  pthread_rwlock_unlock(&rw);
  check(pthread_rwlock_tryrdlock(&rw) == 0 && pthread_rwlock_tryrdlock(&rw) == 0 &&
            pthread_rwlock_trywrlock(&rw) == EBUSY,
        "rwlock: readers together, a writer kept out");

  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_t mc;
  pthread_cond_init(&mc, &ca);
  pthread_mutex_t mm = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mm);
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += 5 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
  check(pthread_cond_timedwait(&mc, &mm, &ts) == ETIMEDOUT, "condition on CLOCK_MONOTONIC times out");
  pthread_mutex_unlock(&mm);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t em;
  pthread_mutex_init(&em, &ma);
  check(pthread_cond_wait(&mc, &em) == EPERM, "condition wait without the mutex: EPERM");

  sem_t s;
  sem_init(&s, 0, 0);
  std::thread prod([&] {
    for (int i = 0; i < 1000; i++) sem_post(&s);
  });
  for (int i = 0; i < 1000; i++) sem_wait(&s);
  prod.join();
  int val = -1;
  sem_getvalue(&s, &val);
  check(val == 0 && sem_trywait(&s) == -1 && errno == EAGAIN, "semaphore: 1000 posts, 1000 waits");

  static pthread_once_t once = PTHREAD_ONCE_INIT;
  static std::atomic<int> ran{0};
  v.clear();
  for (int i = 0; i < 8; i++) {
    v.emplace_back([] { pthread_once(&once, [] { usleep(1000); ran++; }); });
  }
  for (auto& t : v) t.join();
  check(ran == 1, "pthread_once ran once");
  static std::once_flag flag;
  static std::atomic<int> tries{0};
  v.clear();
  for (int i = 0; i < 4; i++) {
    v.emplace_back([] {
      try {
        std::call_once(flag, [] {
          usleep(2000);
          if (tries++ == 0) throw std::runtime_error("first try fails");
        });
      } catch (const std::exception&) {
      }
    });
  }
  for (auto& t : v) t.join();
  check(tries == 2, "call_once: a throwing first try, then exactly one more");

  auto f = std::async(std::launch::async, [] { return 6 * 7; });
  check(f.get() == 42, "std::async");
  std::atomic<bool> stopped{false};
  {
    std::jthread j([&](std::stop_token st) {
      while (!st.stop_requested()) usleep(100);
      stopped = true;
    });
  }
  check(stopped, "std::jthread stops and joins");
  std::string caught;
  std::thread([&] {
    try {
      throw std::runtime_error("in a thread");
    } catch (const std::exception& e) {
      usleep(1000);  // parks under the preload: may resume on another M
      caught = e.what();
      try {
        throw;  // the exception being handled is still this thread's
      } catch (const std::runtime_error& again) {
        caught += std::string(", rethrown: ") + again.what();
      }
    }
  }).join();
  check(caught == "in a thread, rethrown: in a thread", "exception caught and rethrown in its thread across a park");
}
}  // namespace

int main() {
  threads();
  lifecycle();
  mutexes();
  others();
  return 0;
}
