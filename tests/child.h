// child.h — run a shell command as a child process and collect what it prints, for the
// tests that run whole programs (preload_test, dump_test). Plain C++: no runtime needed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace gmptest {

struct childresult {
  int status = -1;  // exit code, or 128 + the signal that killed it
  std::string out;  // what it printed on the streams cmd sends to the pipe
};

// runshell runs cmd with sh -c and returns its stdout (add 2>&1 for stderr too).
inline childresult runshell(const std::string& cmd) {
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
