package waitroom

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLineAgainstSlice compares the line's positions with a plain slice over
// pushes, removals from the middle and pops, through several compactions.
func TestLineAgainstSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var l line
	var naive []uint64
	slots := map[uint64]int{}
	next := uint64(1)
	compactions := 0
	for step := 0; step < 20000; step++ {
		switch x := rng.IntN(10); {
		case x < 5 || len(naive) == 0:
			slots[next] = l.push(next)
			naive = append(naive, next)
			next++
		case x < 8:
			base := l.base
			id := l.pop()
			if id != naive[0] {
				t.Fatalf("step %d: popped %d, want %d", step, id, naive[0])
			}
			if l.base != base {
				compactions++
			}
			naive = naive[1:]
			delete(slots, id)
		default:
			i := rng.IntN(len(naive))
			l.remove(slots[naive[i]])
			delete(slots, naive[i])
			naive = slices.Delete(naive, i, i+1)
		}
		if l.len() != len(naive) {
			t.Fatalf("step %d: len %d, want %d", step, l.len(), len(naive))
		}
		if step%50 == 0 {
			for i, id := range naive {
				if a := l.ahead(slots[id]); a != i {
					t.Fatalf("step %d: %d ahead of %d, want %d", step, a, id, i)
				}
			}
		}
	}
	if compactions == 0 {
		t.Fatal("the line never compacted; the test does not cover it")
	}
}

// TestFiftyThousandWaiting: a pre-queue of 50,000 drawn at the opening, every
// place answered, the line drained through compactions, a snapshot restored.
func TestFiftyThousandWaiting(t *testing.T) {
	const n = 50000
	m := New()
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 100, IdleTimeout: 60 * sec, MaxSeats: 4, OpensAt: 100 * sec}})
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = mustJoin(t, m, sec, i+1)
	}
	m.Apply(&Command{Op: OpOpen, Now: 100 * sec, Seed: [2]uint64{9, 9}})
	seen := make([]bool, n)
	for _, id := range ids {
		p, _ := m.Place(id)
		if p.State == Waiting {
			if seen[p.Ahead] {
				t.Fatalf("two places with %d ahead", p.Ahead)
			}
			seen[p.Ahead] = true
		}
	}
	if s := m.Status(); s.Active != 100 || s.Waiting != n-100 {
		t.Fatalf("status %+v", s)
	}
	r, err := Restore(m.AppendState(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if a, b := place(m, id), place(r, id); a != b {
			t.Fatalf("place %d: %+v before the snapshot, %+v after", i, a, b)
		}
	}
	// The line's order, from the places' own answers.
	order := make([]uint64, n)
	for _, id := range ids {
		if p := place(m, id); p.State == Waiting {
			order[100+p.Ahead] = id
		}
	}
	// 100 buy in turn; each purchase admits exactly the next in line.
	admitted := 0
	for _, id := range ids {
		if stateOf(m, id) == Admitted && admitted < 100 {
			m.Apply(&Command{Op: OpLeave, Now: 101 * sec, ID: id, Reason: ReasonBought})
			if stateOf(m, order[100+admitted]) != Admitted {
				t.Fatalf("purchase %d did not admit the next in line", admitted)
			}
			admitted++
		}
	}
	if s := m.Status(); s.Admitted != 200 || s.Bought != 100 || s.Waiting != n-200 {
		t.Fatalf("status %+v", s)
	}
}

func place(m *Machine, id uint64) Place { p, _ := m.Place(id); return p }

// BenchmarkJoin measures a join into a long line. Its B/op, amortised over a
// million joins, bounds the memory the room keeps per waiting buyer (it also
// counts the garbage of the maps' growth).
func BenchmarkJoin(b *testing.B) {
	m := New()
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 1, IdleTimeout: 60 * sec, MaxSeats: 4}})
	m.Apply(&Command{Op: OpOpen, Now: 1})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Apply(&Command{Op: OpJoin, Now: 2, Key: [16]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 1}})
	}
}

// BenchmarkPlace measures answering a buyer's place among 50,000 waiting.
func BenchmarkPlace(b *testing.B) {
	m := New()
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 1, IdleTimeout: 60 * sec, MaxSeats: 4}})
	m.Apply(&Command{Op: OpOpen, Now: 1})
	for i := 0; i < 50000; i++ {
		m.Apply(&Command{Op: OpJoin, Now: 2, Key: [16]byte{byte(i), byte(i >> 8), 1}})
	}
	for i := uint64(0); b.Loop(); i++ {
		m.Place(2 + i%49999)
	}
}
