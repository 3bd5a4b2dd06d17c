package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// hostTimes are the machine's cumulative CPU times from /proc/stat that no
// process accounts for: steal (a virtual machine's CPUs running other
// guests) and iowait.
type hostTimes struct {
	steal, iowait clockTicks
}

// clockTicks is a /proc/stat counter in USER_HZ ticks (100 per second on
// Linux); valid is false when it could not be read.
type clockTicks struct {
	n     uint64
	valid bool
}

// perSecond is the counter's growth since a, in CPU-seconds per second of
// secs; 0 when either end is unknown.
func (b clockTicks) perSecond(a clockTicks, secs float64) float64 {
	if !a.valid || !b.valid || b.n < a.n || secs <= 0 {
		return 0
	}
	return float64(b.n-a.n) / 100 / secs
}

func readHostTimes() hostTimes {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return hostTimes{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return hostTimes{}
	}
	return parseCPULine(sc.Text())
}

// parseCPULine reads the aggregate "cpu" line: user nice system idle iowait
// irq softirq steal ...
func parseCPULine(line string) hostTimes {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return hostTimes{}
	}
	field := func(i int) clockTicks {
		n, err := strconv.ParseUint(f[i], 10, 64)
		return clockTicks{n: n, valid: err == nil}
	}
	return hostTimes{iowait: field(5), steal: field(8)}
}
