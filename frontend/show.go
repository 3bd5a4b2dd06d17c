package frontend

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
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

// showRecheck is how often the show file is looked at again.
const showRecheck = 5 * time.Second

// showSource gives the show: from --show-file when given (read again when
// its modification time or size changes, at most every showRecheck; a bad
// file is logged and the last good show kept), else from the flags.
type showSource struct {
	path     string
	showtime string
	log      *slog.Logger

	mu      sync.Mutex
	show    ShowInfo
	checked time.Time
	stamp   [2]int64 // modification time and size of the file read
}

func newShowSource(cfg Config, log *slog.Logger) (*showSource, error) {
	s := &showSource{path: cfg.ShowFile, showtime: cfg.Showtime, log: log, show: cfg.Show.withDefaults(cfg.Showtime)}
	if s.path == "" {
		return s, nil
	}
	if err := s.reload(time.Now()); err != nil {
		return nil, fmt.Errorf("--show-file: %v", err)
	}
	return s, nil
}

func (s *showSource) get() ShowInfo {
	if s.path == "" {
		return s.show
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.checked) >= showRecheck {
		if err := s.reload(now); err != nil {
			s.log.Warn("show file not read again; the page keeps the last good show", "file", s.path, "err", err)
		}
	}
	return s.show
}

// reload reads the file if it changed. s.mu is held (or s is not shared yet).
func (s *showSource) reload(now time.Time) error {
	s.checked = now
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	stamp := [2]int64{fi.ModTime().UnixNano(), fi.Size()}
	if stamp == s.stamp {
		return nil
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	var show ShowInfo
	if err := json.Unmarshal(b, &show); err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
	if err := errors.Join(show.validate()...); err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
	s.show, s.stamp = show.withDefaults(s.showtime), stamp
	return nil
}
