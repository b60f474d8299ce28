// Package cpubench measures, in benchmarks, what a stage's background
// work costs a request: the process's CPU time (getrusage) per operation,
// which counts the goroutines an operation wakes and the wake-ups
// themselves, where ns/op counts only the caller's wall time.
package cpubench

import (
	"syscall"
	"testing"
	"time"
)

// Requests runs b.N requests, 50 at a time, each a call of start, a
// pause of d (the request's time upstream) and a call of end, and reports
// the process's CPU time per request as cpu-µs/op. At d = 5 ms that is
// 10,000 requests a second, a busy gateway: a stage that wakes its
// goroutine per request pays for it here. Measure the same requests
// without the stage in the same run, and take the difference.
func Requests(b *testing.B, d time.Duration, start, end func()) {
	var before, after syscall.Rusage
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start()
			time.Sleep(d)
			end()
		}
	})
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	b.StopTimer()
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime)+syscall.TimevalToNsec(after.Stime)) -
		time.Duration(syscall.TimevalToNsec(before.Utime)+syscall.TimevalToNsec(before.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
}
