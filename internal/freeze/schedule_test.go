package freeze

import (
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func cronSpec(tz, expr string, d time.Duration) boxv1.FreezeWindowSpec {
	return boxv1.FreezeWindowSpec{Reason: "r", TimeZone: tz,
		Recurring: &boxv1.RecurringPeriod{Schedule: expr, Duration: &metav1.Duration{Duration: d}}}
}

func lastDaysSpec(tz string, n int32) boxv1.FreezeWindowSpec {
	return boxv1.FreezeWindowSpec{Reason: "r", TimeZone: tz, Recurring: &boxv1.RecurringPeriod{LastDaysOfMonth: &n}}
}

func oneOffSpec(start, end string) boxv1.FreezeWindowSpec {
	return boxv1.FreezeWindowSpec{Reason: "r", OneOff: &boxv1.OneOffPeriod{
		Start: metav1.NewTime(utc(start)), End: metav1.NewTime(utc(end))}}
}

func TestScheduleAt(t *testing.T) {
	const none = ""
	cases := []struct {
		name   string
		spec   boxv1.FreezeWindowSpec
		now    string
		active bool
		start  string // when active
		end    string // when active
		next   string // "" = no next period
	}{
		// One-off windows: [start, end).
		{"one-off before", oneOffSpec("2026-11-11T00:00:00+07:00", "2026-11-12T00:00:00+07:00"),
			"2026-11-10T16:59:59Z", false, none, none, "2026-11-10T17:00:00Z"},
		{"one-off at start", oneOffSpec("2026-11-11T00:00:00+07:00", "2026-11-12T00:00:00+07:00"),
			"2026-11-10T17:00:00Z", true, "2026-11-10T17:00:00Z", "2026-11-11T17:00:00Z", none},
		{"one-off at end is over", oneOffSpec("2026-11-11T00:00:00+07:00", "2026-11-12T00:00:00+07:00"),
			"2026-11-11T17:00:00Z", false, none, none, none},

		// Time zones: the same schedule is a different instant per zone.
		{"11.11 in Bangkok", cronSpec("Asia/Bangkok", "0 0 11 11 *", 24*time.Hour),
			"2026-11-10T18:00:00Z", true, "2026-11-10T17:00:00Z", "2026-11-11T17:00:00Z", "2027-11-10T17:00:00Z"},
		{"11.11 in New York not yet", cronSpec("America/New_York", "0 0 11 11 *", 24*time.Hour),
			"2026-11-10T18:00:00Z", false, none, none, "2026-11-11T05:00:00Z"},
		{"11.11 in UTC by default", cronSpec("", "0 0 11 11 *", 24*time.Hour),
			"2026-11-11T23:59:59Z", true, "2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z", "2027-11-11T00:00:00Z"},
		{"descriptor @monthly in Tokyo", cronSpec("Asia/Tokyo", "@monthly", 6*time.Hour),
			"2026-04-30T15:30:00Z", true, "2026-04-30T15:00:00Z", "2026-04-30T21:00:00Z", "2026-05-31T15:00:00Z"},

		// Daylight saving (New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST).
		{"duration is elapsed time across spring forward", cronSpec("America/New_York", "0 1 8 3 *", 2*time.Hour),
			"2026-03-08T07:30:00Z", true, "2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z", "2027-03-08T06:00:00Z"},
		{"a start time skipped by spring forward does not fire that day", cronSpec("America/New_York", "30 2 8 3 *", time.Hour),
			"2026-03-08T07:00:00Z", false, none, none, "2027-03-08T07:30:00Z"},
		{"a start time that happens twice at fall back fires at both", cronSpec("America/New_York", "30 1 1 11 *", 30*time.Minute),
			"2026-11-01T05:45:00Z", true, "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z"},
		{"the second 01:30 of fall back", cronSpec("America/New_York", "30 1 1 11 *", 30*time.Minute),
			"2026-11-01T06:45:00Z", true, "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z", "2027-11-01T05:30:00Z"},
		{"daily 9:00 local keeps local time after DST", cronSpec("Europe/Berlin", "0 9 * * *", time.Hour),
			"2026-03-30T07:30:00Z", true, "2026-03-30T07:00:00Z", "2026-03-30T08:00:00Z", "2026-03-31T07:00:00Z"},
		{"daily 9:00 local before DST", cronSpec("Europe/Berlin", "0 9 * * *", time.Hour),
			"2026-03-27T08:30:00Z", true, "2026-03-27T08:00:00Z", "2026-03-27T09:00:00Z", "2026-03-28T08:00:00Z"},

		// Last N days of the month: months of 28, 29, 30 and 31 days, year end.
		{"last 3 days of a 28-day February", lastDaysSpec("UTC", 3),
			"2026-02-26T00:00:00Z", true, "2026-02-26T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-29T00:00:00Z"},
		{"the day before the last 3 days of February", lastDaysSpec("UTC", 3),
			"2026-02-25T23:59:59Z", false, none, none, "2026-02-26T00:00:00Z"},
		{"last 3 days of a leap-year February", lastDaysSpec("UTC", 3),
			"2028-02-26T12:00:00Z", false, none, none, "2028-02-27T00:00:00Z"},
		{"inside a leap-year February's last 3 days", lastDaysSpec("UTC", 3),
			"2028-02-29T12:00:00Z", true, "2028-02-27T00:00:00Z", "2028-03-01T00:00:00Z", "2028-03-29T00:00:00Z"},
		{"last 3 days of a 30-day month", lastDaysSpec("UTC", 3),
			"2026-04-28T00:00:00Z", true, "2026-04-28T00:00:00Z", "2026-05-01T00:00:00Z", "2026-05-29T00:00:00Z"},
		{"last 3 days of a 31-day month", lastDaysSpec("UTC", 3),
			"2026-01-28T23:00:00Z", false, none, none, "2026-01-29T00:00:00Z"},
		{"last 2 days of December run into the new year", lastDaysSpec("UTC", 2),
			"2026-12-31T23:59:59Z", true, "2026-12-30T00:00:00Z", "2027-01-01T00:00:00Z", "2027-01-30T00:00:00Z"},
		{"last day of the month in Bangkok", lastDaysSpec("Asia/Bangkok", 1),
			"2026-04-29T17:00:00Z", true, "2026-04-29T17:00:00Z", "2026-04-30T17:00:00Z", "2026-05-30T17:00:00Z"},
		{"last 3 days of March across Berlin's spring forward", lastDaysSpec("Europe/Berlin", 3),
			"2026-03-31T21:00:00Z", true, "2026-03-28T23:00:00Z", "2026-03-31T22:00:00Z", "2026-04-27T22:00:00Z"},
		{"last 28 days of January and of a 28-day February touch and merge", lastDaysSpec("UTC", 28),
			"2026-01-10T00:00:00Z", true, "2026-01-04T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-04T00:00:00Z"},
		{"cron on the 31st skips shorter months", cronSpec("UTC", "0 0 31 * *", 24*time.Hour),
			"2026-04-15T00:00:00Z", false, none, none, "2026-05-31T00:00:00Z"},

		// Leap years with cron.
		{"29 February only fires in leap years", cronSpec("UTC", "0 0 29 2 *", 24*time.Hour),
			"2026-03-01T00:00:00Z", false, none, none, "2028-02-29T00:00:00Z"},
		{"inside 29 February", cronSpec("UTC", "0 0 29 2 *", 24*time.Hour),
			"2028-02-29T10:00:00Z", true, "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", "2032-02-29T00:00:00Z"},

		// Overlapping periods of one window merge.
		{"overlapping periods merge into one", cronSpec("UTC", "0 0 1,2 * *", 36*time.Hour),
			"2026-06-01T06:00:00Z", true, "2026-06-01T00:00:00Z", "2026-06-03T12:00:00Z", "2026-07-01T00:00:00Z"},
		{"inside the second of two overlapping periods", cronSpec("UTC", "0 0 1,2 * *", 36*time.Hour),
			"2026-06-03T06:00:00Z", true, "2026-06-02T00:00:00Z", "2026-06-03T12:00:00Z", "2026-07-01T00:00:00Z"},
		{"exact end of a period", cronSpec("UTC", "0 12 * * *", time.Hour),
			"2026-06-01T13:00:00Z", false, none, none, "2026-06-02T12:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(&tc.spec)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got := s.At(utc(tc.now))
			if got.Active != tc.active {
				t.Fatalf("active = %v, want %v (%+v)", got.Active, tc.active, got)
			}
			check := func(what string, have time.Time, want string) {
				t.Helper()
				if want == none {
					if !have.IsZero() {
						t.Errorf("%s = %s, want none", what, have.UTC().Format(time.RFC3339))
					}
					return
				}
				if !have.Equal(utc(want)) {
					t.Errorf("%s = %s, want %s", what, have.UTC().Format(time.RFC3339), want)
				}
			}
			if tc.active {
				check("start", got.Start, tc.start)
				check("end", got.End, tc.end)
				check("boundary", got.Boundary(), tc.end)
			} else {
				check("boundary", got.Boundary(), tc.next)
			}
			check("next", got.Next, tc.next)
		})
	}
}

func TestScheduleEndlessChainIsCut(t *testing.T) {
	spec := cronSpec("UTC", "* * * * *", time.Hour)
	s, err := Compile(&spec)
	if err != nil {
		t.Fatal(err)
	}
	now := utc("2026-06-01T00:00:30Z")
	st := s.At(now)
	if !st.Active || !st.End.After(now.Add(time.Hour)) || !st.Next.After(st.End) {
		t.Fatalf("got %+v", st)
	}
}

func TestCompileRejects(t *testing.T) {
	n0, n29 := int32(0), int32(29)
	n3 := int32(3)
	cases := []struct {
		name string
		spec boxv1.FreezeWindowSpec
		want string
	}{
		{"neither", boxv1.FreezeWindowSpec{Reason: "r"}, "exactly one of spec.oneOff and spec.recurring"},
		{"both", boxv1.FreezeWindowSpec{Reason: "r", OneOff: oneOffSpec("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z").OneOff,
			Recurring: lastDaysSpec("UTC", 3).Recurring}, "exactly one of spec.oneOff and spec.recurring"},
		{"end before start", oneOffSpec("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"), "spec.oneOff.end must be after"},
		{"bad zone", cronSpec("Mars/Olympus", "0 0 * * *", time.Hour), `spec.timeZone "Mars/Olympus"`},
		{"bad cron", cronSpec("UTC", "0 0 L * *", time.Hour), `spec.recurring.schedule "0 0 L * *"`},
		{"six fields", cronSpec("UTC", "0 0 0 * * *", time.Hour), "spec.recurring.schedule"},
		{"tz prefix", cronSpec("UTC", "CRON_TZ=Asia/Tokyo 0 0 * * *", time.Hour), "spec.timeZone"},
		{"every", cronSpec("UTC", "@every 1h", time.Hour), "@every"},
		{"short duration", cronSpec("UTC", "0 0 * * *", time.Second), "spec.recurring.duration"},
		{"no duration", boxv1.FreezeWindowSpec{Reason: "r", Recurring: &boxv1.RecurringPeriod{Schedule: "0 0 * * *"}}, "spec.recurring.duration"},
		{"schedule and last days", boxv1.FreezeWindowSpec{Reason: "r", Recurring: &boxv1.RecurringPeriod{Schedule: "0 0 * * *",
			Duration: &metav1.Duration{Duration: time.Hour}, LastDaysOfMonth: &n3}}, "exactly one of schedule"},
		{"zero last days", lastDaysSpec("UTC", n0), "lastDaysOfMonth 0"},
		{"29 last days", lastDaysSpec("UTC", n29), "lastDaysOfMonth 29"},
		{"local zone", cronSpec("Local", "0 0 * * *", time.Hour), "Local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(&tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
