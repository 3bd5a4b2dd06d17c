package waitroom

import (
	"fmt"
	"slices"
	"testing"
)

// TestPreQueueShuffleIsFair opens the sale over a pre-queue of four buyers
// (joined in the same order every time) with 12,000 fixed seeds and counts
// the order they are admitted in. Every one of the 24 orders must be equally
// likely: a chi-square test over the 24 counts (23 degrees of freedom) at
// p = 0.001 (critical value 49.73), and every arrival slot must reach every
// place in line about equally often. The seeds are fixed, so the test is
// deterministic; a biased shuffle (say, j drawn from [0, n) instead of
// [0, i]) fails it by a wide margin.
func TestPreQueueShuffleIsFair(t *testing.T) {
	const n, trials = 4, 12000
	counts := map[string]int{}
	var slot [n][n]int // slot[arrival][place]
	for s := uint64(0); s < trials; s++ {
		order := admittedOrder(t, n, [2]uint64{s, 0x5eed})
		counts[fmt.Sprint(order)]++
		for place, arrival := range order {
			slot[arrival][place]++
		}
	}
	if len(counts) != 24 {
		t.Fatalf("%d of the 24 orders seen", len(counts))
	}
	want := float64(trials) / 24
	chi := 0.0
	for _, c := range counts {
		chi += (float64(c) - want) * (float64(c) - want) / want
	}
	t.Logf("chi-square over 24 orders: %.1f (critical 49.73 at p=0.001)", chi)
	if chi > 49.73 {
		t.Fatalf("the shuffle is not uniform: chi-square %.1f > 49.73; counts %v", chi, counts)
	}
	for a := range slot {
		for p, c := range slot[a] {
			if c < trials/n*9/10 || c > trials/n*11/10 {
				t.Fatalf("arrival %d got place %d %d times, want about %d", a, p, c, trials/n)
			}
		}
	}
}

// admittedOrder joins n buyers before the sale, opens it with seed and
// returns the arrival numbers in the order they are admitted (one at a time).
func admittedOrder(t *testing.T, n int, seed [2]uint64) []int {
	m := New()
	m.Apply(&Command{Op: OpConfigure, Config: Config{MaxActive: 1, IdleTimeout: sec, MaxSeats: 1, OpensAt: 10 * sec}})
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = mustJoin(t, m, sec, i)
	}
	m.Apply(&Command{Op: OpOpen, Now: 10 * sec, Seed: seed})
	var order []int
	for len(order) < n {
		for i, id := range ids {
			if stateOf(m, id) == Admitted {
				order = append(order, i)
				m.Apply(&Command{Op: OpLeave, Now: 10 * sec, ID: id, Reason: ReasonBought})
			}
		}
	}
	return order
}

// TestShuffleIsAFunctionOfTheSeed: same seed, same order; the draw is fixed
// by the algorithm, so a pinned order guards against a change of it (which
// would make members running two versions disagree).
func TestShuffleIsAFunctionOfTheSeed(t *testing.T) {
	a, b := Shuffle([2]uint64{1, 2}, 10), Shuffle([2]uint64{1, 2}, 10)
	if !slices.Equal(a, b) {
		t.Fatal("one seed gave two orders")
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatalf("not a permutation: %v", a)
		}
	}
	if got := fmt.Sprint(Shuffle([2]uint64{42, 7}, 8)); got != pinnedShuffle {
		t.Fatalf("Shuffle({42,7}, 8) = %s, pinned %s: the draw changed, and replicas on two versions would disagree", got, pinnedShuffle)
	}
	if len(Shuffle([2]uint64{}, 0)) != 0 || !slices.Equal(Shuffle([2]uint64{}, 1), []int{0}) {
		t.Fatal("trivial shuffles")
	}
}

const pinnedShuffle = "[2 3 7 4 5 6 0 1]"
