package frontend

import (
	"net/http"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// hallMap is 290 seats: rows A-J of 29.
const hallMap = `sections:
- name: hall
  rows:
  - {names: "A-J", seats: "1-29"}
`

// productionLimits undoes the test helper's generous limits: the front end
// runs with the defaults an operator-run pod gets.
func productionLimits(c *Config) {
	d := DefaultConfig()
	c.RateLimit, c.RateBurst = d.RateLimit, d.RateBurst
	c.NewSessionRate, c.NewSessionBurst = d.NewSessionRate, d.NewSessionBurst
	c.ClientSeats, c.MaxClientStreams = d.ClientSeats, d.MaxClientStreams
}

// TestHoardingAttackFails replays the attack from one address: 37 rounds of
// "open the page, hold 8 seats with ttlSeconds 7200" against a real shard
// with its default 2 h cap, then "pay" on every hold won. With the defaults
// most rounds are refused with 429, the holds won live no longer than the
// showtime's holdTTL whatever the buyer asked, the payment window is the
// showtime's paymentTTL, and the address holds at most its seat budget.
func TestHoardingAttackFails(t *testing.T) {
	sh := startRealShard(t, hallMap)
	fe := startFrontend(t, sh.url(), sh.token, func(c *Config) {
		productionLimits(c)
		c.DemoPayments = false
		c.PaymentSecretFile = writeFile(t, t.TempDir(), "pay", "callback-secret-0123456789")
	})
	l, err := seatmap.Parse([]byte(hallMap))
	if err != nil {
		t.Fatal(err)
	}
	ids := l.SeatIDs()
	cfg := fe.s.cfg
	var won []shardapi.Hold
	var winners []*buyer
	refused := 0
	for round := 0; round < 37; round++ {
		b := newBuyer(t, fe.url)
		if r := b.do("GET", "/", nil, ""); r.Status != 200 {
			t.Fatalf("round %d: page %d", round, r.Status)
		}
		seats := ids[min(round*8, len(ids)-8):min(round*8+8, len(ids))]
		r := b.do("POST", "/api/holds", map[string]any{"seats": seats, "ttlSeconds": 7200}, "")
		switch r.Status {
		case http.StatusCreated:
			won = append(won, r.hold(t))
			winners = append(winners, b)
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("round %d: %d %s", round, r.Status, r.Body)
		}
	}
	t.Logf("37 rounds from one address: %d holds, %d refused with 429", len(won), refused)
	if maxWon := cfg.ClientSeats / 8; len(won) > maxWon || refused < 37-maxWon {
		t.Fatalf("%d holds won, %d refused; the seat budget of %d allows at most %d holds of 8", len(won), refused, cfg.ClientSeats, maxWon)
	}
	if held := sh.counts()["held"]; held > cfg.ClientSeats {
		t.Fatalf("the shard holds %d seats for one address, budget %d", held, cfg.ClientSeats)
	}
	for _, h := range won {
		var got shardapi.Hold
		sh.get("/v1/holds/"+h.ID, &got)
		if left := time.Until(got.ExpiresAt); left > cfg.HoldTTL+time.Second {
			t.Errorf("hold %s lives %v more, asked 2h, holdTTL is %v", h.ID, left.Round(time.Second), cfg.HoldTTL)
		}
	}
	// The "pay" step parks a hold for the showtime's payment window, not
	// for the shard's 2 h cap.
	for i, h := range won {
		mustStatus(t, winners[i].do("POST", "/api/holds/"+h.ID+"/pay", map[string]any{}, ""), http.StatusAccepted, "pay")
		var got shardapi.Hold
		sh.get("/v1/holds/"+h.ID, &got)
		if left := time.Until(got.ExpiresAt); got.State != shardapi.SeatAwaitingPayment || left > cfg.PaymentTTL+time.Second {
			t.Errorf("hold %s after pay: %s for %v more; paymentTTL is %v", h.ID, got.State, left.Round(time.Second), cfg.PaymentTTL)
		}
	}
}
