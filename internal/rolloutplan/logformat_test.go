package rolloutplan

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestJudgeLogFormat(t *testing.T) {
	readers := []string{"ns/a (format 1)", "ns/b (format 2)"}
	cases := []struct {
		name     string
		want     int32
		min      int64
		readers  []string
		allow    bool
		start    bool
		retry    bool
		allowed  bool
		status   metav1.ConditionStatus
		reason   string
		failPart string
	}{
		{"no stable shard read: retry", 2, 0, nil, false, false, true, false, metav1.ConditionUnknown, "NoStableShard", ""},
		{"the stable shards read the target's format", 1, 1, readers, false, true, false, false, metav1.ConditionTrue, "Compatible", ""},
		{"an older target format", 1, 2, readers, false, true, false, false, metav1.ConditionTrue, "Compatible", ""},
		{"a newer format is refused", 2, 1, readers, false, false, false, false, metav1.ConditionFalse, "IncompatibleLogFormat", "set spec.logCompatibility.allowIncompatibleLogFormat"},
		{"a newer format, allowed", 2, 1, readers, true, true, false, true, metav1.ConditionFalse, "AllowedIncompatible", ""},
	}
	for _, c := range cases {
		got := JudgeLogFormat(c.want, c.min, c.readers, c.allow)
		if got.Start != c.start || got.Retry != c.retry || got.Allowed != c.allowed || got.Condition.Status != c.status || got.Condition.Reason != c.reason {
			t.Errorf("%s: %+v", c.name, got)
		}
		if (c.failPart == "") != (got.Fail == "") || !strings.Contains(got.Fail, c.failPart) {
			t.Errorf("%s: Fail = %q, want it to contain %q", c.name, got.Fail, c.failPart)
		}
		if len(c.readers) > 0 && !strings.Contains(got.Condition.Message, "ns/a (format 1), ns/b (format 2)") {
			t.Errorf("%s: the message names no reader: %q", c.name, got.Condition.Message)
		}
	}
	if nc := LogFormatNotChecked(); !nc.Start || nc.Condition.Reason != "NotDeclared" || nc.Condition.Status != metav1.ConditionUnknown {
		t.Errorf("not declared: %+v", nc)
	}
}
