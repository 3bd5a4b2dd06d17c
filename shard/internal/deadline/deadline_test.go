package deadline

import (
	"container/heap"
	"testing"
)

func TestHeapPopsByTimeThenID(t *testing.T) {
	h := &Heap{}
	for _, e := range []Entry{{5, 2}, {3, 9}, {5, 1}, {1, 4}, {3, 2}} {
		heap.Push(h, e)
	}
	want := []Entry{{1, 4}, {3, 2}, {3, 9}, {5, 1}, {5, 2}}
	for i, w := range want {
		if got := heap.Pop(h).(Entry); got != w {
			t.Fatalf("pop %d: got %+v, want %+v", i, got, w)
		}
	}
	if h.Len() != 0 {
		t.Fatalf("%d entries left", h.Len())
	}
}
