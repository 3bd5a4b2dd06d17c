package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"

	"sigs.k8s.io/yaml"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/internal/testproc"
)

// Venue shape: sections "sec-NN" of rows A-T with seats 1-100 (2,000 seats a
// section); a last, smaller section takes the remainder so the total is exact.
const (
	rowsPerSection = 20 // A..T
	seatsPerRow    = 100
)

// venueSpec builds the seat map for exactly n seats.
func venueSpec(n int) (seatmap.Spec, error) {
	if n <= 0 {
		return seatmap.Spec{}, fmt.Errorf("seats must be positive, got %d", n)
	}
	var s seatmap.Spec
	perSection := rowsPerSection * seatsPerRow
	full, rest := n/perSection, n%perSection
	sec := 0
	name := func() string { sec++; return fmt.Sprintf("sec-%02d", sec) }
	for range full {
		s.Sections = append(s.Sections, seatmap.SectionSpec{Name: name(), Rows: []seatmap.RowSpec{
			{Names: "A-" + string(rune('A'+rowsPerSection-1)), Seats: "1-" + strconv.Itoa(seatsPerRow)},
		}})
	}
	if rest > 0 {
		var rows []seatmap.RowSpec
		fullRows, lastRow := rest/seatsPerRow, rest%seatsPerRow
		if fullRows > 0 {
			rows = append(rows, seatmap.RowSpec{Names: "A-" + string(rune('A'+fullRows-1)), Seats: "1-" + strconv.Itoa(seatsPerRow)})
		}
		if lastRow > 0 {
			rows = append(rows, seatmap.RowSpec{Names: string(rune('A' + fullRows)), Seats: "1-" + strconv.Itoa(lastRow)})
		}
		s.Sections = append(s.Sections, seatmap.SectionSpec{Name: name(), Rows: rows})
	}
	return s, nil
}

// venueSeats returns the seat ids of the n-seat venue, validated by the same
// parser the shard uses.
func venueSeats(n int) ([]string, []byte, error) {
	spec, err := venueSpec(n)
	if err != nil {
		return nil, nil, err
	}
	data, err := yaml.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	layout, err := seatmap.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("generated seat map does not parse: %w", err)
	}
	if layout.Total != n {
		return nil, nil, fmt.Errorf("generated seat map has %d seats, want %d", layout.Total, n)
	}
	return layout.SeatIDs(), data, nil
}

func cmdSeatmap(args []string) error {
	fs := flag.NewFlagSet("seatmap", flag.ExitOnError)
	n := fs.Int("seats", 50000, "number of seats")
	out := fs.String("out", "", "output file (default stdout)")
	fs.Parse(args)
	_, data, err := venueSeats(*n)
	if err != nil {
		return err
	}
	data = append([]byte(fmt.Sprintf("# bench venue: %d seats\n", *n)), data...)
	if *out == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

func cmdFreeport(args []string) error {
	port, err := testproc.FreePort()
	if err != nil {
		return err
	}
	fmt.Println(port)
	return nil
}

// seatPool hands out random seats, skipping the seats this generator has
// seen sold, so that the share of conflicts stays about the same over a run
// whatever the speed of the system under test (a faster system would
// otherwise spend its run in a sold-out venue).
type seatPool struct {
	ids   []string
	sold  []atomic.Bool
	nSold atomic.Int64
}

func newSeatPool(ids []string) *seatPool {
	return &seatPool{ids: ids, sold: make([]atomic.Bool, len(ids))}
}

// pick returns k distinct unsold seat indexes, sorted (a fixed lock order for
// the database), or nil when the venue is nearly sold out.
func (p *seatPool) pick(r *rand.Rand, k int, buf []int) []int {
	buf = buf[:0]
	n := len(p.ids)
	for tries := 0; len(buf) < k; tries++ {
		if tries > 1000 {
			return nil
		}
		i := r.IntN(n)
		if p.sold[i].Load() || slices.Contains(buf, i) {
			continue
		}
		buf = append(buf, i)
	}
	slices.Sort(buf)
	return buf
}

func (p *seatPool) markSold(idx []int) {
	for _, i := range idx {
		if !p.sold[i].Swap(true) {
			p.nSold.Add(1)
		}
	}
}
