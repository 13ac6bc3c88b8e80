// traceback.cc — goroutine dumps: Go's traceback.go for C and C++ stacks, with libunwind.
#include "runtime.h"

namespace gmp {

// The text of each wait reason, as a dump prints it (Go's waitReasonStrings). The gdb
// script (gdb/libgmp-gdb.py) reads this array from the process.
const char* const waitReasonStrings[waitReasonCount] = {
    "",            // waitReasonZero
    "semacquire",  // waitReasonSemacquire
};

}  // namespace gmp
