package specs

import (
	"encoding/json"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"
)

// Show is what the booking page says about the show; the front end reads it
// as frontend.ShowInfo (same JSON).
type Show struct {
	Title    string `json:"title,omitempty"`
	StartsAt string `json:"startsAt,omitempty"`
	Venue    string `json:"venue,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

// ShowOf is the show as the booking page shows it.
func ShowOf(st *boxv1.Showtime) Show {
	s := Show{Title: st.Spec.Title, Venue: st.Spec.Venue.Name, TimeZone: st.Spec.Venue.TimeZone}
	if !st.Spec.StartsAt.IsZero() {
		s.StartsAt = st.Spec.StartsAt.UTC().Format(time.RFC3339)
	}
	return s
}

// SeatMapConfigMap holds the seat map file the shard and the front end read
// with --seat-map, and the show file the front end reads with --show-file.
// The show is a file, not flags, so a fixed title or venue reaches the
// pages without restarting the front end (the kubelet updates the mounted
// files; the front end reads them again when they change).
func SeatMapConfigMap(st *boxv1.Showtime, o Options) (*corev1ac.ConfigMapApplyConfiguration, error) {
	doc, err := yaml.Marshal(st.SeatMapSpec())
	if err != nil {
		return nil, err
	}
	show, err := json.Marshal(ShowOf(st))
	if err != nil {
		return nil, err
	}
	return corev1ac.ConfigMap(st.SeatMapName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithData(map[string]string{boxv1.SeatMapKey: string(doc), boxv1.ShowKey: string(show)}), nil
}
