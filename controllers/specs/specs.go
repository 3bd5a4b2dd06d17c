// Package specs builds the objects a Showtime owns. Every function here is
// pure: it takes the Showtime and the operator's settings and returns an apply
// configuration, so the content of each owned object can be tested without a
// cluster and applied with server-side apply by one field owner.
package specs

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"strconv"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// Well-known names, labels and paths shared by the operator and its pods.
const (
	// FieldOwner is the server-side apply field manager of the operator.
	FieldOwner = "boxoffice-operator"

	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelVersion   = "app.kubernetes.io/version"
	LabelShowtime  = "boxoffice.dev/showtime"

	PartOf    = "boxoffice"
	ManagedBy = "boxoffice-operator"

	ComponentShard    = "shard"
	ComponentFrontend = "frontend"

	ShardPort     = 7070
	ShardPortName = "http"

	SeatMapKey   = "seatmap.yaml"
	TokenKey     = "token"
	SeatMapDir   = "/etc/boxoffice/seatmap"
	TokenDir     = "/etc/boxoffice/token"
	ShardDataDir = "/var/lib/boxoffice"
	DataVolume   = "data"

	// NonRootUID is the user the images run as (distroless nonroot).
	NonRootUID = 65532
)

// Options are the operator-wide settings the builders need.
type Options struct {
	// DefaultImage is the operator's own image, used for shards unless a
	// Showtime names another.
	DefaultImage string
	// OperatorNamespace is where the operator runs; its pods may reach shards.
	OperatorNamespace string
	// OperatorPodLabels select the operator's pods in OperatorNamespace.
	OperatorPodLabels map[string]string
	// MaxHoldTTL is passed to shards as --max-hold-ttl.
	MaxHoldTTL time.Duration
	// FrontendTrustedProxyHops is passed to front ends as
	// --trusted-proxy-hops unless a Showtime sets spec.frontend.trustedProxyHops.
	FrontendTrustedProxyHops int32
}

// Names of the owned objects.
func ShardName(st *boxv1.Showtime) string    { return st.Name + "-shard" }
func SeatMapName(st *boxv1.Showtime) string  { return st.Name + "-seatmap" }
func TokenName(st *boxv1.Showtime) string    { return st.Name + "-shard-token" }
func ShardPodName(st *boxv1.Showtime) string { return ShardName(st) + "-0" }

// ShowtimeID is NAMESPACE/NAME, the identity a shard reports.
func ShowtimeID(st *boxv1.Showtime) string { return st.Namespace + "/" + st.Name }

// SelectorLabels select one component of one showtime. They never change.
func SelectorLabels(st *boxv1.Showtime, component string) map[string]string {
	return map[string]string{
		LabelName:     PartOf + "-" + component,
		LabelInstance: st.Name,
		LabelShowtime: st.Name,
	}
}

// Labels are the full label set of an owned object.
func Labels(st *boxv1.Showtime, component string) map[string]string {
	l := SelectorLabels(st, component)
	l[LabelComponent] = component
	l[LabelPartOf] = PartOf
	l[LabelManagedBy] = ManagedBy
	return l
}

// ObjectLabels are the labels of an owned object's own metadata: Labels plus
// app.kubernetes.io/version when the component's image has a usable tag.
// Pod templates, claim templates and selectors use Labels, never these: a
// version there would restart pods on every release or break an immutable
// selector.
func ObjectLabels(st *boxv1.Showtime, component, image string) map[string]string {
	l := Labels(st, component)
	if v := VersionFromImage(image); v != "" {
		l[LabelVersion] = v
	}
	return l
}

// VersionFromImage is the tag of an image reference as a label value: the
// part after the last ':' when that comes after the last '/'. It is "" for
// an image without a tag or pinned only by digest. Characters a label value
// may not hold become '-', and the result is cut to 63 characters and
// trimmed to start and end with a letter or digit.
func VersionFromImage(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i] // name:tag@digest keeps its tag; name@digest has none
	}
	colon := strings.LastIndexByte(image, ':')
	if colon < 0 || colon < strings.LastIndexByte(image, '/') {
		return ""
	}
	b := []byte(image[colon+1:])
	for i, c := range b {
		if !isLabelValueByte(c) {
			b[i] = '-'
		}
	}
	if len(b) > validation.LabelValueMaxLength {
		b = b[:validation.LabelValueMaxLength]
	}
	v := strings.TrimFunc(string(b), func(r rune) bool { return !isAlnum(byte(r)) })
	if len(validation.IsValidLabelValue(v)) > 0 {
		return ""
	}
	return v
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isLabelValueByte(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_' || c == '.'
}

// ShardImage is the image the shard runs.
func ShardImage(st *boxv1.Showtime, o Options) string {
	if st.Spec.Shard.Image != "" {
		return st.Spec.Shard.Image
	}
	return o.DefaultImage
}

// OwnerReference makes the Showtime the controller owner of an object, so
// deleting the Showtime garbage-collects it.
func OwnerReference(st *boxv1.Showtime) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(boxv1.GroupVersion.String()).
		WithKind("Showtime").
		WithName(st.Name).
		WithUID(st.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// OnSale reports whether now is inside the sale window [opensAt, closesAt).
func OnSale(st *boxv1.Showtime, now time.Time) bool {
	return !now.Before(st.Spec.Sales.OpensAt.Time) && now.Before(st.Spec.Sales.ClosesAt.Time)
}

// HoldTTL is the showtime's hold lifetime with its default.
func HoldTTL(st *boxv1.Showtime) time.Duration {
	if st.Spec.Sales.HoldTTL.Duration > 0 {
		return st.Spec.Sales.HoldTTL.Duration
	}
	return 10 * time.Minute
}

// PaymentTTL is how long a hold waits for a payment, with its default.
func PaymentTTL(st *boxv1.Showtime) time.Duration {
	if st.Spec.Sales.PaymentTTL.Duration > 0 {
		return st.Spec.Sales.PaymentTTL.Duration
	}
	return 15 * time.Minute
}

// MaxHoldLifetime is the longest a hold may be extended to, counted from its
// creation: the showtime's maxHoldLifetime, else twice holdTTL, at most 2h;
// never shorter than holdTTL.
func MaxHoldLifetime(st *boxv1.Showtime) time.Duration {
	ttl := HoldTTL(st)
	if l := st.Spec.Sales.MaxHoldLifetime; l != nil && l.Duration > 0 {
		return max(l.Duration, ttl)
	}
	return max(min(2*ttl, 2*time.Hour), ttl)
}

// MaxSeatsPerHolder is the showtime's per-holder limit with its default.
func MaxSeatsPerHolder(st *boxv1.Showtime) int32 {
	if st.Spec.Sales.MaxSeatsPerHolder > 0 {
		return st.Spec.Sales.MaxSeatsPerHolder
	}
	return 8
}

// WaitingRoom is the showtime's waiting room with its defaults filled in
// (enabled as the spec says).
func WaitingRoom(st *boxv1.Showtime) boxv1.WaitingRoom {
	w := st.Spec.Sales.WaitingRoom
	if w.MaxActiveBuyers <= 0 {
		w.MaxActiveBuyers = 200
	}
	if w.IdleTimeout.Duration <= 0 {
		w.IdleTimeout.Duration = 3 * time.Minute
	}
	if w.PreQueue == nil {
		w.PreQueue = &metav1.Duration{Duration: 30 * time.Minute}
	}
	return w
}

func itoa(i int) string { return strconv.Itoa(i) }
