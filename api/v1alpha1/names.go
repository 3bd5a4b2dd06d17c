package v1alpha1

import (
	"strconv"
	"strings"
)

// Labels the operator puts on every object a Showtime owns, and their
// fixed values.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelVersion   = "app.kubernetes.io/version"
	LabelShowtime  = "boxoffice.dev/showtime"

	PartOf    = "boxoffice"
	ManagedBy = "boxoffice-operator"

	// ComponentShard and ComponentFrontend are the values of LabelComponent.
	ComponentShard    = "shard"
	ComponentFrontend = "frontend"
)

// Keys of the data the owned ConfigMap and Secrets hold.
const (
	// SeatMapKey is the seat map file in the seat-map ConfigMap.
	SeatMapKey = "seatmap.yaml"
	// ShowKey is the show file (title, venue, start) beside the seat map.
	ShowKey = "show.json"
	// TokenSecretKey holds the shard's bearer token in TokenSecretName.
	TokenSecretKey = "token"
	// PeerTokenSecretKey holds the members' peer token in PeerTokenSecretName.
	PeerTokenSecretKey = "token"
	// SessionKeyKey and SessionPreviousKeyKey hold the front end's session
	// key and, optionally, the one before the last rotation (still accepted).
	SessionKeyKey         = "key"
	SessionPreviousKeyKey = "previous"
	// PaymentSecretKey holds the secret that signs payment callbacks.
	PaymentSecretKey = "secret"
	// ShardDataVolume is the shard's claim template; its claims are
	// ShardDataVolume-<pod>.
	ShardDataVolume = "data"
)

// ID is NAMESPACE/NAME, the identity a shard reports.
func (s *Showtime) ID() string { return s.Namespace + "/" + s.Name }

// ShardName names the shard's StatefulSet, its headless Service, its
// PodDisruptionBudget and its NetworkPolicy.
func (s *Showtime) ShardName() string { return s.Name + "-shard" }

// ShardPodName is the shard pod with this StatefulSet ordinal; a single
// shard runs as ordinal 0.
func (s *Showtime) ShardPodName(ordinal int) string {
	return s.ShardName() + "-" + strconv.Itoa(ordinal)
}

// ShardPodNames are the pods of every shard member, in ordinal order.
func (s *Showtime) ShardPodNames() []string {
	out := make([]string, s.ShardReplicas())
	for i := range out {
		out[i] = s.ShardPodName(i)
	}
	return out
}

// ShardOrdinal is the ordinal of a shard pod's name, or -1 if the name is
// not one of this showtime's shard pods.
func (s *Showtime) ShardOrdinal(pod string) int {
	rest, ok := strings.CutPrefix(pod, s.ShardName()+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// ShardDomain is the DNS domain of the shard's headless Service; a member's
// stable name is <pod>.<ShardDomain>.
func (s *Showtime) ShardDomain() string { return s.ShardName() + "." + s.Namespace + ".svc" }

// ShardPodHost is the stable DNS name of the member with this ordinal.
func (s *Showtime) ShardPodHost(ordinal int) string {
	return s.ShardPodName(ordinal) + "." + s.ShardDomain()
}

// ShardClaimName is the PersistentVolumeClaim the StatefulSet makes for the
// member with this ordinal from its data claim template.
func (s *Showtime) ShardClaimName(ordinal int) string {
	return ShardDataVolume + "-" + s.ShardPodName(ordinal)
}

// SeatMapName names the ConfigMap with the seat map and the show file.
func (s *Showtime) SeatMapName() string { return s.Name + "-seatmap" }

// TokenSecretName names the Secret with the shard's bearer token
// (key TokenSecretKey).
func (s *Showtime) TokenSecretName() string { return s.Name + "-shard-token" }

// PeerTokenSecretName names the Secret a replicated shard's members present
// to each other (key PeerTokenSecretKey).
func (s *Showtime) PeerTokenSecretName() string { return s.Name + "-shard-peer-token" }

// FrontendName names the front end's Deployment, Service,
// HorizontalPodAutoscaler, PodDisruptionBudget and NetworkPolicy.
func (s *Showtime) FrontendName() string { return s.Name + "-frontend" }

// SessionSecretName names the Secret with the front end's session keys.
func (s *Showtime) SessionSecretName() string { return s.Name + "-frontend-session" }

// GeneratedPaymentSecretName names the payment-callback Secret the operator
// generates when the Showtime names none.
func (s *Showtime) GeneratedPaymentSecretName() string { return s.Name + "-payment-callback" }

// PaymentSecretName is the Secret that signs payment callbacks: the one
// spec.frontend.payments names, else the generated one; "" in demo mode.
func (s *Showtime) PaymentSecretName() string {
	p := s.Spec.Frontend.Payments
	switch {
	case p.Demo:
		return ""
	case p.CallbackSecretName != "":
		return p.CallbackSecretName
	default:
		return s.GeneratedPaymentSecretName()
	}
}

// SelectorLabels select one component of this showtime. They never change:
// selectors built from them are immutable.
func (s *Showtime) SelectorLabels(component string) map[string]string {
	return map[string]string{
		LabelName:     PartOf + "-" + component,
		LabelInstance: s.Name,
		LabelShowtime: s.Name,
	}
}

// OwnedLabels are the full label set of an object this showtime owns:
// SelectorLabels plus component, part-of and managed-by.
func (s *Showtime) OwnedLabels(component string) map[string]string {
	l := s.SelectorLabels(component)
	l[LabelComponent] = component
	l[LabelPartOf] = PartOf
	l[LabelManagedBy] = ManagedBy
	return l
}

// NamedShowtime is a Showtime that carries only its namespace and name:
// enough to ask for the names of the objects it owns when only its key is
// at hand (a command-line argument, a label value, a test's fixture).
func NamedShowtime(namespace, name string) *Showtime {
	st := &Showtime{}
	st.Namespace, st.Name = namespace, name
	return st
}
