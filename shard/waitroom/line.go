package waitroom

// line is the waiting line: ids in order, with places that left in the middle
// zeroed, and a Fenwick tree over the slots (1 per waiting place) so the
// number of people ahead of a slot is a prefix sum in O(log n). Slots are
// absolute (base + index), so a place keeps its slot when the front is
// compacted away.
type line struct {
	ids  []uint64
	fen  []int32 // 1-based Fenwick tree over ids
	base int     // absolute slot of ids[0]
	head int     // index of the first slot not yet popped
	n    int     // waiting places
}

func (l *line) len() int { return l.n }

// push appends id and returns its absolute slot.
func (l *line) push(id uint64) int {
	l.ids = append(l.ids, id)
	l.fen = append(l.fen, 0)
	i := len(l.ids) // 1-based index of the new slot
	// A new last node covers (i - lowbit(i), i]: its sum is 1 plus the
	// nodes below it that it covers.
	var sum int32 = 1
	for j := i - 1; j > i-(i&-i); j -= j & -j {
		sum += l.fen[j-1]
	}
	l.fen[i-1] = sum
	l.n++
	return l.base + i - 1
}

func (l *line) add(i int, d int32) {
	for i++; i <= len(l.fen); i += i & -i {
		l.fen[i-1] += d
	}
}

// before is how many places wait in slots before index i.
func (l *line) before(i int) int {
	var s int32
	for ; i > 0; i -= i & -i {
		s += l.fen[i-1]
	}
	return int(s)
}

// ahead is how many places wait before the absolute slot.
func (l *line) ahead(slot int) int { return l.before(slot - l.base) }

// remove takes the place at an absolute slot out of the line.
func (l *line) remove(slot int) {
	i := slot - l.base
	l.ids[i] = 0
	l.add(i, -1)
	l.n--
}

// pop takes the first waiting place. The line must not be empty.
func (l *line) pop() uint64 {
	for l.ids[l.head] == 0 {
		l.head++
	}
	id := l.ids[l.head]
	l.ids[l.head] = 0
	l.add(l.head, -1)
	l.head++
	l.n--
	if l.head > 1024 && l.head*2 > len(l.ids) {
		l.compact()
	}
	return id
}

// compact drops the popped front and rebuilds the tree in O(n).
func (l *line) compact() {
	n := copy(l.ids, l.ids[l.head:])
	clear(l.ids[n:])
	l.ids = l.ids[:n]
	l.base += l.head
	l.head = 0
	l.rebuild()
}

func (l *line) rebuild() {
	l.fen = l.fen[:len(l.ids)]
	for i, id := range l.ids {
		l.fen[i] = 0
		if id != 0 {
			l.fen[i] = 1
		}
	}
	for i := 1; i <= len(l.fen); i++ {
		if p := i + (i & -i); p <= len(l.fen) {
			l.fen[p-1] += l.fen[i-1]
		}
	}
}

// each calls f for every waiting id in order.
func (l *line) each(f func(id uint64)) {
	for _, id := range l.ids[l.head:] {
		if id != 0 {
			f(id)
		}
	}
}
