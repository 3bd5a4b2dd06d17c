package wal

import (
	"encoding/binary"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The two benchmarks below decide the log's implementation (see the package
// comment): the same 48-byte records, 64 concurrent writers, each waiting for
// its record to be durable, fsync on.

const benchWriters = 64

var benchRecord = make([]byte, 48)

// BenchmarkGroupCommit is the log as the shard runs it: records written into
// preallocated segments.
func BenchmarkGroupCommit(b *testing.B) { benchGroupCommit(b, false) }

// BenchmarkGroupCommitAppend is the same with segments that grow as they are
// written (every fdatasync then also commits the file's new size).
func BenchmarkGroupCommitAppend(b *testing.B) { benchGroupCommit(b, true) }

func benchGroupCommit(b *testing.B, noPreallocate bool) {
	l, _, err := Open(Options{Dir: b.TempDir(), NoPreallocate: noPreallocate, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, func(uint64, []byte) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	type req struct{ done chan struct{} }
	in := make(chan *req, 4096)
	stop := make(chan struct{})
	go func() {
		batch := make([]*req, 0, 4096)
		for {
			select {
			case r := <-in:
				batch = append(batch, r)
			case <-stop:
				return
			}
		drain:
			for {
				select {
				case r := <-in:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			for range batch {
				l.Append(benchRecord)
			}
			if err := l.Sync(); err != nil {
				panic(err)
			}
			for _, r := range batch {
				r.done <- struct{}{}
			}
			batch = batch[:0]
		}
	}()
	b.SetParallelism(benchWriters / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := &req{done: make(chan struct{}, 1)}
		for pb.Next() {
			in <- r
			<-r.done
		}
	})
	b.StopTimer()
	close(stop)
}

func BenchmarkBoltBatch(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), 0o644, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("log")); return err }); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(benchWriters / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.Batch(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("log"))
				seq, _ := bk.NextSequence()
				var k [8]byte
				binary.BigEndian.PutUint64(k[:], seq)
				return bk.Put(k[:], benchRecord)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSync and BenchmarkSyncAppend: one writer, one record per
// fdatasync, so the time per op is the latency a lone request waits for
// its record to be durable (the floor under every write's answer). They
// also report the p99 and the longest of those waits: with nothing else
// writing, the longest one shows whether the disk itself stalls (on the
// benchmark machine, one fdatasync in many thousands takes 100 ms or more;
// see "Where a write's time goes" in the README).
func BenchmarkSync(b *testing.B)       { benchSync(b, false) }
func BenchmarkSyncAppend(b *testing.B) { benchSync(b, true) }

func benchSync(b *testing.B, noPreallocate bool) {
	l, _, err := Open(Options{Dir: b.TempDir(), NoPreallocate: noPreallocate, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, func(uint64, []byte) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	waits := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		l.Append(benchRecord)
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		waits = append(waits, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(waits)
	b.ReportMetric(float64(waits[len(waits)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(waits[len(waits)-1])/1e6, "max-ms")
}
