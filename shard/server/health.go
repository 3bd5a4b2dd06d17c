package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/wal"
)

// readiness says whether the shard accepts writes, and if not, why.
//
//   - Starting, stopping, or stopped by a failed log write.
//   - A log write (one group's write and fsync) running longer than
//     StallTimeout: the disk is stalled. Answers of the stalled group are
//     not given up: they go out, true, when the write ends (see answerBy).
//   - The data volume is below MinFreeBytes (plus room for a snapshot):
//     writes are refused before the disk fills, so the shard stays up and
//     serves reads while the volume is grown or cleaned.
func (s *Server) readiness() (bool, string) {
	if !s.ready.Load() {
		if s.broken.Load() {
			return false, "a log write failed; the shard is stopping"
		}
		return false, "the shard is starting or stopping"
	}
	if d := s.stalledFor(); d > 0 {
		return false, fmt.Sprintf("a log write has been running for %s (the disk is stalled)", d.Round(time.Millisecond))
	}
	if s.fullSpace.Load() {
		return false, fmt.Sprintf("the data volume is full: %d bytes free, writes need at least %d", s.freeBytes.Load(), s.minFree())
	}
	return true, ""
}

// stalledFor is how long the log write in progress has run, if longer than
// StallTimeout.
func (s *Server) stalledFor() time.Duration {
	t := s.writeStart.Load()
	if t == 0 {
		return 0
	}
	if d := time.Since(time.Unix(0, t)); d > s.cfg.StallTimeout {
		return d
	}
	return 0
}

// minFree is the free space writes need: MinFreeBytes and room for a snapshot.
func (s *Server) minFree() int64 { return s.cfg.MinFreeBytes + s.lastSnapSize.Load() }

// checkSpace reads the data volume's free space.
func (s *Server) checkSpace() {
	l := s.walLog.Load()
	if l == nil {
		return
	}
	free, low, err := l.FreeBytes()
	if err != nil {
		s.freeBytes.Store(-1)
		return
	}
	s.freeBytes.Store(free)
	if low != s.lowSpace.Swap(low) && low {
		s.log.Warn("the data volume is low on space: new log segments are not reserved; grow the volume",
			"freeBytes", free, "segmentBytes", l.SegmentSize())
	}
	full := free < s.minFree()
	if full != s.fullSpace.Swap(full) {
		if full {
			s.log.Error("the data volume is full: writes are refused (503 not_ready) until space is freed or the volume grown",
				"freeBytes", free, "needBytes", s.minFree())
		} else {
			s.log.Info("the data volume has space again: writes are accepted", "freeBytes", free)
		}
	}
}

// watchSpace reads the free space every SpaceCheckInterval until the writer stops.
func (s *Server) watchSpace() {
	t := time.NewTicker(s.cfg.SpaceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.checkSpace()
		case <-s.writerDone:
			return
		}
	}
}

// loadReports reads the data directory's reports and adds the damage
// recovery found, written down before the shard is ready.
func (s *Server) loadReports(l *wal.Log, rec *wal.Recovered) error {
	r, err := loadReports(s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.rep.Store(r)
	if d := rec.Damaged; d != nil {
		r.addWarning(shardapi.LogWarning{At: time.Now().UTC().Truncate(time.Second), Kind: "damaged_last_record",
			File: d.File, Offset: d.Offset, Bytes: d.Bytes, Record: d.Index,
			Message: fmt.Sprintf("log %s: the last record (%d, %d bytes at offset %d) was damaged and dropped at start-up (%s); it may have been acknowledged: a hold, sale or release answered before the restart may be lost. Compare with the payment system's orders.",
				d.File, d.Index, d.Bytes, d.Offset, d.Reason)})
		if err := r.save(); err != nil {
			// The damaged record is gone already; the report stays in
			// memory and in the log line of the recovery.
			s.log.Error("cannot save the report of a damaged log record", "err", err.Error())
		}
	}
	return nil
}

// recordLate records confirms that arrived after their hold ended, before
// they are answered (the syncer, after their group is on disk).
func (s *Server) recordLate(late []shardapi.LatePayment) {
	n := s.rep.Load().addLate(late)
	if n == 0 {
		return
	}
	for _, p := range late {
		s.log.Warn("payment after expiry: a confirm with an order id came after its hold had expired or was released (409 hold_expired); no seat was sold for it",
			"hold", p.Hold, "orderId", p.OrderID, "at", p.At)
	}
	if err := s.rep.Load().save(); err != nil {
		s.log.Error("cannot save the report of a payment after expiry (kept in memory)", "err", err.Error())
	}
}

// appendHealth adds to /v1/status what on-call must see of the disk and the
// reports: readiness and why, a stalled write, the volume's free space, and
// the reports (late payments, log damage) with their data directory's id.
func (s *Server) appendHealth(b []byte) []byte {
	ok, why := s.readiness()
	if !ok {
		b = append(b, `,"notReadyReason":`...)
		b = shardapi.AppendString(b, why)
	}
	b = append(b, `,"logWriteStalledSeconds":`...)
	b = strconv.AppendFloat(b, s.stalledFor().Seconds(), 'f', 3, 64)
	b = append(b, `,"volumeFreeBytes":`...)
	b = strconv.AppendInt(b, s.freeBytes.Load(), 10)
	b = append(b, `,"volumeLow":`...)
	b = strconv.AppendBool(b, s.lowSpace.Load())
	r := s.rep.Load()
	if r == nil {
		return b
	}
	st := r.snapshot()
	if st.PaidAfterExpiry == nil {
		st.PaidAfterExpiry = []shardapi.LatePayment{}
	}
	if st.LogWarnings == nil {
		st.LogWarnings = []shardapi.LogWarning{}
	}
	late, _ := json.Marshal(st.PaidAfterExpiry)
	warn, _ := json.Marshal(st.LogWarnings)
	b = append(b, `,"reportsId":`...)
	b = shardapi.AppendString(b, st.ID)
	b = append(b, `,"paidAfterExpiryTotal":`...)
	b = strconv.AppendUint(b, st.PaidAfterExpiryTotal, 10)
	b = append(b, `,"paidAfterExpiry":`...)
	b = append(b, late...)
	b = append(b, `,"logWarningsTotal":`...)
	b = strconv.AppendUint(b, st.LogWarningsTotal, 10)
	b = append(b, `,"logWarnings":`...)
	return append(b, warn...)
}
