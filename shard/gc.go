package shard

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The shard's garbage collector. The shard is one process whose every write
// waits for it, and its live heap is small (seat states, holds and recent
// idempotency keys: tens of megabytes for a large hall), so Go's default
// (collect each time the heap doubles) collects often: about once a second
// under full load, and each cycle's two stop-the-world pauses, short on an
// idle machine, stretch to milliseconds when the CPUs are busy and land on
// every write in flight. The shard therefore collects when the heap has grown
// by --gc-percent (400 by default: about a fifth as often, for a peak heap of
// about five times the live one), and keeps a soft memory limit at 80% of its
// container's memory limit (cgroup v2 memory.max) so that a heap near the
// limit is collected rather than killed. GOGC and GOMEMLIMIT in the
// environment, the runtime's own settings, win over both.

// gcSettings is what to apply: the GC percent (0: leave the runtime's) and
// the soft memory limit in bytes (0: none).
type gcSettings struct {
	percent int
	limit   int64
}

// memoryLimitShare is the share of the container's memory limit the heap is
// kept under.
const memoryLimitShare = 0.8

// chooseGC decides the settings from the flag, the environment and the
// content of cgroup v2's memory.max ("" when there is none).
func chooseGC(percent int, getenv func(string) string, memoryMax string) gcSettings {
	var s gcSettings
	if getenv("GOGC") == "" {
		s.percent = percent
	}
	if getenv("GOMEMLIMIT") == "" {
		if max, err := strconv.ParseInt(strings.TrimSpace(memoryMax), 10, 64); err == nil && max > 0 {
			s.limit = int64(float64(max) * memoryLimitShare)
		}
	}
	return s
}

// cgroupMemoryMax reads the process's cgroup v2 memory limit ("max" or ""
// when unlimited or unknown).
func cgroupMemoryMax() string {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return ""
	}
	return string(b)
}

// applyGC sets the collector as chooseGC decides and logs what it did.
func applyGC(percent int, log *slog.Logger) {
	s := chooseGC(percent, os.Getenv, cgroupMemoryMax())
	if s.percent != 0 {
		debug.SetGCPercent(s.percent)
	}
	if s.limit > 0 {
		debug.SetMemoryLimit(s.limit)
	}
	log.Info("garbage collector", "gcPercent", gcPercentText(s.percent), "softMemoryLimitBytes", s.limit)
}

func gcPercentText(p int) string {
	if p == 0 {
		return "GOGC=" + os.Getenv("GOGC")
	}
	return fmt.Sprint(p)
}
