package specs

import (
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
)

// ShardArgs are the shard's command line, per the shard contract.
func ShardArgs(st *boxv1.Showtime, o Options) []string {
	args := []string{
		"shard",
		"--showtime=" + st.ID(),
		"--seat-map=" + SeatMapDir + "/" + boxv1.SeatMapKey,
		"--data-dir=" + ShardDataDir,
		"--listen=:" + itoa(ShardPort),
		"--token-file=" + TokenDir + "/" + boxv1.TokenSecretKey,
		"--hold-ttl=" + st.HoldTTL().String(),
		"--max-seats-per-holder=" + itoa(int(st.MaxSeatsPerHolder())),
	}
	if o.MaxHoldTTL > 0 {
		args = append(args, "--max-hold-ttl="+o.MaxHoldTTL.String())
	}
	if st.Replicated() {
		args = append(args, clusterArgs(st)...)
	}
	if w := st.WaitingRoom(); w.Enabled {
		args = append(args, "--waiting-room",
			"--opens-at="+st.Spec.Sales.OpensAt.UTC().Format(time.RFC3339),
			"--waiting-room-max-active="+itoa(int(w.MaxActiveBuyers)),
			"--waiting-room-idle-timeout="+w.IdleTimeout.Duration.String(),
			"--waiting-room-pre-queue="+w.PreQueue.Duration.String())
	}
	return args
}

// ShardService is the headless Service that gives each shard pod a stable
// name. A replicated shard's members must find each other before any is
// ready (readiness needs a majority), so its names are published for pods
// that are not ready yet, and it carries the peer port.
func ShardService(st *boxv1.Showtime, o Options) *corev1ac.ServiceApplyConfiguration {
	spec := corev1ac.ServiceSpec().
		WithClusterIP(corev1.ClusterIPNone).
		WithSelector(st.SelectorLabels(boxv1.ComponentShard)).
		WithPorts(servicePort(ShardPortName, ShardPort))
	if st.Replicated() {
		spec.WithPublishNotReadyAddresses(true).
			WithPorts(servicePort(PeerPortName, PeerPort))
	}
	return corev1ac.Service(st.ShardName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(spec)
}

func restrictedContainerSecurity() *corev1ac.SecurityContextApplyConfiguration {
	return corev1ac.SecurityContext().
		WithRunAsNonRoot(true).
		WithRunAsUser(NonRootUID).
		WithRunAsGroup(NonRootUID).
		WithAllowPrivilegeEscalation(false).
		WithReadOnlyRootFilesystem(true).
		WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
}

// httpProbe checks path on the container's "http" port.
func httpProbe(path string, period, failures int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString(ShardPortName))).
		WithPeriodSeconds(period).
		WithTimeoutSeconds(2).
		WithFailureThreshold(failures)
}

// servicePort is a Service's TCP port to the container port of the same name.
func servicePort(name string, port int32) *corev1ac.ServicePortApplyConfiguration {
	return corev1ac.ServicePort().
		WithName(name).
		WithProtocol(corev1.ProtocolTCP).
		WithPort(port).
		WithTargetPort(intstr.FromString(name))
}

// serverContainer is a Box office server's container: its HTTP port (named
// ShardPortName), liveness on /healthz every 10 s, readiness on /readyz every
// readyPeriod seconds (two failures take it out), res and the restricted
// security context.
func serverContainer(name, image string, args []string, port, readyPeriod int32, res corev1.ResourceRequirements) *corev1ac.ContainerApplyConfiguration {
	return corev1ac.Container().
		WithName(name).
		WithImage(image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(args...).
		WithPorts(corev1ac.ContainerPort().WithName(ShardPortName).WithContainerPort(port).WithProtocol(corev1.ProtocolTCP)).
		WithLivenessProbe(httpProbe("/healthz", 10, 3)).
		WithReadinessProbe(httpProbe("/readyz", readyPeriod, 2)).
		WithResources(resourcesApply(res)).
		WithSecurityContext(restrictedContainerSecurity())
}

// restrictedPod gives spec what every Box office pod has: no service
// account token, no service links, 30 s to stop after SIGTERM, and a
// non-root user (file group NonRootUID) under the runtime's seccomp profile.
func restrictedPod(spec *corev1ac.PodSpecApplyConfiguration) *corev1ac.PodSpecApplyConfiguration {
	return spec.
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(30).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithFSGroup(NonRootUID).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
}

// defaultResources is a container's default: a CPU and memory request and a
// memory limit (no CPU limit, so a busy process is never throttled).
func defaultResources(cpu, memory, memoryLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(memory),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)},
	}
}

// resourcesOr is r, or def when r names neither requests nor limits.
func resourcesOr(r, def corev1.ResourceRequirements) corev1.ResourceRequirements {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return def
	}
	return r
}

func resourcesApply(r corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	out := corev1ac.ResourceRequirements()
	if len(r.Requests) > 0 {
		out.WithRequests(r.Requests)
	}
	if len(r.Limits) > 0 {
		out.WithLimits(r.Limits)
	}
	return out
}

// DefaultShardResources apply when a Showtime names none: the shard is one
// goroutine-heavy process whose memory grows with seats and open holds.
var DefaultShardResources = defaultResources("500m", "256Mi", "1Gi")

// ShardStatefulSet runs the shard's members. A 1-member shard is one pod:
// the only writer of the showtime's seats; one replica, a ReadWriteOncePod
// volume by default, and the epoch in the shard's log keep it a single
// writer. A replicated shard runs every member at once (parallel pod
// management: no member waits for another to be ready, which needs a
// majority), each with its own volume, its id from its ordinal, its peers by
// their stable names, and no two on one node.
func ShardStatefulSet(st *boxv1.Showtime, o Options) *appsv1ac.StatefulSetApplyConfiguration {
	storage := st.Spec.Shard.Storage
	size := storage.Size
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	access := corev1.ReadWriteOncePod
	if storage.AccessMode == boxv1.AccessModeReadWriteOnce {
		access = corev1.ReadWriteOnce
	}
	whenDeleted := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if storage.WhenDeleted == boxv1.DeleteVolume {
		whenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	res := resourcesOr(st.Spec.Shard.Resources, DefaultShardResources)

	pvcSpec := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(access).
		WithResources(corev1ac.VolumeResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
	if storage.StorageClassName != "" {
		pvcSpec.WithStorageClassName(storage.StorageClassName)
	}

	replicated := st.Replicated()
	// No startup probe: the shard serves /healthz from its first
	// milliseconds, while it replays its log, so liveness is safe from the
	// start, and /readyz turns 200 once the replay is done. A restart (an
	// upgrade, a rescheduled pod) is a write pause for the whole showtime, so
	// readiness is probed every second and not chained behind a startup
	// probe's own period. Readiness still needs two failures in a row to take
	// a serving shard out.
	container := serverContainer(boxv1.ComponentShard, ShardImage(st, o), ShardArgs(st, o), ShardPort, 1, res).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName(boxv1.ShardDataVolume).WithMountPath(ShardDataDir),
			corev1ac.VolumeMount().WithName("seatmap").WithMountPath(SeatMapDir).WithReadOnly(true),
			corev1ac.VolumeMount().WithName("token").WithMountPath(TokenDir).WithReadOnly(true),
		)

	podSpec := corev1ac.PodSpec()
	policy := appsv1.OrderedReadyPodManagement
	strategy := appsv1.RollingUpdateStatefulSetStrategyType
	if replicated {
		container.WithPorts(corev1ac.ContainerPort().WithName(PeerPortName).WithContainerPort(PeerPort).WithProtocol(corev1.ProtocolTCP)).
			WithEnv(clusterEnv()...).
			WithVolumeMounts(corev1ac.VolumeMount().WithName("peer-token").WithMountPath(PeerTokenDir).WithReadOnly(true))
		aff, spread := memberAffinity(st)
		podSpec.WithAffinity(aff).WithTopologySpreadConstraints(spread).
			WithVolumes(corev1ac.Volume().WithName("peer-token").WithSecret(
				corev1ac.SecretVolumeSource().WithSecretName(st.PeerTokenSecretName()).WithDefaultMode(0o440)))
		policy = appsv1.ParallelPodManagement
		// The operator moves the members to a new template itself, one at
		// a time, followers first and the leader last, each caught up
		// before the next (controllers/showtime_memberupdate.go): the
		// StatefulSet only makes a deleted member again on its revision.
		strategy = appsv1.OnDeleteStatefulSetStrategyType
	}

	pod := corev1ac.PodTemplateSpec().
		WithLabels(st.OwnedLabels(boxv1.ComponentShard)).
		// SIGTERM lets the shard finish acknowledged work and flush.
		WithSpec(restrictedPod(podSpec).
			WithContainers(container).
			WithVolumes(
				corev1ac.Volume().WithName("seatmap").WithConfigMap(
					corev1ac.ConfigMapVolumeSource().WithName(st.SeatMapName()).WithDefaultMode(0o444)),
				corev1ac.Volume().WithName("token").WithSecret(
					corev1ac.SecretVolumeSource().WithSecretName(st.TokenSecretName()).WithDefaultMode(0o440)),
			))

	return appsv1ac.StatefulSet(st.ShardName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(st.ShardReplicas()).
			WithServiceName(st.ShardName()).
			WithPodManagementPolicy(policy).
			WithUpdateStrategy(appsv1ac.StatefulSetUpdateStrategy().WithType(strategy)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard))).
			WithPersistentVolumeClaimRetentionPolicy(appsv1ac.StatefulSetPersistentVolumeClaimRetentionPolicy().
				WithWhenDeleted(whenDeleted).
				WithWhenScaled(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)).
			WithTemplate(pod).
			// A claim template carries no kind or namespace of its own.
			WithVolumeClaimTemplates((&corev1ac.PersistentVolumeClaimApplyConfiguration{}).
				WithName(boxv1.ShardDataVolume).
				WithLabels(st.OwnedLabels(boxv1.ComponentShard)).
				WithSpec(pvcSpec)))
}

// ShardPDB lets a drain take at most one member at a time. A replicated
// shard keeps its majority with one member out, so a drain moves members one
// by one and the sale goes on, on sale or not. A 1-member shard cannot be
// evicted while the showtime is on sale (a drain would stop every booking)
// and can otherwise.
func ShardPDB(st *boxv1.Showtime, o Options, now time.Time) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	maxUnavailable := intstr.FromInt32(1)
	if !st.Replicated() && OnSale(st, now) {
		maxUnavailable = intstr.FromInt32(0)
	}
	return policyv1ac.PodDisruptionBudget(st.ShardName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(maxUnavailable).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard))))
}

// MetricsScraperLabel marks namespaces whose pods may scrape shards' /metrics.
const MetricsScraperLabel = "boxoffice.dev/metrics-scraper"

// ShardNetworkPolicy lets only this showtime's front-end pods, the operator
// and metrics scrapers reach the shard port, and only the shard's own members
// reach the peer port; nothing else may talk to the shard.
func ShardNetworkPolicy(st *boxv1.Showtime, o Options) *networkingv1ac.NetworkPolicyApplyConfiguration {
	from := []*networkingv1ac.NetworkPolicyPeerApplyConfiguration{
		networkingv1ac.NetworkPolicyPeer().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentFrontend))),
	}
	// Prometheus (or any scraper) runs in a namespace labelled
	// boxoffice.dev/metrics-scraper=true. The port also serves the API, which
	// still needs the bearer token.
	from = append(from, networkingv1ac.NetworkPolicyPeer().
		WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{MetricsScraperLabel: "true"})))
	if o.OperatorNamespace != "" && len(o.OperatorPodLabels) > 0 {
		from = append(from, networkingv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{
				"kubernetes.io/metadata.name": o.OperatorNamespace,
			})).
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(o.OperatorPodLabels)))
	}
	rules := []*networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration{
		networkingv1ac.NetworkPolicyIngressRule().
			WithFrom(from...).
			WithPorts(networkingv1ac.NetworkPolicyPort().
				WithProtocol(corev1.ProtocolTCP).
				WithPort(intstr.FromInt32(ShardPort))),
	}
	if st.Replicated() {
		rules = append(rules, peerIngressRule(st))
	}
	return networkingv1ac.NetworkPolicy(st.ShardName(), st.Namespace).
		WithLabels(ObjectLabels(st, boxv1.ComponentShard, ShardImage(st, o))).
		WithOwnerReferences(OwnerReference(st)).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard))).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(rules...))
}
