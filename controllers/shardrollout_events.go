package controllers

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rolloutEvent is an Event a reconcile means to record.
type rolloutEvent struct {
	regarding, related        runtime.Object
	typ, reason, action, note string
}

// event queues an Event. Queued events are recorded only once the status
// they describe is written (flushEvents): a reconcile whose status write is
// refused (it computed from a stale copy) tells nothing, so events never
// contradict the rollout's status.
func (s *rolloutScope) event(regarding, related runtime.Object, typ, reason, action, format string, args ...any) {
	s.events = append(s.events, rolloutEvent{regarding: regarding, related: related, typ: typ, reason: reason, action: action,
		note: fmt.Sprintf(format, args...)})
}

func (r *ShardRolloutReconciler) flushEvents(s *rolloutScope) {
	for _, e := range s.events {
		r.Recorder.Eventf(e.regarding, e.related, e.typ, e.reason, e.action, "%s", e.note)
	}
	s.events = nil
}

// consumeSpec sets back the one-shot fields the reconcile used:
// spec.promote, spec.retry and spec.retryBake, and spec.abort of a rollout
// started over.
func (r *ShardRolloutReconciler) consumeSpec(ctx context.Context, s *rolloutScope) error {
	var fields []string
	if s.consumePromote {
		fields = append(fields, `"promote":false`)
	}
	if s.consumeRetry {
		fields = append(fields, `"retry":false`, `"retryBake":null`)
	}
	if s.consumeAbort {
		fields = append(fields, `"abort":false`)
	}
	if len(fields) == 0 {
		return nil
	}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{`+strings.Join(fields, ",")+`}}`))
	if err := r.Patch(ctx, s.ro, patch); err != nil {
		return fmt.Errorf("clearing spec one-shot fields (%s): %w", strings.Join(fields, ", "), err)
	}
	return nil
}
