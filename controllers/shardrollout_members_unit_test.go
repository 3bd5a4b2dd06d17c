package controllers

import (
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNoteHandover: a replicated showtime's write pause is the leader's
// hand-over measured after the image change; an older one, or one not seen
// through, gives none.
func TestNoteHandover(t *testing.T) {
	changed := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	hand := func(at time.Time, d string) *boxv1.ShardHandover {
		return &boxv1.ShardHandover{From: "s-1", To: "s-0", Term: 6, StartedAt: metav1.NewMicroTime(at), Duration: d}
	}
	cases := []struct {
		name    string
		h       *boxv1.ShardHandover
		pause   string
		started bool
	}{
		{"no hand-over yet", nil, "", false},
		{"a hand-over before the change is not this move's", hand(changed.Add(-time.Minute), "40ms"), "", false},
		{"the hand-over of this move", hand(changed.Add(20*time.Second), "64ms"), "64ms", true},
		{"a hand-over not seen through: started, pause unknown", hand(changed.Add(20*time.Second), ""), "", true},
	}
	for _, c := range cases {
		e := &boxv1.RolloutShowtime{ChangedAt: &metav1.Time{Time: changed}}
		st := &boxv1.Showtime{Status: boxv1.ShowtimeStatus{Shard: boxv1.ShardStatus{LastHandover: c.h}}}
		noteHandover(e, st)
		if e.WritePause != c.pause || (e.PauseStartedAt != nil) != c.started {
			t.Errorf("%s: writePause %q, pauseStartedAt %v", c.name, e.WritePause, e.PauseStartedAt)
		}
		if c.pause != "" && !e.ReadyAt.Time.Equal(c.h.StartedAt.Add(64*time.Millisecond)) {
			t.Errorf("%s: readyAt %v", c.name, e.ReadyAt)
		}
	}
}
