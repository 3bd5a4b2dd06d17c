package specs

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

func TestShardReplicasDefault(t *testing.T) {
	st := showtime()
	if got := st.ShardReplicas(); got != 3 || !st.Replicated() {
		t.Fatalf("unset replicas = %d (replicated %v), want 3", got, st.Replicated())
	}
	st.Spec.Shard.Replicas = 1
	if st.ShardReplicas() != 1 || st.Replicated() {
		t.Fatal("replicas 1 is not a single shard")
	}
}

func TestMemberNames(t *testing.T) {
	st := showtime()
	st.Spec.Shard.Replicas = 5
	if got := st.ShardPodNames(); !slices.Equal(got, []string{"gig-shard-0", "gig-shard-1", "gig-shard-2", "gig-shard-3", "gig-shard-4"}) {
		t.Fatalf("pods %v", got)
	}
	if got := ShardMemberURL(st, 2); got != "http://gig-shard-2.gig-shard.venues.svc:7070" {
		t.Fatalf("member URL %q", got)
	}
	for pod, want := range map[string]int{"gig-shard-0": 0, "gig-shard-4": 4, "gig-shard-04": -1, "gig-shard-x": -1, "other-shard-1": -1, "gig-shard-": -1} {
		if got := st.ShardOrdinal(pod); got != want {
			t.Errorf("MemberOrdinal(%q) = %d, want %d", pod, got, want)
		}
	}
	want := "1=http://gig-shard-0.gig-shard.venues.svc:7071,2=http://gig-shard-1.gig-shard.venues.svc:7071," +
		"3=http://gig-shard-2.gig-shard.venues.svc:7071,4=http://gig-shard-3.gig-shard.venues.svc:7071,5=http://gig-shard-4.gig-shard.venues.svc:7071"
	if got := ShardPeers(st); got != want {
		t.Fatalf("peers %q, want %q", got, want)
	}
}

func TestReplicatedStatefulSet(t *testing.T) {
	st := showtime()
	sts := ShardStatefulSet(st, Options{})
	if *sts.Spec.Replicas != 3 || *sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Fatalf("replicas %d policy %s", *sts.Spec.Replicas, *sts.Spec.PodManagementPolicy)
	}
	pod := sts.Spec.Template.Spec
	c := pod.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--ordinal=$(POD_ORDINAL)", "--peers=1=http://gig-shard-0.", "--peer-listen=:7071",
		"--advertise-url=http://$(POD_NAME).gig-shard.venues.svc:7070", "--peer-token-file=/etc/boxoffice/peer-token/token"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	envs := map[string]string{}
	for _, e := range c.Env {
		envs[*e.Name] = *e.ValueFrom.FieldRef.FieldPath
	}
	if envs["POD_NAME"] != "metadata.name" || envs["POD_ORDINAL"] != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Fatalf("env %v", envs)
	}
	term := pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(term) != 1 || *term[0].TopologyKey != HostnameLabel {
		t.Fatalf("anti-affinity %+v", term)
	}
	spread := pod.TopologySpreadConstraints
	if len(spread) != 1 || *spread[0].TopologyKey != ZoneLabel || *spread[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Fatalf("spread %+v", spread)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatal("one volume per member")
	}
	svc := ShardService(st, Options{})
	if !*svc.Spec.PublishNotReadyAddresses || len(svc.Spec.Ports) != 2 || *svc.Spec.Ports[1].Port != PeerPort {
		t.Fatalf("service %+v", svc.Spec)
	}
}

// A single shard stays exactly as before: one pod, ordered, no peers.
func TestSingleShardUnchanged(t *testing.T) {
	st := showtime()
	st.Spec.Shard.Replicas = 1
	sts := ShardStatefulSet(st, Options{})
	pod := sts.Spec.Template.Spec
	if *sts.Spec.Replicas != 1 || *sts.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement ||
		pod.Affinity != nil || len(pod.Containers[0].Env) != 0 || len(pod.Volumes) != 2 {
		t.Fatalf("single shard changed: %+v", sts.Spec)
	}
	if sts.Spec.VolumeClaimTemplates[0].Spec.AccessModes[0] != corev1.ReadWriteOncePod {
		t.Fatal("single shard lost ReadWriteOncePod")
	}
	svc := ShardService(st, Options{})
	if svc.Spec.PublishNotReadyAddresses != nil || len(svc.Spec.Ports) != 1 {
		t.Fatal("single shard service changed")
	}
	if n := len(ShardNetworkPolicy(st, Options{}).Spec.Ingress); n != 1 {
		t.Fatalf("single shard network policy has %d rules", n)
	}
	if got := FrontendArgs(st, Options{}); !slices.Contains(got, "--shard-url=http://gig-shard.venues.svc:7070") {
		t.Fatalf("front end args %v", got)
	}
}

// A replicated shard's budget is one member at a time, on sale or not.
func TestReplicatedPDBAllowsOneAtATime(t *testing.T) {
	st := showtime()
	for _, at := range []struct{ name, when string }{{"before", "before"}, {"on sale", "on"}} {
		now := st.Spec.Sales.OpensAt.Time
		if at.when == "before" {
			now = now.Add(-1)
		}
		if got := ShardPDB(st, Options{}, now).Spec.MaxUnavailable.IntValue(); got != 1 {
			t.Errorf("%s: maxUnavailable %d, want 1", at.name, got)
		}
	}
}

func TestPeerPortOnlyFromMembers(t *testing.T) {
	st := showtime()
	np := ShardNetworkPolicy(st, Options{OperatorNamespace: "ops", OperatorPodLabels: map[string]string{"a": "b"}})
	if len(np.Spec.Ingress) != 2 {
		t.Fatalf("rules %d, want 2", len(np.Spec.Ingress))
	}
	for _, r := range np.Spec.Ingress {
		port := r.Ports[0].Port.IntValue()
		if port == PeerPort {
			if len(r.From) != 1 || r.From[0].NamespaceSelector != nil ||
				r.From[0].PodSelector.MatchLabels[boxv1.LabelName] != "boxoffice-shard" {
				t.Fatalf("peer port open to %+v", r.From)
			}
		} else if port != ShardPort {
			t.Fatalf("unexpected port %d", port)
		}
	}
}
