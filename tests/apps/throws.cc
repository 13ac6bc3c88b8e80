// throws.cc — a plain C++ program: exceptions thrown and caught across frames, a rethrow,
// std::string/vector allocations, static destructors. Never includes gmp.h.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
struct atEnd {
  ~atEnd() { std::printf("static destructor ran\n"); }
} endMarker;

int depth(int n) {
  if (n == 0) throw std::runtime_error("bottom reached");
  std::vector<std::string> keep(4, std::string(100, 'a'));
  return depth(n - 1) + int(keep.size());
}
}  // namespace

int main() {
  int caught = 0;
  for (int i = 0; i < 1000; i++) {
    try {
      depth(20);
    } catch (const std::runtime_error& e) {
      try {
        throw;
      } catch (const std::exception& again) {
        caught += std::string(again.what()) == "bottom reached";
      }
    }
  }
  std::printf("caught %d\n", caught);
  return caught == 1000 ? 0 : 1;
}
