// Package freeze is the schedule maths of freeze windows: given a window and
// an instant, is a period in progress, until when, and when does the next one
// start; and what a freeze lets through (JudgeShowtimeUpdate: rollbacks and
// scale-ups). Everything here is pure except Blocking and NamespaceLabels,
// which read through the client.Reader they are handed.
package freeze

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/robfig/cron/v3"
)

// maxChain bounds how many back-to-back or overlapping periods are merged
// into one. A schedule whose periods never leave a gap (every minute, lasting
// an hour) is reported as ending after maxChain periods; the controller looks
// again then and finds the next stretch.
const maxChain = 1000

// cronParser reads five-field schedules and the calendar descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// State is where a window stands at one instant.
type State struct {
	// Active is true when now is inside a period.
	Active bool
	// Start and End bound the period in progress (overlapping or touching
	// periods merged); zero when not active.
	Start, End time.Time
	// Next is the start of the next period after now (after End when
	// active); zero when no period will start again.
	Next time.Time
}

// Boundary is the next instant at which the state changes: End while active,
// Next otherwise. Zero when nothing will change.
func (s State) Boundary() time.Time {
	if s.Active {
		return s.End
	}
	return s.Next
}

// recurrence is one way of producing periods.
type recurrence interface {
	// covering returns the start of the earliest period that contains t.
	covering(t time.Time) (time.Time, bool)
	// after returns the first period start strictly after t; zero if none.
	after(t time.Time) time.Time
	// end returns the end of the period that starts at s.
	end(s time.Time) time.Time
}

// Schedule is a compiled freeze window schedule.
type Schedule struct {
	Location *time.Location
	rec      recurrence
}

// At says whether now is inside a period, until when, and when the next starts.
func (s *Schedule) At(now time.Time) State {
	start, ok := s.rec.covering(now)
	if !ok {
		return State{Next: s.rec.after(now)}
	}
	end := s.rec.end(start)
	next := s.rec.after(start)
	for i := 0; i < maxChain && !next.IsZero() && !next.After(end); i++ {
		if e := s.rec.end(next); e.After(end) {
			end = e
		}
		next = s.rec.after(next)
	}
	if !next.IsZero() && !next.After(end) {
		// The chain was cut short: report the first start after its end.
		next = s.rec.after(end)
	}
	return State{Active: true, Start: start, End: end, Next: next}
}

// Compile checks a window's spec and builds its schedule.
func Compile(spec *boxv1.FreezeWindowSpec) (*Schedule, error) {
	loc, err := Location(spec.TimeZone)
	if err != nil {
		return nil, err
	}
	switch {
	case spec.OneOff != nil && spec.Recurring != nil:
		return nil, errors.New("exactly one of spec.oneOff and spec.recurring must be set")
	case spec.OneOff != nil:
		o := spec.OneOff
		if !o.End.After(o.Start.Time) {
			return nil, errors.New("spec.oneOff.end must be after spec.oneOff.start")
		}
		return &Schedule{Location: loc, rec: oneOff{start: o.Start.Time, stop: o.End.Time}}, nil
	case spec.Recurring != nil:
		r := spec.Recurring
		switch {
		case r.LastDaysOfMonth != nil && r.Schedule != "":
			return nil, errors.New("spec.recurring needs exactly one of schedule (with duration) and lastDaysOfMonth")
		case r.LastDaysOfMonth != nil:
			n := int(*r.LastDaysOfMonth)
			if n < 1 || n > 28 {
				return nil, fmt.Errorf("spec.recurring.lastDaysOfMonth %d: must be 1 to 28", n)
			}
			return &Schedule{Location: loc, rec: lastDays{n: n, loc: loc}}, nil
		case r.Schedule != "":
			if r.Duration == nil || r.Duration.Duration < time.Minute {
				return nil, errors.New("spec.recurring.duration of at least 1m is required with spec.recurring.schedule")
			}
			cs, err := parseCron(r.Schedule, loc)
			if err != nil {
				return nil, err
			}
			return &Schedule{Location: loc, rec: cronRec{sched: cs, d: r.Duration.Duration}}, nil
		default:
			return nil, errors.New("spec.recurring needs a schedule (with duration) or lastDaysOfMonth")
		}
	default:
		return nil, errors.New("exactly one of spec.oneOff and spec.recurring must be set")
	}
}

var (
	locMu    sync.RWMutex
	locCache = map[string]*time.Location{}
)

// Location loads an IANA time zone ("" is UTC), caching it: loading reads
// the zone database and is far slower than the schedule maths.
func Location(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	locMu.RLock()
	loc, ok := locCache[name]
	locMu.RUnlock()
	if ok {
		return loc, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, errors.New(`spec.timeZone "Local" depends on the machine; name an IANA zone such as Europe/Paris`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("spec.timeZone %q is not a known IANA time zone: %w", name, err)
	}
	locMu.Lock()
	locCache[name] = loc
	locMu.Unlock()
	return loc, nil
}

func parseCron(expr string, loc *time.Location) (*cron.SpecSchedule, error) {
	e := strings.TrimSpace(expr)
	if strings.Contains(e, "TZ=") {
		return nil, fmt.Errorf("spec.recurring.schedule %q: put the time zone in spec.timeZone, not in the schedule", expr)
	}
	if strings.HasPrefix(e, "@every") {
		return nil, fmt.Errorf("spec.recurring.schedule %q: @every has no fixed start; use a calendar schedule", expr)
	}
	s, err := cronParser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("spec.recurring.schedule %q: %w", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("spec.recurring.schedule %q: not a calendar schedule", expr)
	}
	spec.Location = loc
	return spec, nil
}

// oneOff is a single period.
type oneOff struct{ start, stop time.Time }

func (o oneOff) covering(t time.Time) (time.Time, bool) {
	return o.start, !t.Before(o.start) && t.Before(o.stop)
}

func (o oneOff) after(t time.Time) time.Time {
	if o.start.After(t) {
		return o.start
	}
	return time.Time{}
}

func (o oneOff) end(time.Time) time.Time { return o.stop }

// cronRec starts a period of length d each time the schedule fires. The
// cron library works at whole seconds and in the schedule's location, and
// handles daylight-saving changes: a start time that does not exist that day
// (02:30 when clocks jump from 02:00 to 03:00) is skipped, and one that
// happens twice (01:30 when clocks go back from 02:00 to 01:00) fires at
// both occurrences.
type cronRec struct {
	sched *cron.SpecSchedule
	d     time.Duration
}

func (c cronRec) covering(t time.Time) (time.Time, bool) {
	// The earliest start whose period has not ended by t is the first start
	// after t-d; it covers t when it is not after t.
	s := c.sched.Next(t.Add(-c.d))
	if s.IsZero() || s.After(t) {
		return time.Time{}, false
	}
	return s, true
}

func (c cronRec) after(t time.Time) time.Time { return c.sched.Next(t) }

func (c cronRec) end(s time.Time) time.Time { return s.Add(c.d) }

// lastDays is the last n whole days of every month in loc.
type lastDays struct {
	n   int
	loc *time.Location
}

// periodOf is the period of the month (in loc) that t falls in.
func (l lastDays) periodOf(t time.Time) (time.Time, time.Time) {
	lt := t.In(l.loc)
	y, m, _ := lt.Date()
	// Day 0 of next month is the last day of this one.
	days := time.Date(y, m+1, 0, 12, 0, 0, 0, l.loc).Day()
	start := time.Date(y, m, days-l.n+1, 0, 0, 0, 0, l.loc)
	end := time.Date(y, m+1, 1, 0, 0, 0, 0, l.loc)
	return start, end
}

func (l lastDays) covering(t time.Time) (time.Time, bool) {
	start, end := l.periodOf(t)
	return start, !t.Before(start) && t.Before(end)
}

func (l lastDays) after(t time.Time) time.Time {
	start, end := l.periodOf(t)
	if start.After(t) {
		return start
	}
	next, _ := l.periodOf(end)
	return next
}

func (l lastDays) end(s time.Time) time.Time {
	_, end := l.periodOf(s)
	return end
}
