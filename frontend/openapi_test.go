package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/openapitest"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// apiCaller is one client (one cookie jar: one session) of one front end,
// whose every exchange is checked against docs/api/buyer.openapi.yaml.
type apiCaller struct {
	t     *testing.T
	c     *openapitest.Checker
	base  string
	hc    *http.Client
	codes map[string]bool
}

func newCaller(t *testing.T, c *openapitest.Checker, base string, codes map[string]bool) *apiCaller {
	jar, _ := cookiejar.New(nil)
	return &apiCaller{t: t, c: c, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}, codes: codes}
}

// do sends method path with body (JSON text, "" for none) and headers (name,
// value pairs). bad says the request breaks the document on purpose.
func (a *apiCaller) do(method, path, body string, bad bool, hdr ...string) openapitest.Answer {
	a.t.Helper()
	req, b := openapitest.Request(method, a.base+path, body, hdr...)
	ans := a.c.Do(a.hc, req, b, bad)
	var e struct{ Error string }
	if ans.Status >= 400 && json.Unmarshal(ans.Body, &e) == nil {
		a.codes[e.Error] = true
	}
	return ans
}

// expect requires a status and, for an error, its code; it returns the body.
func (a *apiCaller) expect(ans openapitest.Answer, status int, code string) map[string]any {
	a.t.Helper()
	var m map[string]any
	json.Unmarshal(ans.Body, &m)
	if ans.Status != status || (code != "" && (m == nil || m["error"] != code)) {
		a.t.Fatalf("answer %d %s, want %d %s", ans.Status, ans.Body, status, code)
	}
	return m
}

// unstartedFrontend is a front end whose upstream never ran: it has no seat
// map, and its shard calls go to shardURL with token.
func unstartedFrontend(t *testing.T, shardURL, token string, mut func(*Config)) string {
	cfg := testConfig(t, shardURL, token)
	cfg.RetryBudget = 300 * time.Millisecond
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestBuyerAPIMatchesOpenAPI drives every endpoint of the front end (against
// the real shard binary), error paths included, and validates each request
// and answer against the document; every documented operation and error
// code must be reached, and every route the front end registers documented.
func TestBuyerAPIMatchesOpenAPI(t *testing.T) {
	sh := startRealShard(t, testSeatMap, "--max-seats-per-holder", "4")
	paySecret := "payment-secret-0123456789"
	demo := startFrontend(t, sh.url(), sh.token, nil)
	paid := startFrontend(t, sh.url(), sh.token, func(c *Config) {
		c.DemoPayments = false
		c.PaymentSecretFile = writeFile(t, t.TempDir(), "pay", paySecret)
		c.PaymentURL = "https://pay.example/checkout"
		c.MaxSeatsPerHolder, c.ClientSeats = 2, 3
		c.MaxStreams, c.MaxClientStreams = 2, 1
		c.TrustedProxyHops = 1 // streams from several addresses
	})
	wrongToken := unstartedFrontend(t, sh.url(), "not-the-token", nil)
	noShard := unstartedFrontend(t, "http://"+freeAddr(t), "x", func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	roomShard := startRealShard(t, roomSeatMap)
	room := startFrontend(t, roomShard.url(), roomShard.token, nil)
	c := openapitest.New(t, openapitest.Doc("buyer.openapi.yaml"), demo.url, paid.url, wrongToken, noShard, room.url)
	codes := map[string]bool{}
	buyerRoom(t, c, codes, roomShard, room)

	a, b := newCaller(t, c, demo.url, codes), newCaller(t, c, demo.url, codes)
	for _, path := range []string{"/", "/healthz", "/readyz", "/metrics", "/api/session", "/api/seats"} {
		a.expect(a.do("GET", path, "", false), 200, "")
	}
	if m := a.expect(a.do("POST", "/api/room", `{}`, false), 200, ""); m["enabled"] != false {
		t.Fatalf("POST /api/room without a room: %v", m)
	}
	a.expect(a.do("DELETE", "/api/room", "", false), 200, "")
	stream := openBuyerStream(t, demo.url+"/api/events", "")
	ext := a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/D/9"]}`, false), 201, "")
	extMade := time.Now()
	buyerExtend(a, b, ext, false)
	buyerHolds(a, b)
	buyerPayDemo(a, b)
	a.expect(a.do("POST", "/payments/callback", `{"holdId":"h1","orderId":"o1","status":"paid"}`, false,
		SignatureHeader, "t=1,v1=00"), 404, "payments_disabled")
	checkBuyerStream(t, c, stream, 0)
	v := uint64(a.expect(a.do("GET", "/api/seats", "", false), 200, "")["version"].(float64))
	resumed := openBuyerStream(t, fmt.Sprintf("%s/api/events?lastEventId=%d", demo.url, v), "")
	a.expect(a.do("POST", "/api/holds", `{"seats":["balcony/A/1"]}`, false), 201, "")
	checkBuyerStream(t, c, resumed, v)

	time.Sleep(time.Until(extMade.Add(1100 * time.Millisecond))) // an extension must gain a second
	buyerExtend(a, b, ext, true)

	p := newCaller(t, c, paid.url, codes)
	buyerPayments(p, []byte(paySecret))
	p.expect(p.do("POST", "/api/holds", `{"seats":["stalls/C/5","stalls/C/6"]}`, false), 429, "rate_limited") // 2 + 2 seats > 3
	buyerStreamLimits(t, c, p, paid)

	w := newCaller(t, c, wrongToken, codes)
	w.expect(w.do("GET", "/readyz", "", false), 503, "")
	w.expect(w.do("GET", "/api/seats", "", false), 503, "not_ready")
	w.expect(w.do("POST", "/api/holds", `{"seats":["stalls/A/1"]}`, false), 503, "not_ready")
	w.expect(w.do("GET", "/api/holds/h1", "", false), 502, "upstream_misconfigured")
	n := newCaller(t, c, noShard, codes)
	n.expect(n.do("DELETE", "/api/holds/h1", "", false), 503, "shard_unavailable")
	// The first request was keyed on the address; the session it got has a
	// bucket of its own.
	n.expect(n.do("GET", "/api/session", "", false), 200, "")
	n.expect(n.do("GET", "/api/session", "", false), 200, "")
	n.expect(n.do("GET", "/api/session", "", false), 429, "rate_limited")

	for _, code := range c.Enum("Error", "error") {
		if !codes[code] && code != "bad_upstream" { // a shard answering what it never does
			t.Errorf("error code %s is documented but no test request got it", code)
		}
	}
	c.RequireAllExercised()
	c.RequireDocumented(openapitest.RoutesInSource(t, "server.go", "routes"),
		map[string]string{"GET /static/": "the page's scripts and styles, not an API"})
	t.Logf("documented answers not produced here: %v", c.Unexercised())
}

// buyerHolds exercises POST /api/holds and the reads of a hold.
func buyerHolds(a, b *apiCaller) {
	h := a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/A/1","stalls/A/2"]}`, false, "Idempotency-Key", "act-1"), 201, "")
	again := a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/A/1","stalls/A/2"]}`, false, "Idempotency-Key", "act-1"), 201, "")
	if h["id"] != again["id"] {
		a.t.Fatalf("a retried hold is another hold: %v, %v", h, again)
	}
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/A/3"]}`, false, "Idempotency-Key", "act-1"), 422, "idempotency_mismatch")
	b.expect(b.do("POST", "/api/holds", `{"seats":["stalls/A/2","stalls/A/3"]}`, false), 409, "seats_unavailable")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/Z/9"]}`, false), 400, "unknown_seat")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/B/1","stalls/B/2","stalls/B/3"],"ttlSeconds":300}`, false), 422, "too_many_seats")
	for _, bad := range []string{`{"seats":[]}`, `{"seats":["stalls/B/1"],"holder":"x"}`, `not json`} {
		a.expect(a.do("POST", "/api/holds", bad, true), 400, "invalid_request")
	}
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/B/1","stalls/B/2","stalls/B/3","stalls/B/4","stalls/B/5","stalls/B/6","stalls/B/7","stalls/B/8","stalls/B/9"]}`, false), 422, "too_many_seats")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/B/1"]}`, false, "Sec-Fetch-Site", "cross-site"), 403, "cross_origin")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/B/1"]}`, true, "Idempotency-Key", "not a key!"), 400, "invalid_request")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/B/1"]}`, true, "Content-Type", "text/plain"), 415, "invalid_request")
	big := `{"seats":["` + strings.Repeat("stalls/B/1", 2000) + `"]}`
	a.expect(a.do("POST", "/api/holds", big, false), 413, "payload_too_large")

	id := "/api/holds/" + h["id"].(string)
	a.expect(a.do("GET", id, "", false), 200, "")
	b.expect(b.do("GET", id, "", false), 404, "hold_not_found")
	b.expect(b.do("DELETE", id, "", false), 404, "hold_not_found")
	a.expect(a.do("DELETE", id, "", false, "Sec-Fetch-Site", "cross-site"), 403, "cross_origin")
	a.expect(a.do("GET", "/api/holds/no%20such", "", true), 404, "hold_not_found")
}

// buyerPayDemo pays and releases with demo payments.
func buyerPayDemo(a, b *apiCaller) {
	h := a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/D/1"]}`, false), 201, "")
	id := "/api/holds/" + h["id"].(string)
	b.expect(b.do("POST", id+"/pay", `{}`, false), 404, "hold_not_found")
	a.expect(a.do("POST", id+"/pay", `{}`, true, "Idempotency-Key", "no good"), 400, "invalid_request")
	a.expect(a.do("POST", id+"/pay", `{}`, true, "Content-Type", "text/plain"), 415, "invalid_request")
	a.expect(a.do("POST", id+"/pay", `{}`, false, "Sec-Fetch-Site", "cross-site"), 403, "cross_origin")
	if s := a.expect(a.do("POST", id+"/pay", `{}`, false, "Idempotency-Key", "pay-1"), 200, ""); s["state"] != shardapi.SeatSold {
		a.t.Fatalf("after pay: %v", s)
	}
	a.expect(a.do("POST", id+"/pay", `{}`, false), 200, "")
	a.expect(a.do("DELETE", id, "", false), 409, "hold_sold")

	r := b.expect(b.do("POST", "/api/holds", `{"seats":["balcony/B/6"]}`, false), 201, "")
	rid := "/api/holds/" + r["id"].(string)
	if s := b.expect(b.do("DELETE", rid, "", false), 200, ""); s["state"] != "released" {
		b.t.Fatalf("after release: %v", s)
	}
	b.expect(b.do("DELETE", rid, "", false), 200, "")
	b.expect(b.do("POST", rid+"/pay", `{}`, false), 409, "hold_expired")
}

// buyerPayments pays through the payment service's signed callback.
func buyerPayments(c *apiCaller, secret []byte) {
	callback := func(body string, bad bool, sig string) openapitest.Answer {
		if sig == "" {
			sig = SignPayment(secret, []byte(body), time.Now())
		}
		return c.do("POST", "/payments/callback", body, bad, SignatureHeader, sig)
	}
	h := c.expect(c.do("POST", "/api/holds", `{"seats":["stalls/C/1"]}`, false), 201, "")
	hid := h["id"].(string)
	started := c.expect(c.do("POST", "/api/holds/"+hid+"/pay", `{}`, false), 202, "")
	if started["paymentUrl"] != "https://pay.example/checkout?hold="+hid {
		c.t.Fatalf("pay: %v", started)
	}
	c.expect(c.do("POST", "/api/holds/"+hid+"/pay", `{}`, false), 202, "")
	paidBody := `{"holdId":"` + hid + `","orderId":"order-1","status":"paid"}`
	c.expect(c.do("POST", "/payments/callback", paidBody, true), 401, "bad_signature")
	if a := c.expect(callback(paidBody, false, "t=1,v1=00"), 401, "bad_signature"); a["final"] != false || a["action"] != "retry" {
		c.t.Fatalf("a bad signature is not final: %v", a)
	}
	c.expect(callback(`{"holdId":"`+hid+`","status":"refunded"}`, true, ""), 400, "invalid_request")
	c.expect(callback(`{"holdId":"`+hid+`","orderId":"`+strings.Repeat("o", 20<<10)+`","status":"paid"}`, true, ""), 413, "payload_too_large")
	c.expect(callback(`{"holdId":"h999999","orderId":"o","status":"paid"}`, false, ""), 404, "hold_not_found")
	if s := c.expect(callback(paidBody, false, ""), 200, ""); s["state"] != shardapi.SeatSold {
		c.t.Fatalf("after the paid callback: %v", s)
	}
	c.expect(callback(paidBody, false, ""), 200, "")
	c.expect(callback(`{"holdId":"`+hid+`","orderId":"order-2","status":"paid"}`, false, ""), 409, "hold_sold")
	c.expect(c.do("POST", "/api/holds/"+hid+"/pay", `{}`, false), 200, "")

	f := c.expect(c.do("POST", "/api/holds", `{"seats":["stalls/C/2"]}`, false), 201, "")
	fid := f["id"].(string)
	c.expect(c.do("POST", "/api/holds/"+fid+"/pay", `{}`, false), 202, "")
	if s := c.expect(callback(`{"holdId":"`+fid+`","status":"failed"}`, false, ""), 200, ""); s["state"] != "released" {
		c.t.Fatalf("after the failed callback: %v", s)
	}
	if a := c.expect(callback(`{"holdId":"`+fid+`","orderId":"order-3","status":"paid"}`, false, ""), 409, "hold_expired"); a["final"] != true || a["action"] != "refund" {
		c.t.Fatalf("a payment after the hold ended must be refunded: %v", a)
	}
}

type buyerStream struct {
	req    *http.Request
	resp   *http.Response
	st     *openapitest.Stream
	cancel func()
}

// openBuyerStream opens a stream, from the client address forwardedFor
// when it is not "" (to a front end that trusts one proxy).
func openBuyerStream(t *testing.T, url, forwardedFor string) *buyerStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return &buyerStream{req: req, resp: resp, st: openapitest.NewStream(resp.Body), cancel: cancel}
}

// checkBuyerStream reads a stream's first events (a snapshot, or with
// after > 0 the first seats event after that version), validates them and the
// answer, closes it and returns the last version read.
func checkBuyerStream(t *testing.T, c *openapitest.Checker, s *buyerStream, after uint64) uint64 {
	t.Helper()
	defer func() { s.cancel(); s.resp.Body.Close() }()
	ev, err := s.st.Next()
	if err != nil {
		t.Fatalf("event stream: %v\nread: %q", err, s.st.Raw.String())
	}
	var d struct{ Version uint64 }
	json.Unmarshal([]byte(ev.Data), &d)
	switch {
	case after == 0 && ev.Event == "snapshot":
		c.Event("SnapshotEvent", []byte(ev.Data))
	case after > 0 && ev.Event == "seats" && d.Version > after:
		c.Event("SeatsEvent", []byte(ev.Data))
	default:
		t.Fatalf("first event %q (version %d) of a stream after %d", ev.Event, d.Version, after)
	}
	if ev.ID != fmt.Sprint(d.Version) || len(s.st.Retry) != 1 || s.st.Retry[0] != "1000" {
		t.Fatalf("event id %s for version %d, retry %v", ev.ID, d.Version, s.st.Retry)
	}
	c.Check(openapitest.Exchange{Req: s.req, Resp: openapitest.Answer{
		Status: s.resp.StatusCode, Header: s.resp.Header, Body: s.st.Raw.Bytes()}})
	return d.Version
}

// buyerExtend extends a hold: refused until it would gain a second (the
// first call, right after the hold was made), then extended.
func buyerExtend(a, b *apiCaller, h map[string]any, gain bool) {
	id := "/api/holds/" + h["id"].(string) + "/extend"
	tok := `{"holdToken":"` + h["holdToken"].(string) + `"}`
	if !gain {
		a.expect(a.do("POST", id, tok, false), 409, "extend_limit")
		a.expect(a.do("POST", id, `{}`, true), 400, "invalid_request")
		a.expect(a.do("POST", id, `{"holdToken":"1.forged"}`, false), 400, "invalid_request")
		a.expect(a.do("POST", id, `{"holdToken":"x","more":1}`, true), 400, "invalid_request")
		b.expect(b.do("POST", id, tok, false), 404, "hold_not_found")
		a.expect(a.do("POST", id, tok, false, "Sec-Fetch-Site", "cross-site"), 403, "cross_origin")
		a.expect(a.do("POST", id, tok, true, "Content-Type", "text/plain"), 415, "invalid_request")
		a.expect(a.do("POST", id, `{"holdToken":"`+strings.Repeat("t", 20<<10)+`"}`, false), 413, "payload_too_large")
		return
	}
	after := a.expect(a.do("POST", id, tok, false), 200, "")
	if after["expiresAt"] == h["expiresAt"] {
		a.t.Fatalf("extended hold kept its expiry: %v", after)
	}
	a.expect(a.do("POST", "/api/holds/"+h["id"].(string)+"/pay", `{}`, false), 200, "")
	a.expect(a.do("POST", id, tok, false), 409, "not_extendable")
}

// buyerStreamLimits fills a front end that allows 2 streams, 1 per client
// address: the second stream of an address is 429, a third stream 503.
func buyerStreamLimits(t *testing.T, c *openapitest.Checker, p *apiCaller, fe *testFrontend) {
	t.Helper()
	first := openBuyerStream(t, fe.url+"/api/events", "10.0.0.1")
	waitUntil(t, 5*time.Second, "the first stream counted", func() bool { return fe.s.hub.subscribers() == 1 })
	ans := p.do("GET", "/api/events", "", false, "X-Forwarded-For", "10.0.0.1")
	p.expect(ans, 429, "too_many_streams")
	second := openBuyerStream(t, fe.url+"/api/events", "10.0.0.2")
	waitUntil(t, 5*time.Second, "the second stream counted", func() bool { return fe.s.hub.subscribers() == 2 })
	ans = p.do("GET", "/api/events", "", false, "X-Forwarded-For", "10.0.0.3")
	p.expect(ans, 503, "too_many_streams")
	checkBuyerStream(t, c, first, 0)
	checkBuyerStream(t, c, second, 0)
}

// buyerRoom drives the waiting room's endpoints against a shard whose room
// is configured through PUT /v1/room: not open yet, then open with room for
// one buyer, then sold out.
func buyerRoom(t *testing.T, c *openapitest.Checker, codes map[string]bool, sh *realShard, fe *testFrontend) {
	t.Helper()
	far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, b := sh.call("PUT", "/v1/room", `{"maxActiveBuyers":1,"idleTimeoutSeconds":60,"opensAt":"`+far+`"}`); code != 200 {
		t.Fatalf("PUT /v1/room: %d %s", code, b)
	}
	waitUntil(t, 10*time.Second, "the front end sees the room", func() bool { return fe.s.roomOn() })
	a, b := newCaller(t, c, fe.url, codes), newCaller(t, c, fe.url, codes)
	a.expect(a.do("POST", "/api/room", `{}`, false), 403, "waiting_room_not_open")
	sh.configureRoom(1, time.Minute)
	waitRoomOn(t, fe)
	stream := openBuyerStream(t, fe.url+"/api/room/events", "")
	if m := a.expect(a.do("POST", "/api/room", `{}`, false), 200, ""); m["state"] != "admitted" {
		t.Fatalf("first buyer: %v", m)
	}
	if m := b.expect(b.do("POST", "/api/room", `{}`, false), 200, ""); m["state"] != "waiting" || m["room"] == nil {
		t.Fatalf("second buyer: %v", m)
	}
	b.expect(b.do("POST", "/api/room", `{"seats":[]}`, true), 400, "invalid_request")
	b.expect(b.do("POST", "/api/room", `{}`, false, "Sec-Fetch-Site", "cross-site"), 403, "cross_origin")
	b.expect(b.do("POST", "/api/holds", `{"seats":["stalls/A/1"]}`, false), 403, "admission_required")
	h := a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/A/1"]}`, false), 201, "")
	a.expect(a.do("DELETE", "/api/room", "", false), 200, "")
	a.expect(a.do("POST", "/api/holds", `{"seats":["stalls/A/2"]}`, false), 409, "admission_ended")
	a.expect(a.do("POST", "/api/holds/"+h["id"].(string)+"/pay", `{}`, false), 200, "")
	if m := b.expect(b.do("POST", "/api/room", `{}`, false), 200, ""); m["state"] != "admitted" {
		t.Fatalf("second buyer after the first left: %v", m)
	}
	ev, err := stream.st.Next()
	if err != nil || ev.Event != "room" || ev.ID != "" {
		t.Fatalf("room stream: %v %+v", err, ev)
	}
	c.Event("RoomSummary", []byte(ev.Data))
	stream.cancel()
	stream.resp.Body.Close()
	c.Check(openapitest.Exchange{Req: stream.req, Resp: openapitest.Answer{
		Status: stream.resp.StatusCode, Header: stream.resp.Header, Body: stream.st.Raw.Bytes()}})
	hb := b.expect(b.do("POST", "/api/holds", `{"seats":["stalls/A/2","stalls/A/3","stalls/A/4","stalls/A/5","stalls/A/6"]}`, false), 201, "")
	b.expect(b.do("POST", "/api/holds/"+hb["id"].(string)+"/pay", `{}`, false), 200, "")
	a.expect(a.do("POST", "/api/room", `{}`, false), 410, "sold_out")
}
