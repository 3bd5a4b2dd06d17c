package frontend

import "boxoffice.dev/boxoffice/internal/fakeshard"

// fakeShard is the repository's fake shard with seats (internal/fakeshard):
// the front end's own tests run against it; tests that need the real thing
// use the real binary.
type fakeShard = fakeshard.Seats

func newFakeShard(showtime string, ids []string) *fakeShard {
	f, err := fakeshard.NewSeats(showtime, ids)
	if err != nil {
		panic(err)
	}
	return f
}
