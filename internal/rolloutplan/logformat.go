package rolloutplan

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LogCheck is the verdict on the target's log format before anything moves.
type LogCheck struct {
	// Start: the rollout may start.
	Start bool
	// Condition is the LogCompatible condition.
	Condition Condition
	// Retry: no stable shard could be read; look again later.
	Retry bool
	// Allowed: incompatible, started anyway (said in a Warning event).
	Allowed bool
	// Fail is the message of a refused start ("" when not refused).
	Fail string
}

// LogFormatNotChecked is the verdict when the spec declares no target log
// format (or the target has no shard image): the format is not checked.
func LogFormatNotChecked() LogCheck {
	return LogCheck{Start: true, Condition: Condition{Status: metav1.ConditionUnknown, Reason: "NotDeclared",
		Message: "spec.logCompatibility.targetLogFormat is not set; the log format is not checked"}}
}

// JudgeLogFormat judges a target that writes log format want against the
// stable shards read (readers, described) of which the oldest reads up to
// stableMin. A target the stable version could not read back after a
// rollback is refused unless allow (spec.logCompatibility
// .allowIncompatibleLogFormat).
func JudgeLogFormat(want int32, stableMin int64, readers []string, allow bool) LogCheck {
	if len(readers) == 0 {
		msg := "no stable shard could be read to learn which log format the stable version reads; retrying"
		return LogCheck{Retry: true, Condition: Condition{Status: metav1.ConditionUnknown, Reason: "NoStableShard", Message: msg}}
	}
	if int64(want) <= stableMin {
		return LogCheck{Start: true, Condition: Condition{Status: metav1.ConditionTrue, Reason: "Compatible",
			Message: fmt.Sprintf("the target writes log format %d; stable shards read up to %d (%s)", want, stableMin, strings.Join(readers, ", "))}}
	}
	msg := fmt.Sprintf("the target writes log format %d but stable shards read only up to format %d (%s): after a rollback they could not read the log back",
		want, stableMin, strings.Join(readers, ", "))
	if allow {
		return LogCheck{Start: true, Allowed: true, Condition: Condition{Status: metav1.ConditionFalse, Reason: "AllowedIncompatible",
			Message: msg + "; allowed by spec.logCompatibility.allowIncompatibleLogFormat"}}
	}
	return LogCheck{Condition: Condition{Status: metav1.ConditionFalse, Reason: "IncompatibleLogFormat", Message: msg},
		Fail: msg + "; set spec.logCompatibility.allowIncompatibleLogFormat to start anyway"}
}
