package frontend

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserPreQueueShowsOpeningThenRoomOff: a buyer in the pre-queue sees
// when the sale opens in their own time zone (the browser is in India,
// UTC+5:30, so a time shown in UTC or the venue's zone would be off), with a
// countdown, and the status region says it. Then the showtime's room is
// switched off: the waiting page says so and moves on to the seat map by
// itself, focus on the map.
func TestBrowserPreQueueShowsOpeningThenRoomOff(t *testing.T) {
	requireChromium(t)
	sh := startRealShard(t, testSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	opens := time.Now().Add(2 * time.Hour).Truncate(time.Minute).UTC()
	body := fmt.Sprintf(`{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"preQueueSeconds":10800,"opensAt":%q}`, opens.Format(time.RFC3339))
	if code, b := sh.call("PUT", "/v1/room", body); code != 200 {
		t.Fatalf("PUT /v1/room: %d %s", code, b)
	}
	waitUntil(t, 10*time.Second, "the front end sees the room", func() bool { sum, _ := fe.s.hub.roomState(); return sum.Configured })

	browser := startChromium(t, 60*time.Second)
	page, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	cdRun(page, t, "set the time zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"})
		return err
	}))
	cdRun(page, t, "open the page", chromedp.Navigate(fe.url+"/"))
	cdPoll(page, t, "the pre-queue with the opening time", `document.body.dataset.queue === "pre_queued" && !document.getElementById("q-opens").hidden`, 15*time.Second)

	shown := cdEval[string](page, t, `document.getElementById("q-opens-at").textContent`)
	if want := opens.In(time.FixedZone("IST", 5*3600+1800)).Format("15:04"); !strings.Contains(shown, want) {
		t.Fatalf("opening time shown as %q, want the buyer's local %s", shown, want)
	}
	if dt := cdEval[string](page, t, `document.getElementById("q-opens-at").getAttribute("datetime")`); !opens.Equal(mustTime(t, dt)) {
		t.Fatalf("the time element's datetime is %q, want %s", dt, opens)
	}
	if c := cdEval[string](page, t, `document.getElementById("q-countdown").textContent`); !regexp.MustCompile(`^(1 h [0-5]\d min|2 h 00 min)$`).MatchString(c) {
		t.Fatalf("countdown %q, want about 2 hours", c)
	}
	if live := cdEval[string](page, t, `document.getElementById("q-countdown").getAttribute("aria-live")`); live != "off" {
		t.Fatalf("the countdown is spoken (aria-live %q): it would interrupt every second", live)
	}
	cdPoll(page, t, "the status region says when the sale opens",
		fmt.Sprintf(`document.getElementById("q-live").textContent.includes("The sale opens") && document.getElementById("q-live").textContent.includes(%q)`,
			opens.In(time.FixedZone("IST", 5*3600+1800)).Format("15:04")), 5*time.Second)

	if code, b := sh.call("DELETE", "/v1/room", ""); code != 200 {
		t.Fatalf("DELETE /v1/room: %d %s", code, b)
	}
	cdPoll(page, t, "the page moves on to the seat map", `document.body.dataset.queue === "off" && document.body.dataset.ready === "true"`, 15*time.Second)
	if m := cdEval[string](page, t, `document.getElementById("msg").textContent`); !strings.HasPrefix(m, "The waiting room was switched off") {
		t.Fatalf("message after the room was switched off: %q", m)
	}
	if id := cdEval[string](page, t, `document.activeElement.id`); id != "map-heading" {
		t.Fatalf("focus after the room was switched off on %q, want the map's heading", id)
	}
	if !cdEval[bool](page, t, `document.getElementById("queue").hidden && !document.getElementById("layout").hidden`) {
		t.Fatal("the queue card is still shown")
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return at
}
