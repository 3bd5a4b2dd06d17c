package specs

import (
	"strconv"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
)

// Front-end names, ports and paths.
const (
	FrontendPort        = 8080
	FrontendServicePort = 80
	SessionKeyKey       = "key"
	SessionPrevKeyKey   = "previous" // optional: the key before the last rotation, still accepted
	PaymentSecretKey    = "secret"
	SessionDir          = "/etc/boxoffice/session"
	PaymentDir          = "/etc/boxoffice/payment"
)

func FrontendName(st *boxv1.Showtime) string         { return st.Name + "-frontend" }
func SessionSecretName(st *boxv1.Showtime) string    { return st.Name + "-frontend-session" }
func GeneratedPaymentName(st *boxv1.Showtime) string { return st.Name + "-payment-callback" }

// PaymentSecretName is the Secret that signs payment callbacks, or "" in demo mode.
func PaymentSecretName(st *boxv1.Showtime) string {
	p := st.Spec.Frontend.Payments
	switch {
	case p.Demo:
		return ""
	case p.CallbackSecretName != "":
		return p.CallbackSecretName
	default:
		return GeneratedPaymentName(st)
	}
}

// FrontendImage is the image the front end runs.
func FrontendImage(st *boxv1.Showtime, o Options) string {
	if st.Spec.Frontend.Image != "" {
		return st.Spec.Frontend.Image
	}
	return o.DefaultImage
}

// ShardURL is how front-end pods reach the shard: the headless Service's name.
func ShardURL(st *boxv1.Showtime) string {
	return "http://" + ShardName(st) + "." + st.Namespace + ".svc:" + itoa(ShardPort)
}

// orDefault is *v, or def when v is unset. The CRD defaults these fields;
// 0 is a real value (off).
func orDefault(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

// TrustedProxyHops is the showtime's trustedProxyHops, else the operator's.
func TrustedProxyHops(st *boxv1.Showtime, o Options) int32 {
	if h := st.Spec.Frontend.TrustedProxyHops; h != nil {
		return *h
	}
	return o.FrontendTrustedProxyHops
}

// Autoscaling defaults, as the CRD defaults them.
func autoscaling(st *boxv1.Showtime) (minR, maxR, cpu int32) {
	a := st.Spec.Frontend.Autoscaling
	minR, maxR, cpu = a.MinReplicas, a.MaxReplicas, a.TargetCPUUtilizationPercentage
	if minR <= 0 {
		minR = 2
	}
	if maxR <= 0 {
		maxR = 50
	}
	if maxR < minR {
		maxR = minR
	}
	if cpu <= 0 {
		cpu = 60
	}
	return minR, maxR, cpu
}

// FrontendMax is the autoscaler's ceiling.
func FrontendMax(st *boxv1.Showtime) int32 {
	_, maxR, _ := autoscaling(st)
	return maxR
}

// PreScaleWindow is [opensAt-lead, opensAt+hold), and ok is false without preScale.
func PreScaleWindow(st *boxv1.Showtime) (start, end time.Time, ok bool) {
	p := st.Spec.Frontend.Autoscaling.PreScale
	if p == nil {
		return time.Time{}, time.Time{}, false
	}
	lead, hold := p.Lead.Duration, p.Hold.Duration
	if lead == 0 {
		lead = 30 * time.Minute
	}
	if hold == 0 {
		hold = 2 * time.Hour
	}
	opens := st.Spec.Sales.OpensAt.Time
	return opens.Add(-lead), opens.Add(hold), true
}

// InPreScale reports whether now is inside the pre-scale window.
func InPreScale(st *boxv1.Showtime, now time.Time) bool {
	start, end, ok := PreScaleWindow(st)
	return ok && !now.Before(start) && now.Before(end)
}

// FrontendFloor is the autoscaler's minimum at now.
func FrontendFloor(st *boxv1.Showtime, now time.Time) int32 {
	minR, maxR, _ := autoscaling(st)
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
	l := st.Spec.Frontend.ClientLimits
	args := []string{
		"frontend",
		"--showtime=" + ShowtimeID(st),
		"--shard-url=" + ShardURL(st),
		"--shard-token-file=" + TokenDir + "/" + TokenKey,
		"--session-key-file=" + SessionDir + "/" + SessionKeyKey,
		"--session-previous-key-file=" + SessionDir + "/" + SessionPrevKeyKey,
		"--seat-map=" + SeatMapDir + "/" + SeatMapKey,
		"--show-file=" + SeatMapDir + "/" + ShowKey,
		"--listen=:" + itoa(FrontendPort),
		"--hold-ttl=" + HoldTTL(st).String(),
		"--max-hold-lifetime=" + MaxHoldLifetime(st).String(),
		"--payment-ttl=" + PaymentTTL(st).String(),
		"--max-seats-per-holder=" + itoa(int(MaxSeatsPerHolder(st))),
		"--client-seats=" + itoa(int(orDefault(l.SeatsPerHoldTTL, 32))),
		"--max-client-streams=" + itoa(int(orDefault(l.StreamsPerClient, 8))),
		"--new-session-rate=" + strconv.FormatFloat(float64(orDefault(l.NewSessionsPerMinute, 60))/60, 'g', -1, 64),
		"--new-session-burst=" + itoa(int(orDefault(l.NewSessionBurst, 20))),
		"--trusted-proxy-hops=" + itoa(int(TrustedProxyHops(st, o))),
	}
	if st.Spec.Frontend.PlainHTTP {
		args = append(args, "--insecure-cookies")
	}
	if st.Spec.Frontend.Payments.Demo {
		args = append(args, "--demo-payments")
	} else {
		args = append(args, "--payment-secret-file="+PaymentDir+"/"+PaymentSecretKey)
	}
	return args
}

// DefaultFrontendResources apply when a Showtime names none. The CPU request
// is the base of the autoscaler's utilisation target, so it must be set.
var DefaultFrontendResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("250m"),
		corev1.ResourceMemory: resource.MustParse("128Mi"),
	},
	Limits: corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse("512Mi"),
	},
}

// FrontendDeployment runs the stateless front end. Its replica count belongs
// to the autoscaler, so it is never applied here.
func FrontendDeployment(st *boxv1.Showtime, o Options) *appsv1ac.DeploymentApplyConfiguration {
	res := st.Spec.Frontend.Resources
	if len(res.Requests) == 0 && len(res.Limits) == 0 {
		res = DefaultFrontendResources
	}
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName("seatmap").WithMountPath(SeatMapDir).WithReadOnly(true),
		corev1ac.VolumeMount().WithName("token").WithMountPath(TokenDir).WithReadOnly(true),
		corev1ac.VolumeMount().WithName("session").WithMountPath(SessionDir).WithReadOnly(true),
	}
	volumes := []*corev1ac.VolumeApplyConfiguration{
		corev1ac.Volume().WithName("seatmap").WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(SeatMapName(st)).WithDefaultMode(0o444)),
		corev1ac.Volume().WithName("token").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(TokenName(st)).WithDefaultMode(0o440)),
		corev1ac.Volume().WithName("session").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(SessionSecretName(st)).WithDefaultMode(0o440)),
	}
	if name := PaymentSecretName(st); name != "" {
		mounts = append(mounts, corev1ac.VolumeMount().WithName("payment").WithMountPath(PaymentDir).WithReadOnly(true))
		volumes = append(volumes, corev1ac.Volume().WithName("payment").WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(name).WithDefaultMode(0o440).
				WithItems(corev1ac.KeyToPath().WithKey(PaymentSecretKey).WithPath(PaymentSecretKey))))
	}
	container := corev1ac.Container().
		WithName(ComponentFrontend).
		WithImage(FrontendImage(st, o)).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(FrontendArgs(st, o)...).
		WithPorts(corev1ac.ContainerPort().WithName(ShardPortName).WithContainerPort(FrontendPort).WithProtocol(corev1.ProtocolTCP)).
		WithLivenessProbe(httpProbe("/healthz", 10, 3)).
		WithReadinessProbe(httpProbe("/readyz", 2, 2)).
		WithResources(resourcesApply(res)).
		WithSecurityContext(restrictedContainerSecurity()).
		WithVolumeMounts(mounts...)

	return appsv1ac.Deployment(FrontendName(st), st.Namespace).
		WithLabels(ObjectLabels(st, ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(st, ComponentFrontend))).
			WithStrategy(appsv1ac.DeploymentStrategy().
				WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxUnavailable(intstr.FromInt32(0)).
					WithMaxSurge(intstr.FromString("25%")))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(Labels(st, ComponentFrontend)).
				WithSpec(corev1ac.PodSpec().
					WithAutomountServiceAccountToken(false).
					WithEnableServiceLinks(false).
					WithTerminationGracePeriodSeconds(30).
					WithSecurityContext(corev1ac.PodSecurityContext().
						WithRunAsNonRoot(true).
						// The secret volumes are mode 0440: the non-root user
						// reads them through this group.
						WithFSGroup(NonRootUID).
						WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
					WithContainers(container).
					WithVolumes(volumes...))))
}

// FrontendService is the buyers' entry point (behind the cluster's ingress).
func FrontendService(st *boxv1.Showtime, o Options) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(FrontendName(st), st.Namespace).
		WithLabels(ObjectLabels(st, ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(SelectorLabels(st, ComponentFrontend)).
			WithPorts(corev1ac.ServicePort().
				WithName(ShardPortName).
				WithProtocol(corev1.ProtocolTCP).
				WithPort(FrontendServicePort).
				WithTargetPort(intstr.FromString(ShardPortName))))
}

// FrontendPDB lets a drain take one front-end pod at a time.
func FrontendPDB(st *boxv1.Showtime, o Options) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(FrontendName(st), st.Namespace).
		WithLabels(ObjectLabels(st, ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(st, ComponentFrontend))))
}

// FrontendHPA scales the front end on CPU: up fast (double or +4 pods every
// 15 s, no stabilisation), down slowly (10% a minute after 5 minutes calm).
// Inside the pre-scale window the floor is preScale.replicas and scale-down
// is disabled.
func FrontendHPA(st *boxv1.Showtime, o Options, now time.Time) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	_, maxR, cpu := autoscaling(st)
	floor := FrontendFloor(st, now)
	down := autoscalingv2ac.HPAScalingRules().
		WithStabilizationWindowSeconds(300).
		WithSelectPolicy(autoscalingv2.MinChangePolicySelect).
		WithPolicies(autoscalingv2ac.HPAScalingPolicy().WithType(autoscalingv2.PercentScalingPolicy).WithValue(10).WithPeriodSeconds(60))
	if InPreScale(st, now) {
		down = autoscalingv2ac.HPAScalingRules().WithSelectPolicy(autoscalingv2.DisabledPolicySelect)
	}
	return autoscalingv2ac.HorizontalPodAutoscaler(FrontendName(st), st.Namespace).
		WithLabels(ObjectLabels(st, ComponentFrontend, FrontendImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().
			WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
				WithAPIVersion("apps/v1").WithKind("Deployment").WithName(FrontendName(st))).
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
