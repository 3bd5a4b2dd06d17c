package freeze

import (
	"slices"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const defaultImage = "registry.example/boxoffice:v2"

// running is a showtime as stored mid-sale: images v9 running, v2..v8 run
// before it, explicit resources and a pre-scale block.
func running() *boxv1.Showtime {
	st := &boxv1.Showtime{
		ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: "venues", Labels: map[string]string{"tier": "headline"}},
		Spec: boxv1.ShowtimeSpec{
			Title: "Stand-up 10, night 1",
			Shard: boxv1.ShardSpec{
				Image: "registry.example/boxoffice:v9",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
			},
			Frontend: boxv1.FrontendSpec{
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
				Autoscaling: boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50, TargetCPUUtilizationPercentage: 60,
					PreScale: &boxv1.PreScale{Replicas: 20, Lead: metav1.Duration{Duration: 30 * time.Minute}, Hold: metav1.Duration{Duration: 2 * time.Hour}}},
			},
		},
	}
	hist := boxv1.ImageHistory{Current: "registry.example/boxoffice:v9", Previous: "registry.example/boxoffice:v8"}
	for v := 9; v >= 2; v-- {
		hist.History = append(hist.History, "registry.example/boxoffice:v"+string(rune('0'+v)))
	}
	st.Status.Versions = boxv1.VersionHistory{Shard: hist, Frontend: hist}
	return st
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

func TestJudgeShowtimeUpdate(t *testing.T) {
	rollback, scaleUp := []string{ExceptionRollback}, []string{ExceptionScaleUp}
	tests := []struct {
		name       string
		old        func(*boxv1.Showtime) // adjusts the stored object
		change     func(*boxv1.Showtime)
		exceptions []string
		denied     []string // "field why-prefix"
	}{
		{name: "no change", change: func(*boxv1.Showtime) {}},
		{name: "title", change: func(s *boxv1.Showtime) { s.Spec.Title = "x" }, denied: []string{"spec.title changed"}},
		{name: "labels", change: func(s *boxv1.Showtime) { s.Labels = nil }, denied: []string{"metadata.labels changed"}},

		// Rollback: to any image the showtime ran.
		{name: "rollback to previous", change: func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v8" }, exceptions: rollback},
		{name: "rollback to an older image than the previous one", change: func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v4" }, exceptions: rollback},
		{name: "rollback of the front end to the oldest recorded", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Image = "registry.example/boxoffice:v3" }, exceptions: rollback},
		{name: "rollback to the default image, written empty", change: func(s *boxv1.Showtime) { s.Spec.Shard.Image = "" }, exceptions: rollback},
		{name: "image never run", change: func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v10" },
			denied: []string{`spec.shard.image set to "registry.example/boxoffice:v10", an image the showtime has not run (a rollback may go to any of [registry.example/boxoffice:v9 registry.example/boxoffice:v8 registry.example/boxoffice:v7`}},
		{name: "image before history existed: previous only", old: func(s *boxv1.Showtime) { s.Status.Versions.Shard.History = nil },
			change: func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v8" }, exceptions: rollback},
		{name: "image with nothing recorded", old: func(s *boxv1.Showtime) { s.Status.Versions = boxv1.VersionHistory{} },
			change: func(s *boxv1.Showtime) { s.Spec.Frontend.Image = "registry.example/boxoffice:v8" },
			denied: []string{`spec.frontend.image set to "registry.example/boxoffice:v8", an image the showtime has not run (a rollback may go to any of [] (none recorded yet))`}},
		{name: "default image spelt out", old: func(s *boxv1.Showtime) { s.Spec.Frontend.Image = "" },
			change: func(s *boxv1.Showtime) { s.Spec.Frontend.Image = defaultImage }},

		// Vertical scale-up of the shard and the front end.
		{name: "shard requests and limits raised", change: func(s *boxv1.Showtime) {
			s.Spec.Shard.Resources.Requests[corev1.ResourceCPU] = q("2")
			s.Spec.Shard.Resources.Requests[corev1.ResourceMemory] = q("1Gi")
			s.Spec.Shard.Resources.Limits[corev1.ResourceMemory] = q("2Gi")
		}, exceptions: scaleUp},
		{name: "shard cpu request raised alone", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Requests[corev1.ResourceCPU] = q("1") }, exceptions: scaleUp},
		{name: "front-end memory request added", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Resources.Requests[corev1.ResourceMemory] = q("128Mi") }, exceptions: scaleUp},
		{name: "front-end resources set from nothing", old: func(s *boxv1.Showtime) { s.Spec.Frontend.Resources = corev1.ResourceRequirements{} },
			change: func(s *boxv1.Showtime) {
				s.Spec.Frontend.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("1")}
			}, exceptions: scaleUp},
		{name: "same quantity spelt another way", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Requests[corev1.ResourceCPU] = q("0.5") }},
		{name: "shard limit lowered", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Limits[corev1.ResourceMemory] = q("384Mi") },
			denied: []string{"spec.shard.resources.limits.memory lowered from 512Mi to 384Mi"}},
		{name: "request raised but limit lowered", change: func(s *boxv1.Showtime) {
			s.Spec.Shard.Resources.Requests[corev1.ResourceMemory] = q("384Mi")
			s.Spec.Shard.Resources.Limits[corev1.ResourceMemory] = q("384Mi")
		}, exceptions: scaleUp, denied: []string{"spec.shard.resources.limits.memory lowered from 512Mi to 384Mi"}},
		{name: "front-end cpu request lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Resources.Requests[corev1.ResourceCPU] = q("100m") },
			denied: []string{"spec.frontend.resources.requests.cpu lowered from 250m to 100m"}},
		{name: "request removed", change: func(s *boxv1.Showtime) { delete(s.Spec.Shard.Resources.Requests, corev1.ResourceCPU) },
			denied: []string{"spec.shard.resources.requests.cpu removed (was 500m)"}},
		{name: "limit removed", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Limits = nil },
			denied: []string{"spec.shard.resources.limits.memory removed (was 512Mi)"}},
		{name: "limit added", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Limits[corev1.ResourceCPU] = q("4") },
			denied: []string{"spec.shard.resources.limits.cpu added (4): a new limit caps what was unbounded"}},
		{name: "request added below the limit standing in for it", old: func(s *boxv1.Showtime) { delete(s.Spec.Shard.Resources.Requests, corev1.ResourceMemory) },
			change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Requests[corev1.ResourceMemory] = q("128Mi") },
			denied: []string{"spec.shard.resources.requests.memory added at 128Mi, below the limit 512Mi that stood in for it"}},
		{name: "claims changed", change: func(s *boxv1.Showtime) { s.Spec.Shard.Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}} },
			denied: []string{"spec.shard.resources.claims changed"}},

		// Waiting room: more buyers choosing at once is a scale-up.
		{name: "waiting room: more active buyers than the default", change: func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 400 }, exceptions: scaleUp},
		{name: "waiting room: defaults written out", change: func(s *boxv1.Showtime) {
			s.Spec.Sales.WaitingRoom = boxv1.WaitingRoom{MaxActiveBuyers: 200, IdleTimeout: metav1.Duration{Duration: 3 * time.Minute},
				PreQueue: &metav1.Duration{Duration: 30 * time.Minute}}
		}},
		{name: "waiting room: fewer active buyers", old: func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 400 },
			change: func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 300 },
			denied: []string{"spec.sales.waitingRoom.maxActiveBuyers lowered from 400 to 300"}},
		{name: "waiting room: turned on", change: func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.Enabled = true },
			denied: []string{"spec.sales.waitingRoom.enabled changed"}},
		{name: "waiting room: more buyers and a longer idle timeout", change: func(s *boxv1.Showtime) {
			s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 500
			s.Spec.Sales.WaitingRoom.IdleTimeout = metav1.Duration{Duration: 10 * time.Minute}
		}, exceptions: scaleUp, denied: []string{"spec.sales.waitingRoom.idleTimeout"}},

		// Autoscaling.
		{name: "min and max raised", change: func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.MinReplicas, s.Spec.Frontend.Autoscaling.MaxReplicas = 4, 80
		}, exceptions: scaleUp},
		{name: "min lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.MinReplicas = 1 },
			denied: []string{"spec.frontend.autoscaling.minReplicas lowered from 2 to 1"}},
		{name: "max lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.MaxReplicas = 30 },
			denied: []string{"spec.frontend.autoscaling.maxReplicas lowered from 50 to 30"}},
		{name: "cpu target lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.TargetCPUUtilizationPercentage = 40 }, exceptions: scaleUp},
		{name: "cpu target raised", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.TargetCPUUtilizationPercentage = 80 },
			denied: []string{"spec.frontend.autoscaling.targetCPUUtilizationPercentage raised from 60 to 80"}},
		{name: "autoscaling first written with the defaults", old: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{} },
			change: func(s *boxv1.Showtime) {
				s.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50, TargetCPUUtilizationPercentage: 60}
			}},
		{name: "spec.shard and spec.frontend first written bring the CRD's defaults", old: func(s *boxv1.Showtime) {
			s.Spec.Shard, s.Spec.Frontend = boxv1.ShardSpec{}, boxv1.FrontendSpec{}
		}, change: func(s *boxv1.Showtime) {
			s.Spec.Shard = boxv1.ShardSpec{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
				Storage: boxv1.ShardStorage{Size: q("1Gi"), AccessMode: boxv1.AccessModeReadWriteOncePod, WhenDeleted: boxv1.RetainVolume}}
			s.Spec.Frontend = boxv1.FrontendSpec{
				Autoscaling: boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50, TargetCPUUtilizationPercentage: 60, PreScale: &boxv1.PreScale{Replicas: 10}},
				ClientLimits: boxv1.ClientLimits{NewSessionsPerMinute: ptr.To[int32](60), NewSessionBurst: ptr.To[int32](20),
					SeatsPerHoldTTL: ptr.To[int32](32), StreamsPerClient: ptr.To[int32](8)}}
		}, exceptions: scaleUp},
		{name: "client limits changed", change: func(s *boxv1.Showtime) { s.Spec.Frontend.ClientLimits.StreamsPerClient = ptr.To[int32](2) },
			denied: []string{"spec.frontend.clientLimits.streamsPerClient changed"}},
		{name: "preScale added", old: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale = nil },
			change: func(s *boxv1.Showtime) {
				s.Spec.Frontend.Autoscaling.PreScale = &boxv1.PreScale{Replicas: 30, Lead: metav1.Duration{Duration: time.Hour}}
			}, exceptions: scaleUp},
		{name: "preScale removed", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale = nil },
			denied: []string{"spec.frontend.autoscaling.preScale removed"}},
		{name: "preScale replicas, lead and hold raised", change: func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.PreScale = &boxv1.PreScale{Replicas: 40,
				Lead: metav1.Duration{Duration: time.Hour}, Hold: metav1.Duration{Duration: 6 * time.Hour}}
		}, exceptions: scaleUp},
		{name: "preScale replicas lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale.Replicas = 10 },
			denied: []string{"spec.frontend.autoscaling.preScale.replicas lowered from 20 to 10"}},
		{name: "preScale lead lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale.Lead.Duration = 10 * time.Minute },
			denied: []string{"spec.frontend.autoscaling.preScale.lead lowered from 30m0s to 10m0s"}},
		{name: "preScale hold lowered", change: func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale.Hold.Duration = time.Hour },
			denied: []string{"spec.frontend.autoscaling.preScale.hold lowered from 2h0m0s to 1h0m0s"}},

		// Mixed changes.
		{name: "rollback and scale-up together", change: func(s *boxv1.Showtime) {
			s.Spec.Shard.Image = "registry.example/boxoffice:v5"
			s.Spec.Frontend.Autoscaling.MaxReplicas = 100
		}, exceptions: []string{ExceptionRollback, ExceptionScaleUp}},
		{name: "scale-up with another change", change: func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.MaxReplicas = 100
			s.Spec.Sales.MaxSeatsPerHolder = 2
			s.Spec.Frontend.Payments.Demo = true
		}, exceptions: scaleUp, denied: []string{"spec.frontend.payments.demo changed", "spec.sales.maxSeatsPerHolder changed"}},
		{name: "rollback with a new version of the other component", change: func(s *boxv1.Showtime) {
			s.Spec.Shard.Image = "registry.example/boxoffice:v8"
			s.Spec.Frontend.Image = "registry.example/boxoffice:v11"
		}, exceptions: rollback, denied: []string{`spec.frontend.image set to "registry.example/boxoffice:v11"`}},
		{name: "sale freeze moved", change: func(s *boxv1.Showtime) { s.Spec.Sales.Freeze.Before = &metav1.Duration{} },
			denied: []string{"spec.sales.freeze.before changed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := running()
			if tc.old != nil {
				tc.old(old)
			}
			cur := old.DeepCopy()
			tc.change(cur)
			snapshot := cur.DeepCopy()
			v := JudgeShowtimeUpdate(old, cur, defaultImage)
			if !slices.Equal(v.Exceptions, tc.exceptions) {
				t.Errorf("exceptions = %v, want %v", v.Exceptions, tc.exceptions)
			}
			if len(v.Denied) != len(tc.denied) {
				t.Fatalf("denied = %q, want %d entries starting %q", v.DeniedString(), len(tc.denied), tc.denied)
			}
			for i, d := range v.Denied {
				if !strings.HasPrefix(d.String(), tc.denied[i]) {
					t.Errorf("denied[%d] = %q, want it to start %q", i, d.String(), tc.denied[i])
				}
			}
			if v.Allowed() != (len(tc.denied) == 0) {
				t.Errorf("Allowed() = %v with %d denials", v.Allowed(), len(tc.denied))
			}
			if cur.Spec.Title != snapshot.Spec.Title || cur.Spec.Shard.Image != snapshot.Spec.Shard.Image ||
				cur.Spec.Frontend.Autoscaling.MaxReplicas != snapshot.Spec.Frontend.Autoscaling.MaxReplicas {
				t.Errorf("JudgeShowtimeUpdate modified its input")
			}
		})
	}
}

func TestChangedFieldsBounded(t *testing.T) {
	a := map[string]int{}
	b := map[string]int{}
	for i := range 15 {
		b[string(rune('a'+i))] = i
	}
	got := changedFields("spec", a, b)
	if len(got) != maxChangedFields+1 || got[maxChangedFields] != "and 5 more fields" || got[0] != "spec.a" {
		t.Errorf("changedFields = %q", got)
	}
}
