package webhooks

import (
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

func TestBreakGlassOf(t *testing.T) {
	ann := func(v string) map[string]string {
		return map[string]string{boxv1.BreakGlassAnnotation: v, "other": "x"}
	}
	tests := []struct {
		name          string
		op            string
		old, new      map[string]string
		reason, stale string
	}{
		{name: "update adds it", op: "update", old: nil, new: ann("INC-1"), reason: "INC-1"},
		{name: "update changes it", op: "update", old: ann("INC-1"), new: ann("INC-2"), reason: "INC-2"},
		{name: "update leaves it: stale", op: "update", old: ann("INC-1"), new: ann("INC-1"), stale: "INC-1"},
		{name: "update leaves it, whitespace only", op: "update", old: ann("INC-1"), new: ann(" INC-1 "), stale: "INC-1"},
		{name: "update removes it", op: "update", old: ann("INC-1"), new: map[string]string{"other": "x"}},
		{name: "update empties it", op: "update", old: ann("INC-1"), new: ann("  ")},
		{name: "update without it", op: "update", old: nil, new: nil},
		{name: "create with it", op: "create", new: ann("INC-3"), reason: "INC-3"},
		{name: "create without it", op: "create", new: map[string]string{"other": "x"}},
		{name: "delete with it on the object", op: "delete", old: ann("INC-4"), reason: "INC-4"},
		{name: "delete without it", op: "delete", old: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reason, stale := breakGlassOf(tc.op, tc.old, tc.new)
			if reason != tc.reason || stale != tc.stale {
				t.Errorf("breakGlassOf = (%q, %q), want (%q, %q)", reason, stale, tc.reason, tc.stale)
			}
		})
	}
}
