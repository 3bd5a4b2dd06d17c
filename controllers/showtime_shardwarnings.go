package controllers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Reasons of the Warning events raised for a shard's reports.
const (
	// ReasonPaidAfterExpiry: a confirm with an order id came after its hold
	// had expired or was released; the buyer paid and no seat was sold.
	ReasonPaidAfterExpiry = "PaidAfterExpiry"
	// ReasonShardLogDamaged: the shard dropped a damaged last record of its
	// log at start-up; it may have been acknowledged.
	ReasonShardLogDamaged = "ShardLogDamaged"
)

// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// shardNotice is one shard report to raise as a Warning event.
type shardNotice struct {
	seq    uint64
	reason string
	note   string
}

// newShardNotices are the reports in rep not raised yet by the Showtime's
// AnnotationShardReportsSeen ("<reportsId>/<seq>"), in report order. A new
// reports id (a new data directory) makes all of its reports new. Pure.
func newShardNotices(seen string, rep *shardapi.Status) []shardNotice {
	if rep == nil || rep.ReportsID == "" {
		return nil
	}
	var after uint64
	if id, seq, ok := strings.Cut(seen, "/"); ok && id == rep.ReportsID {
		after, _ = strconv.ParseUint(seq, 10, 64)
	}
	var out []shardNotice
	for _, p := range rep.PaidAfterExpiry {
		if p.Seq > after {
			out = append(out, shardNotice{seq: p.Seq, reason: ReasonPaidAfterExpiry, note: clip(fmt.Sprintf(
				"Payment after expiry: hold %s was confirmed with order %q at %s, after the hold had expired or was released (409 hold_expired). The buyer paid and no seat was sold: refund or rebook by hand.",
				p.Hold, p.OrderID, p.At.UTC().Format(time.RFC3339)))})
		}
	}
	for _, w := range rep.LogWarnings {
		if w.Seq > after {
			out = append(out, shardNotice{seq: w.Seq, reason: ReasonShardLogDamaged, note: clip(fmt.Sprintf(
				"Shard log damage found at %s (%s): %s", w.At.UTC().Format(time.RFC3339), w.Kind, w.Message))})
		}
	}
	// Report order (sequence numbers are shared by both kinds).
	slices.SortFunc(out, func(a, b shardNotice) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func clip(s string) string {
	if len(s) > maxEventNote {
		return s[:maxEventNote] + "..."
	}
	return s
}

// shardNoticeName names the event of one report: the same report always gets
// the same name, so raising it again (a cached Showtime that does not show
// the annotation yet, a crash between the event and the annotation) finds it
// already there.
func shardNoticeName(st *boxv1.Showtime, reportsID string, seq uint64) string {
	id := reportsID
	if len(id) > 16 || strings.Trim(id, "0123456789abcdef") != "" {
		sum := sha256.Sum256([]byte(reportsID))
		id = hex.EncodeToString(sum[:8])
	}
	name := st.Name
	if len(name) > 200 {
		name = strings.TrimRight(name[:200], ".-")
	}
	return fmt.Sprintf("%s.shard-report-%s-%d", name, id, seq)
}

// raiseShardReports raises one Warning event on the Showtime per report of
// its shard not raised before, then records how far it got in
// AnnotationShardReportsSeen. Failures are logged and retried at the next
// status read; they never fail the reconcile.
//
// Deduplication: the annotation survives manager restarts and the events'
// own expiry (the API server's event TTL, an hour by default); the
// deterministic event names cover the moment between an event and the
// annotation. A shard that loses its reports file starts a new reports id and
// its reports are raised as new.
func (r *ShowtimeReconciler) raiseShardReports(ctx context.Context, st *boxv1.Showtime, rep *shardapi.Status, now time.Time) {
	notices := newShardNotices(st.Annotations[boxv1.AnnotationShardReportsSeen], rep)
	if len(notices) == 0 {
		return
	}
	log := logf.FromContext(ctx)
	raised := uint64(0)
	for _, n := range notices {
		ev := &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Name: shardNoticeName(st, rep.ReportsID, n.seq), Namespace: st.Namespace},
			EventTime:           metav1.NewMicroTime(now),
			ReportingController: "boxoffice-showtime",
			ReportingInstance:   reportingInstance(),
			Action:              "ReadShardStatus",
			Reason:              n.reason,
			Type:                corev1.EventTypeWarning,
			Note:                n.note,
			Regarding: corev1.ObjectReference{APIVersion: boxv1.GroupVersion.String(), Kind: "Showtime",
				Namespace: st.Namespace, Name: st.Name, UID: st.UID},
		}
		if err := r.Create(ctx, ev); err != nil && !apierrors.IsAlreadyExists(err) {
			log.Error(err, "raising a shard report as an event", "reason", n.reason, "seq", n.seq)
			break
		}
		raised = n.seq
	}
	if raised == 0 {
		return
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, boxv1.AnnotationShardReportsSeen, rep.ReportsID+"/"+strconv.FormatUint(raised, 10))
	obj := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: st.Name, Namespace: st.Namespace}}
	if err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		log.Error(err, "recording the shard reports raised", "annotation", boxv1.AnnotationShardReportsSeen)
	}
}

func reportingInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "manager"
	}
	if len(h) > 100 {
		h = h[:100]
	}
	return "boxoffice-showtime-" + h
}
