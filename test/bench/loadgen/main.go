// Command loadgen is the load generator behind `make bench`. It drives the same
// seat-holding workload against a Box office shard (HTTP, per docs/api/shard-v1.openapi.yaml,
// through shard/shardapi's client),
// Redis (Lua scripts, all-or-nothing) and PostgreSQL (one transaction per
// hold), and measures the shard's recovery time and resident memory.
//
// hack/bench.sh starts Redis and PostgreSQL and calls the subcommands below;
// shard processes are started by this program so that start-up can be timed
// from the moment the process is launched. Each measuring subcommand writes a
// JSON result; `report` turns a directory of them into one table.
//
//	loadgen seatmap  -seats N -out FILE          write a YAML seat map of exactly N seats
//	loadgen freeport                              print a free loopback TCP port
//	loadgen prep     -backend redis|postgres ...  load the venue into Redis or PostgreSQL
//	loadgen run      -backend shard|cluster|redis|postgres|floor ...  closed or open-loop workload
//	loadgen recovery ...                          shard: start-up time after N logged writes
//	loadgen memory   ...                          shard: VmRSS at N seats, before/after a burst
//	loadgen failover ...                          cluster: leader SIGKILL -> next write, SIGTERM hand-over pause
//	loadgen report   -dir DIR                     print the table and ratios
//	loadgen floor-serve -dir DIR -token-file F    the floor server -backend floor starts (floor.go)
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"seatmap":     cmdSeatmap,
		"freeport":    cmdFreeport,
		"prep":        cmdPrep,
		"run":         cmdRun,
		"recovery":    cmdRecovery,
		"memory":      cmdMemory,
		"report":      cmdReport,
		"failover":    cmdFailover,
		"floor-serve": cmdFloorServe,
	}
	gcSettings()
	f, ok := cmds[os.Args[1]]
	if !ok {
		usage()
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen seatmap|freeport|prep|run|recovery|memory|failover|report|floor-serve [flags]")
}

// gcSettings makes the generator collect garbage rarely: it shares the
// CPUs with the system under test, and a collection's stop-the-world
// pauses land in the latencies it measures. Unless GOGC or GOMEMLIMIT is
// set, collections are paced by a memory limit of 1 GiB alone (a run's
// live heap, its latency samples included, stays far below it; the
// garbage of 20,000 operations a second fills it about every 10 s), not by
// heap growth.
func gcSettings() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(1 << 30)
	debug.SetGCPercent(-1)
}
