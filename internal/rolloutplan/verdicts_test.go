package rolloutplan

import (
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func at(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func TestReadyOverdue(t *testing.T) {
	cases := []struct {
		name    string
		changed *metav1.Time
		want    bool
	}{
		{"moved just now", at(t0), false},
		{"one second short of the deadline", at(t0.Add(-59 * time.Second)), false},
		{"at the deadline", at(t0.Add(-time.Minute)), true},
		{"no change time (an old status)", nil, false},
	}
	for _, c := range cases {
		if got := ReadyOverdue(&boxv1.RolloutShowtime{ChangedAt: c.changed}, t0, time.Minute); got != c.want {
			t.Errorf("%s: ReadyOverdue = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAnalysisDue(t *testing.T) {
	cases := []struct {
		name     string
		analyzed *metav1.Time
		due      bool
		next     time.Time
	}{
		{"never analysed", nil, true, t0},
		{"analysed less than an interval ago", at(t0.Add(-4 * time.Second)), false, t0.Add(6 * time.Second)},
		{"an interval ago", at(t0.Add(-10 * time.Second)), true, t0},
	}
	for _, c := range cases {
		due, next := AnalysisDue(&boxv1.RolloutShowtime{AnalyzedAt: c.analyzed}, t0, 10*time.Second)
		if due != c.due || (!due && !next.Equal(c.next)) {
			t.Errorf("%s: AnalysisDue = %v, %s; want %v, %s", c.name, due, next, c.due, c.next)
		}
	}
}

func TestFinal(t *testing.T) {
	bakeEnd := t0.Add(-30 * time.Second)
	longAgo := t0.Add(-2 * time.Minute)
	cases := []struct {
		name      string
		e         boxv1.RolloutShowtime
		bakeUntil *time.Time
		want      Outcome
	}{
		{"passed", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPassed}, &bakeEnd, Promoted},
		{"inconclusive", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisInconclusive}, &bakeEnd, HeldInconclusive},
		{"failed is the analysis' own", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisFailed}, &bakeEnd, Undecided},
		{"unread, within a ready deadline after the bake", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPending}, &bakeEnd, Unread},
		{"unread, a ready deadline after the bake", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPending}, &longAgo, Unreadable},
		{"unread, no bake: grace from ready", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPending, ReadyAt: at(bakeEnd)}, nil, Unread},
		{"unread, no bake, ready long ago", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPending, ReadyAt: at(longAgo)}, nil, Unreadable},
		{"unread, no bake, no ready time: grace from now", boxv1.RolloutShowtime{Analysis: boxv1.AnalysisPending}, nil, Unread},
	}
	for _, c := range cases {
		if got := Final(&c.e, c.bakeUntil, t0, time.Minute); got != c.want {
			t.Errorf("%s: Final = %q, want %q", c.name, got, c.want)
		}
	}
}
