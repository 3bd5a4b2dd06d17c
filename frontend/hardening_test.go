package frontend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func sessionCookie(t testing.TB, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	return nil
}

// TestSessionExpiresAndKeyRotates: a cookie carries its issue time and is
// refused after maxAge; a cookie signed with the previous key is accepted
// and re-signed with the current key, keeping its holder and issue time;
// without the previous key it is a new session.
func TestSessionExpiresAndKeyRotates(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	before := &sessions{key: oldKey, maxAge: time.Hour, now: func() time.Time { return now }}
	v := before.encode("b-abc", now)
	if se, ok := before.decode(v); !ok || se.holder != "b-abc" || se.stale {
		t.Fatalf("fresh cookie: %+v %v", se, ok)
	}
	now = now.Add(time.Hour)
	if _, ok := before.decode(v); ok {
		t.Fatal("cookie accepted after maxAge")
	}
	now = now.Add(-30 * time.Minute)
	rotated := &sessions{key: newKey, prev: oldKey, maxAge: time.Hour, now: before.now}
	se, ok := rotated.decode(v)
	if !ok || !se.stale || se.holder != "b-abc" {
		t.Fatalf("cookie of the previous key after rotation: %+v %v", se, ok)
	}
	resigned := rotated.encode(se.holder, se.issued)
	if se2, ok := rotated.decode(resigned); !ok || se2.stale || !se2.issued.Equal(se.issued) {
		t.Fatalf("re-signed cookie: %+v %v", se2, ok)
	}
	if _, ok := (&sessions{key: newKey, maxAge: time.Hour, now: before.now}).decode(v); ok {
		t.Fatal("cookie of a key no longer configured accepted")
	}
	if _, ok := rotated.decode(before.encode("b-abc", now.Add(2*time.Minute))); ok {
		t.Fatal("cookie issued in the future accepted")
	}
	if _, ok := rotated.decode("b-abc." + strings.SplitN(v, ".", 2)[1][:3]); ok {
		t.Fatal("truncated cookie accepted")
	}
}

// TestKeyRotationKeepsBuyersLoggedIn runs two pods, before and after a key
// rotation: the buyer keeps the holder (and so its holds) and gets a cookie
// under the new key; the cookie is Secure unless --insecure-cookies.
func TestKeyRotationKeepsBuyersLoggedIn(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	dir := t.TempDir()
	oldKey := writeFile(t, dir, "old", strings.Repeat("o", 32))
	a := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.SessionKeyFile = oldKey })
	b := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.SessionKeyFile = writeFile(t, dir, "new", strings.Repeat("n", 32))
		c.SessionPrevKey = oldKey
		c.InsecureCookies = true
	})
	resp, err := http.Get(a.url + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := sessionCookie(t, resp)
	if c == nil || !c.Secure {
		t.Fatalf("cookie %+v: want Secure by default", c)
	}
	se, _ := a.s.sess.decode(c.Value)
	req, _ := http.NewRequest("GET", b.url+"/api/session", nil)
	req.AddCookie(c)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Holder string }
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	nc := sessionCookie(t, resp)
	if got.Holder != se.holder || nc == nil || nc.Secure {
		t.Fatalf("after rotation: holder %q (was %q), new cookie %+v (want one, not Secure with --insecure-cookies)", got.Holder, se.holder, nc)
	}
	if se2, ok := b.s.sess.decode(nc.Value); !ok || se2.stale || se2.holder != se.holder {
		t.Fatalf("re-signed cookie %+v %v", se2, ok)
	}
}

// TestWritesNeedJSONFromOwnOrigin: a write without a JSON content type is
// 415; a write a browser sends from another site is 403; the page's own
// origin and listed origins pass. Nothing refused reaches the shard.
func TestWritesNeedJSONFromOwnOrigin(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.AllowedOrigins = "https://tickets.example" })
	b := newBuyer(t, fe.url)
	mustStatus(t, b.do("GET", "/api/session", nil, ""), 200, "session")
	send := func(method, path, ctype string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, fe.url+path, strings.NewReader(`{"seats":["stalls/A/1"]}`))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		what, method, ctype string
		hdr                 map[string]string
		want                int
	}{
		{"no content type", "POST", "", nil, 415},
		{"text/plain", "POST", "text/plain", nil, 415},
		{"form", "POST", "application/x-www-form-urlencoded", nil, 415},
		{"other site (Origin)", "POST", "application/json", map[string]string{"Origin": "https://evil.example"}, 403},
		{"other site (Sec-Fetch-Site)", "POST", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"release from another site", "DELETE", "", map[string]string{"Origin": "https://evil.example"}, 403},
	} {
		path := "/api/holds"
		if c.method == "DELETE" {
			path = "/api/holds/h1"
		}
		if got := send(c.method, path, c.ctype, c.hdr); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	for _, p := range fs.Paths() {
		if strings.Contains(p, "/v1/holds") {
			t.Errorf("a refused write reached the shard: %s", p)
		}
	}
	if got := send("POST", "/api/holds", "application/json; charset=utf-8", map[string]string{"Origin": fe.url}); got != 201 {
		t.Errorf("own origin: %d", got)
	}
	if got := send("POST", "/api/holds", "application/json", map[string]string{"Origin": "https://tickets.example"}); got != 409 {
		t.Errorf("listed origin (seat already held by this buyer): %d, want 409", got)
	}
}

// TestHoldRequestsCheckedBeforeShard: bad hold ids, unknown seats and more
// seats than a hold may name never reach the shard; a buyer's ttlSeconds
// is ignored and the showtime's holdTTL sent instead.
func TestHoldRequestsCheckedBeforeShard(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.MaxSeatsPerHolder = 4; c.HoldTTL = 5 * time.Minute })
	b := newBuyer(t, fe.url)
	mustStatus(t, b.do("GET", "/api/session", nil, ""), 200, "session")
	for _, id := range []string{"..", ".", "h1.json", "h1%2F..%2Fseats", strings.Repeat("h", 65), "h%00"} {
		if r := b.do("GET", "/api/holds/"+id, nil, ""); r.Status < 400 {
			t.Errorf("hold id %q: %d", id, r.Status)
		}
		if r := b.do("POST", "/api/holds/"+id+"/pay", map[string]any{}, ""); r.Status < 400 {
			t.Errorf("pay hold id %q: %d", id, r.Status)
		}
	}
	r := b.hold("stalls/A/1", "stalls/A/2", "stalls/A/3", "stalls/A/4", "stalls/A/5")
	if r.Status != 422 || r.errCode() != "too_many_seats" || !strings.Contains(string(r.Body), "4 seats") {
		t.Errorf("5 seats with a limit of 4: %d %s", r.Status, r.Body)
	}
	if r := b.hold("stalls/Z/1"); r.Status != 400 || r.errCode() != "unknown_seat" {
		t.Errorf("unknown seat: %d %s", r.Status, r.Body)
	}
	for _, p := range fs.Paths() {
		if strings.Contains(p, "/v1/holds") {
			t.Errorf("reached the shard: %s", p)
		}
	}
	mustStatus(t, b.do("POST", "/api/holds", map[string]any{"seats": []string{"stalls/A/1"}, "ttlSeconds": 7200}, ""), 201, "hold")
	if got := fs.LastTTL(); got != 300 {
		t.Fatalf("ttlSeconds sent to the shard: %d, want the showtime's 300", got)
	}
}

// TestShardRedirectNotFollowed: a redirect from the shard's address is not
// followed (it would take the bearer token elsewhere).
func TestShardRedirectNotFollowed(t *testing.T) {
	hits := 0
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/steal", http.StatusTemporaryRedirect))
	defer redirecting.Close()
	c := newShardClient(redirecting.URL, "secret-token", time.Second, newMetrics(func() float64 { return 0 }))
	resp, err := c.do(t.Context(), "get_hold", "GET", "/v1/holds/h1", nil, "")
	if err != nil || resp.Status != http.StatusTemporaryRedirect || hits != 0 {
		t.Fatalf("redirect: resp %+v err %v, %d requests elsewhere", resp, err, hits)
	}
}

func TestExtendTTL(t *testing.T) {
	c := time.Unix(1_800_000_000, 0)
	ttl, life := 10*time.Minute, 20*time.Minute
	for _, tc := range []struct {
		name         string
		now, expires time.Time
		want         time.Duration
		ok           bool
	}{
		{"early: a full holdTTL from now", c.Add(5 * time.Minute), c.Add(ttl), ttl, true},
		{"late: up to the lifetime", c.Add(15*time.Minute + 500*time.Millisecond), c.Add(ttl), 4*time.Minute + 59*time.Second, true},
		{"at the lifetime: no more", c.Add(16 * time.Minute), c.Add(life), 0, false},
		{"just made: nothing to gain", c.Add(300 * time.Millisecond), c.Add(ttl), 0, false},
	} {
		got, ok := extendTTL(tc.now, c, tc.expires, ttl, life)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestExtendWithinShowtimeLimits: a hold comes with a token; extending it
// needs the token, gives at most holdTTL from now and never passes creation
// plus maxHoldLifetime; another buyer cannot extend it.
func TestExtendWithinShowtimeLimits(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.HoldTTL = 4 * time.Second; c.MaxHoldLifetime = 6 * time.Second })
	b := newBuyer(t, fe.url)
	r := b.hold("stalls/B/1")
	mustStatus(t, r, 201, "hold")
	var h struct {
		shardapi.Hold
		HoldToken string `json:"holdToken"`
	}
	_ = json.Unmarshal(r.Body, &h)
	if h.HoldToken == "" {
		t.Fatalf("no holdToken in %s", r.Body)
	}
	path := "/api/holds/" + h.ID + "/extend"
	if r := b.do("POST", path, map[string]any{}, ""); r.Status != 400 {
		t.Errorf("extend without token: %d", r.Status)
	}
	if r := newBuyer(t, fe.url).do("POST", path, map[string]any{"holdToken": h.HoldToken}, ""); r.Status != 404 {
		t.Errorf("another buyer extends: %d", r.Status)
	}
	created := time.Now()
	waitUntil(t, 5*time.Second, "a second to pass", func() bool { return time.Since(created) > 2*time.Second })
	r = b.do("POST", path, map[string]any{"holdToken": h.HoldToken}, "")
	mustStatus(t, r, 200, "extend")
	if ttl := fs.LastTTL(); ttl < 1 || ttl > 4 {
		t.Fatalf("extend sent ttlSeconds %d, want 1..4 (holdTTL)", ttl)
	}
	limit := created.Add(6*time.Second + time.Second)
	for i := 0; i < 10; i++ {
		r = b.do("POST", path, map[string]any{"holdToken": h.HoldToken}, "")
		if r.Status == 409 {
			break
		}
		mustStatus(t, r, 200, "extend again")
		if exp := r.hold(t).ExpiresAt; exp.After(limit) {
			t.Fatalf("extended to %v, past creation + maxHoldLifetime (%v)", exp, limit)
		}
		time.Sleep(700 * time.Millisecond)
	}
	if r.Status != 409 || r.errCode() != "extend_limit" {
		t.Fatalf("extending past the lifetime: %d %s", r.Status, r.Body)
	}
}

// TestPaymentCallbackFinalOrRetry: a payment for an expired hold is answered
// final with action refund, counted once however often it is delivered;
// a payment the shard cannot take now is retryable.
func TestPaymentCallbackFinalOrRetry(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	secret := []byte("callback-secret-0123456789")
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) {
		c.DemoPayments = false
		c.PaymentSecretFile = writeFile(t, t.TempDir(), "pay", string(secret))
		c.RetryBudget = 200 * time.Millisecond
	})
	b := newBuyer(t, fe.url)
	callback := func(holdID, order, status string) (int, CallbackAnswer) {
		body := []byte(fmt.Sprintf(`{"holdId":%q,"orderId":%q,"status":%q}`, holdID, order, status))
		req, _ := http.NewRequest("POST", fe.url+"/payments/callback", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, SignPayment(secret, body, time.Now()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a CallbackAnswer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	late := b.hold("stalls/C/1").hold(t)
	mustStatus(t, b.do("POST", "/api/holds/"+late.ID+"/pay", map[string]any{}, ""), 202, "pay")
	fs.Expire(late.ID)
	for i := 0; i < 2; i++ { // delivered twice
		code, a := callback(late.ID, "ord-late", "paid")
		if code != 409 || a.Error != "hold_expired" || !a.Final || a.Action != "refund" || a.OrderID != "ord-late" {
			t.Fatalf("paid after expiry: %d %+v", code, a)
		}
	}
	if n := testutilCounter(t, fe, "boxoffice_frontend_paid_after_expiry_total"); n != 1 {
		t.Fatalf("paid_after_expiry_total = %v, want 1 (one hold, delivered twice)", n)
	}

	sold := b.hold("stalls/C/2").hold(t)
	if code, _ := callback(sold.ID, "ord-1", "paid"); code != 200 {
		t.Fatalf("paid in time: %d", code)
	}
	if code, a := callback(sold.ID, "ord-2", "paid"); code != 409 || !a.Final || a.Action != "refund" {
		t.Fatalf("second order for a sold hold: %d %+v", code, a)
	}
	if code, a := callback(sold.ID, "ord-1", "failed"); code != 409 || !a.Final || a.Action != "none" {
		t.Fatalf("failed for a sold hold: %d %+v", code, a)
	}
	if code, a := callback("h999", "ord-3", "paid"); code != 404 || !a.Final || a.Action != "refund" {
		t.Fatalf("unknown hold: %d %+v", code, a)
	}

	other := b.hold("stalls/C/3").hold(t)
	fs.FailWrites(1000)
	code, a := callback(other.ID, "ord-4", "paid")
	fs.FailWrites(0)
	if code != 503 || a.Final || a.Action != "retry" {
		t.Fatalf("shard unavailable: %d %+v", code, a)
	}
	if code, _ := callback(other.ID, "ord-4", "paid"); code != 200 {
		t.Fatalf("retry after the shard is back: %d", code)
	}
}
