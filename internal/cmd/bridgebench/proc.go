package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 100

// cpuTime returns a process's user+system CPU time from /proc/<pid>/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line.
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

// rss returns a process's resident set size in bytes from /proc/<pid>/status.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// syscallCount returns the read and write system calls a process has
// made, from /proc/<pid>/io (syscr + syscw): what a relay pays per event
// when it writes each one on its own.
func syscallCount(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		} else if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		}
	}
	return n
}
