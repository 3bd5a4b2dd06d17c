package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Reports are what on-call must learn even if the shard restarts before
// anyone looked: a damaged log record dropped at start-up, and payments that
// arrived after their hold had ended (a confirm with an orderId answered 409
// hold_expired: the buyer paid, no seat was sold). /v1/status shows them and
// the operator turns each into a Warning event on the Showtime.
//
// They are kept in DIR/reports.json (temporary file, fsync, rename,
// directory fsync), not in the log: the log's snapshots hold only seat state,
// and a report must outlive the records it came from (a damaged record is
// gone once dropped; a late confirm changed no state and a later snapshot
// would drop it). A late payment is written there before its 409 is
// answered, a damage report before the shard reports ready.
const reportsFile = "reports.json"

// Bounds on what is kept (totals keep counting).
const (
	maxLatePayments = 100
	maxLogWarnings  = 20
)

// reportState is the file's content. ID names this data directory's reports
// (random, made with the file) so that Seq, which only grows, is unique
// together with it: the operator names its events by both.
type reportState struct {
	ID                   string                 `json:"reportsId"`
	Seq                  uint64                 `json:"seq"`
	PaidAfterExpiryTotal uint64                 `json:"paidAfterExpiryTotal"`
	PaidAfterExpiry      []shardapi.LatePayment `json:"paidAfterExpiry"`
	LogWarningsTotal     uint64                 `json:"logWarningsTotal"`
	LogWarnings          []shardapi.LogWarning  `json:"logWarnings"`
}

type reports struct {
	path string
	mu   sync.Mutex
	st   reportState
}

// loadReports reads DIR/reports.json, or starts a new one.
func loadReports(dir string) (*reports, error) {
	r := &reports{path: filepath.Join(dir, reportsFile)}
	b, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var id [8]byte
		rand.Read(id[:])
		r.st.ID = hex.EncodeToString(id[:])
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", r.path, err)
	}
	if err := json.Unmarshal(b, &r.st); err != nil || r.st.ID == "" {
		return nil, fmt.Errorf("%s is damaged (%v): it holds reports of late payments and log damage; move it away to start without them", r.path, err)
	}
	return r, nil
}

// addLate records new late payments (a repeat of a hold and order id already
// kept is the same payment) and returns how many were new.
func (r *reports) addLate(late []shardapi.LatePayment) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
next:
	for _, p := range late {
		for _, q := range r.st.PaidAfterExpiry {
			if q.Hold == p.Hold && q.OrderID == p.OrderID {
				continue next
			}
		}
		r.st.Seq++
		p.Seq = r.st.Seq
		r.st.PaidAfterExpiryTotal++
		r.st.PaidAfterExpiry = append(r.st.PaidAfterExpiry, p)
		if len(r.st.PaidAfterExpiry) > maxLatePayments {
			r.st.PaidAfterExpiry = r.st.PaidAfterExpiry[1:]
		}
		n++
	}
	return n
}

func (r *reports) addWarning(w shardapi.LogWarning) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Seq++
	w.Seq = r.st.Seq
	r.st.LogWarningsTotal++
	r.st.LogWarnings = append(r.st.LogWarnings, w)
	if len(r.st.LogWarnings) > maxLogWarnings {
		r.st.LogWarnings = r.st.LogWarnings[1:]
	}
}

// snapshot is a copy for /v1/status.
func (r *reports) snapshot() reportState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.PaidAfterExpiry = append([]shardapi.LatePayment(nil), st.PaidAfterExpiry...)
	st.LogWarnings = append([]shardapi.LogWarning(nil), st.LogWarnings...)
	return st
}

// save writes the reports durably.
func (r *reports) save() error {
	st := r.snapshot()
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	if err := writeFileDurably(r.path, b, 0o644); err != nil {
		return fmt.Errorf("saving %s: %w", r.path, err)
	}
	return nil
}
