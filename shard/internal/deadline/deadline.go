// Package deadline is the min-heap of (time, id) deadlines the shard's state
// machines (seats, waitroom) keep to find what expires next. It implements
// container/heap's interface; ties on time break on the smaller id, so equal
// contents pop in the same order on every replica.
package deadline

// Entry is one deadline: the id of the thing that expires at At.
type Entry struct {
	At int64
	ID uint64
}

// Heap is a min-heap of entries by (At, ID); use it with container/heap.
type Heap []Entry

func (h Heap) Len() int { return len(h) }
func (h Heap) Less(i, j int) bool {
	return h[i].At < h[j].At || h[i].At == h[j].At && h[i].ID < h[j].ID
}
func (h Heap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push appends x, which must be an Entry (container/heap calls it).
func (h *Heap) Push(x any) { *h = append(*h, x.(Entry)) }

// Pop removes the last entry (container/heap calls it).
func (h *Heap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
