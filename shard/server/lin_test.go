package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Per-seat observation kinds. Each client operation against the real server is
// projected onto every seat it touched (or saw), with the answer it got.
const (
	obsAcquire     = iota // hold answered 201: the seat went free -> held(h)
	obsBusy               // hold answered 409 listing this seat: it was not free
	obsFree               // hold answered 409 not listing this seat: it was free
	obsRelease            // release answered 200 released
	obsConfirm            // confirm answered 200 sold
	obsConfirmGone        // confirm answered 409 hold_expired (h was released)
	obsRead               // GET /v1/seats saw a state
)

type seatObs struct {
	kind  int
	hold  uint64
	state string // obsRead
}

type seatState struct {
	owner uint64
	st    string // free, held, sold
}

var seatModel = porcupine.Model{
	Init: func() any { return seatState{st: "free"} },
	Step: func(state, input, _ any) (bool, any) {
		s, o := state.(seatState), input.(seatObs)
		switch o.kind {
		case obsAcquire:
			return s.st == "free", seatState{owner: o.hold, st: "held"}
		case obsBusy:
			return s.st != "free", s
		case obsFree:
			return s.st == "free", s
		case obsRelease:
			if s.owner == o.hold && s.st == "held" {
				return true, seatState{st: "free"}
			}
			// Released before: a no-op; never while it is sold.
			return !(s.owner == o.hold && s.st == "sold"), s
		case obsConfirm:
			if s.owner == o.hold && (s.st == "held" || s.st == "sold") {
				return true, seatState{owner: o.hold, st: "sold"}
			}
			return false, s
		case obsConfirmGone:
			return !(s.owner == o.hold && s.st != "free"), s
		case obsRead:
			return s.st == o.state, s
		}
		return false, s
	},
	DescribeOperation: func(in, _ any) string { return fmt.Sprintf("%+v", in) },
}

type linHold struct {
	id    uint64
	seats []string
}

// TestLinearizable drives concurrent clients against the real HTTP server and
// checks the history per seat with porcupine, then that every hold took all of
// its seats or none and that no seat is in two live holds.
func TestLinearizable(t *testing.T) {
	const (
		clients = 6
		ops     = 60
	)
	h := start(t, t.TempDir(), func(c *Config) { c.SeatIDs = seatIDs("A", 5); c.MaxSeatsPerHolder = 5 })
	ids := seatIDs("A", 5)
	t0 := time.Now()
	stamp := func() int64 { return int64(time.Since(t0)) }

	var mu sync.Mutex
	perSeat := map[string][]porcupine.Operation{}
	var created []linHold
	record := func(client int, call, ret int64, seat string, o seatObs) {
		perSeat[seat] = append(perSeat[seat], porcupine.Operation{ClientId: client, Input: o, Call: call, Return: ret})
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var mine []linHold
			for i := 0; i < ops; i++ {
				switch k := rng.IntN(10); {
				case k < 4 || len(mine) == 0: // hold
					n := 1 + rng.IntN(3)
					var want []string
					for len(want) < n {
						s := ids[rng.IntN(len(ids))]
						if !slices.Contains(want, s) {
							want = append(want, s)
						}
					}
					body, _ := json.Marshal(map[string]any{"seats": want, "holder": fmt.Sprintf("c%d-%d", c, i)})
					call := stamp()
					a := h.do("POST", "/v1/holds", string(body))
					ret := stamp()
					m := a.json(t)
					mu.Lock()
					switch a.status {
					case 201:
						id, _ := parseHoldID(m["id"].(string))
						hd := linHold{id, want}
						mine = append(mine, hd)
						created = append(created, hd)
						for _, s := range want {
							record(c, call, ret, s, seatObs{kind: obsAcquire, hold: id})
						}
					case 409:
						var busy []string
						for _, b := range m["seats"].([]any) {
							busy = append(busy, b.(string))
						}
						if len(busy) == 0 {
							t.Errorf("409 without seats: %s", a.body)
						}
						for _, s := range want {
							if slices.Contains(busy, s) {
								record(c, call, ret, s, seatObs{kind: obsBusy})
							} else {
								record(c, call, ret, s, seatObs{kind: obsFree})
							}
						}
					default:
						t.Errorf("hold: %d %s", a.status, a.body)
					}
					mu.Unlock()
				case k < 6: // release one of mine
					hd := mine[rng.IntN(len(mine))]
					call := stamp()
					a := h.do("DELETE", "/v1/holds/h"+strconv.FormatUint(hd.id, 10), "")
					ret := stamp()
					mu.Lock()
					switch {
					case a.status == 200:
						for _, s := range hd.seats {
							record(c, call, ret, s, seatObs{kind: obsRelease, hold: hd.id})
						}
					case a.status == 409 && a.json(t)["error"] == "hold_sold":
					default:
						t.Errorf("release: %d %s", a.status, a.body)
					}
					mu.Unlock()
				case k < 8: // confirm one of mine
					hd := mine[rng.IntN(len(mine))]
					call := stamp()
					a := h.do("POST", "/v1/holds/h"+strconv.FormatUint(hd.id, 10)+"/confirm", `{"orderId":"o"}`)
					ret := stamp()
					mu.Lock()
					kind := -1
					switch {
					case a.status == 200:
						kind = obsConfirm
					case a.status == 409 && a.json(t)["error"] == "hold_expired":
						kind = obsConfirmGone
					default:
						t.Errorf("confirm: %d %s", a.status, a.body)
					}
					if kind >= 0 {
						for _, s := range hd.seats {
							record(c, call, ret, s, seatObs{kind: kind, hold: hd.id})
						}
					}
					mu.Unlock()
				default: // read every seat
					call := stamp()
					a := h.do("GET", "/v1/seats", "")
					ret := stamp()
					var resp struct {
						Seats []struct{ ID, State string }
					}
					json.Unmarshal([]byte(a.body), &resp)
					mu.Lock()
					for _, s := range resp.Seats {
						st := s.State
						if st == "awaiting_payment" {
							st = "held"
						}
						record(c, call, ret, s.ID, seatObs{kind: obsRead, state: st})
					}
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for seat, hist := range perSeat {
		res := porcupine.CheckOperationsTimeout(seatModel, hist, 30*time.Second)
		if res != porcupine.Ok {
			t.Fatalf("seat %s: history of %d operations is not linearizable (%v)", seat, len(hist), res)
		}
	}

	// All or nothing, and no seat in two live holds.
	owner := map[string]uint64{}
	var seatsResp struct {
		Seats []struct{ ID, State string }
	}
	json.Unmarshal([]byte(h.do("GET", "/v1/seats", "").body), &seatsResp)
	state := map[string]string{}
	for _, s := range seatsResp.Seats {
		state[s.ID] = s.State
	}
	for _, hd := range created {
		g := h.do("GET", "/v1/holds/h"+strconv.FormatUint(hd.id, 10), "").json(t)
		var got []string
		for _, s := range g["seats"].([]any) {
			got = append(got, s.(string))
		}
		if !slices.Equal(got, hd.seats) {
			t.Fatalf("hold %d has seats %v, asked %v", hd.id, got, hd.seats)
		}
		st := g["state"].(string)
		if st != "held" && st != "sold" {
			continue
		}
		for _, s := range hd.seats {
			if prev, dup := owner[s]; dup {
				t.Fatalf("seat %s in live holds %d and %d", s, prev, hd.id)
			}
			owner[s] = hd.id
			if state[s] != st {
				t.Fatalf("hold %d is %s but its seat %s is %s", hd.id, st, s, state[s])
			}
		}
	}
	for s, st := range state {
		if _, ok := owner[s]; st != "free" && !ok {
			t.Fatalf("seat %s is %s without a live hold", s, st)
		}
	}
}
