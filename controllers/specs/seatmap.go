package specs

import (
	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/seatmap"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"
)

// SeatMapSpec converts the API's seat map to the parser's input.
func SeatMapSpec(st *boxv1.Showtime) seatmap.Spec {
	s := seatmap.Spec{Sections: make([]seatmap.SectionSpec, 0, len(st.Spec.SeatMap.Sections))}
	for _, sec := range st.Spec.SeatMap.Sections {
		out := seatmap.SectionSpec{Name: sec.Name, Rows: make([]seatmap.RowSpec, 0, len(sec.Rows))}
		for _, r := range sec.Rows {
			out.Rows = append(out.Rows, seatmap.RowSpec{Names: r.Names, Seats: r.Seats})
		}
		s.Sections = append(s.Sections, out)
	}
	return s
}

// SeatMapConfigMap holds the seat map file the shard reads with --seat-map.
func SeatMapConfigMap(st *boxv1.Showtime, o Options) (*corev1ac.ConfigMapApplyConfiguration, error) {
	doc, err := yaml.Marshal(SeatMapSpec(st))
	if err != nil {
		return nil, err
	}
	return corev1ac.ConfigMap(SeatMapName(st), st.Namespace).
		WithLabels(ObjectLabels(st, ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithData(map[string]string{SeatMapKey: string(doc)}), nil
}
