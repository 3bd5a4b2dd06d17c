package frontend

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const chromiumPath = "/usr/bin/chromium"

// requireChromium skips without the browser, except in CI where the browser
// test is required and its absence is a failure.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("headless Chromium not found at %s (install the Debian package: apt-get install -y chromium): %v", chromiumPath, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true, so the browser test must run")
		}
		t.Skip(msg)
	}
}

func seatSel(id string) string { return fmt.Sprintf(`button[data-id=%q]`, id) }

// startChromium launches headless Chromium for one test and returns its
// browser context. The browser is closed when the test ends, and at the
// latest after limit, so a hung browser cannot hang the test.
func startChromium(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	watchdog := time.AfterFunc(limit, cancelAlloc)
	t.Cleanup(func() {
		watchdog.Stop()
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browser
}

func cdRun(ctx context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// cdPoll waits in the page until expr is truthy.
func cdPoll(ctx context.Context, t *testing.T, what, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func cdEval[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func TestBrowserTwoBuyersSeeEachOtherLive(t *testing.T) {
	requireChromium(t)
	sh := startRealShard(t, testSeatMap)
	fe := startFrontend(t, sh.url(), sh.token, nil)

	browser := startChromium(t, 90*time.Second)
	// Two buyers: separate browser contexts, so separate cookies and sessions.
	one, cancelOne := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelOne()
	two, cancelTwo := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelTwo()

	run := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		cdRun(ctx, t, what, steps...)
	}
	poll := func(ctx context.Context, what, expr string, timeout time.Duration) {
		t.Helper()
		cdPoll(ctx, t, what, expr, timeout)
	}
	eval := func(ctx context.Context, expr string) string {
		t.Helper()
		return cdEval[string](ctx, t, expr)
	}
	classOf := func(id string) string {
		return fmt.Sprintf(`document.querySelector(%q).className`, seatSel(id))
	}

	for _, b := range []context.Context{one, two} {
		run(b, "open the page", chromedp.Navigate(fe.url+"/"))
		poll(b, "page ready and live", `document.body.dataset.ready === "true" && document.getElementById("conn").textContent === "Live"`, 15*time.Second)
	}
	if n := eval(two, `String(document.querySelectorAll("button.seat").length)`); n != "52" {
		t.Fatalf("buyer two's page shows %s seats, want 52", n)
	}
	if l := eval(two, `document.querySelector('button[data-id="stalls/B/3"]').getAttribute("aria-label")`); l != "stalls row B seat 3, free" {
		t.Fatalf("aria-label %q", l)
	}

	// Buyer one selects two seats and holds them.
	run(one, "select seats",
		chromedp.Click(chromedp.CSS(seatSel("stalls/B/3"))),
		chromedp.Click(chromedp.CSS(seatSel("stalls/B/4"))))
	if p := eval(one, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed")`, seatSel("stalls/B/4"))); p != "true" {
		t.Fatalf("selected seat aria-pressed=%s", p)
	}
	run(one, "hold", chromedp.Click(chromedp.CSS("#hold-btn")))
	poll(one, "buyer one's hold", `!document.getElementById("hold").hidden`, 10*time.Second)
	held := time.Now()
	poll(two, "buyer two sees the seats held within a second",
		classOf("stalls/B/3")+`.includes("s-held") && `+classOf("stalls/B/4")+`.includes("s-held")`, time.Second)
	t.Logf("buyer two saw the hold %v after buyer one's page showed it", time.Since(held).Round(time.Millisecond))
	if l := eval(two, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-label")`, seatSel("stalls/B/3"))); l != "stalls row B seat 3, held" {
		t.Fatalf("buyer two's aria-label %q", l)
	}
	if l := eval(one, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-label")`, seatSel("stalls/B/3"))); l != "stalls row B seat 3, held by you" {
		t.Fatalf("buyer one's aria-label %q", l)
	}
	cd := eval(one, `document.getElementById("countdown").textContent`)
	if !strings.HasSuffix(cd, " left") || !strings.Contains(cd, ":") {
		t.Fatalf("countdown shows %q", cd)
	}

	// Buyer one pays (demo); both pages show the seats sold.
	run(one, "pay", chromedp.Click(chromedp.CSS("#pay-btn")))
	for name, b := range map[string]context.Context{"one": one, "two": two} {
		poll(b, "buyer "+name+" sees the seats sold",
			classOf("stalls/B/3")+`.includes("s-sold") && `+classOf("stalls/B/4")+`.includes("s-sold")`, 5*time.Second)
	}
	if s := eval(one, `document.getElementById("hold-state").textContent`); !strings.HasPrefix(s, "Paid") {
		t.Fatalf("buyer one's hold panel says %q", s)
	}

	// Keyboard: buyer two moves along a row with the arrow keys and selects
	// with Enter; the selection shows in aria-pressed.
	run(two, "keyboard",
		chromedp.Focus(chromedp.CSS(seatSel("stalls/A/1"))),
		chromedp.SendKeys(chromedp.CSS(seatSel("stalls/A/1")), kb.ArrowRight),
	)
	if id := eval(two, `document.activeElement.dataset.id`); id != "stalls/A/2" {
		t.Fatalf("after ArrowRight focus is on %q", id)
	}
	run(two, "select by keyboard", chromedp.SendKeys(chromedp.CSS(seatSel("stalls/A/2")), kb.Enter))
	poll(two, "keyboard selection", fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed") === "true"`, seatSel("stalls/A/2")), 2*time.Second)
	// And release flow: two holds it by keyboard-selected seat and releases.
	run(two, "hold by two", chromedp.Click(chromedp.CSS("#hold-btn")))
	poll(two, "two's hold", `!document.getElementById("hold").hidden`, 10*time.Second)
	poll(one, "one sees two's hold", classOf("stalls/A/2")+`.includes("s-held")`, 5*time.Second)
	run(two, "release", chromedp.Click(chromedp.CSS("#release-btn")))
	poll(one, "one sees the release", classOf("stalls/A/2")+`.includes("s-free")`, 5*time.Second)
}

// TestBrowserShowsLatePayment: a buyer who went to pay and whose hold
// expired before the payment was confirmed is told so on the page (the
// seats were released; a charge is refunded), not left waiting.
func TestBrowserShowsLatePayment(t *testing.T) {
	requireChromium(t)
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.DemoPayments = false
		c.PaymentSecretFile = writeFile(t, t.TempDir(), "pay", "callback-secret-0123456789")
	})
	browser := startChromium(t, 60*time.Second)
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	cdRun(ctx, t, "open the page", chromedp.Navigate(fe.url+"/"))
	cdPoll(ctx, t, "page ready", `document.body.dataset.ready === "true"`, 15*time.Second)
	cdRun(ctx, t, "select and hold", chromedp.Click(chromedp.CSS(seatSel("stalls/C/3"))), chromedp.Click(chromedp.CSS("#hold-btn")))
	cdPoll(ctx, t, "hold shown", `!document.getElementById("hold").hidden`, 10*time.Second)
	cdRun(ctx, t, "pay", chromedp.Click(chromedp.CSS("#pay-btn")))
	cdPoll(ctx, t, "waiting for payment", `document.getElementById("hold-state").textContent.startsWith("Waiting for your payment")`, 10*time.Second)
	ids := fs.HoldIDs() // the buyer's one hold
	fs.Expire(ids[len(ids)-1])
	cdPoll(ctx, t, "the page tells the truth", `!document.getElementById("notice").hidden && document.getElementById("notice").textContent.includes("refunded")`, 15*time.Second)
	if s := cdEval[string](ctx, t, `String(document.getElementById("hold").hidden)`); s != "true" {
		t.Fatalf("hold panel still shown after the hold expired")
	}
}
