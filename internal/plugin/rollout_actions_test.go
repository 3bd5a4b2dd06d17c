package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// setRolloutStatus moves the fixture's rollout to a phase and reason.
func setRolloutStatus(t *testing.T, c client.Client, phase boxv1.RolloutPhase, reason string) {
	t.Helper()
	ro, err := GetRollout(context.Background(), c, "canary-130")
	if err != nil {
		t.Fatal(err)
	}
	ro.Status.Phase, ro.Status.Reason, ro.Status.Message = phase, reason, "step 1: "+reason
	if err := c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
}

func rolloutSpec(t *testing.T, c client.Client) boxv1.ShardRolloutSpec {
	t.Helper()
	ro, err := GetRollout(context.Background(), c, "canary-130")
	if err != nil {
		t.Fatal(err)
	}
	return ro.Spec
}

func TestRolloutPauseResume(t *testing.T) {
	c := fixture(t)
	// Resume of a rollout nobody paused is refused.
	if out, code := run(t, c, "rollout", "resume", "canary-130"); code != ExitFailure || !strings.Contains(out, "is not paused (phase Progressing)") {
		t.Errorf("resume of a running rollout: exit %d: %s", code, out)
	}
	out, code := run(t, c, "rollout", "pause", "canary-130")
	if code != 0 || !strings.Contains(out, "paused (spec.paused)") {
		t.Fatalf("pause: exit %d: %s", code, out)
	}
	if !rolloutSpec(t, c).Paused {
		t.Fatal("spec.paused not set")
	}
	// Pausing again changes nothing and says so.
	if out, code := run(t, c, "rollout", "pause", "canary-130"); code != 0 || !strings.Contains(out, "already paused") {
		t.Errorf("second pause: exit %d: %s", code, out)
	}
	out, code = run(t, c, "rollout", "resume", "canary-130", "-o", "json")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, out)
	}
	var res ActionResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Action != "resume" || res.Message != "shardrollout canary-130: resumed" {
		t.Fatalf("resume -o json: %v %+v", err, res)
	}
	if rolloutSpec(t, c).Paused {
		t.Fatal("spec.paused still set")
	}
	// A rollout paused by a freeze is not resumed by hand: it says why it waits.
	setRolloutStatus(t, c, boxv1.RolloutPaused, "Frozen")
	if out, code := run(t, c, "rollout", "resume", "canary-130"); code != ExitFailure || !strings.Contains(out, "not paused by spec.paused; it waits (Frozen)") {
		t.Errorf("resume of a frozen rollout: exit %d: %s", code, out)
	}
	// Nothing to pause once finished; a missing rollout is not found.
	setRolloutStatus(t, c, boxv1.RolloutSucceeded, "Succeeded")
	if out, code := run(t, c, "rollout", "pause", "canary-130"); code != ExitFailure || !strings.Contains(out, "Succeeded: nothing to pause") {
		t.Errorf("pause of a succeeded rollout: exit %d: %s", code, out)
	}
	if _, code := run(t, c, "rollout", "pause", "nope"); code != ExitNotFound {
		t.Errorf("pause of a missing rollout: exit %d", code)
	}
	if _, code := run(t, c, "rollout", "pause"); code != ExitUsage {
		t.Errorf("pause without a name: exit %d", code)
	}
}

func TestRolloutRetryAndPromoteInconclusive(t *testing.T) {
	c := fixture(t)
	// Progressing normally: nothing to retry.
	if out, code := run(t, c, "rollout", "retry", "canary-130"); code != ExitFailure || !strings.Contains(out, "nothing to retry") {
		t.Errorf("retry of a running rollout: exit %d: %s", code, out)
	}
	if rolloutSpec(t, c).Retry {
		t.Fatal("a refused retry set spec.retry")
	}

	// Paused on an inconclusive analysis: retry --bake sets both fields.
	setRolloutStatus(t, c, boxv1.RolloutPaused, boxv1.RolloutReasonInconclusive)
	out, code := run(t, c, "rollout", "retry", "canary-130", "--bake", "10m")
	if code != 0 || !strings.Contains(out, "bake another 10m0s and are judged again") {
		t.Fatalf("retry --bake: exit %d: %s", code, out)
	}
	spec := rolloutSpec(t, c)
	if !spec.Retry || spec.RetryBake == nil || spec.RetryBake.Duration != 10*time.Minute {
		t.Fatalf("spec.retry/retryBake not set: %+v", spec)
	}
	if _, code := run(t, c, "rollout", "retry", "canary-130", "--bake", "-1m"); code != ExitUsage {
		t.Errorf("negative --bake: exit %d", code)
	}
	// Resume points at promote and retry.
	if out, code := run(t, c, "rollout", "resume", "canary-130"); code != ExitFailure || !strings.Contains(out, "rollout promote canary-130") {
		t.Errorf("resume of an inconclusive rollout: exit %d: %s", code, out)
	}
	// Promote is accepted without a manual gate: it promotes by hand.
	out, code = run(t, c, "rollout", "promote", "canary-130")
	if code != 0 || !strings.Contains(out, "inconclusive are promoted by hand") {
		t.Fatalf("promote of an inconclusive rollout: exit %d: %s", code, out)
	}
	if !rolloutSpec(t, c).Promote {
		t.Fatal("spec.promote not set")
	}

	// RolledBack: retry starts it over; --bake makes no sense there.
	setRolloutStatus(t, c, boxv1.RolloutRolledBack, "AnalysisFailed")
	if out, code := run(t, c, "rollout", "retry", "canary-130", "--bake", "5m"); code != ExitFailure || !strings.Contains(out, "--bake applies to an inconclusive analysis only") {
		t.Errorf("retry --bake of a rolled-back rollout: exit %d: %s", code, out)
	}
	out, code = run(t, c, "rollout", "retry", "canary-130", "-o", "json")
	if code != 0 {
		t.Fatalf("retry of a rolled-back rollout: exit %d: %s", code, out)
	}
	var res ActionResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Action != "retry" || res.Phase != "RolledBack" ||
		!strings.Contains(res.Message, "starting over from a new selection (it was RolledBack: AnalysisFailed)") {
		t.Fatalf("retry -o json: %v %+v", err, res)
	}
	if _, code := run(t, c, "rollout", "retry", "nope"); code != ExitNotFound {
		t.Errorf("retry of a missing rollout: exit %d", code)
	}
}
