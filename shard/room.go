package shard

import (
	"flag"
	"fmt"
	"time"

	"boxoffice.dev/boxoffice/shard/server"
)

// roomFlags are the waiting room's flags (docs/waiting-room.md): the
// operator sets them from the Showtime's spec.sales.waitingRoom and opensAt.
type roomFlags struct {
	Enabled     bool
	MaxActive   int
	IdleTimeout time.Duration
	PreQueue    time.Duration
	OpensAt     string
}

func (r *roomFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&r.Enabled, "waiting-room", false, "keep a waiting room in front of the seats (the leader configures it from the flags below)")
	fs.IntVar(&r.MaxActive, "waiting-room-max-active", 200, "waiting room: buyers admitted to choose seats at once, 1..10000")
	fs.DurationVar(&r.IdleTimeout, "waiting-room-idle-timeout", 3*time.Minute, "waiting room: how long an admitted buyer holding no seat may stay idle, 30s..30m")
	fs.DurationVar(&r.PreQueue, "waiting-room-pre-queue", 30*time.Minute, "waiting room: how long before --opens-at visitors may join the pre-queue, 0..24h")
	fs.StringVar(&r.OpensAt, "opens-at", "", "waiting room: when the sale opens (RFC 3339); the pre-queue is drawn then (required with --waiting-room)")
}

func (r *roomFlags) validate(problems []string) []string {
	if !r.Enabled {
		return problems
	}
	if r.MaxActive < 1 || r.MaxActive > 10000 {
		problems = append(problems, fmt.Sprintf("--waiting-room-max-active %d: must be between 1 and 10000", r.MaxActive))
	}
	if r.IdleTimeout < 30*time.Second || r.IdleTimeout > 30*time.Minute {
		problems = append(problems, fmt.Sprintf("--waiting-room-idle-timeout %v: must be between 30s and 30m", r.IdleTimeout))
	}
	if r.PreQueue < 0 || r.PreQueue > 24*time.Hour {
		problems = append(problems, fmt.Sprintf("--waiting-room-pre-queue %v: must be between 0s and 24h", r.PreQueue))
	}
	if r.OpensAt == "" {
		problems = append(problems, "--opens-at is required with --waiting-room")
	} else if _, err := time.Parse(time.RFC3339, r.OpensAt); err != nil {
		problems = append(problems, fmt.Sprintf("--opens-at %q: not an RFC 3339 time", r.OpensAt))
	}
	return problems
}

// config gives the server's room configuration (nil: no room from flags).
func (r *roomFlags) config() *server.RoomConfig {
	if !r.Enabled {
		return nil
	}
	at, _ := time.Parse(time.RFC3339, r.OpensAt) // validated
	return &server.RoomConfig{MaxActive: r.MaxActive, IdleTimeout: r.IdleTimeout, PreQueue: r.PreQueue, OpensAt: at}
}
