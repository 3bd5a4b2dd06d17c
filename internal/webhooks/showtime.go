package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	"boxoffice.dev/boxoffice/internal/seatmap"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// +kubebuilder:webhook:path=/validate-boxoffice-dev-v1alpha1-showtime,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=boxoffice.dev,resources=showtimes,verbs=create;update;delete,versions=v1alpha1,name=vshowtime.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5

// ShowtimeValidator checks a Showtime's seat map with the shared parser and
// denies creates, updates and deletes during a freeze that applies to it.
// Status writes go to the status subresource, which this webhook does not
// intercept, so they are never blocked.
type ShowtimeValidator struct {
	g *gate
}

var _ admission.Validator[*boxv1.Showtime] = &ShowtimeValidator{}

const showtimeAllowed = "Allowed during a freeze: a rollback of spec.shard.image or spec.frontend.image to any image the showtime has run (status.versions), " +
	"a vertical scale-up of spec.shard.resources or spec.frontend.resources (requests and limits raised, none lowered, added as a limit or removed), " +
	"raising spec.frontend.autoscaling minReplicas or maxReplicas, lowering its targetCPUUtilizationPercentage, adding preScale or raising its replicas, lead or hold, " +
	"and raising spec.sales.waitingRoom.maxActiveBuyers. "

// ValidateCreate checks the seat map and the freeze windows that would select
// the new showtime. Its own sale freeze does not stop a create: there is
// nothing running yet to protect.
func (v *ShowtimeValidator) ValidateCreate(ctx context.Context, st *boxv1.Showtime) (admission.Warnings, error) {
	if err := validateSeatMap(st); err != nil {
		return nil, err
	}
	req, hits, judge, err := v.freezesFor(ctx, st)
	if err != nil || !judge {
		return nil, err
	}
	windows := hits[:0]
	for _, h := range hits {
		if !h.Sale() {
			windows = append(windows, h)
		}
	}
	return nil, v.g.decide(ctx, v.change(req, "create", nil, st), windows)
}

// ValidateUpdate denies a spec or label change during a freeze unless it is
// only a rollback and/or a scale-up (freeze.JudgeShowtimeUpdate), or breaks
// glass. The denial names each field the freeze does not let through.
func (v *ShowtimeValidator) ValidateUpdate(ctx context.Context, old, st *boxv1.Showtime) (admission.Warnings, error) {
	if err := validateSeatMap(st); err != nil {
		return nil, err
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if v.g.isOperator(req.UserInfo) || !st.DeletionTimestamp.IsZero() {
		// The operator, and finalizer removal on the way out, always pass.
		return nil, nil
	}
	if equality.Semantic.DeepEqual(old.Spec, st.Spec) && equality.Semantic.DeepEqual(old.Labels, st.Labels) {
		// Annotation-only changes (including adding break-glass) are free.
		return nil, nil
	}
	hits, err := v.g.hitsFor(ctx, v.g.now(), old, st)
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	verdict := freeze.JudgeShowtimeUpdate(old, st, v.g.cfg.DefaultImage)
	if verdict.Allowed() {
		for _, k := range verdict.Exceptions {
			freezeExceptions.WithLabelValues("Showtime", k).Inc()
		}
		if len(verdict.Exceptions) == 0 {
			return nil, nil
		}
		return admission.Warnings{fmt.Sprintf("allowed during the freeze as a %s: %s", strings.Join(verdict.Exceptions, " and "), frozenBy(hits))}, nil
	}
	c := v.change(req, "update", old, st)
	c.notAllowed = verdict.DeniedString()
	return nil, v.g.decide(ctx, c, hits)
}

// freezesFor is the admission request and the freezes that hold st now;
// judge is false for the operator's own requests, which freezes never stop.
func (v *ShowtimeValidator) freezesFor(ctx context.Context, st *boxv1.Showtime) (req admission.Request, hits []freeze.Hit, judge bool, err error) {
	req, err = admission.RequestFromContext(ctx)
	if err != nil || v.g.isOperator(req.UserInfo) {
		return req, nil, false, err
	}
	hits, err = v.g.hitsFor(ctx, v.g.now(), st)
	return req, hits, err == nil, err
}

// ValidateDelete denies deleting a frozen showtime (which would take its
// shard and front end down mid-sale) unless it breaks glass; annotate the
// showtime with the reason before deleting.
func (v *ShowtimeValidator) ValidateDelete(ctx context.Context, st *boxv1.Showtime) (admission.Warnings, error) {
	req, hits, judge, err := v.freezesFor(ctx, st)
	if err != nil || !judge {
		return nil, err
	}
	return nil, v.g.decide(ctx, v.change(req, "delete", st, nil), hits)
}

// change describes the request; old is nil for a create, st nil for a delete.
func (v *ShowtimeValidator) change(req admission.Request, op string, old, st *boxv1.Showtime) change {
	var oldAnn, newAnn map[string]string
	subject := st
	if old != nil {
		oldAnn = old.Annotations
	}
	if st != nil {
		newAnn = st.Annotations
	} else {
		subject = old
	}
	why, stale := breakGlassOf(op, oldAnn, newAnn)
	return change{
		op: op, kind: "Showtime", namespace: subject.Namespace, name: subject.Name,
		user: req.UserInfo, dryRun: req.DryRun != nil && *req.DryRun,
		breakGlass: why, staleBreakGlass: stale, regarding: subject, allowedHint: showtimeAllowed,
	}
}

// validateSeatMap runs the shard's own parser over the seat map, so a map
// the shard would refuse never gets in; the error names the bad row.
func validateSeatMap(st *boxv1.Showtime) error {
	if _, err := seatmap.Expand(st.SeatMapSpec()); err != nil {
		path := field.NewPath("spec", "seatMap")
		msg := err.Error()
		var se *seatmap.Error
		if errors.As(err, &se) {
			p := path.String() + "." + se.Path
			detail := se.Msg
			if se.Where != "" {
				detail = se.Where + ": " + se.Msg
			}
			return apierrors.NewInvalid(boxv1.GroupVersion.WithKind("Showtime").GroupKind(), st.Name,
				field.ErrorList{field.Invalid(field.NewPath(p), field.OmitValueType{}, detail)})
		}
		return apierrors.NewInvalid(boxv1.GroupVersion.WithKind("Showtime").GroupKind(), st.Name,
			field.ErrorList{field.Invalid(path, field.OmitValueType{}, msg)})
	}
	return nil
}
