package server

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/wal"
)

// BenchmarkRecovery measures start-up (snapshot load, replay, new epoch) of a
// 50,000-seat venue after 1,000,000 logged holds, confirms and releases,
// written the way the writer writes them (snapshot every 100,000 records).
func BenchmarkRecovery(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRecovery(b, false) })
	// Every hold and confirm with an Idempotency-Key (as a front end that
	// retries through restarts sends them): the key table is at its bound.
	b.Run("idempotency-keys", func(b *testing.B) { benchRecovery(b, true) })
}

func benchRecovery(b *testing.B, keys bool) {
	var ids []string
	for r := 0; r < 100; r++ {
		for n := 1; n <= 500; n++ {
			ids = append(ids, fmt.Sprintf("main/R%d/%d", r, n))
		}
	}
	ix, _ := seats.NewIndex(ids)
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, _, err := wal.Open(wal.Options{Dir: dir, MapHash: ix.Hash(), Logger: quiet, NoSync: true}, nil, func(uint64, []byte) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	m := seats.New(ix, seats.DefaultOptions())
	rng := rand.New(rand.NewPCG(1, 1))
	now := time.Now().Add(-time.Hour).UnixNano()
	var buf []byte
	var live []uint64
	logged, lastSnap := 0, uint64(0)
	for logged < 999_999 { // worst case: the last snapshot 99,999 records back
		now += 1000
		var c seats.Command
		switch k := rng.IntN(4); {
		case k < 2 || len(live) == 0:
			c = seats.Command{Op: seats.OpHold, Now: now, Holder: fmt.Sprint("b", logged), TTL: int64(2 * time.Hour), MaxSeats: 8}
			for n := 1 + rng.IntN(4); len(c.Seats) < n; {
				c.Seats = append(c.Seats, int32(rng.IntN(len(ids))))
			}
			if seats.ValidateHold(c.Holder, c.Seats, c.TTL) != nil {
				continue
			}
		default:
			i := rng.IntN(len(live))
			c = seats.Command{Op: seats.OpRelease, Now: now, HoldID: live[i]}
			if k == 3 && rng.IntN(25) == 0 { // about 10,000 seats end up sold
				c = seats.Command{Op: seats.OpConfirm, Now: now, HoldID: live[i], OrderID: "o"}
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		}
		if keys && (c.Op == seats.OpHold || c.Op == seats.OpConfirm) {
			c.IdempotencyKey = fmt.Sprintf("%016x-%08x", rng.Uint64(), logged)
			c.Fingerprint[0] = byte(logged)
		}
		r := m.Apply(&c)
		if c.Op == seats.OpHold && r.Code == seats.OK {
			live = append(live, r.Hold.ID)
		}
		if r.Log {
			buf = c.AppendBinary(buf[:0])
			l.Append(buf)
			logged++
			if logged%64 == 0 {
				l.Sync()
			}
		}
		if l.NextIndex()-1-lastSnap >= 100_000 {
			l.Sync()
			l.Roll()
			lastSnap = l.NextIndex() - 1
			if err := l.WriteSnapshot(m.AppendState(nil), lastSnap); err != nil {
				b.Fatal(err)
			}
		}
		m.TakeChanges()
	}
	l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := New(Config{Showtime: "x/y", SeatIDs: ids, DataDir: dir, HoldTTL: time.Minute, MaxHoldTTL: time.Hour,
			MaxSeatsPerHolder: 8, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := s.Recover(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/recovery")
		s.Close(b.Context())
	}
}
