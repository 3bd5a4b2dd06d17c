package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// largeSeatMap is 2 sections x 50 rows x 50 seats = 5,000 seats.
const largeSeatMap = `sections:
- name: stalls
  rows:
  - {names: "1-50", seats: "1-50"}
- name: circle
  rows:
  - {names: "1-50", seats: "1-50"}
`

// browserSanityTimeout bounds each wait in the large-map test. It is not a
// performance target (the times are logged); it only keeps a broken page from
// hanging the test.
const browserSanityTimeout = 30 * time.Second

// TestBrowserLargeMapStaysResponsive loads a 5,000-seat map in headless
// Chromium against a real shard, commits a burst of 100 changes at the shard
// and waits for all of them on the page, then selects and holds seats with
// the mouse. It logs the render and update times; it fails only when a step
// takes longer than browserSanityTimeout.
func TestBrowserLargeMapStaysResponsive(t *testing.T) {
	requireChromium(t)
	layout, err := seatmap.Parse([]byte(largeSeatMap))
	if err != nil {
		t.Fatal(err)
	}
	ids := layout.SeatIDs()
	if len(ids) != 5000 {
		t.Fatalf("large map has %d seats", len(ids))
	}
	sh := startRealShard(t, largeSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	browser := startChromium(t, 4*browserSanityTimeout)
	page, cancelPage := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelPage()

	// 1. Initial render.
	navStart := time.Now()
	cdRun(page, t, "open the page", chromedp.Navigate(fe.url+"/"))
	cdPoll(page, t, "page ready and live",
		`document.body.dataset.ready === "true" && document.getElementById("conn").textContent === "Live"`, browserSanityTimeout)
	live := time.Since(navStart)
	cdPoll(page, t, "first frame with the map", `performance.getEntriesByName("seatmap-painted").length > 0`, browserSanityTimeout)
	type renderTimes struct {
		Build   float64 `json:"build"`
		Built   float64 `json:"built"`
		Painted float64 `json:"painted"`
	}
	render := cdEval[renderTimes](page, t, `(() => {
		const at = (n) => performance.getEntriesByName(n)[0].startTime;
		return {build: at("seatmap-built") - at("seatmap-build-start"), built: at("seatmap-built"), painted: at("seatmap-painted")};
	})()`)
	if n := cdEval[int](page, t, `document.querySelectorAll("#map button.seat").length`); n != 5000 {
		t.Fatalf("the page shows %d seats, want 5000", n)
	}
	if n := cdEval[int](page, t, `document.querySelectorAll("#map .row").length`); n != 100 {
		t.Fatalf("the page shows %d rows, want 100", n)
	}
	for id, want := range map[string]string{"stalls/1/1": "stalls row 1 seat 1, free", "circle/50/50": "circle row 50 seat 50, free"} {
		if l := cdEval[string](page, t, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-label")`, seatSel(id))); l != want {
			t.Fatalf("%s aria-label %q, want %q", id, l, want)
		}
	}
	cdPoll(page, t, "counts", `document.getElementById("counts").textContent === "5000 free · 0 held · 0 sold"`, browserSanityTimeout)
	t.Logf("5,000 seats: DOM built in %.0f ms; map built %.0f ms and first frame with it %.0f ms after navigation start (page clock); ready and live %v after Navigate (Go clock)",
		render.Build, render.Built, render.Painted, live.Round(time.Millisecond))

	// 2. A burst of 100 changes committed at the shard (as other pods' buyers
	// would), one seat per row across both sections.
	burst := make([]string, 0, 100)
	for i := 0; i < 100; i++ {
		burst = append(burst, ids[7+50*i]) // seat 8 of every row
	}
	want, _ := json.Marshal(burst)
	// The page records when each of the burst's seats turns held (a
	// MutationObserver on the seats' class), when the frame after the last
	// one is rendered, and the long tasks (> 50 ms of main thread) meanwhile.
	cdEval[bool](page, t, fmt.Sprintf(`(() => {
		const want = new Set(%s);
		const b = window.__burst = {t0: performance.now(), seen: 0, first: 0, done: 0, painted: 0, longTasks: 0, longest: 0};
		try {
			new PerformanceObserver((l) => {
				for (const e of l.getEntries()) { b.longTasks++; b.longest = Math.max(b.longest, e.duration); }
			}).observe({type: "longtask"});
		} catch (e) { b.longTasks = -1; }
		new MutationObserver((recs) => {
			for (const r of recs) {
				const id = r.target.dataset && r.target.dataset.id;
				if (want.has(id) && r.target.classList.contains("s-held")) {
					want.delete(id);
					if (++b.seen === 1) b.first = performance.now();
				}
			}
			if (want.size === 0 && !b.done) {
				b.done = performance.now();
				requestAnimationFrame(() => setTimeout(() => { b.painted = performance.now(); }, 0));
			}
		}).observe(document.getElementById("map"), {subtree: true, attributes: true, attributeFilter: ["class"]});
		return true;
	})()`, want))
	commitStart := time.Now()
	if err := commitBurst(sh, burst, 10); err != nil {
		t.Fatal(err)
	}
	committed := time.Since(commitStart)
	cdPoll(page, t, "the burst on the page", `window.__burst.painted > 0`, browserSanityTimeout)
	seen := time.Since(commitStart)
	type burstTimes struct {
		T0        float64 `json:"t0"`
		Seen      int     `json:"seen"`
		First     float64 `json:"first"`
		Done      float64 `json:"done"`
		Painted   float64 `json:"painted"`
		LongTasks int     `json:"longTasks"`
		Longest   float64 `json:"longest"`
	}
	b := cdEval[burstTimes](page, t, `window.__burst`)
	if b.Seen != 100 {
		t.Fatalf("page saw %d of the 100 changes", b.Seen)
	}
	if n := cdEval[int](page, t, `document.querySelectorAll("#map button.seat.s-held").length`); n != 100 {
		t.Fatalf("%d seats held on the page, want 100", n)
	}
	cdPoll(page, t, "counts after the burst", `document.getElementById("counts").textContent === "4900 free · 100 held · 0 sold"`, browserSanityTimeout)
	if l := cdEval[string](page, t, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-label")`, seatSel(burst[99]))); l != "circle row 50 seat 8, held" {
		t.Fatalf("aria-label after the burst %q", l)
	}
	t.Logf("burst of 100 changes: committed at the shard in %v; all 100 on the page %v after the first commit was sent (Go clock); page clock: first change applied at +%.0f ms, last at +%.0f ms, rendered at +%.0f ms; long tasks meanwhile: %d, longest %.0f ms",
		committed.Round(time.Millisecond), seen.Round(time.Millisecond), b.First-b.T0, b.Done-b.T0, b.Painted-b.T0, b.LongTasks, b.Longest)

	// 3. Click, select, hold: one seat near the top, one in the second
	// section (below the fold, so first scrolled into view).
	picks := []string{"stalls/20/25", "circle/40/10"}
	clickStart := time.Now()
	for _, id := range picks {
		cdRun(page, t, "click "+id, chromedp.Click(chromedp.CSS(seatSel(id))))
		cdPoll(page, t, id+" selected", fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed") === "true"`, seatSel(id)), browserSanityTimeout)
	}
	clicked := time.Since(clickStart)
	if s := cdEval[string](page, t, `document.getElementById("sel-summary").textContent`); s != "2 seats selected." {
		t.Fatalf("selection summary %q", s)
	}
	holdStart := time.Now()
	cdRun(page, t, "hold", chromedp.Click(chromedp.CSS("#hold-btn")))
	cdPoll(page, t, "the hold on the page", `!document.getElementById("hold").hidden`, browserSanityTimeout)
	held := time.Since(holdStart)
	// The hold's answer marks the seats as this buyer's at once; their held
	// state arrives with the event stream.
	for _, id := range picks {
		cdPoll(page, t, id+" held by this buyer", fmt.Sprintf(`(() => { const c = document.querySelector(%q).classList; return c.contains("s-held") && c.contains("mine"); })()`, seatSel(id)), browserSanityTimeout)
	}
	if l := cdEval[string](page, t, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-label")`, seatSel(picks[1]))); l != "circle row 40 seat 10, held by you" {
		t.Fatalf("aria-label of the held seat %q", l)
	}
	if cd := cdEval[string](page, t, `document.getElementById("countdown").textContent`); !strings.HasSuffix(cd, " left") {
		t.Fatalf("countdown shows %q", cd)
	}
	if held := sh.counts()[shardapi.SeatHeld]; held != 102 {
		t.Fatalf("shard holds %d seats, want 102", held)
	}
	cdPoll(page, t, "counts after the hold", `document.getElementById("counts").textContent === "4898 free · 102 held · 0 sold"`, browserSanityTimeout)
	t.Logf("click-select of 2 seats took %v, hold shown %v after the click (Go clock, including DevTools round trips)",
		clicked.Round(time.Millisecond), held.Round(time.Millisecond))
}

// commitBurst holds each seat at the shard for its own holder, with workers
// requests in flight at a time.
func commitBurst(sh *realShard, seats []string, workers int) error {
	c := &http.Client{Timeout: 10 * time.Second}
	work := make(chan string)
	errs := make(chan error, len(seats))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				body, _ := json.Marshal(map[string]any{"seats": []string{id}, "holder": "burst-" + id})
				req, _ := http.NewRequest("POST", sh.url()+"/v1/holds", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+sh.token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					errs <- fmt.Errorf("hold %s at the shard: %v", id, err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("hold %s at the shard: status %d", id, resp.StatusCode)
				}
			}
		}()
	}
	for _, id := range seats {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when there were none
}
