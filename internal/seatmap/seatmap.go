// Package seatmap parses and expands Box office seat maps.
//
// It is the single parser used by the operator (to validate a Showtime and count
// its seats), the admission webhook, and the shard (to know which seats exist).
// A map names sections; each section has rows; each row line expands a range of
// row names ("A-H", "1-12" or a comma list "J,K,M") times a range of seat
// numbers ("1-24" or "1-10,13-30"). A seat's id is SECTION/ROW/NUMBER.
//
// The package has no I/O: callers read files and hand bytes or structs in.
package seatmap

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Limits keep a hostile or mistaken map from exhausting memory.
const (
	MaxSections     = 256
	MaxRowsPerLine  = 1000
	MaxSeatNumber   = 100000
	MaxSeats        = 1000000
	maxRowNameLen   = 8
	maxSectionNameN = 32
)

// Spec is the seat map as written by people: the same shape as the Showtime's
// spec.seatMap and the shard's --seat-map file.
type Spec struct {
	Sections []SectionSpec `json:"sections"`
}

// SectionSpec is one named section.
type SectionSpec struct {
	Name string    `json:"name"`
	Rows []RowSpec `json:"rows"`
}

// RowSpec is one line of rows sharing the same seat numbers.
type RowSpec struct {
	Names string `json:"names"`
	Seats string `json:"seats"`
}

// Layout is an expanded, validated seat map.
type Layout struct {
	Sections []Section
	// Total is the number of seats.
	Total int
}

// Section is an expanded section.
type Section struct {
	Name string
	Rows []Row
}

// Row is an expanded row: its name and its seat numbers in order.
type Row struct {
	Name  string
	Seats []int
}

// Error says where in the map the problem is.
type Error struct {
	// Path is a field path such as sections[0].rows[2].names.
	Path string
	// Where is a human description such as `section "stalls", row line 3 ("H-A")`.
	Where string
	Msg   string
}

func (e *Error) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("seat map: %s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("seat map: %s (%s): %s", e.Where, e.Path, e.Msg)
}

var sectionNameRe = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
var rowTokenRe = regexp.MustCompile(`^[A-Za-z0-9]{1,8}$`)

// Parse reads a seat map in YAML or JSON (unknown fields are rejected) and expands it.
func Parse(data []byte) (*Layout, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, &Error{Path: "(document)", Msg: err.Error()}
	}
	return Expand(s)
}

// ID is the seat id for a section, row and number.
func ID(section, row string, number int) string {
	return section + "/" + row + "/" + strconv.Itoa(number)
}

// Expand validates a Spec and expands every range.
func Expand(s Spec) (*Layout, error) {
	if len(s.Sections) == 0 {
		return nil, &Error{Path: "sections", Msg: "at least one section is required"}
	}
	if len(s.Sections) > MaxSections {
		return nil, &Error{Path: "sections", Msg: fmt.Sprintf("%d sections, at most %d allowed", len(s.Sections), MaxSections)}
	}
	l := &Layout{Sections: make([]Section, 0, len(s.Sections))}
	sectionSeen := map[string]int{}
	for si, sec := range s.Sections {
		spath := fmt.Sprintf("sections[%d]", si)
		if !sectionNameRe.MatchString(sec.Name) {
			return nil, &Error{Path: spath + ".name", Where: fmt.Sprintf("section %q", sec.Name),
				Msg: "section name must match [a-z0-9-]{1,32}"}
		}
		if prev, dup := sectionSeen[sec.Name]; dup {
			return nil, &Error{Path: spath + ".name", Where: fmt.Sprintf("section %q", sec.Name),
				Msg: fmt.Sprintf("duplicate section name, first used by sections[%d]", prev)}
		}
		sectionSeen[sec.Name] = si
		if len(sec.Rows) == 0 {
			return nil, &Error{Path: spath + ".rows", Where: fmt.Sprintf("section %q", sec.Name), Msg: "section has no rows"}
		}
		out := Section{Name: sec.Name}
		rowSeen := map[string]int{} // row name -> index in out.Rows
		rowLine := map[string]int{} // row name -> first row line that defined it
		for ri, r := range sec.Rows {
			rpath := fmt.Sprintf("%s.rows[%d]", spath, ri)
			where := fmt.Sprintf("section %q, row line %d {names: %q, seats: %q}", sec.Name, ri+1, r.Names, r.Seats)
			names, err := expandNames(r.Names)
			if err != nil {
				return nil, &Error{Path: rpath + ".names", Where: where, Msg: err.Error()}
			}
			seats, err := expandNumbers(r.Seats)
			if err != nil {
				return nil, &Error{Path: rpath + ".seats", Where: where, Msg: err.Error()}
			}
			for _, n := range names {
				l.Total += len(seats)
				if l.Total > MaxSeats {
					return nil, &Error{Path: rpath, Where: where, Msg: fmt.Sprintf("map has more than %d seats", MaxSeats)}
				}
				prev, again := rowSeen[n]
				if !again {
					rowSeen[n], rowLine[n] = len(out.Rows), ri
					out.Rows = append(out.Rows, Row{Name: n, Seats: seats})
					continue
				}
				// A row may be split over several lines (for example
				// around an aisle) as long as no seat is named twice.
				row := &out.Rows[prev]
				have := make(map[int]bool, len(row.Seats))
				for _, x := range row.Seats {
					have[x] = true
				}
				for _, x := range seats {
					if have[x] {
						return nil, &Error{Path: rpath + ".names", Where: where,
							Msg: fmt.Sprintf("duplicate seats: seat %s is also in row line %d", ID(sec.Name, n, x), rowLine[n]+1)}
					}
				}
				row.Seats = append(slices.Clone(row.Seats), seats...)
				slices.Sort(row.Seats)
			}
		}
		l.Sections = append(l.Sections, out)
	}
	return l, nil
}

// expandNames expands "A-H", "1-12", "J,K,M" or a mix such as "A-C,E".
func expandNames(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("names is empty")
	}
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("empty entry in list %q", s)
		}
		var items []string
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
			switch {
			case isLetter(lo) && isLetter(hi):
				if (lo[0] >= 'a') != (hi[0] >= 'a') {
					return nil, fmt.Errorf("row range %q mixes upper and lower case", part)
				}
				if hi[0] < lo[0] {
					return nil, fmt.Errorf("row range %q runs backwards", part)
				}
				for c := lo[0]; c <= hi[0]; c++ {
					items = append(items, string(c))
				}
			case isNumber(lo) && isNumber(hi):
				a, _ := strconv.Atoi(lo)
				b, _ := strconv.Atoi(hi)
				if b < a {
					return nil, fmt.Errorf("row range %q runs backwards", part)
				}
				if b-a+1 > MaxRowsPerLine {
					return nil, fmt.Errorf("row range %q has more than %d rows", part, MaxRowsPerLine)
				}
				for i := a; i <= b; i++ {
					items = append(items, strconv.Itoa(i))
				}
			default:
				return nil, fmt.Errorf("bad row range %q: use single letters (A-H) or numbers (1-12)", part)
			}
		} else {
			if !rowTokenRe.MatchString(part) {
				return nil, fmt.Errorf("bad row name %q: letters and digits, at most %d", part, maxRowNameLen)
			}
			items = []string{part}
		}
		for _, it := range items {
			if seen[it] {
				return nil, fmt.Errorf("row %s listed twice in %q", it, s)
			}
			seen[it] = true
			out = append(out, it)
		}
		if len(out) > MaxRowsPerLine {
			return nil, fmt.Errorf("more than %d rows in %q", MaxRowsPerLine, s)
		}
	}
	return out, nil
}

// expandNumbers expands "1-24" or "1-10,13-30" into ascending, distinct seat numbers.
func expandNumbers(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("seats is empty")
	}
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
		if !isNumber(lo) || !isNumber(hi) {
			return nil, fmt.Errorf("bad seat range %q: use numbers such as 1-24 or 1-10,13-30", part)
		}
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil || a < 1 || b > MaxSeatNumber {
			return nil, fmt.Errorf("seat range %q outside 1-%d", part, MaxSeatNumber)
		}
		if b < a {
			return nil, fmt.Errorf("seat range %q runs backwards", part)
		}
		for i := a; i <= b; i++ {
			if seen[i] {
				return nil, fmt.Errorf("duplicate seats: seat %d listed twice in %q", i, s)
			}
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}

func isLetter(s string) bool {
	return len(s) == 1 && (s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z')
}

func isNumber(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SeatIDs lists every seat id in map order: sections, rows, numbers.
func (l *Layout) SeatIDs() []string {
	ids := make([]string, 0, l.Total)
	for _, s := range l.Sections {
		for _, r := range s.Rows {
			for _, n := range r.Seats {
				ids = append(ids, ID(s.Name, r.Name, n))
			}
		}
	}
	return ids
}

// SectionTotals gives the seat count per section, in map order.
func (l *Layout) SectionTotals() []int {
	out := make([]int, len(l.Sections))
	for i, s := range l.Sections {
		for _, r := range s.Rows {
			out[i] += len(r.Seats)
		}
	}
	return out
}
