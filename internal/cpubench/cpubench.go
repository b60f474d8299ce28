//go:build unix

// Package cpubench measures, in benchmarks, what a stage's background
// work costs a request: the process's CPU time (getrusage) per operation,
// which counts the goroutines an operation wakes and the wake-ups
// themselves, where ns/op counts only the caller's wall time. It builds
// on Unix only (getrusage), as do the benchmarks that use it.
package cpubench

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Concurrency is how many requests Requests runs at a time.
const Concurrency = 50

// Requests runs b.N requests, Concurrency at a time, each a call of
// start, a pause of d (the request's time upstream) and a call of end,
// and reports the process's CPU time per request as cpu-µs/op. At d =
// 5 ms that is up to 10,000 requests a second, a busy gateway: a stage
// that wakes a goroutine of its own per request pays for it here.
// Measure the same requests without the stage in the same run, and take
// the difference.
func Requests(b *testing.B, d time.Duration, start, end func()) {
	var before, after syscall.Rusage
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	var wg sync.WaitGroup
	for range Concurrency {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				start()
				time.Sleep(d)
				end()
			}
		})
	}
	wg.Wait()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	b.StopTimer()
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime)+syscall.TimevalToNsec(after.Stime)) -
		time.Duration(syscall.TimevalToNsec(before.Utime)+syscall.TimevalToNsec(before.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}
