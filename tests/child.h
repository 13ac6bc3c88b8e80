// child.h — run a shell command as a child process and collect what it prints, for the
// tests that run whole programs (preload_test, dump_test). Plain C++: no runtime needed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <string>

namespace gmptest {

struct childresult {
  int status = -1;  // exit code, or 128 + the signal that killed it
  std::string out;  // what it printed on the streams cmd sends to the pipe
};

// defaultsignals gives the children the dispositions a shell gives a foreground program.
// A harness started in the background by a non-interactive shell (`cmd &`) inherits SIGINT
// and SIGQUIT ignored and hands that down through exec, and the runtime, like the program
// it runs in, respects an inherited SIG_IGN.
inline void defaultsignals() {
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
}

// runshell runs cmd with sh -c and returns its stdout (add 2>&1 for stderr too).
inline childresult runshell(const std::string& cmd) {
  defaultsignals();
  childresult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) r.out.append(buf.data(), n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace gmptest
