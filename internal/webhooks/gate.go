// Package webhooks holds Box office's admission webhooks, served by the
// manager: Showtime validation (seat map, freezes), the freeze guard on the
// workloads the operator manages, and FreezeWindow schedule validation.
package webhooks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Config is what the webhooks need from the manager's command line.
type Config struct {
	// BreakGlassUsers and BreakGlassGroups may make changes during a freeze
	// by annotating them with boxoffice.dev/break-glass.
	BreakGlassUsers  []string
	BreakGlassGroups []string
	// OperatorUsernames are exempt from freezes: the manager's own identity
	// (its service account, system:serviceaccount:NS:NAME).
	OperatorUsernames []string
	// DefaultImage is what an empty spec.shard.image or spec.frontend.image
	// means, to recognise a rollback to it.
	DefaultImage string
	// Clock is injectable for tests; nil is the real clock.
	Clock clock.PassiveClock
}

var (
	breakGlassTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_freeze_break_glass_total",
		Help: "Changes let through a freeze by break-glass, by kind, namespace and operation.",
	}, []string{"kind", "namespace", "operation"})
	freezeDenials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_freeze_denials_total",
		Help: "Changes denied by a freeze, by kind and operation (break-glass refusals included).",
	}, []string{"kind", "operation"})
	freezeExceptions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_freeze_allowed_exceptions_total",
		Help: "Changes allowed during a freeze because they are a rollback or a scale-up, by kind and exception.",
	}, []string{"kind", "exception"})
)

func init() {
	metrics.Registry.MustRegister(breakGlassTotal, freezeDenials, freezeExceptions)
}

// gate is the freeze decision shared by the webhooks.
type gate struct {
	reader   client.Reader
	recorder events.EventRecorder
	cfg      Config
}

func (g *gate) now() time.Time {
	if g.cfg.Clock != nil {
		return g.cfg.Clock.Now()
	}
	return time.Now()
}

func (g *gate) isOperator(u authenticationv1.UserInfo) bool {
	return u.Username != "" && slices.Contains(g.cfg.OperatorUsernames, u.Username)
}

func (g *gate) mayBreakGlass(u authenticationv1.UserInfo) bool {
	if slices.Contains(g.cfg.BreakGlassUsers, u.Username) {
		return true
	}
	for _, grp := range u.Groups {
		if slices.Contains(g.cfg.BreakGlassGroups, grp) {
			return true
		}
	}
	return false
}

// change describes one admission request for messages, events and metrics.
type change struct {
	op        string // create, update, delete
	kind      string // Showtime, Deployment, ...
	namespace string
	name      string
	user      authenticationv1.UserInfo
	dryRun    bool
	// breakGlass is the break-glass reason this very request brings (see
	// breakGlassOf); empty when it brings none.
	breakGlass string
	// staleBreakGlass is a break-glass annotation already on the object that
	// this request leaves as it was: it does not count, the denial says so.
	staleBreakGlass string
	// regarding is the object the break-glass Event is recorded on.
	regarding runtime.Object
	// allowedHint says which exceptions exist for this kind.
	allowedHint string
	// breakGlassHint replaces the default advice on how to carry the
	// annotation with this kind of request (a delete, a scale).
	breakGlassHint string
	// notAllowed names the parts of the change no exception covers.
	notAllowed string
}

// breakGlassOf is the break-glass reason a request carries. On an update
// only an annotation this very request adds or gives a new value counts; one
// left on the object by an earlier change is returned as stale, so that
// later edits by anyone allowed to break glass do not pass silently under an
// old reason. On a create or a delete the annotation present counts (for a
// delete, annotate first: there is no new object to carry it).
func breakGlassOf(op string, oldAnn, newAnn map[string]string) (reason, stale string) {
	switch op {
	case "create":
		return strings.TrimSpace(newAnn[boxv1.BreakGlassAnnotation]), ""
	case "delete":
		return strings.TrimSpace(oldAnn[boxv1.BreakGlassAnnotation]), ""
	}
	n := strings.TrimSpace(newAnn[boxv1.BreakGlassAnnotation])
	if n == "" {
		return "", ""
	}
	if n == strings.TrimSpace(oldAnn[boxv1.BreakGlassAnnotation]) {
		return "", n
	}
	return n, ""
}

// decide returns nil when the change may proceed through the freezes in
// hits, or the denial. Break-glass by an allowed user is recorded as a
// Warning event on the object and counted.
func (g *gate) decide(ctx context.Context, c change, hits []freeze.Hit) error {
	if len(hits) == 0 {
		return nil
	}
	if why := c.breakGlass; why != "" {
		if g.mayBreakGlass(c.user) {
			logf.FromContext(ctx).Info("break-glass", "user", c.user.Username, "groups", c.user.Groups,
				"kind", c.kind, "object", c.namespace+"/"+c.name, "operation", c.op, "reason", why)
			if !c.dryRun {
				breakGlassTotal.WithLabelValues(c.kind, c.namespace, c.op).Inc()
				if c.regarding != nil {
					g.recorder.Eventf(c.regarding, nil, corev1.EventTypeWarning, "BreakGlass", "BreakGlass",
						"%s (groups %s) broke glass to %s %s %s during %s: %s",
						c.user.Username, strings.Join(c.user.Groups, ","), c.op, c.kind, c.name, hitNames(hits), why)
				}
			}
			return nil
		}
		freezeDenials.WithLabelValues(c.kind, c.op).Inc()
		return fmt.Errorf("%s of %s %s/%s denied: %s; user %q (groups %s) is not allowed to break glass: only users %s and groups %s named in the operator's --break-glass-users and --break-glass-groups may",
			c.op, c.kind, c.namespace, c.name, frozenBy(hits), c.user.Username, quoteList(c.user.Groups),
			quoteList(g.cfg.BreakGlassUsers), quoteList(g.cfg.BreakGlassGroups))
	}
	freezeDenials.WithLabelValues(c.kind, c.op).Inc()
	hint := c.breakGlassHint
	if hint == "" && c.op == "delete" {
		hint = " (for a delete, annotate the object first)"
	}
	stale := ""
	if c.staleBreakGlass != "" {
		stale = fmt.Sprintf(". The %s annotation already on the object (%q) was set by an earlier change and does not count: break-glass is honoured only on the change that adds the annotation or gives it a new value",
			boxv1.BreakGlassAnnotation, c.staleBreakGlass)
	}
	notAllowed := ""
	if c.notAllowed != "" {
		notAllowed = "Not allowed during a freeze: " + c.notAllowed + ". "
	}
	return fmt.Errorf("%s of %s %s/%s denied: %s. %s%sTo break glass, a user or group named in the operator's --break-glass-users or --break-glass-groups adds the annotation %s: \"<reason>\" to the change%s; it is recorded as an event%s.",
		c.op, c.kind, c.namespace, c.name, frozenBy(hits), notAllowed, c.allowedHint, boxv1.BreakGlassAnnotation, hint, stale)
}

func frozenBy(hits []freeze.Hit) string {
	parts := make([]string, len(hits))
	for i, h := range hits {
		parts[i] = h.String()
	}
	return "frozen by " + strings.Join(parts, "; ")
}

func hitNames(hits []freeze.Hit) string {
	parts := make([]string, len(hits))
	for i, h := range hits {
		if h.Sale() {
			parts[i] = "the sale freeze"
		} else {
			parts[i] = "FreezeWindow " + h.Window
		}
	}
	return strings.Join(parts, ", ")
}

func quoteList(xs []string) string {
	if len(xs) == 0 {
		return "[]"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// hitsFor is every freeze in force on a showtime: windows that select it
// (under its old or new labels) and its own sale freeze (under its old or
// new spec), without duplicates. A change cannot escape a freeze by also
// changing what the freeze is computed from.
func (g *gate) hitsFor(ctx context.Context, now time.Time, sts ...*boxv1.Showtime) ([]freeze.Hit, error) {
	list := &boxv1.FreezeWindowList{}
	// Read-only use: skip the cache's deep copy of every window.
	if err := g.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing freeze windows: %w", err)
	}
	var nsLabels map[string]string
	if len(list.Items) > 0 && len(sts) > 0 {
		var err error
		if nsLabels, err = freeze.NamespaceLabels(ctx, g.reader, sts[0].Namespace); err != nil {
			return nil, err
		}
	}
	var hits []freeze.Hit
	seen := map[string]bool{}
	for _, st := range sts {
		if st == nil {
			continue
		}
		for _, h := range freeze.ForShowtime(list.Items, nsLabels, st, now) {
			key := h.Window
			if h.Sale() {
				key = "\x00sale"
			}
			if !seen[key] {
				seen[key] = true
				hits = append(hits, h)
			}
		}
	}
	return hits, nil
}
