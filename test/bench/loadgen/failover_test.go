package main

import (
	"testing"
	"time"
)

// After a leader's SIGKILL, the answer to a write the old leader had sent
// on its way (sent before the kill, answered after it) is not the first
// write of the new leader: failover is counted from the kill to the first
// acknowledged write sent after it.
func TestFirstAckAfterCountsOnlyWritesSentAfterTheKill(t *testing.T) {
	kill := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	p := &prober{acks: []ack{
		{sent: at(-30), at: at(-29)},
		{sent: at(-2), at: at(1)},    // the old leader's last answer, after the kill
		{sent: at(650), at: at(702)}, // the new leader's first
		{sent: at(703), at: at(705)},
	}}
	d, ok := p.firstAckAfter(kill, 0)
	if !ok || d != 702*time.Millisecond {
		t.Fatalf("first ack after the kill: %v %v, want 702ms (the first write sent after it)", d, ok)
	}
	if _, ok := p.firstAckAfter(at(704), 0); ok {
		t.Fatal("a write sent before t but answered after it was counted")
	}
}
