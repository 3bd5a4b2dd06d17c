package webhooks

import (
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("What a freeze lets through", func() {
	It("allows a vertical scale-up, pre-scale, a lower CPU target and a rollback to any image run; names the field it denies", func() {
		ns := newNamespace()
		label := strings.TrimPrefix(ns, "wh-")
		st := showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		st.Spec.Shard.Image = "registry.example/boxoffice:v5"
		st.Spec.Shard.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
		Expect(operator.Create(ctx, st)).To(Succeed())
		st.Status.Versions.Shard = boxv1.ImageHistory{Current: "registry.example/boxoffice:v5", Previous: "registry.example/boxoffice:v4",
			History: []string{"registry.example/boxoffice:v5", "registry.example/boxoffice:v4", "registry.example/boxoffice:v3", testImage}}
		Expect(operator.Status().Update(ctx, st)).To(Succeed())
		frozenWindow("ex-"+label, label)
		Eventually(func() error { return editTitle(bob, st, "probe") }).Should(HaveOccurred())
		edit := func(m func(*boxv1.Showtime)) error { return update(bob, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, m) }

		// Vertical scale-up of the shard: requests and the limit raised.
		Expect(edit(func(s *boxv1.Showtime) {
			s.Spec.Shard.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
			s.Spec.Shard.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("2Gi")
		})).To(Succeed())
		// Lowering a limit is not a scale-up, even next to a raise; the denial names it.
		err := edit(func(s *boxv1.Showtime) {
			s.Spec.Shard.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("4")
			s.Spec.Shard.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
		})
		Expect(err).To(MatchError(ContainSubstring("update of Showtime " + ns + "/standup denied: frozen by FreezeWindow")))
		Expect(err.Error()).To(ContainSubstring("Not allowed during a freeze: spec.shard.resources.limits.memory lowered from 2Gi to 1Gi."))

		// Pre-scale added, then raised; the CPU target lowered.
		Expect(edit(func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.PreScale = &boxv1.PreScale{Replicas: 10}
		})).To(Succeed())
		Expect(edit(func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.PreScale.Replicas = 30
			s.Spec.Frontend.Autoscaling.PreScale.Hold = metav1.Duration{Duration: 4 * time.Hour}
			s.Spec.Frontend.Autoscaling.TargetCPUUtilizationPercentage = 40
		})).To(Succeed())
		Expect(edit(func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.PreScale = nil })).
			To(MatchError(ContainSubstring("Not allowed during a freeze: spec.frontend.autoscaling.preScale removed.")))

		// A rollback past the previous image, to one in the history.
		Expect(edit(func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v3" })).To(Succeed())
		err = edit(func(s *boxv1.Showtime) {
			s.Spec.Shard.Image = "registry.example/boxoffice:v4"
			s.Spec.Title = "and a new title"
		})
		Expect(err).To(MatchError(ContainSubstring("Not allowed during a freeze: spec.title changed.")))
	})

	It("allows raising a workload's container resources and lowering an autoscaler's CPU target, not the reverse", func() {
		ns := newNamespace()
		label := strings.TrimPrefix(ns, "wh-")
		st := showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(operator.Create(ctx, st)).To(Succeed())
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: st.ShardName(), Namespace: ns, Labels: st.OwnedLabels(boxv1.ComponentShard)},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: st.SelectorLabels("shard")},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: st.SelectorLabels("shard")},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shard", Image: testImage, Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}}}}}},
		}
		Expect(operator.Create(ctx, sts)).To(Succeed())
		hpa := &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: st.FrontendName(), Namespace: ns, Labels: st.OwnedLabels(boxv1.ComponentFrontend)},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 50,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: st.FrontendName()},
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](60)}}}}},
		}
		Expect(operator.Create(ctx, hpa)).To(Succeed())
		frozenWindow("wr-"+label, label)
		Eventually(func() error { return editTitle(bob, st, "probe") }).Should(HaveOccurred())
		setMemory := func(q string) func(*appsv1.StatefulSet) {
			return func(s *appsv1.StatefulSet) {
				s.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse(q)
			}
		}
		Expect(update(bob, &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}, setMemory("1Gi"))).To(Succeed())
		Expect(update(bob, &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}, setMemory("256Mi"))).
			To(MatchError(ContainSubstring("update of StatefulSet " + ns + "/standup-shard denied")))
		setTarget := func(pct int32) func(*autoscalingv2.HorizontalPodAutoscaler) {
			return func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource.Target.AverageUtilization = ptr.To(pct)
			}
		}
		Expect(update(bob, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: hpa.ObjectMeta}, setTarget(40))).To(Succeed())
		Expect(update(bob, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: hpa.ObjectMeta}, setTarget(80))).
			To(MatchError(ContainSubstring("update of HorizontalPodAutoscaler " + ns + "/standup-frontend denied")))
		got := &appsv1.StatefulSet{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(sts), got)).To(Succeed())
		Expect(got.Spec.Template.Spec.Containers[0].Resources.Requests.Memory().String()).To(Equal("1Gi"))
	})
})
