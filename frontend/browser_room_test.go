package frontend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWaitingRoomAdmitsInTurn: with room for one buyer, three pages.
// The first chooses seats; the others see places 1 and 2 in line with their
// estimates; a reload keeps the place; the first buys and the second page is
// admitted and shows the seat map by itself; the third moves up to place 1.
// A waiting page cannot hold, not even with a forged admission.
func TestBrowserWaitingRoomAdmitsInTurn(t *testing.T) {
	requireChromium(t)
	sh := startRealShard(t, testSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)

	browser := startChromium(t, 90*time.Second)
	var pages [3]context.Context
	for i := range pages {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer cancel()
		pages[i] = ctx
	}
	one, two, three := pages[0], pages[1], pages[2]
	text := func(ctx context.Context, id string) string {
		t.Helper()
		return cdEval[string](ctx, t, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
	}
	inLine := func(ctx context.Context, what, place string) {
		t.Helper()
		cond := fmt.Sprintf(`document.body.dataset.queue === "waiting" && document.getElementById("q-place").textContent === %q`, place)
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			state := cdEval[string](ctx, t, `JSON.stringify({queue: document.body.dataset.queue, place: document.getElementById("q-place").textContent,
				me: window.boxofficeQueue.place(), room: window.boxofficeQueue.room()})`)
			t.Fatalf("%s: %v; page state %s", what, err, state)
		}
	}

	// Pages open one after the other, so that their order is known.
	cdRun(one, t, "open page one", chromedp.Navigate(fe.url+"/"))
	cdPoll(one, t, "page one admitted with the seat map", `document.body.dataset.queue === "admitted" && document.body.dataset.ready === "true"`, 15*time.Second)
	cdRun(two, t, "open page two", chromedp.Navigate(fe.url+"/"))
	inLine(two, "page two at place 1", "1")
	cdRun(three, t, "open page three", chromedp.Navigate(fe.url+"/"))
	inLine(three, "page three at place 2", "2")

	// Unmeasured, the estimate is one idle timeout (60 s) per turn ahead.
	if w := text(two, "q-wait"); !strings.HasPrefix(w, "about 1 minute") {
		t.Fatalf("page two's estimate: %q", w)
	}
	if w := text(three, "q-wait"); !strings.HasPrefix(w, "about 2 minutes") {
		t.Fatalf("page three's estimate: %q", w)
	}
	if a, b := text(two, "q-ahead"), text(three, "q-ahead"); a != "nobody: you are next" || b != "1" {
		t.Fatalf("people ahead: %q, %q", a, b)
	}
	if s := text(three, "q-seats"); s != "52" {
		t.Fatalf("seats left on page three: %q", s)
	}
	cdPoll(three, t, "the live region speaks the place", `document.getElementById("q-live").textContent.startsWith("Place 2 in line")`, 5*time.Second)
	if !cdEval[bool](three, t, `document.getElementById("layout").hidden && !document.getElementById("queue").hidden`) {
		t.Fatal("page three shows the seat map while waiting")
	}

	// A reload keeps the place (the queue cookie names it).
	placeID := cdEval[float64](three, t, `window.boxofficeQueue.place().place`)
	cdRun(three, t, "reload page three", chromedp.Reload())
	inLine(three, "page three at place 2 after a reload", "2")
	if again := cdEval[float64](three, t, `window.boxofficeQueue.place().place`); again != placeID {
		t.Fatalf("reload changed the place from %v to %v", placeID, again)
	}

	// A waiting page cannot hold: without an admission, or with a forged one.
	hold := `fetch("/api/holds", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"seats":["stalls/A/9"]}'})
		.then(r => r.json().then(b => r.status + " " + b.error))`
	tryHold := func() string {
		t.Helper()
		got, err := chromedp.Run(three, chromedp.Evaluate[string](hold, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("hold from the page: %v", err)
		}
		return got
	}
	if got := tryHold(); got != "403 admission_required" {
		t.Fatalf("hold from a waiting page: %s", got)
	}
	cdRun(three, t, "forge an admission cookie", chromedp.Evaluate[chromedp.Void](`document.cookie = "boxoffice_admission=AQID.forged; path=/"`))
	if got := tryHold(); got != "403 admission_required" {
		t.Fatalf("hold with a forged admission: %s", got)
	}

	// Page one chooses seats, holds and buys.
	cdRun(one, t, "select and hold", chromedp.Click(chromedp.CSS(seatSel("stalls/B/3"))),
		chromedp.Click(chromedp.CSS(seatSel("stalls/B/4"))), chromedp.Click(chromedp.CSS("#hold-btn")))
	cdPoll(one, t, "page one's hold", `!document.getElementById("hold").hidden`, 10*time.Second)
	cdRun(one, t, "pay", chromedp.Click(chromedp.CSS("#pay-btn")))
	cdPoll(one, t, "page one paid", `document.getElementById("hold-state").textContent.startsWith("Paid")`, 10*time.Second)

	// Page two is admitted by itself and shows the map, focus on its heading.
	cdPoll(two, t, "page two admitted by itself", `document.body.dataset.queue === "admitted" && document.body.dataset.ready === "true"`, 15*time.Second)
	if id := cdEval[string](two, t, `document.activeElement.id`); id != "map-heading" {
		t.Fatalf("focus after admission on %q, want the map's heading", id)
	}
	cdPoll(two, t, "page two sees the sold seats", fmt.Sprintf(`document.querySelector(%q).className.includes("s-sold")`, seatSel("stalls/B/3")), 5*time.Second)
	cdRun(two, t, "page two holds", chromedp.Click(chromedp.CSS(seatSel("stalls/C/1"))), chromedp.Click(chromedp.CSS("#hold-btn")))
	cdPoll(two, t, "page two's hold", `!document.getElementById("hold").hidden`, 10*time.Second)
	inLine(three, "page three moves up to place 1", "1")
}
