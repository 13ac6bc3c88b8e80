// Command loadgen drives every echo server the same way: C connections to 127.0.0.1:PORT,
// each a loop of one 64-byte request and its 64-byte response (checked byte for byte), for
// a warm-up and then a measured period. Prints
//   echo_rtps <round trips per second over the measured period> rt/s
//   echo_p99 <99th percentile round-trip latency> us
//   echo_total <round trips over the whole run, warm-up included> rt
// (the comparison divides the server's CPU time by the last).
// usage: loadgen PORT CONNS [SECONDS]
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: loadgen PORT CONNS [SECONDS]")
		os.Exit(2)
	}
	port, conns := os.Args[1], atoi(os.Args[2])
	secs := 2.0
	if len(os.Args) > 3 {
		secs, _ = strconv.ParseFloat(os.Args[3], 64)
	}
	warm := 300 * time.Millisecond
	var measuring, stop atomic.Bool
	var failed atomic.Int64
	lat := make([][]time.Duration, conns)
	counts := make([]int64, conns)
	totals := make([]int64, conns) // every round trip, warm-up included
	var wg, ready sync.WaitGroup
	wg.Add(conns)
	ready.Add(conns)
	for i := 0; i < conns; i++ {
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			ready.Done()
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			req := bytes.Repeat([]byte{byte(i)}, 64)
			resp := make([]byte, 64)
			for !stop.Load() {
				req[0]++
				t0 := time.Now()
				if _, err := c.Write(req); err != nil {
					failed.Add(1)
					return
				}
				if _, err := io.ReadFull(c, resp); err != nil || !bytes.Equal(req, resp) {
					failed.Add(1)
					return
				}
				totals[i]++
				if measuring.Load() {
					lat[i] = append(lat[i], time.Since(t0))
					counts[i]++
				}
			}
		}(i)
	}
	ready.Wait()
	time.Sleep(warm)
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	measuring.Store(false)
	elapsed := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d connections failed\n", failed.Load())
		os.Exit(1)
	}
	var all []time.Duration
	var n, total int64
	for i := range lat {
		all = append(all, lat[i]...)
		n += counts[i]
		total += totals[i]
	}
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: no round trips measured")
		os.Exit(1)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	fmt.Printf("echo_rtps %.0f rt/s\n", float64(n)/elapsed.Seconds())
	fmt.Printf("echo_p99 %.0f us\n", float64(all[len(all)*99/100].Microseconds()))
	fmt.Printf("echo_total %d rt\n", total)
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		fmt.Fprintln(os.Stderr, "loadgen: bad number", s)
		os.Exit(2)
	}
	return v
}
