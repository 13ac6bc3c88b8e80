// Command select4 is bench/select4.cc in Go: four producers each send N/4 values into their
// own channel of capacity 16 and close it; main receives with a select over the four,
// setting a channel to nil once it is closed; wall time / values received.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"time"
)

func producer(ch chan<- int64, first, count uint64) {
	for i := uint64(0); i < count; i++ {
		ch <- int64(first + i)
	}
	close(ch)
}

func main() {
	n := harness.ArgN(2000000, 4, math.MaxUint64)
	per := n / 4
	total := per * 4

	c0, c1, c2, c3 := make(chan int64, 16), make(chan int64, 16), make(chan int64, 16), make(chan int64, 16)

	t0 := time.Now()
	go producer(c0, 0*per, per)
	go producer(c1, 1*per, per)
	go producer(c2, 2*per, per)
	go producer(c3, 3*per, per)
	count, sum := uint64(0), uint64(0)
	for open := 4; open > 0; {
		var v int64
		var ok bool
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		}
		if !ok {
			open--
			continue
		}
		count++
		sum += uint64(v)
	}
	elapsed := time.Since(t0)

	harness.CheckRange("select4", count, sum, total)
	fmt.Printf("select4 %.1f ns/op\n", float64(elapsed.Nanoseconds())/float64(total))
}
