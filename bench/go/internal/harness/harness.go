// Package harness is what every Go benchmark shares with its C++ twin (bench/bench.h):
// the N argument and a line of /proc/self/status.
package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ArgN returns os.Args[1] as N when it is a number in [lo, hi], def when there is none;
// otherwise it prints the usage and exits 2.
func ArgN(def, lo, hi uint64) uint64 {
	if len(os.Args) < 2 {
		return def
	}
	v, err := strconv.ParseUint(os.Args[1], 10, 64)
	if err != nil || v < lo || v > hi {
		fmt.Fprintf(os.Stderr, "usage: %s [N in %d..%d]\n", os.Args[0], lo, hi)
		os.Exit(2)
	}
	return v
}

// CheckRange exits 1, saying what arrived, unless the values 0..n-1 arrived each once:
// count n and sum n(n-1)/2.
func CheckRange(name string, count, sum, n uint64) {
	if want := n * (n - 1) / 2; count != n || sum != want {
		fmt.Fprintf(os.Stderr, "%s: received %d values summing to %d, want %d and %d\n",
			name, count, sum, n, want)
		os.Exit(1)
	}
}

// StatusValue returns the number in a /proc/self/status field, or -1: KiB for "VmRSS:" and
// "VmHWM:", a count for "Threads:".
func StatusValue(field string) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		// "VmHWM:	    2140 kB", "Threads:	5"
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return v
			}
		}
	}
	return -1
}
