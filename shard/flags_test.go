package shard_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard"
)

func TestFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"BOXOFFICE_SHARD_SHOWTIME":             "venues/x",
		"BOXOFFICE_SHARD_SEAT_MAP":             "/m.yaml",
		"BOXOFFICE_SHARD_DATA_DIR":             "/data",
		"BOXOFFICE_SHARD_TOKEN_FILE":           "/tok",
		"BOXOFFICE_SHARD_HOLD_TTL":             "5m",
		"BOXOFFICE_SHARD_MAX_SEATS_PER_HOLDER": "6",
		"BOXOFFICE_SHARD_LISTEN":               ":9000",
	}
	o, err := shard.ParseFlags([]string{"--listen", "127.0.0.1:1234"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Showtime != "venues/x" || o.SeatMap != "/m.yaml" || o.DataDir != "/data" || o.TokenFile != "/tok" ||
		o.HoldTTL != 5*time.Minute || o.MaxSeatsPerHolder != 6 || o.MaxHoldTTL != 2*time.Hour {
		t.Fatalf("%+v", o)
	}
	if o.Listen != "127.0.0.1:1234" {
		t.Fatalf("the command line must win over the environment: %q", o.Listen)
	}
	if shard.EnvName("max-hold-ttl") != "BOXOFFICE_SHARD_MAX_HOLD_TTL" {
		t.Fatal(shard.EnvName("max-hold-ttl"))
	}
	d, err := shard.ParseFlags([]string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--auth", "none"}, func(string) string { return "" }, io.Discard)
	if err != nil || d.Listen != ":7070" || d.HoldTTL != 10*time.Minute || d.MaxHoldTTL != 2*time.Hour || d.MaxSeatsPerHolder != 8 {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	if _, err := shard.ParseFlags([]string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--auth", "maybe"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("accepted --auth maybe")
	}
	// --max-hold-ttl alone caps the default hold ttl; an explicit longer
	// --hold-ttl is refused.
	base := []string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--auth", "none"}
	c, err := shard.ParseFlags(append(base, "--max-hold-ttl", "5s"), func(string) string { return "" }, io.Discard)
	if err != nil || c.HoldTTL != 5*time.Second || c.MaxHoldTTL != 5*time.Second {
		t.Fatalf("--max-hold-ttl 5s alone: %+v %v", c, err)
	}
	if _, err := shard.ParseFlags(append(base, "--max-hold-ttl", "5s", "--hold-ttl", "1m"), func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("accepted --hold-ttl 1m with --max-hold-ttl 5s")
	}
	if _, err := shard.ParseFlags(append(base, "--max-hold-ttl", "5s"), func(k string) string {
		if k == "BOXOFFICE_SHARD_HOLD_TTL" {
			return "1m"
		}
		return ""
	}, io.Discard); err == nil {
		t.Fatal("accepted BOXOFFICE_SHARD_HOLD_TTL=1m with --max-hold-ttl 5s")
	}
}

func TestClusterFlags(t *testing.T) {
	base := []string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--token-file", "t"}
	env := func(string) string { return "" }
	ok := append(base, "--id", "2", "--peers", "1=http://a:7071,2=http://b:7071,3=http://c:7071",
		"--advertise-url", "http://b:7070", "--peer-token-file", "p")
	o, err := shard.ParseFlags(ok, env, io.Discard)
	if err != nil || o.Cluster.ID != 2 || o.Cluster.PeerListen != ":7071" {
		t.Fatalf("valid cluster flags: %+v %v", o, err)
	}
	for name, args := range map[string][]string{
		"two members":      {"--id", "1", "--peers", "1=http://a:1,2=http://b:1", "--advertise-url", "http://a:2", "--peer-token-file", "p"},
		"id not a member":  {"--id", "4", "--peers", "1=http://a:1,2=http://b:1,3=http://c:1", "--advertise-url", "http://a:2", "--peer-token-file", "p"},
		"member twice":     {"--id", "1", "--peers", "1=http://a:1,1=http://b:1,3=http://c:1", "--advertise-url", "http://a:2", "--peer-token-file", "p"},
		"not a URL":        {"--id", "1", "--peers", "1=a:1,2=http://b:1,3=http://c:1", "--advertise-url", "http://a:2", "--peer-token-file", "p"},
		"no advertise URL": {"--id", "1", "--peers", "1=http://a:1,2=http://b:1,3=http://c:1", "--peer-token-file", "p"},
		"no peer token":    {"--id", "1", "--peers", "1=http://a:1,2=http://b:1,3=http://c:1", "--advertise-url", "http://a:2"},
		"id out of range":  {"--id", "8", "--peers", "8=http://a:1,2=http://b:1,3=http://c:1", "--advertise-url", "http://a:2", "--peer-token-file", "p"},
	} {
		if _, err := shard.ParseFlags(append(append([]string{}, base...), args...), env, io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e := map[string]string{"BOXOFFICE_SHARD_PEERS": "1=http://a:1,2=http://b:1,3=http://c:1", "BOXOFFICE_SHARD_ID": "3",
		"BOXOFFICE_SHARD_ADVERTISE_URL": "http://c:2", "BOXOFFICE_SHARD_PEER_TOKEN_FILE": "p"}
	o, err = shard.ParseFlags(base, func(k string) string { return e[k] }, io.Discard)
	if err != nil || o.Cluster.ID != 3 || o.Cluster.AdvertiseURL != "http://c:2" {
		t.Fatalf("cluster flags from the environment: %+v %v", o, err)
	}
}

func TestRoomFlags(t *testing.T) {
	base := []string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--token-file", "t"}
	env := func(string) string { return "" }
	o, err := shard.ParseFlags(append(base, "--waiting-room", "--opens-at", "2026-06-01T10:00:00Z"), env, io.Discard)
	if err != nil || !o.Room.Enabled || o.Room.MaxActive != 200 || o.Room.IdleTimeout != 3*time.Minute || o.Room.PreQueue != 30*time.Minute {
		t.Fatalf("room flags with defaults: %+v %v", o, err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no opens-at":      {[]string{"--waiting-room"}, "--opens-at is required"},
		"bad opens-at":     {[]string{"--waiting-room", "--opens-at", "10am"}, "--opens-at \"10am\""},
		"max active 0":     {[]string{"--waiting-room", "--opens-at", "2026-06-01T10:00:00Z", "--waiting-room-max-active", "0"}, "--waiting-room-max-active 0"},
		"idle too short":   {[]string{"--waiting-room", "--opens-at", "2026-06-01T10:00:00Z", "--waiting-room-idle-timeout", "5s"}, "--waiting-room-idle-timeout 5s"},
		"pre-queue 2 days": {[]string{"--waiting-room", "--opens-at", "2026-06-01T10:00:00Z", "--waiting-room-pre-queue", "48h"}, "--waiting-room-pre-queue 48h"},
	} {
		_, err := shard.ParseFlags(append(append([]string{}, base...), tc.args...), env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
	// Without --waiting-room the room's flags are not checked.
	if _, err := shard.ParseFlags(append(append([]string{}, base...), "--waiting-room-max-active", "0"), env, io.Discard); err != nil {
		t.Fatalf("room flags checked with the room off: %v", err)
	}
}
