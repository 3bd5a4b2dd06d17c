package shard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// roomPlaces reads each place and renders what must not change across a
// restart or a failover.
func roomPlaces(t *testing.T, p *proc, places []any) string {
	t.Helper()
	var b strings.Builder
	for _, id := range places {
		code, m, err := p.call("GET", fmt.Sprintf("/v1/room/places/%v", id), "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %v %v %v %v %v|", code, m["state"], m["slot"], m["ahead"], m["maxSeats"], m["idleDeadline"])
	}
	return b.String()
}

func roomJoinAll(t *testing.T, p *proc, n int) []any {
	t.Helper()
	places := make([]any, n)
	deadline := time.Now().Add(10 * time.Second)
	for i := range places {
		code, m, err := p.call("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, i+1))
		for code == 503 && time.Now().Before(deadline) { // the leader configures the room at its first tick
			time.Sleep(20 * time.Millisecond)
			code, m, err = p.call("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, i+1))
		}
		if err != nil || code != 200 {
			t.Fatalf("join %d: %d %v %v", i, code, m, err)
		}
		places[i] = m["place"]
	}
	return places
}

func waitRoomOpen(t *testing.T, p *proc, active int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, m, err := p.call("GET", "/v1/room/status", "")
		if err == nil && code == 200 && m["open"] == true && m["active"] == float64(active) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("room not open with %d admitted: %d %v %v", active, code, m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A place survives SIGKILL: first replayed from the log alone, then from a
// snapshot (format 2) and the log after it; joins retried with the same
// keys answer the same places.
func TestRoomSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	mapFile, tokenFile := writeFiles(t)
	dir := t.TempDir()
	room := []string{"--waiting-room", "--waiting-room-max-active", "2", "--waiting-room-pre-queue", "1h",
		"--opens-at", time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)}
	p := launch(t, dir, mapFile, tokenFile, room...)
	p.waitReady()
	places := roomJoinAll(t, p, 6)
	waitRoomOpen(t, p, 2)
	// An admitted buyer holds a seat (so it has no idle deadline).
	var admitted any
	for _, id := range places {
		if _, m, _ := p.call("GET", fmt.Sprintf("/v1/room/places/%v", id), ""); m["state"] == "admitted" {
			admitted = id
			break
		}
	}
	if code, m, err := p.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/1"],"holder":"w:%v"}`, admitted)); code != 201 {
		t.Fatalf("hold: %d %v %v", code, m, err)
	}
	before := roomPlaces(t, p, places)
	snap := []string{"--snapshot-every", "3"}
	for round, extra := range [][]string{nil, snap, snap} {
		p.kill()
		p = launch(t, dir, mapFile, tokenFile, append(append([]string{}, room...), extra...)...)
		p.waitReady()
		waitRoomOpen(t, p, 2)
		if after := roomPlaces(t, p, places); after != before {
			t.Fatalf("round %d: places after SIGKILL\n%s\nwant\n%s\n%s", round, after, before, p.logs())
		}
		if again := roomJoinAll(t, p, 6); fmt.Sprint(again) != fmt.Sprint(places) {
			t.Fatalf("round %d: joins retried after SIGKILL: %v, want %v", round, again, places)
		}
		// Writes after the restart: a touch each (with --snapshot-every 3
		// they reach a snapshot before the next kill).
		for _, id := range places {
			p.call("POST", fmt.Sprintf("/v1/room/places/%v/touch", id), "")
		}
		before = roomPlaces(t, p, places)
		if round == 2 && !strings.Contains(p.logs(), `"msg":"recovered"`) || round == 2 && strings.Contains(p.logs(), `"snapshotIndex":0,`) {
			t.Fatalf("round 2 did not start from a snapshot:\n%s", p.logs())
		}
		if round == 1 {
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(p.logs(), "snapshot written") {
				if time.Now().After(deadline) {
					t.Fatalf("no snapshot was written with --snapshot-every 3:\n%s", p.logs())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// A place survives the leader's SIGKILL in a cluster of processes, and a
// join retried with the same key on the new leader is the same place.
func TestRoomLeaderFailover(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("process-level cluster test: skipped with -short and -race")
	}
	c := newCluster(t, "--waiting-room", "--waiting-room-max-active", "2", "--waiting-room-pre-queue", "1h",
		"--opens-at", time.Now().Add(3*time.Second).UTC().Format(time.RFC3339))
	l := c.leader()
	places := roomJoinAll(t, c.procs[l], 6)
	waitRoomOpen(t, c.procs[l], 2)
	before := roomPlaces(t, c.procs[l], places)
	c.kill(l)
	nl := c.leader()
	if after := roomPlaces(t, c.procs[nl], places); after != before {
		t.Fatalf("places after the leader's SIGKILL\n%s\nwant\n%s", after, before)
	}
	if again := roomJoinAll(t, c.procs[nl], 6); fmt.Sprint(again) != fmt.Sprint(places) {
		t.Fatalf("joins retried on the new leader: %v, want %v", again, places)
	}
	// A new buyer after the failover queues behind everyone.
	code, m, err := c.procs[nl].call("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, 99))
	if err != nil || code != 200 || m["state"] != "waiting" || m["ahead"] != float64(4) {
		t.Fatalf("a join after the failover: %d %v %v", code, m, err)
	}
	c.start(l)
}

// The Showtime's room switched off, as the operator does it: the shard
// binary is started again without --waiting-room (after a SIGKILL, from its
// log). The room is then off: a hold without an admission succeeds and
// joins are refused. Started with the flags again, holds are gated again.
func TestRoomSwitchedOffByItsFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	mapFile, tokenFile := writeFiles(t)
	dir := t.TempDir()
	room := []string{"--waiting-room", "--waiting-room-max-active", "1",
		"--opens-at", time.Now().Add(-time.Second).UTC().Format(time.RFC3339)}
	hold := func(p *proc, holder, seat string) int {
		code, m, err := p.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":[%q],"holder":%q}`, seat, holder))
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
		if code != 201 && m["error"] != "admission_required" {
			t.Fatalf("hold by %s: %d %v", holder, code, m)
		}
		return code
	}
	p := launch(t, dir, mapFile, tokenFile, room...)
	p.waitReady()
	places := roomJoinAll(t, p, 2)
	waitRoomOpen(t, p, 1)
	if code := hold(p, "b-1", "stalls/A/1"); code != 403 {
		t.Fatalf("room on: a hold without an admission answered %d", code)
	}

	p.kill()
	p = launch(t, dir, mapFile, tokenFile)
	p.waitReady()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m, _ := p.call("GET", "/v1/status", "")
		if r, _ := m["room"].(map[string]any); r != nil && r["configured"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room is not off without its flags: %v\n%s", m["room"], p.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := hold(p, "b-1", "stalls/A/1"); code != 201 {
		t.Fatalf("room off: a hold without an admission answered %d", code)
	}
	if code, m, _ := p.call("POST", "/v1/room/join", fmt.Sprintf(`{"key":"%032x"}`, 9)); code != 409 || m["error"] != "waiting_room_not_configured" {
		t.Fatalf("join with the room off: %d %v", code, m)
	}

	p.kill()
	p = launch(t, dir, mapFile, tokenFile, room...)
	p.waitReady()
	again := roomJoinAll(t, p, 1)
	waitRoomOpen(t, p, 1)
	if first, last := again[0].(float64), places[1].(float64); first <= last {
		t.Fatalf("the first place after switching on again is %v, not after %v", again[0], places[1])
	}
	if code := hold(p, "b-2", "stalls/A/2"); code != 403 {
		t.Fatalf("room on again: a hold without an admission answered %d", code)
	}
}
