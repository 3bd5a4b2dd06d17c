package specs

import (
	"strconv"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
)

// Front-end ports and paths.
const (
	FrontendPort        = 8080
	FrontendServicePort = 80
	SessionDir          = "/etc/boxoffice/session"
	PaymentDir          = "/etc/boxoffice/payment"
)

// FrontendImage is the image the front end runs.
func FrontendImage(st *boxv1.Showtime, o Options) string {
	if st.Spec.Frontend.Image != "" {
		return st.Spec.Frontend.Image
	}
	return o.DefaultImage
}

// ShardURL is how front-end pods reach the shard: the headless Service's
// name; for a replicated shard, every member's stable name, comma-separated
// (the front end follows the leader among them).
func ShardURL(st *boxv1.Showtime) string {
	if st.Replicated() {
		return strings.Join(ShardMemberURLs(st), ",")
	}
	return "http://" + st.ShardDomain() + ":" + itoa(ShardPort)
}

// TrustedProxyHops is the showtime's trustedProxyHops, else the operator's.
func TrustedProxyHops(st *boxv1.Showtime, o Options) int32 {
	if h := st.Spec.Frontend.TrustedProxyHops; h != nil {
		return *h
	}
	return o.FrontendTrustedProxyHops
}

// FrontendMax is the autoscaler's ceiling.
func FrontendMax(st *boxv1.Showtime) int32 {
	_, maxR, _ := st.FrontendAutoscaling()
	return maxR
}

// InPreScale reports whether now is inside the pre-scale window.
func InPreScale(st *boxv1.Showtime, now time.Time) bool {
	start, end, ok := st.PreScaleWindow()
	return ok && !now.Before(start) && now.Before(end)
}

// FrontendFloor is the autoscaler's minimum at now.
func FrontendFloor(st *boxv1.Showtime, now time.Time) int32 {
	minR, maxR, _ := st.FrontendAutoscaling()
	if InPreScale(st, now) {
		r := st.Spec.Frontend.Autoscaling.PreScale.Replicas
		if r > maxR {
			r = maxR
		}
		if r > minR {
			return r
		}
	}
	return minR
}

// FrontendArgs are the front end's command line: the showtime's sale rules
// and client limits become flags, so the front end enforces them before a
// request reaches the shard.
func FrontendArgs(st *boxv1.Showtime, o Options) []string {
	l := st.ClientLimits()
	args := []string{
		"frontend",
		"--showtime=" + st.ID(),
		"--shard-url=" + ShardURL(st),
		"--shard-token-file=" + TokenDir + "/" + boxv1.TokenSecretKey,
		"--session-key-file=" + SessionDir + "/" + boxv1.SessionKeyKey,
		"--session-previous-key-file=" + SessionDir + "/" + boxv1.SessionPreviousKeyKey,
		"--seat-map=" + SeatMapDir + "/" + boxv1.SeatMapKey,
		"--show-file=" + SeatMapDir + "/" + boxv1.ShowKey,
		"--listen=:" + itoa(FrontendPort),
		"--hold-ttl=" + st.HoldTTL().String(),
		"--max-hold-lifetime=" + st.MaxHoldLifetime().String(),
		"--payment-ttl=" + st.PaymentTTL().String(),
		"--max-seats-per-holder=" + itoa(int(st.MaxSeatsPerHolder())),
		"--client-seats=" + itoa(int(*l.SeatsPerHoldTTL)),
		"--max-client-streams=" + itoa(int(*l.StreamsPerClient)),
		"--new-session-rate=" + strconv.FormatFloat(float64(*l.NewSessionsPerMinute)/60, 'g', -1, 64),
		"--new-session-burst=" + itoa(int(*l.NewSessionBurst)),
		"--trusted-proxy-hops=" + itoa(int(TrustedProxyHops(st, o))),
	}
	if st.Spec.Frontend.PlainHTTP {
		args = append(args, "--insecure-cookies")
	}
	if st.Spec.Frontend.Payments.Demo {
		args = append(args, "--demo-payments")
	} else {
		args = append(args, "--payment-secret-file="+PaymentDir+"/"+boxv1.PaymentSecretKey)
	}
	return args
}

// DefaultFrontendResources apply when a Showtime names none. The CPU request
// is the base of the autoscaler's utilisation target, so it must be set.
var DefaultFrontendResources = defaultResources("250m", "128Mi", "512Mi")

// FrontendDeployment runs the stateless front end. Its replica count belongs
// to the autoscaler, so it is never applied here.
func FrontendDeployment(st *boxv1.Showtime, o Options) *appsv1ac.DeploymentApplyConfiguration {
	res := resourcesOr(st.Spec.Frontend.Resources, DefaultFrontendResources)
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName("seatmap").WithMountPath(SeatMapDir).WithReadOnly(true),
		corev1ac.VolumeMount().WithName("token").WithMountPath(TokenDir).WithReadOnly(true),
		corev1ac.VolumeMount().WithName("session").WithMountPath(SessionDir).WithReadOnly(true),
	}
	volumes := []*corev1ac.VolumeApplyConfiguration{
		corev1ac.Volume().WithName("seatmap").WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(st.SeatMapName()).WithDefaultMode(0o444)),
		corev1ac.Volume().WithName("token").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(st.TokenSecretName()).WithDefaultMode(0o440)),
		corev1ac.Volume().WithName("session").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(st.SessionSecretName()).WithDefaultMode(0o440)),
	}
	if name := st.PaymentSecretName(); name != "" {
		mounts = append(mounts, corev1ac.VolumeMount().WithName("payment").WithMountPath(PaymentDir).WithReadOnly(true))
		volumes = append(volumes, corev1ac.Volume().WithName("payment").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(name).WithDefaultMode(0o440).
				WithItems(corev1ac.KeyToPath().WithKey(boxv1.PaymentSecretKey).WithPath(boxv1.PaymentSecretKey))))
	}
	container := serverContainer(boxv1.ComponentFrontend, FrontendImage(st, o), FrontendArgs(st, o), FrontendPort, 2, res).
		WithVolumeMounts(mounts...)

	return appsv1ac.Deployment(st.FrontendName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentFrontend))).
			WithStrategy(appsv1ac.DeploymentStrategy().
				WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxUnavailable(intstr.FromInt32(0)).
					WithMaxSurge(intstr.FromString("25%")))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(st.OwnedLabels(boxv1.ComponentFrontend)).
				// The secret volumes are mode 0440: the non-root user reads them
				// through the pod's file group.
				WithSpec(restrictedPod(corev1ac.PodSpec()).
					WithContainers(container).
					WithVolumes(volumes...))))
}

// FrontendService is the buyers' entry point (behind the cluster's ingress).
func FrontendService(st *boxv1.Showtime, o Options) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(st.FrontendName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(st.SelectorLabels(boxv1.ComponentFrontend)).
			WithPorts(servicePort(ShardPortName, FrontendServicePort)))
}

// FrontendPDB lets a drain take one front-end pod at a time.
func FrontendPDB(st *boxv1.Showtime, o Options) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(st.FrontendName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentFrontend))))
}

// FrontendHPA scales the front end on CPU: up fast (double or +4 pods every
// 15 s, no stabilisation), down slowly (10% a minute after 5 minutes calm).
// Inside the pre-scale window the floor is preScale.replicas and scale-down
// is disabled.
func FrontendHPA(st *boxv1.Showtime, o Options, now time.Time) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	_, maxR, cpu := st.FrontendAutoscaling()
	floor := FrontendFloor(st, now)
	down := autoscalingv2ac.HPAScalingRules().
		WithStabilizationWindowSeconds(300).
		WithSelectPolicy(autoscalingv2.MinChangePolicySelect).
		WithPolicies(autoscalingv2ac.HPAScalingPolicy().WithType(autoscalingv2.PercentScalingPolicy).WithValue(10).WithPeriodSeconds(60))
	if InPreScale(st, now) {
		down = autoscalingv2ac.HPAScalingRules().WithSelectPolicy(autoscalingv2.DisabledPolicySelect)
	}
	return autoscalingv2ac.HorizontalPodAutoscaler(st.FrontendName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().
			WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
				WithAPIVersion("apps/v1").WithKind("Deployment").WithName(st.FrontendName())).
			WithMinReplicas(floor).
			WithMaxReplicas(maxR).
			WithMetrics(autoscalingv2ac.MetricSpec().
				WithType(autoscalingv2.ResourceMetricSourceType).
				WithResource(autoscalingv2ac.ResourceMetricSource().
					WithName(corev1.ResourceCPU).
					WithTarget(autoscalingv2ac.MetricTarget().
						WithType(autoscalingv2.UtilizationMetricType).
						WithAverageUtilization(cpu)))).
			WithBehavior(autoscalingv2ac.HorizontalPodAutoscalerBehavior().
				WithScaleUp(autoscalingv2ac.HPAScalingRules().
					WithStabilizationWindowSeconds(0).
					WithSelectPolicy(autoscalingv2.MaxChangePolicySelect).
					WithPolicies(
						autoscalingv2ac.HPAScalingPolicy().WithType(autoscalingv2.PercentScalingPolicy).WithValue(100).WithPeriodSeconds(15),
						autoscalingv2ac.HPAScalingPolicy().WithType(autoscalingv2.PodsScalingPolicy).WithValue(4).WithPeriodSeconds(15))).
				WithScaleDown(down)))
}
