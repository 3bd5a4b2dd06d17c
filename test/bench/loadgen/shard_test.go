package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/server"
)

// TestShardBackendAgainstARealShard drives an in-process shard through the
// backend's lean transport: holds, a conflict, confirm, release, and the
// connection going back to the pool after each answer.
func TestShardBackendAgainstARealShard(t *testing.T) {
	ids := []string{"stalls/A/1", "stalls/A/2", "stalls/A/3"}
	srv, err := server.New(server.Config{Showtime: "venues/lg", SeatIDs: ids, DataDir: t.TempDir(), Token: "tok",
		HoldTTL: time.Minute, MaxHoldTTL: time.Hour, MaxSeatsPerHolder: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Recover(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("tok\n"), 0o600)
	b, err := newShardBackend(hs.URL, tok, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	id, conflict, err := b.Hold(ctx, "r1", ids[:2])
	if err != nil || conflict || id == "" {
		t.Fatalf("hold: %q %v %v", id, conflict, err)
	}
	if len(b.conns) != 1 {
		t.Fatalf("%d idle connections after an answer, want 1 (reused)", len(b.conns))
	}
	if _, conflict, err := b.Hold(ctx, "r2", ids[1:]); err != nil || !conflict {
		t.Fatalf("second hold of a held seat: conflict %v, err %v", conflict, err)
	}
	if err := b.Confirm(ctx, id, nil, "o-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, id, nil); err == nil {
		t.Fatal("release of a sold hold succeeded")
	}
	id2, _, err := b.Hold(ctx, "r3", ids[2:])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, id2, nil); err != nil {
		t.Fatal(err)
	}
	if len(b.conns) != 1 {
		t.Fatalf("%d idle connections at the end, want the one reused", len(b.conns))
	}
}
