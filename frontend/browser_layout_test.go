package frontend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// sampleHall is the 2,000-seat hall of config/samples: stalls 20 rows x 60,
// circle 16 rows x 50.
const sampleHall = `sections:
- name: stalls
  rows:
  - {names: "A-H", seats: "1-60"}
  - {names: "J-U", seats: "1-60"}
- name: circle
  rows:
  - {names: "A-H", seats: "1-50"}
  - {names: "J-Q", seats: "1-50"}
`

var sampleShow = ShowInfo{Title: "Stand-up 10, night 1", StartsAt: "2026-12-05T13:00:00Z",
	Venue: "Riverside Hall, Bangkok", TimeZone: "Asia/Bangkok"}

// seatReport says, for every seat, whether it lies inside the map's box and
// the viewport and is what a click at its centre would hit.
const seatReportJS = `(() => {
	const map = document.getElementById("map").getBoundingClientRect();
	const vw = window.innerWidth, vh = window.innerHeight;
	const out = [];
	let minW = 1e9;
	for (const b of document.querySelectorAll("#map button.seat")) {
		const r = b.getBoundingClientRect();
		minW = Math.min(minW, r.width);
		const inside = r.left >= map.left - 0.5 && r.right <= map.right + 0.5 && r.top >= map.top - 0.5 && r.bottom <= map.bottom + 0.5 &&
			r.left >= 0 && r.right <= vw && r.top >= 0 && r.bottom <= vh;
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === b;
		if (!inside || !hit) out.push(b.dataset.id + (inside ? " covered" : " outside"));
	}
	return {seats: document.querySelectorAll("#map button.seat").length, bad: out.slice(0, 10), nbad: out.length, minWidth: minW,
		pageOverflow: document.documentElement.scrollWidth - vw};
})()`

type seatReport struct {
	Seats        int      `json:"seats"`
	Bad          []string `json:"bad"`
	NBad         int      `json:"nbad"`
	MinWidth     float64  `json:"minWidth"`
	PageOverflow float64  `json:"pageOverflow"`
}

// reachableByPanning scrolls each seat into the map's view in turn (as the
// scrollbars, a swipe or keyboard focus would) and reports those that still
// are not inside the map and hit by a click at their centre.
const reachableByPanningJS = `(() => {
	const m = document.getElementById("map");
	const out = [];
	for (const b of document.querySelectorAll("#map button.seat")) {
		b.scrollIntoView({block: "nearest", inline: "nearest"});
		const map = m.getBoundingClientRect(), r = b.getBoundingClientRect();
		const inside = r.left >= map.left - 0.5 && r.right <= map.right + 0.5 && r.top >= map.top - 0.5 && r.bottom <= map.bottom + 0.5 &&
			r.left >= 0 && r.right <= window.innerWidth;
		if (!inside || document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) !== b) out.push(b.dataset.id);
	}
	return out;
})()`

// TestBrowserHallFitsLaptopAndPhone opens the 2,000-seat sample hall at 1,366
// and 390 pixels wide. The header names the show, its date and time in the
// venue's time zone, and the venue. At first the whole hall fits the window:
// every seat inside the map and the viewport, none covered, nothing wider
// than the page. On the laptop the seats are big enough to click at once;
// on the phone a tap zooms in, and then every seat can be panned into view
// and clicked. The keyboard selects at any zoom.
func TestBrowserHallFitsLaptopAndPhone(t *testing.T) {
	requireChromium(t)
	sh := startRealShard(t, sampleHall)
	fe := startFrontend(t, sh.url(), sh.token, func(c *Config) { c.Show = sampleShow })
	browser := startChromium(t, 150*time.Second)
	for _, vp := range []struct {
		name   string
		w, h   int64
		mobile bool
	}{{"laptop-1366", 1366, 768, false}, {"phone-390", 390, 844, true}} {
		t.Run(vp.name, func(t *testing.T) {
			page, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			emulate := chromedp.EmulateViewport(vp.w, vp.h)
			if vp.mobile {
				emulate = chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile)
			}
			cdRun(page, t, "viewport", emulate)
			cdRun(page, t, "open the page", chromedp.Navigate(fe.url+"/"))
			cdPoll(page, t, "page ready", `document.body.dataset.ready === "true" && document.body.dataset.zoom !== undefined`, 20*time.Second)
			checkShowHeader(page, t)
			screenshot(page, t, vp.name+"-fit")

			fit := cdEval[seatReport](page, t, seatReportJS)
			t.Logf("%s: whole hall at zoom %s, smallest seat %.1f px wide", vp.name, cdEval[string](page, t, `document.body.dataset.zoom`), fit.MinWidth)
			if fit.Seats != 2000 {
				t.Fatalf("%d seats on the page, want 2000", fit.Seats)
			}
			if fit.NBad > 0 || fit.PageOverflow > 0 {
				t.Fatalf("with the whole hall shown, %d seats are not on screen or covered (first: %v); page wider than the window by %.0f px",
					fit.NBad, fit.Bad, fit.PageOverflow)
			}
			if vp.mobile {
				checkPhoneZoom(page, t, vp.name)
			} else {
				if fit.MinWidth < 12 {
					t.Fatalf("seats are %.1f px wide with the whole hall shown: too small to click", fit.MinWidth)
				}
				cdRun(page, t, "click the last seat of a row", chromedp.Click(chromedp.CSS(seatSel("stalls/A/60"))))
				cdPoll(page, t, "stalls/A/60 selected", fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed") === "true"`, seatSel("stalls/A/60")), 5*time.Second)
			}
			// The keyboard works at any zoom: move right from circle/Q/49, select.
			cdRun(page, t, "keyboard", chromedp.Focus(chromedp.CSS(seatSel("circle/Q/49"))),
				chromedp.SendKeys(chromedp.CSS(seatSel("circle/Q/49")), kb.ArrowRight))
			if id := cdEval[string](page, t, `document.activeElement.dataset.id`); id != "circle/Q/50" {
				t.Fatalf("after ArrowRight focus is on %q", id)
			}
			cdRun(page, t, "Enter", chromedp.SendKeys(chromedp.CSS(seatSel("circle/Q/50")), kb.Enter))
			cdPoll(page, t, "selected by keyboard", fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed") === "true"`, seatSel("circle/Q/50")), 5*time.Second)
			// + zooms in around the focused seat, which stays in view; 0 shows the whole hall.
			whole := cdEval[string](page, t, `document.body.dataset.zoom`)
			cdRun(page, t, "+", chromedp.SendKeys(chromedp.CSS(seatSel("circle/Q/50")), "+"))
			cdPoll(page, t, "zoomed in by keyboard", `Number(document.body.dataset.zoom) > `+whole, 5*time.Second)
			inView := cdEval[bool](page, t, fmt.Sprintf(`(() => {
				const m = document.getElementById("map").getBoundingClientRect(), r = document.querySelector(%q).getBoundingClientRect();
				return r.left >= m.left && r.right <= m.right && r.top >= m.top && r.bottom <= m.bottom && document.activeElement.dataset.id === "circle/Q/50";
			})()`, seatSel("circle/Q/50")))
			if !inView {
				t.Fatal("after zooming in by keyboard the focused seat is out of the map's view")
			}
			cdRun(page, t, "0", chromedp.SendKeys(chromedp.CSS(seatSel("circle/Q/50")), "0"))
			cdPoll(page, t, "whole hall by keyboard", `document.body.dataset.zoom === "`+whole+`"`, 5*time.Second)
		})
	}
}

func checkShowHeader(page context.Context, t *testing.T) {
	t.Helper()
	if got := cdEval[string](page, t, `document.getElementById("title").textContent`); got != sampleShow.Title {
		t.Fatalf("title %q", got)
	}
	if got := cdEval[string](page, t, `document.title`); !strings.HasPrefix(got, sampleShow.Title) {
		t.Fatalf("document title %q", got)
	}
	when := cdEval[string](page, t, `document.getElementById("starts").textContent`)
	// 13:00 UTC is 20:00 in Bangkok; the words depend on the browser's locale.
	if !strings.Contains(when, "December") || !strings.Contains(when, "2026") || !strings.Contains(when, "5") ||
		!(strings.Contains(when, "20:00") || strings.Contains(when, "08:00 PM") || strings.Contains(when, "8:00 PM")) {
		t.Fatalf("start shown as %q, want 5 December 2026, 20:00 (Bangkok)", when)
	}
	if got := cdEval[string](page, t, `document.getElementById("starts").getAttribute("datetime")`); got != sampleShow.StartsAt {
		t.Fatalf("<time datetime=%q>", got)
	}
	if got := cdEval[string](page, t, `document.getElementById("venue").textContent`); got != sampleShow.Venue {
		t.Fatalf("venue %q", got)
	}
	if got := cdEval[string](page, t, `document.querySelector("#hall .stage").textContent`); got != "Stage" {
		t.Fatalf("stage %q", got)
	}
}

// checkPhoneZoom: a tap on tiny seats zooms in around the tap instead of
// selecting; zoomed in, every seat can be panned into view and hit, and a
// click selects.
func checkPhoneZoom(page context.Context, t *testing.T, name string) {
	t.Helper()
	before := cdEval[string](page, t, `document.body.dataset.zoom`)
	cdRun(page, t, "tap the far right of the hall", chromedp.Click(chromedp.CSS(seatSel("stalls/C/58"))))
	cdPoll(page, t, "zoomed in", `Number(document.body.dataset.zoom) >= 1`, 5*time.Second)
	if p := cdEval[string](page, t, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed")`, seatSel("stalls/C/58"))); p != "false" {
		t.Fatalf("a tap at zoom %s selected a seat too small to aim at", before)
	}
	if n := cdEval[int](page, t, `document.documentElement.scrollWidth - window.innerWidth`); n > 0 {
		t.Fatalf("zoomed in, the page is %d px wider than the window", n)
	}
	if missed := cdEval[[]string](page, t, reachableByPanningJS); len(missed) > 0 {
		t.Fatalf("zoomed in, %d seats cannot be brought into view: %v", len(missed), missed[:min(len(missed), 10)])
	}
	cdRun(page, t, "click a seat", chromedp.Click(chromedp.CSS(seatSel("stalls/C/58"))))
	cdPoll(page, t, "stalls/C/58 selected", fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed") === "true"`, seatSel("stalls/C/58")), 5*time.Second)
	screenshot(page, t, name+"-zoomed")
	cdRun(page, t, "whole hall again", chromedp.Click(chromedp.CSS("#zoom-fit")))
	cdPoll(page, t, "back to the whole hall", `document.body.dataset.zoom === "`+before+`"`, 5*time.Second)
}

// screenshot saves the page when BOXOFFICE_SCREENSHOTS names a directory.
func screenshot(page context.Context, t *testing.T, name string) {
	dir := os.Getenv("BOXOFFICE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(page, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
