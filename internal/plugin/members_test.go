package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replicated turns the fixture's showtime into a 3-member shard with one
// member down.
func replicated(t *testing.T) client.Client {
	c := fixture(t)
	st := &boxv1.Showtime{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "venues", Name: "standup"}, st); err != nil {
		t.Fatal(err)
	}
	changed := metav1.NewTime(now.Add(-3 * time.Minute))
	st.Status.Shard = boxv1.ShardStatus{Pod: "standup-shard-1", Image: "reg/boxoffice:v1.3.0", Ready: true, Epoch: 7, Version: 81234,
		Replicas: 3, ReadyMembers: "2/3", Leader: "standup-shard-1", Term: 7, LastLeaderChange: &changed,
		Members: []boxv1.ShardMember{
			{Pod: "standup-shard-0", ID: 1, Node: "node-a", Role: boxv1.RoleFollower, Ready: true, Lag: ptr.To[int64](2)},
			{Pod: "standup-shard-1", ID: 2, Node: "node-b", Role: boxv1.RoleLeader, Ready: true, Lag: ptr.To[int64](0)},
			{Pod: "standup-shard-2", ID: 3, Node: "node-c", Role: boxv1.RoleUnknown},
		}}
	if err := c.Status().Update(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStatusShowsMembers(t *testing.T) {
	c := replicated(t)
	out, code := run(t, c, "status", "standup")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"Shard:      2/3 members ready  leader standup-shard-1  term 7  version 81234",
		"last leader change 2026-11-25T01:57:00Z (to standup-shard-1, term 7)",
		"standup-shard-0  follower  ready  lag 2  node node-a",
		"standup-shard-1  leader  ready  lag 0  node node-b",
		"standup-shard-2  unknown  NOT READY  lag ?  node node-c",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, code = run(t, c, "status", "standup", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var v ShowtimeView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v.Shard.Leader != "standup-shard-1" || len(v.Shard.Members) != 3 || *v.Shard.Members[0].Lag != 2 || v.Shard.LastLeaderChange == nil {
		t.Errorf("members in JSON: %+v", v.Shard)
	}
}

// TestStatusShowsMemberUpdate: mid-update, each member's image, where the
// update stands and the last hand-over, in text and JSON.
func TestStatusShowsMemberUpdate(t *testing.T) {
	c := replicated(t)
	st := &boxv1.Showtime{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "venues", Name: "standup"}, st); err != nil {
		t.Fatal(err)
	}
	st.Status.Shard.Members[0].Image = "reg/boxoffice:v1.4.0"
	st.Status.Shard.Members[1].Image = "reg/boxoffice:v1.3.0"
	st.Status.Shard.MemberUpdate = "1/3 members on the new revision; waiting: standup-shard-0 is catching up with the leader (40 entries behind)"
	st.Status.Shard.LastHandover = &boxv1.ShardHandover{From: "standup-shard-0", To: "standup-shard-1", Term: 7,
		StartedAt: metav1.NewMicroTime(now.Add(-3 * time.Minute)), Duration: "42ms"}
	if err := c.Status().Update(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, c, "status", "standup")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"last hand-over 2026-11-25T01:57:00Z from standup-shard-0 to standup-shard-1 (term 7) in 42ms",
		"updating member by member: 1/3 members on the new revision; waiting: standup-shard-0 is catching up",
		"standup-shard-0  follower  ready  lag 2  node node-a  image reg/boxoffice:v1.4.0",
		"standup-shard-1  leader  ready  lag 0  node node-b  image reg/boxoffice:v1.3.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _ = run(t, c, "status", "standup", "-o", "json")
	var v ShowtimeView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v.Shard.LastHandover == nil || v.Shard.LastHandover.Duration != "42ms" || v.Shard.MemberUpdate == "" || v.Shard.Members[0].Image != "reg/boxoffice:v1.4.0" {
		t.Errorf("JSON: %+v", v.Shard)
	}
}
