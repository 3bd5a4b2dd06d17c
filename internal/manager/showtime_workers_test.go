package manager

import (
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/controllers"
)

func TestShowtimeWorkersFlag(t *testing.T) {
	c, _, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ShowtimeWorkers != controllers.DefaultMaxConcurrentReconciles || c.ShowtimeWorkers < 2 {
		t.Errorf("default %d: want DefaultMaxConcurrentReconciles (%d), more than one", c.ShowtimeWorkers, controllers.DefaultMaxConcurrentReconciles)
	}
	if c, _, err := parseFlags([]string{"--showtime-workers=8"}); err != nil || c.ShowtimeWorkers != 8 {
		t.Errorf("--showtime-workers=8: %v, %+v", err, c)
	}
	if _, _, err := parseFlags([]string{"--showtime-workers=0"}); err == nil || !strings.Contains(err.Error(), "--showtime-workers 0: at least 1") {
		t.Errorf("--showtime-workers=0: %v", err)
	}
}
