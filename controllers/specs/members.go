package specs

import (
	"strconv"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
)

// Names, ports and paths of a replicated shard (contract v2).
const (
	// DefaultShardReplicas is the member count of a Showtime that names none.
	DefaultShardReplicas = 3

	PeerPort     = 7071
	PeerPortName = "peer"
	PeerTokenKey = "token"
	PeerTokenDir = "/etc/boxoffice/peer-token"

	// PodIndexLabel is the label the StatefulSet controller puts on each
	// pod with its ordinal.
	PodIndexLabel = "apps.kubernetes.io/pod-index"

	// ZoneLabel and HostnameLabel are the well-known node topology labels.
	ZoneLabel     = "topology.kubernetes.io/zone"
	HostnameLabel = "kubernetes.io/hostname"
)

// ShardReplicas is the shard's member count: spec.shard.replicas, 3 when unset.
func ShardReplicas(st *boxv1.Showtime) int32 {
	if r := st.Spec.Shard.Replicas; r > 0 {
		return r
	}
	return DefaultShardReplicas
}

// Replicated tells whether the shard runs as a cluster (contract v2).
func Replicated(st *boxv1.Showtime) bool { return ShardReplicas(st) > 1 }

// PeerTokenName is the Secret members present to each other.
func PeerTokenName(st *boxv1.Showtime) string { return st.Name + "-shard-peer-token" }

// ShardMemberPodName is the pod of the member with this StatefulSet ordinal.
func ShardMemberPodName(st *boxv1.Showtime, ordinal int) string {
	return ShardName(st) + "-" + strconv.Itoa(ordinal)
}

// ShardMemberPodNames are the pods of every member, in ordinal order.
func ShardMemberPodNames(st *boxv1.Showtime) []string {
	n := int(ShardReplicas(st))
	out := make([]string, n)
	for i := range out {
		out[i] = ShardMemberPodName(st, i)
	}
	return out
}

// MemberOrdinal is the ordinal of a member pod's name, or -1 if the name is
// not one of this showtime's shard pods.
func MemberOrdinal(st *boxv1.Showtime, pod string) int {
	rest, ok := strings.CutPrefix(pod, ShardName(st)+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// ShardMemberHost is a member's stable DNS name through the headless Service.
func ShardMemberHost(st *boxv1.Showtime, ordinal int) string {
	return ShardMemberPodName(st, ordinal) + "." + ShardName(st) + "." + st.Namespace + ".svc"
}

// ShardMemberURL is the URL of a member's /v1 API (its --advertise-url).
func ShardMemberURL(st *boxv1.Showtime, ordinal int) string {
	return "http://" + ShardMemberHost(st, ordinal) + ":" + itoa(ShardPort)
}

// ShardMemberURLs are every member's API URL, in ordinal order.
func ShardMemberURLs(st *boxv1.Showtime) []string {
	n := int(ShardReplicas(st))
	out := make([]string, n)
	for i := range out {
		out[i] = ShardMemberURL(st, i)
	}
	return out
}

// ShardPeers is the --peers value: every member's id (ordinal+1) and peer URL.
func ShardPeers(st *boxv1.Showtime) string {
	n := int(ShardReplicas(st))
	parts := make([]string, n)
	for i := range parts {
		parts[i] = itoa(i+1) + "=http://" + ShardMemberHost(st, i) + ":" + itoa(PeerPort)
	}
	return strings.Join(parts, ",")
}

// clusterArgs are the contract v2 flags. The pod's own name and ordinal come
// from the downward API (env POD_NAME, POD_ORDINAL).
func clusterArgs(st *boxv1.Showtime) []string {
	return []string{
		"--ordinal=$(POD_ORDINAL)",
		"--peers=" + ShardPeers(st),
		"--peer-listen=:" + itoa(PeerPort),
		"--advertise-url=http://$(POD_NAME)." + ShardName(st) + "." + st.Namespace + ".svc:" + itoa(ShardPort),
		"--peer-token-file=" + PeerTokenDir + "/" + PeerTokenKey,
	}
}

// clusterEnv gives a member its pod name and ordinal.
func clusterEnv() []*corev1ac.EnvVarApplyConfiguration {
	field := func(name, path string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath(path)))
	}
	return []*corev1ac.EnvVarApplyConfiguration{
		field("POD_NAME", "metadata.name"),
		field("POD_ORDINAL", "metadata.labels['"+PodIndexLabel+"']"),
	}
}

// memberAffinity puts no two members on one node (required) and asks the
// scheduler to spread them over zones (preferred: a cluster in one zone
// still runs).
func memberAffinity(st *boxv1.Showtime) (*corev1ac.AffinityApplyConfiguration, *corev1ac.TopologySpreadConstraintApplyConfiguration) {
	sel := metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(st, ComponentShard))
	aff := corev1ac.Affinity().WithPodAntiAffinity(corev1ac.PodAntiAffinity().
		WithRequiredDuringSchedulingIgnoredDuringExecution(corev1ac.PodAffinityTerm().
			WithLabelSelector(sel).
			WithTopologyKey(HostnameLabel)))
	spread := corev1ac.TopologySpreadConstraint().
		WithMaxSkew(1).
		WithTopologyKey(ZoneLabel).
		WithWhenUnsatisfiable(corev1.ScheduleAnyway).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(st, ComponentShard)))
	return aff, spread
}

// peerIngressRule lets members, and only members, reach each other's peer port.
func peerIngressRule(st *boxv1.Showtime) *networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration {
	return networkingv1ac.NetworkPolicyIngressRule().
		WithFrom(networkingv1ac.NetworkPolicyPeer().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(st, ComponentShard)))).
		WithPorts(networkingv1ac.NetworkPolicyPort().
			WithProtocol(corev1.ProtocolTCP).
			WithPort(intstr.FromInt32(PeerPort)))
}

// ShardClaimName is the PersistentVolumeClaim the StatefulSet makes for the
// member with this ordinal from its "data" claim template.
func ShardClaimName(st *boxv1.Showtime, ordinal int) string {
	return DataVolume + "-" + ShardMemberPodName(st, ordinal)
}
