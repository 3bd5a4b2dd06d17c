package frontend

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// TestBrowserWaitingPageSeatsMayReturnThenSoldOut: a buyer waits in line
// while the admitted buyer holds the last free seat: the page says seats may
// come back; the last seat is sold: the page says "Sold out" at once (and
// the status region speaks it), with no place or wait left on screen.
func TestBrowserWaitingPageSeatsMayReturnThenSoldOut(t *testing.T) {
	requireChromium(t)
	sh := startRealShard(t, roomSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)
	for i := 2; i <= 6; i++ { // sold at the box office before the room is on
		code, body := sh.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/%d"],"holder":"box-%d"}`, i, i))
		var h shardapi.Hold
		if code != 201 || json.Unmarshal(body, &h) != nil {
			t.Fatalf("direct hold: %d %s", code, body)
		}
		if code, body := sh.call("POST", "/v1/holds/"+h.ID+"/confirm", `{"orderId":"o"}`); code != 200 {
			t.Fatalf("confirm: %d %s", code, body)
		}
	}
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)
	a := newBuyer(t, fe.url)
	if p := a.room(); p.State != "admitted" {
		t.Fatalf("a: %+v", p)
	}

	browser := startChromium(t, 60*time.Second)
	page, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	cdRun(page, t, "open the page", chromedp.Navigate(fe.url+"/"))
	cdPoll(page, t, "waiting at place 1", `document.body.dataset.queue === "waiting" && document.getElementById("q-place").textContent === "1"`, 15*time.Second)
	if shown := cdEval[[]string](page, t, shownJS("layout")); len(shown) > 0 {
		t.Fatal("a waiting page shows the seat map's layout (its controls and the hold button)")
	}

	h := a.hold("stalls/A/1")
	mustStatus(t, h, 201, "the last free seat")
	cdPoll(page, t, "the page says seats may come back",
		`document.getElementById("q-note").textContent.startsWith("Every seat is held by someone choosing right now. Seats may come back")`, 10*time.Second)

	mustStatus(t, a.do("POST", "/api/holds/"+h.hold(t).ID+"/pay", map[string]any{}, ""), 200, "pay the last seat")
	cdPoll(page, t, "the page says sold out", `document.body.dataset.queue === "sold_out" && document.getElementById("q-heading").textContent === "Sold out"`, 10*time.Second)
	if live := cdEval[string](page, t, `document.getElementById("q-live").textContent`); live != "Sold out. Every seat is sold." {
		t.Fatalf("status region after the sale: %q", live)
	}
	if shown := cdEval[[]string](page, t, shownJS("q-facts", "q-progress", "q-leave", "layout")); len(shown) > 0 {
		t.Fatalf("a sold-out page still shows %v", shown)
	}
}

// shownJS is an expression giving those of the ids whose elements take
// space on the page (rendered, not merely without the hidden property).
func shownJS(ids ...string) string {
	return fmt.Sprintf(`%q.split(",").filter(id => document.getElementById(id).getClientRects().length > 0)`, strings.Join(ids, ","))
}
