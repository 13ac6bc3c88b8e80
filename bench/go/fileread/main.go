// Command fileread is bench/fileread.cc in Go: 64 goroutines share N reads of 4 KiB blocks
// at random offsets of one 256 MiB file whose pages were dropped from the page cache first;
// Go blocks an M in each read the cache cannot serve. Same file, sizes and generator.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gmpbench/internal/harness"
)

const (
	path    = "/tmp/gmp-bench-fileread"
	workers = 64
	bytes   = 256 << 20
	block   = 4096
	blocks  = bytes / block
)

func seed(w uint64) uint64    { return w*0x9e3779b97f4a7c15 + 1 }
func next(x uint64) uint64    { return x*6364136223846793005 + 1442695040888963407 }
func blockof(x uint64) uint64 { return (x >> 33) % blocks }

// openFile opens path, first making it if it is missing or of another size, and drops its
// pages from the page cache.
func openFile() (*os.File, error) {
	if st, err := os.Stat(path); err != nil || st.Size() != bytes {
		tmp := path + ".tmp"
		w, err := os.Create(tmp)
		if err != nil {
			return nil, err
		}
		chunk := make([]byte, 1<<20)
		for i := uint64(0); i < bytes/uint64(len(chunk)); i++ {
			for k := 0; k < len(chunk)/8; k++ {
				binary.LittleEndian.PutUint64(chunk[8*k:], i*uint64(len(chunk)/8)+uint64(k))
			}
			if _, err := w.Write(chunk); err != nil {
				return nil, err
			}
		}
		if err := w.Sync(); err != nil {
			return nil, err
		}
		w.Close()
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	const dontneed, random = 4, 1 // POSIX_FADV_*
	for _, advice := range []uintptr{dontneed, random} {
		if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, advice, 0, 0); e != 0 {
			return nil, e
		}
	}
	return f, nil
}

func main() {
	n := harness.ArgN(100000, workers, math.MaxUint64)
	perworker := n / workers
	f, err := openFile()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fileread: %v\n", err)
		os.Exit(1)
	}
	var reads, bad atomic.Uint64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(workers)
	for w := uint64(0); w < workers; w++ {
		go func(w uint64) {
			x := seed(w)
			buf := make([]byte, block)
			for i := uint64(0); i < perworker; i++ {
				x = next(x)
				b := blockof(x)
				_, err := f.ReadAt(buf, int64(b*block))
				ok := err == nil
				for k := uint64(0); ok && k < block/8; k++ {
					ok = binary.LittleEndian.Uint64(buf[8*k:]) == b*(block/8)+k
				}
				if !ok {
					bad.Add(1)
				}
				reads.Add(1)
			}
			wg.Done()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if bad.Load() != 0 || reads.Load() != perworker*workers {
		fmt.Fprintf(os.Stderr, "fileread: %d of %d reads wrong\n", bad.Load(), reads.Load())
		os.Exit(1)
	}
	fmt.Printf("fileread %.1f ns/op\n", float64(elapsed.Nanoseconds())/float64(reads.Load()))
	fmt.Printf("fileread_threads %d threads\n", harness.StatusValue("Threads:"))
}
