package specs

import (
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
)

// Ports, paths and well-known labels of a replicated shard (contract v2).
const (
	PeerPort     = 7071
	PeerPortName = "peer"
	PeerTokenDir = "/etc/boxoffice/peer-token"

	// PodIndexLabel is the label the StatefulSet controller puts on each
	// pod with its ordinal.
	PodIndexLabel = "apps.kubernetes.io/pod-index"

	// ZoneLabel and HostnameLabel are the well-known node topology labels.
	ZoneLabel     = "topology.kubernetes.io/zone"
	HostnameLabel = "kubernetes.io/hostname"
)

// ShardMemberURL is the URL of a member's /v1 API (its --advertise-url).
func ShardMemberURL(st *boxv1.Showtime, ordinal int) string {
	return "http://" + st.ShardPodHost(ordinal) + ":" + itoa(ShardPort)
}

// ShardMemberURLs are every member's API URL, in ordinal order.
func ShardMemberURLs(st *boxv1.Showtime) []string {
	n := int(st.ShardReplicas())
	out := make([]string, n)
	for i := range out {
		out[i] = ShardMemberURL(st, i)
	}
	return out
}

// ShardPeers is the --peers value: every member's id (ordinal+1) and peer URL.
func ShardPeers(st *boxv1.Showtime) string {
	n := int(st.ShardReplicas())
	parts := make([]string, n)
	for i := range parts {
		parts[i] = itoa(i+1) + "=http://" + st.ShardPodHost(i) + ":" + itoa(PeerPort)
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
		"--advertise-url=http://$(POD_NAME)." + st.ShardDomain() + ":" + itoa(ShardPort),
		"--peer-token-file=" + PeerTokenDir + "/" + boxv1.PeerTokenSecretKey,
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
	sel := metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard))
	aff := corev1ac.Affinity().WithPodAntiAffinity(corev1ac.PodAntiAffinity().
		WithRequiredDuringSchedulingIgnoredDuringExecution(corev1ac.PodAffinityTerm().
			WithLabelSelector(sel).
			WithTopologyKey(HostnameLabel)))
	spread := corev1ac.TopologySpreadConstraint().
		WithMaxSkew(1).
		WithTopologyKey(ZoneLabel).
		WithWhenUnsatisfiable(corev1.ScheduleAnyway).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard)))
	return aff, spread
}

// peerIngressRule lets members, and only members, reach each other's peer port.
func peerIngressRule(st *boxv1.Showtime) *networkingv1ac.NetworkPolicyIngressRuleApplyConfiguration {
	return networkingv1ac.NetworkPolicyIngressRule().
		WithFrom(networkingv1ac.NetworkPolicyPeer().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(st.SelectorLabels(boxv1.ComponentShard)))).
		WithPorts(networkingv1ac.NetworkPolicyPort().
			WithProtocol(corev1.ProtocolTCP).
			WithPort(intstr.FromInt32(PeerPort)))
}
