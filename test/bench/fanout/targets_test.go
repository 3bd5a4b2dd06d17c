//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestTargetLines(t *testing.T) {
	few := phaseResult{Clients: 10, Commits: 300, Expected: 3000, Deliveries: 3000, P99ms: 90,
		ShardCPUSeconds: 0.30, ShardCPUPerCommitMs: 1.0, ShardCPUPrecise: true}
	many := phaseResult{Clients: 10000, Commits: 300, Expected: 3_000_000, Deliveries: 3_000_000, P99ms: 150,
		ShardCPUSeconds: 0.33, ShardCPUPerCommitMs: 1.1, ShardCPUPrecise: true}
	for _, c := range []struct {
		name     string
		rs       []phaseResult
		p99, cpu string
	}{
		{"both met", []phaseResult{few, many},
			"target p99 <= 200 ms at 10000 clients: met (p99 150.0 ms)",
			"shard CPU unchanged 10 vs 10000 clients: met (1.000 vs 1.100 ms CPU per commit, ratio 1.10x"},
		{"slow and CPU grows", []phaseResult{few, func() phaseResult {
			r := many
			r.P99ms, r.ShardCPUPerCommitMs = 250, 2
			return r
		}()},
			"target p99 <= 200 ms at 10000 clients: NOT met (p99 250.0 ms)",
			"shard CPU unchanged 10 vs 10000 clients: NOT met (1.000 vs 2.000 ms CPU per commit, ratio 2.00x"},
		{"deliveries missing", []phaseResult{few, func() phaseResult {
			r := many
			r.Deliveries = r.Expected * 9 / 10
			return r
		}()},
			"target p99 <= 200 ms at 10000 clients: NOT met (p99 150.0 ms, 300000 of 3000000 deliveries missing)", ""},
		{"small run", []phaseResult{few, func() phaseResult { r := many; r.Clients = 200; return r }()},
			"target p99 <= 200 ms at 10000 clients: not measured (no 10000-client phase; largest: 200 clients, p99 150.0 ms)",
			"shard CPU unchanged 10 vs 10000 clients: measured 10 vs 200 clients only: met"},
		{"one phase", []phaseResult{few}, "", "shard CPU unchanged 10 vs 10000 clients: not measured (one client count only)"},
	} {
		lines := targetLines(c.rs)
		if len(lines) != 2 {
			t.Fatalf("%s: %d lines", c.name, len(lines))
		}
		if !strings.HasPrefix(lines[0], c.p99) {
			t.Errorf("%s: p99 line %q, want prefix %q", c.name, lines[0], c.p99)
		}
		if !strings.HasPrefix(lines[1], c.cpu) {
			t.Errorf("%s: CPU line %q, want prefix %q", c.name, lines[1], c.cpu)
		}
	}
}
