package waitroom

import "math/rand/v2"

// Shuffle gives a uniformly random permutation of 0..n-1 drawn from seed:
// Fisher-Yates over PCG (whose output the math/rand/v2 documentation fixes),
// with unbiased bounded draws by rejection. It depends on nothing but its
// arguments, so every member of a replicated shard (and every version of the
// binary) draws the same order from the same seed.
func Shuffle(seed [2]uint64, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	src := rand.NewPCG(seed[0], seed[1])
	for i := n - 1; i > 0; i-- {
		j := int(bounded(src, uint64(i)+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// bounded draws uniformly from [0, n) by rejecting the top partial range.
func bounded(src *rand.PCG, n uint64) uint64 {
	limit := ^uint64(0) - (^uint64(0)%n+1)%n // largest multiple of n, minus 1
	for {
		v := src.Uint64()
		if v <= limit {
			return v % n
		}
	}
}
