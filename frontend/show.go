package frontend

import (
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// ShowInfo is what the booking page says about the show: its title, start
// and venue. The operator passes them from the Showtime's spec.
type ShowInfo struct {
	Title    string `json:"title,omitempty"`
	StartsAt string `json:"startsAt,omitempty"` // RFC 3339
	Venue    string `json:"venue,omitempty"`
	TimeZone string `json:"timeZone,omitempty"` // IANA name; the page formats StartsAt in it
}

var timeZoneRe = regexp.MustCompile(`^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+){1,2})$`)

func (s ShowInfo) validate() []error {
	var errs []error
	// Characters, as the Showtime's CRD counts them (a Thai title of 200
	// characters is 600 bytes).
	if utf8.RuneCountInString(s.Title) > 200 || utf8.RuneCountInString(s.Venue) > 200 {
		errs = append(errs, fmt.Errorf("--title and --venue must be at most 200 characters"))
	}
	if s.StartsAt != "" {
		if _, err := time.Parse(time.RFC3339, s.StartsAt); err != nil {
			errs = append(errs, fmt.Errorf("--starts-at %q must be an RFC 3339 time such as 2026-12-05T13:00:00Z", s.StartsAt))
		}
	}
	if s.TimeZone != "" && !timeZoneRe.MatchString(s.TimeZone) {
		errs = append(errs, fmt.Errorf("--time-zone %q must be an IANA time zone name such as Asia/Bangkok, or UTC", s.TimeZone))
	}
	return errs
}

// withDefaults names the show by its showtime when no title was given.
func (s ShowInfo) withDefaults(showtime string) ShowInfo {
	if s.Title == "" {
		s.Title = showtime
	}
	return s
}
