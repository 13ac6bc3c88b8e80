// gmp.hpp — the C++ layer over <gmp/gmp.h>: goroutines from any callable, typed channels
// for any movable type, select, Lockable mutexes, wait groups, std::chrono time.
//
//   gmp::go([&] { ... });                       // a goroutine; an escaping exception is a panic
//   gmp::chan<std::string> c(8);                // buffered (0: unbuffered)
//   c.send("hello");                            // throws gmp::closed_channel once closed
//   std::optional<std::string> v = c.recv();    // empty once closed and drained
//   gmp::select(gmp::on_recv(c, [](std::optional<std::string> v) { ... }),
//               gmp::on_send(d, 42, [] { ... }),
//               gmp::after(std::chrono::milliseconds(10), [] { ... }));
//   gmp::mutex m; std::lock_guard lk(m);        // also shared_mutex, condition_variable_any
//   gmp::wait_group wg; wg.add(2); ... wg.done(); wg.wait();
//   gmp::this_goroutine::sleep_for(1ms); gmp::this_goroutine::id();
//   gmp::ticker tk(5ms); tk.c().recv(); gmp::after(1s).recv();   // time.NewTicker, time.After
#pragma once

#include <gmp/gmp.h>

#include <cxxabi.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace gmp {

// ---- errors ---------------------------------------------------------------------------------------

// Sending on (or closing twice) a closed channel: Go panics; we throw.
struct closed_channel : std::logic_error {
  closed_channel() : std::logic_error("gmp: send on closed channel") {}
  explicit closed_channel(const char* what) : std::logic_error(what) {}
};

namespace detail {
inline void check(int r, const char* what) {
  if (r < 0) throw std::system_error(-r, std::generic_category(), what);
}
template <typename Rep, typename Period>
int64_t nanos(const std::chrono::duration<Rep, Period>& d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
}  // namespace detail

// ---- goroutines ----------------------------------------------------------------------------------

namespace detail {
// gofn: the goroutine function of go and go_with: runs the task p points at, then frees it.
template <typename Task> void gofn(void* p) {
  std::unique_ptr<Task> own(static_cast<Task*>(p));
  try {
    std::apply([](auto& fn, auto&... a) { std::invoke(std::move(fn), std::move(a)...); }, *own);
  } catch (abi::__forced_unwind&) {
    throw;  // pthread_exit: the goroutine ends, as Go's Goexit
  } catch (const std::exception& e) {
    gmp_panic(e.what());
  } catch (...) {
    gmp_panic("exception of unknown type");
  }
}
}  // namespace detail

// go_with is go (below) with gmp_go_with's attributes: a stack size, TLS of its own
//   gmp_go_attr_t attr{};
//   attr.flags = GMP_GO_OWN_TLS;
//   gmp::go_with(attr, [&] { ... });
template <typename F, typename... Args>
int64_t go_with(const gmp_go_attr_t& attr, F&& f, Args&&... args) {
  using task = std::tuple<std::decay_t<F>, std::decay_t<Args>...>;
  auto* t = new task(std::forward<F>(f), std::forward<Args>(args)...);
  int64_t id = gmp_go_with(detail::gofn<task>, t, &attr);
  if (id < 0) {
    delete t;
    detail::check(int(id), "gmp::go");
  }
  return id;
}

// go runs f(args...) as a new goroutine (f and args are moved to the heap) and returns its
// id. An exception escaping f is an unrecovered panic: "gmp: panic: <what()>", the goroutine
// dump, exit 2 (pthread_exit's unwinding is not one: it ends the goroutine). Throws
// std::system_error if the goroutine cannot be made.
template <typename F, typename... Args> int64_t go(F&& f, Args&&... args) {
  return go_with(gmp_go_attr_t{}, std::forward<F>(f), std::forward<Args>(args)...);
}

namespace this_goroutine {
inline void yield() { gmp_yield(); }
inline int64_t id() { return gmp_goid(); }
template <typename Rep, typename Period>
void sleep_for(const std::chrono::duration<Rep, Period>& d) {
  gmp_sleep(detail::nanos(d));
}
}  // namespace this_goroutine

// ---- channels --------------------------------------------------------------------------------------

// chan<T>: a reference-counted handle (copies share the channel). Trivially copyable T
// travel by value in the channel; others travel as owning pointers, moved in on send and
// out on receive (values never received are destroyed with the channel).
template <typename T> class chan {
  static_assert(std::is_move_constructible_v<T>, "gmp::chan<T> needs a movable T");
  static constexpr bool direct = std::is_trivially_copyable_v<T>;
  using slot = std::conditional_t<direct, T, T*>;

 public:
  explicit chan(size_t cap = 0)
      : c_(direct ? gmp_chan_make(sizeof(slot), cap)
                  : gmp_chan_make_drop(sizeof(slot), cap, [](void* s) { delete *static_cast<T**>(s); })) {
    if (!c_) throw std::system_error(errno, std::generic_category(), "gmp::chan");
  }
  chan(const chan& o) : c_(gmp_chan_retain(o.c_)) {}
  chan(chan&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  chan& operator=(chan o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~chan() { release(); }

  // send blocks until the value is taken or buffered; throws closed_channel (and
  // std::system_error on a handle moved from).
  void send(T v) {
    if constexpr (direct) {
      sent(gmp_chan_send(c_, &v));
    } else {
      T* p = new T(std::move(v));
      int r = gmp_chan_send(c_, &p);
      if (r < 0) delete p;
      sent(r);
    }
  }
  // recv blocks for a value; empty once the channel is closed and drained.
  std::optional<T> recv() {
    slot s;
    int r = gmp_chan_recv(c_, &s);
    detail::check(r, "gmp::chan::recv");
    if (r != 1) return std::nullopt;
    return take(s);
  }
  // close: receivers drain what is buffered, then get nothing; throws if already closed.
  void close() {
    int r = gmp_chan_close(c_);
    if (r == -EPIPE) throw closed_channel("gmp: close of closed channel");
    detail::check(r, "gmp::chan::close");
  }
  size_t size() const { return gmp_chan_len(c_); }
  size_t capacity() const { return gmp_chan_cap(c_); }
  gmp_chan_t* native() const { return c_; }
  // adopt: a handle that takes over one reference to c, a channel of Ts made by the C ABI
  // (a trivially copyable T: the C ABI's channels carry values).
  static chan adopt(gmp_chan_t* c) {
    static_assert(direct, "gmp::chan<T>::adopt needs a trivially copyable T");
    return chan(c, adopting{});
  }

  static T take(slot& s) {
    if constexpr (direct) {
      return s;
    } else {
      std::unique_ptr<T> own(s);
      return std::move(*own);
    }
  }
  static void stage(slot& s, T& v) {  // the slot select sends from
    if constexpr (direct) s = v; else s = new T(std::move(v));
  }
  static void unstage(slot& s) {  // a send that did not happen
    if constexpr (!direct) delete s;
  }

 private:
  struct adopting {};
  chan(gmp_chan_t* c, adopting) noexcept : c_(c) {}
  static void sent(int r) {
    if (r == -EPIPE) throw closed_channel();
    detail::check(r, "gmp::chan::send");
  }
  void release() {
    if (c_) gmp_chan_release(c_);  // the last one destroys unreceived values (drop)
  }
  gmp_chan_t* c_;
};

// ---- timers -----------------------------------------------------------------------------------

// timer: Go's time.Timer, and with a period its time.Ticker (gmp_timer_*): c() receives the
// time (gmp_nanotime) of each firing, which a full channel drops. stop() and reset() say
// whether a firing was pending. Destroying the timer stops it; copies of c() live on.
class timer {
 public:
  template <typename Rep, typename Period>
  explicit timer(const std::chrono::duration<Rep, Period>& d,
                 std::chrono::nanoseconds period = std::chrono::nanoseconds::zero())
      : t_(make(detail::nanos(d), period.count())),
        c_(chan<int64_t>::adopt(gmp_chan_retain(gmp_timer_chan(t_)))) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  ~timer() { gmp_timer_free(t_); }

  chan<int64_t>& c() { return c_; }
  bool stop() { return gmp_timer_stop(t_) == 1; }
  // reset: arm it again (a negative period throws std::system_error).
  template <typename Rep, typename Period>
  bool reset(const std::chrono::duration<Rep, Period>& d,
             std::chrono::nanoseconds period = std::chrono::nanoseconds::zero()) {
    int r = gmp_timer_reset(t_, detail::nanos(d), period.count());
    detail::check(r, "gmp::timer::reset");
    return r == 1;
  }

 private:
  static gmp_timer_t* make(int64_t ns, int64_t period) {
    gmp_timer_t* t = gmp_timer_new(ns, period);
    if (!t) throw std::system_error(errno, std::generic_category(), "gmp::timer");
    return t;
  }
  gmp_timer_t* t_;
  chan<int64_t> c_;
};

// ticker: a timer that fires every period (Go's time.NewTicker); a period that is not
// positive throws std::invalid_argument (Go panics).
class ticker : public timer {
 public:
  template <typename Rep, typename Period>
  explicit ticker(const std::chrono::duration<Rep, Period>& period)
      : timer(period, positive(std::chrono::duration_cast<std::chrono::nanoseconds>(period))) {}

 private:
  static std::chrono::nanoseconds positive(std::chrono::nanoseconds period) {
    if (period.count() <= 0) throw std::invalid_argument("gmp::ticker: non-positive period");
    return period;
  }
};

// after(d): a channel that receives the time once, after d (Go's time.After). (after(d, f)
// below is a select's timeout case.)
template <typename Rep, typename Period>
chan<int64_t> after(const std::chrono::duration<Rep, Period>& d) {
  gmp_chan_t* c = gmp_after(detail::nanos(d));
  if (!c) throw std::system_error(errno, std::generic_category(), "gmp::after");
  return chan<int64_t>::adopt(c);
}

// ---- select -----------------------------------------------------------------------------------

// Cases for gmp::select; each runs its handler when chosen.
template <typename T, typename F> struct recv_case {
  using value_type = T;
  chan<T>& c;
  F f;  // void(std::optional<T>)
};
template <typename T, typename F> struct send_case {
  chan<T>& c;
  T v;
  F f;  // void()
};
template <typename F> struct timeout_case {
  int64_t ns;  // 0: default (do not wait)
  F f;
};

template <typename T, typename F> recv_case<T, F> on_recv(chan<T>& c, F f) {
  return {c, std::move(f)};
}
template <typename T, typename U, typename F> send_case<T, F> on_send(chan<T>& c, U&& v, F f) {
  return {c, T(std::forward<U>(v)), std::move(f)};
}
template <typename Rep, typename Period, typename F>
timeout_case<F> after(const std::chrono::duration<Rep, Period>& d, F f) {
  int64_t ns = detail::nanos(d);
  return {ns > 0 ? ns : 1, std::move(f)};
}
template <typename F> timeout_case<F> otherwise(F f) { return {0, std::move(f)}; }

namespace detail {
template <typename C> struct is_timeout : std::false_type {};
template <typename F> struct is_timeout<timeout_case<F>> : std::true_type {};

// Per-case storage for the value that travels.
template <typename C> struct slot_of {
  char unused;
};
template <typename T, typename F> struct slot_of<recv_case<T, F>> {
  typename std::conditional_t<std::is_trivially_copyable_v<T>, T, T*> s;
};
template <typename T, typename F> struct slot_of<send_case<T, F>> {
  typename std::conditional_t<std::is_trivially_copyable_v<T>, T, T*> s;
};
}  // namespace detail

// select waits for the first case that can proceed (chosen at random among ready ones),
// performs it and runs its handler; returns the index of the case run. With an after()
// case it waits at most that long; with otherwise() it does not wait. Throws
// closed_channel when the chosen case is a send on a closed channel.
template <typename... Cases> size_t select(Cases&&... cases) {
  constexpr size_t n = sizeof...(Cases);
  std::tuple<Cases&...> cs(cases...);
  std::tuple<detail::slot_of<std::decay_t<Cases>>...> slots;
  gmp_select_case raw[n > 0 ? n : 1];
  size_t caseof[n > 0 ? n : 1];  // raw index -> case index
  size_t nraw = 0;
  int64_t timeout = -1;
  size_t timeoutIndex = n;
  auto each = [&](auto&& fn) {
    [&]<size_t... I>(std::index_sequence<I...>) {
      (fn(std::integral_constant<size_t, I>{}), ...);
    }(std::make_index_sequence<n>{});
  };
  each([&](auto I) {
    auto& c = std::get<I>(cs);
    using C = std::decay_t<decltype(c)>;
    if constexpr (detail::is_timeout<C>::value) {
      timeout = c.ns;
      timeoutIndex = I;
    } else if constexpr (requires { c.v; }) {
      std::remove_reference_t<decltype(c.c)>::stage(std::get<I>(slots).s, c.v);
      caseof[nraw] = I;
      raw[nraw++] = {c.c.native(), GMP_SEND, &std::get<I>(slots).s, false};
    } else {
      caseof[nraw] = I;
      raw[nraw++] = {c.c.native(), GMP_RECV, &std::get<I>(slots).s, false};
    }
  });
  int r = gmp_select(raw, nraw, timeout);
  size_t fired = r >= 0 ? caseof[r] : timeoutIndex;
  each([&](auto I) {  // values staged for sends that did not happen
    auto& c = std::get<I>(cs);
    if constexpr (requires { c.v; }) {
      if (I != fired) std::remove_reference_t<decltype(c.c)>::unstage(std::get<I>(slots).s);
    }
  });
  if (r == -EPIPE) throw closed_channel();
  if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT) detail::check(r, "gmp::select");
  each([&](auto I) {
    if (I != fired) return;
    auto& c = std::get<I>(cs);
    using C = std::decay_t<decltype(c)>;
    if constexpr (detail::is_timeout<C>::value || requires { c.v; }) {
      c.f();
    } else {
      using Ch = std::remove_reference_t<decltype(c.c)>;
      using V = typename C::value_type;
      if (raw[r].ok) {
        c.f(std::optional<V>(Ch::take(std::get<I>(slots).s)));
      } else {
        c.f(std::optional<V>());
      }
    }
  });
  return fired;
}

// ---- sync ---------------------------------------------------------------------------------------

// mutex: Lockable (std::lock_guard, std::unique_lock, std::scoped_lock,
// std::condition_variable_any). Unlocking one that is not locked throws std::system_error
// (EPERM), where Go's is a fatal error: from a lock_guard's destructor, std::terminate.
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  void lock() { gmp_mutex_lock(&m_); }
  bool try_lock() { return gmp_mutex_trylock(&m_) == 0; }
  void unlock() { detail::check(gmp_mutex_unlock(&m_), "gmp::mutex::unlock"); }
  gmp_mutex_t* native_handle() { return &m_; }

 private:
  gmp_mutex_t m_ = GMP_MUTEX_INIT;
};

// shared_mutex: SharedLockable (std::shared_lock) as well; unlocks as mutex's.
class shared_mutex {
 public:
  shared_mutex() = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;
  void lock() { gmp_rwmutex_lock(&m_); }
  bool try_lock() { return gmp_rwmutex_trylock(&m_) == 0; }
  void unlock() { detail::check(gmp_rwmutex_unlock(&m_), "gmp::shared_mutex::unlock"); }
  void lock_shared() { gmp_rwmutex_rlock(&m_); }
  bool try_lock_shared() { return gmp_rwmutex_tryrlock(&m_) == 0; }
  void unlock_shared() {
    detail::check(gmp_rwmutex_runlock(&m_), "gmp::shared_mutex::unlock_shared");
  }

 private:
  gmp_rwmutex_t m_ = GMP_RWMUTEX_INIT;
};

class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;
  // add: throws std::system_error if the counter would go negative.
  void add(int64_t n) { detail::check(gmp_waitgroup_add(&wg_, n), "gmp::wait_group::add"); }
  void done() { add(-1); }
  void wait() { detail::check(gmp_waitgroup_wait(&wg_), "gmp::wait_group::wait"); }

 private:
  gmp_waitgroup_t wg_ = GMP_WAITGROUP_INIT;
};

}  // namespace gmp
