// Package specs builds the objects a Showtime owns. Every function here is
// pure: it takes the Showtime and the operator's settings and returns an apply
// configuration, so the content of each owned object can be tested without a
// cluster and applied with server-side apply by one field owner.
//
// Names, labels, data keys and spec defaults of the owned objects are not
// here: they live next to the API types in api/v1alpha1 (names.go,
// defaults.go), so the webhooks, the plugin and the tests share them without
// importing the builders. What stays here is the objects' content: ports,
// mount paths, flags, probes, security and scheduling.
package specs

import (
	"strconv"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// The field owner, ports and paths shared by the operator and its pods.
const (
	// FieldOwner is the server-side apply field manager of the operator.
	FieldOwner = "boxoffice-operator"

	ShardPort     = 7070
	ShardPortName = "http"

	SeatMapDir   = "/etc/boxoffice/seatmap"
	TokenDir     = "/etc/boxoffice/token"
	ShardDataDir = "/var/lib/boxoffice"

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

// ObjectLabels are the labels of an owned object's own metadata: OwnedLabels plus
// app.kubernetes.io/version when the component's image has a usable tag.
// Pod templates, claim templates and selectors use OwnedLabels, never these: a
// version there would restart pods on every release or break an immutable
// selector.
func ObjectLabels(st *boxv1.Showtime, component, image string) map[string]string {
	l := st.OwnedLabels(component)
	if v := VersionFromImage(image); v != "" {
		l[boxv1.LabelVersion] = v
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

func itoa(i int) string { return strconv.Itoa(i) }
