package seats

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// recentHoldCommand is randomCommand aimed at the newest holds, so that
// extends, payments, confirms, releases and expiries keep changing records
// that an earlier Capture shares.
func recentHoldCommand(rng *rand.Rand, m *Machine, now int64) *Command {
	c := randomCommand(rng, m.ix.Len(), now)
	if m.nextID > 1 {
		c.HoldID = m.nextID - 1 - uint64(rng.IntN(int(min(m.nextID-1, 8))))
	}
	return c
}

// A Capture encodes the state of its moment, whatever the machine applies
// after it, with several captures alive at once (records shared across
// generations), and a released capture's buffers reused by a later one.
func TestCaptureUnchangedByLaterCommands(t *testing.T) {
	ix := testIndex(t, 24)
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		m := New(ix, DefaultOptions())
		type taken struct {
			at   int
			c    *Capture
			want []byte
		}
		var live []taken
		var spare []*Capture
		for i := 0; i < 1500; i++ {
			m.Apply(recentHoldCommand(rng, m, int64(i)*sec/3))
			if rng.IntN(50) == 0 {
				want := m.AppendState(nil) // a capture encoded at once
				var reuse *Capture
				if len(spare) > 0 {
					reuse, spare = spare[0], spare[1:]
				}
				live = append(live, taken{at: i, c: m.Capture(reuse), want: want})
			}
			if len(live) > 0 && rng.IntN(80) == 0 {
				k := rng.IntN(len(live))
				if got := live[k].c.AppendTo(nil); !bytes.Equal(got, live[k].want) {
					t.Fatalf("seed %d: the capture taken after command %d encodes differently at command %d", seed, live[k].at, i)
				}
				live[k].c.Release()
				spare = append(spare, live[k].c)
				live = append(live[:k], live[k+1:]...)
			}
		}
		for _, tk := range live {
			if got := tk.c.AppendTo(nil); !bytes.Equal(got, tk.want) {
				t.Fatalf("seed %d: the capture taken after command %d encodes differently at the end", seed, tk.at)
			}
			// Encoding twice gives the same bytes.
			if got := tk.c.AppendTo(nil); !bytes.Equal(got, tk.want) {
				t.Fatalf("seed %d: a second encoding differs", seed)
			}
		}
	}
}

// A capture is encoded on another goroutine while the machine goes on (as
// the shard's snapshot writer does); the race detector checks that they
// share nothing that changes.
func TestCaptureEncodedWhileMachineApplies(t *testing.T) {
	ix := testIndex(t, 24)
	rng := rand.New(rand.NewPCG(9, 9))
	m := New(ix, DefaultOptions())
	now := int64(0)
	var c *Capture // reused once released
	for range 3 {
		for range 300 {
			now += sec / 3
			m.Apply(recentHoldCommand(rng, m, now))
		}
		want := m.AppendState(nil)
		c = m.Capture(c)
		var got []byte
		var wg sync.WaitGroup
		wg.Go(func() { got = c.AppendTo(nil) })
		for range 300 {
			now += sec / 3
			m.Apply(recentHoldCommand(rng, m, now))
		}
		wg.Wait()
		if !bytes.Equal(got, want) {
			t.Fatal("a capture encoded alongside later commands differs from its moment's state")
		}
		c.Release()
	}
}

// BenchmarkCapture: the part of a snapshot that runs on the shard's writer
// loop (reusing the last capture's buffers), for a machine remembering 100,000 holds and 100,000 idempotency
// keys (about what 200,000 logged writes of a sale leave).
func BenchmarkCapture(b *testing.B) {
	m := bigMachine(b)
	now := m.Now()
	b.ResetTimer()
	var c *Capture
	for b.Loop() {
		c = m.Capture(c) // as the shard does: the last snapshot's buffers
		// The next write after a snapshot copies the record it changes.
		now += 1000
		m.Apply(&Command{Op: OpTick, Now: now})
		c.Release()
	}
}

// BenchmarkCaptureEncode: the part of a snapshot that runs beside the
// writer loop, encoding the state BenchmarkCapture captures.
func BenchmarkCaptureEncode(b *testing.B) {
	m := bigMachine(b)
	c := m.Capture(nil)
	buf := c.AppendTo(nil)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		// A new capture each time: its holds come in map order, and the
		// encoder sorts them.
		b.StopTimer()
		c.Release()
		c = m.Capture(c)
		b.StartTimer()
		buf = c.AppendTo(buf[:0])
	}
}

// bigMachine remembers 100,000 released holds and 100,000 idempotency keys
// over 50,000 seats.
func bigMachine(b *testing.B) *Machine {
	ix := testIndex(b, 50_000)
	m := New(ix, DefaultOptions())
	now := int64(1)
	for i := range 100_000 {
		now += 1000
		s := int32(i % 50_000)
		r := m.Apply(&Command{Op: OpHold, Now: now, Holder: "h" + strconv.Itoa(i%26), Seats: []int32{s}, TTL: 600 * sec, MaxSeats: 4,
			IdempotencyKey: "key-" + strconv.Itoa(i)})
		if r.Code != OK {
			b.Fatalf("hold %d: %v", i, r.Code)
		}
		m.Apply(&Command{Op: OpRelease, Now: now, HoldID: r.Hold.ID})
	}
	if m.Holds() < 100_000 || m.IdempotencyKeys() < 100_000 {
		b.Fatalf("%d holds, %d keys", m.Holds(), m.IdempotencyKeys())
	}
	return m
}
