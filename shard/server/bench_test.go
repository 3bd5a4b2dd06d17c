package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHoldRelease measures the request path without the network: decode,
// writer, log append and fsync, answer. 64 goroutines; reports allocations.
func BenchmarkHoldRelease(b *testing.B) {
	cfg := Config{
		Showtime: "venues/bench", SeatIDs: seatIDs("ABCDEFGHJK", 100), DataDir: b.TempDir(),
		HoldTTL: 10 * time.Minute, MaxHoldTTL: 2 * time.Hour, MaxSeatsPerHolder: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Recover(); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	var next atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			seat := cfg.SeatIDs[int(n)%len(cfg.SeatIDs)]
			body := fmt.Sprintf(`{"seats":[%q],"holder":"b%d"}`, seat, n)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/holds", strings.NewReader(body)))
			if w.Code == http.StatusCreated {
				id := w.Body.String()[7:]
				id = id[:strings.IndexByte(id, '"')]
				w = httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("DELETE", "/v1/holds/"+id, nil))
			}
		}
	})
	b.StopTimer()
	s.BeginShutdown()
	s.Close(b.Context())
}
