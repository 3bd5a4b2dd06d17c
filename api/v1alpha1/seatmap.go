package v1alpha1

import "boxoffice.dev/boxoffice/internal/seatmap"

// SeatMapSpec is the showtime's seat map as the seat-map parser's input:
// what the webhook validates and the operator writes to the seat-map
// ConfigMap under SeatMapKey.
func (s *Showtime) SeatMapSpec() seatmap.Spec {
	m := seatmap.Spec{Sections: make([]seatmap.SectionSpec, 0, len(s.Spec.SeatMap.Sections))}
	for _, sec := range s.Spec.SeatMap.Sections {
		out := seatmap.SectionSpec{Name: sec.Name, Rows: make([]seatmap.RowSpec, 0, len(sec.Rows))}
		for _, r := range sec.Rows {
			out.Rows = append(out.Rows, seatmap.RowSpec{Names: r.Names, Seats: r.Seats})
		}
		m.Sections = append(m.Sections, out)
	}
	return m
}
