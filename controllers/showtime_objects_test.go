package controllers

import (
	"errors"
	"strings"
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestCheckOwned(t *testing.T) {
	st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: "venues", UID: "uid-now"}}
	ref := func(kind, name string, uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "boxoffice.dev/v1alpha1", Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}}
	}
	managed := map[string]string{boxv1.LabelManagedBy: boxv1.ManagedBy}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		owners []metav1.OwnerReference
		want   string // "" when owned
	}{
		{"its own", managed, ref("Showtime", "standup", "uid-now"), ""},
		{"no label, no owner", nil, nil, "was not made by this operator (no label app.kubernetes.io/managed-by=boxoffice-operator, no owner)"},
		{"labelled, no owner", managed, nil, "has no controller owner"},
		{"an earlier showtime of the name", managed, ref("Showtime", "standup", "uid-before"),
			"belongs to an earlier Showtime of this name (uid uid-before)"},
		{"someone else's", nil, ref("Deployment", "app", "uid-x"), "is controlled by Deployment app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: st.TokenSecretName(), Namespace: st.Namespace,
				Labels: tc.labels, OwnerReferences: tc.owners}}
			err := checkOwned(sec, "Secret", st)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want owned, got %v", err)
				}
				return
			}
			var conflict *nameConflictError
			if !errors.As(err, &conflict) {
				t.Fatalf("want a name conflict, got %v", err)
			}
			for _, part := range []string{"Secret venues/standup-shard-token already exists", tc.want, "delete or rename that Secret"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("%q lacks %q", err, part)
				}
			}
		})
	}
}

func TestSetObjectsOwnedCondition(t *testing.T) {
	conflict := &nameConflictError{kind: "Secret", key: types.NamespacedName{Namespace: "venues", Name: boxv1.NamedShowtime("venues", "x").TokenSecretName()}, why: "was not made by this operator"}
	for _, tc := range []struct {
		name     string
		before   metav1.ConditionStatus // "" for none
		conflict *nameConflictError
		seatErr  error
		finished bool
		want     metav1.ConditionStatus // "" for none
		reason   string
	}{
		{"a conflict", "", conflict, nil, false, metav1.ConditionFalse, "NameConflict"},
		{"a conflict where all was owned", metav1.ConditionTrue, conflict, nil, false, metav1.ConditionFalse, "NameConflict"},
		{"every step ran", "", nil, nil, true, metav1.ConditionTrue, "Owned"},
		{"conflict cleared", metav1.ConditionFalse, nil, nil, true, metav1.ConditionTrue, "Owned"},
		{"an earlier step failed: unknown, kept", metav1.ConditionFalse, nil, nil, false, metav1.ConditionFalse, "NameConflict"},
		{"an earlier step failed on a new showtime", "", nil, nil, false, "", ""},
		{"the seat map stopped the steps", "", nil, errors.New("bad range"), true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			if tc.before != "" {
				reason := "Owned"
				if tc.before == metav1.ConditionFalse {
					reason = "NameConflict"
				}
				st.Status.Conditions = []metav1.Condition{{Type: boxv1.ConditionObjectsOwned, Status: tc.before, Reason: reason}}
			}
			setObjectsOwnedCondition(&scope{st: st, conflict: tc.conflict, seatMapErr: tc.seatErr}, tc.finished)
			c := meta.FindStatusCondition(st.Status.Conditions, boxv1.ConditionObjectsOwned)
			if tc.want == "" {
				if c != nil {
					t.Fatalf("want no condition, got %+v", c)
				}
				return
			}
			if c == nil || c.Status != tc.want || c.Reason != tc.reason {
				t.Fatalf("want %s/%s, got %+v", tc.want, tc.reason, c)
			}
			if tc.conflict != nil && (c.Message != conflict.Error() || c.ObservedGeneration != 2) {
				t.Errorf("message %q, observedGeneration %d", c.Message, c.ObservedGeneration)
			}
		})
	}
}
