package shard_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ackedHold is a hold whose batch answer the client got: 201 (and, if sold,
// 200 to its confirm).
type ackedHold struct {
	key, body string // the operation as sent (replayed after the restart)
	id        string
	seats     []string
	sold      bool
}

// batchCall posts ops and returns each operation's status and body.
func batchCall(p *proc, ops []string) ([]int, []map[string]any, error) {
	code, m, err := p.callTimeout("POST", "/v2/batch", `{"ops":[`+strings.Join(ops, ",")+`]}`, nil, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if code != 200 {
		return nil, nil, fmt.Errorf("batch answered %d: %v", code, m)
	}
	res, _ := m["results"].([]any)
	if len(res) != len(ops) {
		return nil, nil, fmt.Errorf("%d results for %d operations", len(res), len(ops))
	}
	codes, bodies := make([]int, len(ops)), make([]map[string]any, len(ops))
	for i, r := range res {
		o := r.(map[string]any)
		codes[i] = int(o["status"].(float64))
		bodies[i], _ = o["body"].(map[string]any)
	}
	return codes, bodies, nil
}

// Batched writes acknowledged before a SIGKILL are all there after the
// restart, each as acknowledged, and each key still answers its first answer.
func TestBatchDurabilityUnderSIGKILL(t *testing.T) {
	dir := t.TempDir()
	mapFile, tokenFile := writeFiles(t)
	p := launch(t, dir, mapFile, tokenFile)
	p.waitReady()

	var mu sync.Mutex
	var acked []*ackedHold
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for n := 0; n < 400; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ops := make([]*ackedHold, 8)
				wire := make([]string, 8)
				for i := range ops {
					seat := fmt.Sprintf("stalls/%c/%d", 'A'+rng.IntN(10), 1+rng.IntN(20))
					key := fmt.Sprintf("g%d-%d-%d", g, n, i)
					body := fmt.Sprintf(`"op":"hold","seats":[%q],"holder":"b%d"`, seat, g*1000+n)
					ops[i] = &ackedHold{key: key, body: body, seats: []string{seat}}
					wire[i] = `{` + body + `,"idempotencyKey":"` + key + `"}`
				}
				codes, bodies, err := batchCall(p, wire)
				if err != nil {
					return // the kill
				}
				var confirm []string
				var sold []*ackedHold
				mu.Lock()
				for i, c := range codes {
					if c == 201 {
						ops[i].id = bodies[i]["id"].(string)
						acked = append(acked, ops[i])
						if rng.IntN(3) == 0 {
							confirm = append(confirm, fmt.Sprintf(`{"op":"confirm","hold":%q,"orderId":"o-%s"}`, ops[i].id, ops[i].id))
							sold = append(sold, ops[i])
						}
					}
				}
				mu.Unlock()
				if len(confirm) == 0 {
					continue
				}
				codes, _, err = batchCall(p, confirm)
				if err != nil {
					return
				}
				mu.Lock()
				for i, c := range codes {
					sold[i].sold = sold[i].sold || c == 200
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	p.kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 20 {
		t.Fatalf("only %d holds acknowledged before the kill: the test proves little", len(acked))
	}

	p = launch(t, dir, mapFile, tokenFile)
	p.waitReady()
	for _, h := range acked {
		code, m, err := p.call("GET", "/v1/holds/"+h.id, "")
		if err != nil || code != 200 {
			t.Fatalf("acknowledged hold %s after SIGKILL: %d %v %v", h.id, code, m, err)
		}
		want := "held"
		if h.sold {
			want = "sold"
		}
		var got []string
		for _, s := range m["seats"].([]any) {
			got = append(got, s.(string))
		}
		if m["state"] != want && !(m["state"] == "sold" && !h.sold) || !slices.Equal(got, h.seats) {
			t.Fatalf("hold %s after SIGKILL: %v, acknowledged %s %v", h.id, m, want, h.seats)
		}
	}
	// Each key answers its first answer (the same hold), in a batch of all.
	for start := 0; start < len(acked); start += 200 {
		part := acked[start:min(start+200, len(acked))]
		wire := make([]string, len(part))
		for i, h := range part {
			wire[i] = `{` + h.body + `,"idempotencyKey":"` + h.key + `"}`
		}
		codes, bodies, err := batchCall(p, wire)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range part {
			if codes[i] != 201 || bodies[i]["id"] != h.id {
				b, _ := json.Marshal(bodies[i])
				t.Fatalf("key %s replayed after SIGKILL: %d %s, first answer hold %s", h.key, codes[i], b, h.id)
			}
		}
	}
	t.Logf("%d acknowledged batched holds checked after SIGKILL", len(acked))
}
