package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ShardRolloutSpec moves the selected Showtimes to a new shard and/or
// front-end image, cohort by cohort, judging each upgraded shard on its own
// health before the next cohort moves.
type ShardRolloutSpec struct {
	// target is the version to move to.
	// +required
	Target RolloutTarget `json:"target"`

	// scope selects the Showtimes to move. Empty selectors select every
	// namespace and every Showtime. The selection is taken once, when the
	// rollout starts.
	// +optional
	Scope RolloutScope `json:"scope,omitzero"`

	// steps are the cohorts, in order. Each step's percent or count is
	// cumulative: the number of selected showtimes on the target once the
	// step is done. After the last step every remaining showtime moves.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	Steps []RolloutStep `json:"steps"`

	// maxConcurrent is how many showtimes may be restarting on the new
	// version at once.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxConcurrent int32 `json:"maxConcurrent,omitempty"`

	// analysis are the thresholds each upgraded shard is judged against.
	// +optional
	// +kubebuilder:default={}
	Analysis RolloutAnalysis `json:"analysis,omitzero"`

	// logCompatibility guards against a target whose log the stable version
	// could not read back after a rollback.
	// +optional
	LogCompatibility LogCompatibility `json:"logCompatibility,omitzero"`

	// paused stops the rollout from starting new upgrades or moving to the
	// next step. Analysis and automatic rollback go on.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// promote approves the manual gate the rollout waits at. The controller
	// sets it back to false once used; set while no gate waits, it is
	// cleared and nothing happens.
	// +optional
	Promote bool `json:"promote,omitempty"`

	// promoteFull moves every remaining showtime now, skipping the remaining
	// steps, bakes and analysis (maxConcurrent still applies). Freezes still
	// apply.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`

	// abort rolls every showtime this rollout moved back to its previous
	// image. On a Succeeded rollout it undoes the rollout. It wins over
	// promoteFull.
	// +optional
	Abort bool `json:"abort,omitempty"`

	// retry judges the showtimes whose analysis was Inconclusive again after
	// another bake (retryBake, or the current step's bake). The controller
	// sets it back to false once used; set while nothing is Inconclusive, it
	// is cleared and nothing happens.
	// +optional
	Retry bool `json:"retry,omitempty"`

	// retryBake is how long the bake that retry starts lasts. Absent: the
	// current step's bake (at least one analysis interval). Cleared with
	// retry.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.retryBake must be a duration between 0s and 168h"
	RetryBake *metav1.Duration `json:"retryBake,omitempty"`
}

// RolloutTarget names the images to move to.
// +kubebuilder:validation:XValidation:rule="has(self.shardImage) || has(self.frontendImage)",message="spec.target needs spec.target.shardImage, spec.target.frontendImage or both"
type RolloutTarget struct {
	// shardImage becomes each showtime's spec.shard.image.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ShardImage string `json:"shardImage,omitempty"`

	// frontendImage becomes each showtime's spec.frontend.image.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	FrontendImage string `json:"frontendImage,omitempty"`
}

// RolloutScope selects Showtimes.
type RolloutScope struct {
	// namespaceSelector selects namespaces by their labels. Absent: all.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// showtimeSelector selects Showtimes by their labels. Absent: all.
	// +optional
	ShowtimeSelector *metav1.LabelSelector `json:"showtimeSelector,omitempty"`
}

// RolloutStep is one cohort.
// +kubebuilder:validation:XValidation:rule="has(self.percent) != has(self.count)",message="spec.steps[]: set exactly one of percent and count"
type RolloutStep struct {
	// percent of the selected showtimes on the target once this step is
	// done (rounded up, at least one).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percent *int32 `json:"percent,omitempty"`

	// count of the selected showtimes on the target once this step is done.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Count *int32 `json:"count,omitempty"`

	// bake is how long the cohort runs on the target, every shard of it
	// ready and analysed, before the step is done.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.steps[].bake must be a duration between 0s and 168h"
	Bake metav1.Duration `json:"bake,omitzero"`

	// manualGate makes the rollout wait, once this step is done, until
	// spec.promote (kubectl boxoffice rollout promote) approves the next.
	// +optional
	ManualGate bool `json:"manualGate,omitempty"`
}

// RolloutAnalysis are the thresholds an upgraded shard must stay within.
// +kubebuilder:validation:XValidation:rule="!has(self.prometheus) || self.prometheus.url.startsWith('http://') || self.prometheus.url.startsWith('https://')",message="spec.analysis.prometheus.url must be an http:// or https:// URL"
type RolloutAnalysis struct {
	// readyDeadline is how long an upgraded shard (and front end) may take to
	// be ready on the target, from the moment its image changed.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5s') && duration(self) <= duration('1h')",message="spec.analysis.readyDeadline must be a duration between 5s and 1h"
	ReadyDeadline metav1.Duration `json:"readyDeadline,omitzero"`

	// interval between two analyses of one upgraded shard.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('10m')",message="spec.analysis.interval must be a duration between 1s and 10m"
	Interval metav1.Duration `json:"interval,omitzero"`

	// maxRestarts of the upgraded shard's container.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxRestarts int32 `json:"maxRestarts,omitempty"`

	// maxWriteErrorRatio is the highest share of holds and confirms that may
	// end in a server error (business answers such as seats_unavailable do
	// not count), a decimal between 0 and 1.
	// +optional
	// +kubebuilder:default="0.01"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0(\\\\.[0-9]+)?|1(\\\\.0+)?)$')",message="spec.analysis.maxWriteErrorRatio must be a decimal between 0 and 1, such as 0.01"
	MaxWriteErrorRatio string `json:"maxWriteErrorRatio,omitempty"`

	// minWrites is how many holds and confirms a shard must have answered
	// before its error ratio is judged.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	MinWrites int32 `json:"minWrites,omitempty"`

	// maxHoldLatencyRatio is how many times the stable version's p99 hold
	// latency an upgraded shard's p99 may reach, a decimal of at least 1.
	// +optional
	// +kubebuilder:default="2"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(\\\\.[0-9]+)?$') && double(self) >= 1.0",message="spec.analysis.maxHoldLatencyRatio must be a decimal of at least 1, such as 2 or 1.5"
	MaxHoldLatencyRatio string `json:"maxHoldLatencyRatio,omitempty"`

	// holdLatencyFloor: a p99 hold latency below it never fails the ratio
	// check, so that tiny latencies do not trip it.
	// +optional
	// +kubebuilder:default="25ms"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('1m')",message="spec.analysis.holdLatencyFloor must be a duration between 0s and 1m"
	HoldLatencyFloor metav1.Duration `json:"holdLatencyFloor,omitzero"`

	// frontend are the thresholds an upgraded front end is judged against,
	// compared with the front ends still on the stable version.
	// +optional
	// +kubebuilder:default={}
	Frontend FrontendAnalysis `json:"frontend,omitzero"`

	// prometheus is an optional extra check.
	// +optional
	Prometheus *PrometheusCheck `json:"prometheus,omitempty"`
}

// FrontendAnalysis are the thresholds an upgraded front end must stay
// within. Each is read from the front-end pods' /metrics: answers to buyers
// (boxoffice_frontend_requests_total), shard requests retried
// (boxoffice_frontend_upstream_retries_total) and the latency of shard
// requests (boxoffice_frontend_upstream_request_duration_seconds).
type FrontendAnalysis struct {
	// minRequests is how many buyer requests the upgraded front end must have
	// answered before it is judged; with fewer the analysis is Inconclusive.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	MinRequests int32 `json:"minRequests,omitempty"`

	// maxErrorRatio is the highest share of buyer requests that may be
	// answered with a 5xx status, a decimal between 0 and 1.
	// +optional
	// +kubebuilder:default="0.01"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0(\\\\.[0-9]+)?|1(\\\\.0+)?)$')",message="spec.analysis.frontend.maxErrorRatio must be a decimal between 0 and 1, such as 0.01"
	MaxErrorRatio string `json:"maxErrorRatio,omitempty"`

	// maxRetryRatio is the highest number of shard requests retried per
	// buyer request, a decimal between 0 and 1.
	// +optional
	// +kubebuilder:default="0.05"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0(\\\\.[0-9]+)?|1(\\\\.0+)?)$')",message="spec.analysis.frontend.maxRetryRatio must be a decimal between 0 and 1, such as 0.05"
	MaxRetryRatio string `json:"maxRetryRatio,omitempty"`

	// maxLatencyRatio is how many times the stable front ends' p99 shard
	// request latency the upgraded front end's p99 may reach, a decimal of
	// at least 1. The latency floor is spec.analysis.holdLatencyFloor.
	// +optional
	// +kubebuilder:default="2"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(\\\\.[0-9]+)?$') && double(self) >= 1.0",message="spec.analysis.frontend.maxLatencyRatio must be a decimal of at least 1, such as 2 or 1.5"
	MaxLatencyRatio string `json:"maxLatencyRatio,omitempty"`
}

// PrometheusCheck runs an instant query per upgraded showtime; the first
// sample's value must not exceed threshold. In query, $namespace and
// $showtime are replaced with the showtime's namespace and name. A query
// that cannot be run is reported, not counted as a failure.
type PrometheusCheck struct {
	// url of the Prometheus server, e.g. http://prometheus.monitoring:9090.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	URL string `json:"url"`

	// query in PromQL.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`

	// threshold the query's value must not exceed, a decimal.
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^-?[0-9]+(\\\\.[0-9]+)?$')",message="spec.analysis.prometheus.threshold must be a decimal number"
	Threshold string `json:"threshold"`
}

// LogCompatibility declares the log format the target writes.
type LogCompatibility struct {
	// targetLogFormat is the shard log format the target writes (its
	// wal.FormatVersion). When it is newer than what the stable shards read
	// (their /v1/status logFormat), a rollback could not read the log back,
	// and the rollout refuses to start. Absent: not checked.
	// +optional
	// +kubebuilder:validation:Minimum=1
	TargetLogFormat int32 `json:"targetLogFormat,omitempty"`

	// allowIncompatibleLogFormat starts the rollout even so. A rollback
	// after the target wrote its format leaves the stable shard unable to
	// start until rolled forward again.
	// +optional
	AllowIncompatibleLogFormat bool `json:"allowIncompatibleLogFormat,omitempty"`
}

// RolloutPhase is where a rollout stands.
// +kubebuilder:validation:Enum=Pending;Progressing;Paused;Promoting;Succeeded;RollingBack;RolledBack;Failed
type RolloutPhase string

// Rollout phases.
const (
	RolloutPending     RolloutPhase = "Pending"
	RolloutProgressing RolloutPhase = "Progressing"
	RolloutPaused      RolloutPhase = "Paused"
	RolloutPromoting   RolloutPhase = "Promoting"
	RolloutSucceeded   RolloutPhase = "Succeeded"
	RolloutRollingBack RolloutPhase = "RollingBack"
	RolloutRolledBack  RolloutPhase = "RolledBack"
	RolloutFailed      RolloutPhase = "Failed"
)

// Done reports whether the phase is final (RolledBack, Failed; Succeeded
// can still be undone).
func (p RolloutPhase) Done() bool { return p == RolloutRolledBack || p == RolloutFailed }

// ShowtimeRolloutState is where one showtime stands in a rollout.
// +kubebuilder:validation:Enum=Pending;Waiting;Upgrading;Baking;Upgraded;RollingBack;RolledBack
type ShowtimeRolloutState string

// Per-showtime states.
const (
	// ShowtimePending: not in a cohort yet.
	ShowtimePending ShowtimeRolloutState = "Pending"
	// ShowtimeWaiting: its turn came but a freeze, its own on-sale peak or
	// another rollout holds it; it is not touched.
	ShowtimeWaiting ShowtimeRolloutState = "Waiting"
	// ShowtimeUpgrading: its image changed; waiting for it to be ready.
	ShowtimeUpgrading ShowtimeRolloutState = "Upgrading"
	// ShowtimeBaking: ready on the target and under analysis.
	ShowtimeBaking ShowtimeRolloutState = "Baking"
	// ShowtimeUpgraded: on the target, analysis passed.
	ShowtimeUpgraded ShowtimeRolloutState = "Upgraded"
	// ShowtimeRollingBack: its previous image restored; waiting for it to be ready.
	ShowtimeRollingBack ShowtimeRolloutState = "RollingBack"
	// ShowtimeRolledBack: back on its previous image.
	ShowtimeRolledBack ShowtimeRolloutState = "RolledBack"
)

// AnalysisResult of an upgraded showtime.
// +kubebuilder:validation:Enum=Pending;Passed;Failed;Inconclusive;Skipped;PromotedByHand
type AnalysisResult string

// Analysis results.
const (
	AnalysisPending AnalysisResult = "Pending"
	AnalysisPassed  AnalysisResult = "Passed"
	AnalysisFailed  AnalysisResult = "Failed"
	// AnalysisInconclusive: too little evidence (too few writes or requests,
	// a query that could not run). It never passes: at the end of the bake
	// the rollout pauses until on-call promotes or retries.
	AnalysisInconclusive AnalysisResult = "Inconclusive"
	AnalysisSkipped      AnalysisResult = "Skipped"
	// AnalysisPromotedByHand: Inconclusive, then promoted by on-call.
	AnalysisPromotedByHand AnalysisResult = "PromotedByHand"
)

// ShardRollout condition types.
const (
	// RolloutConditionProgressing is True while showtimes move.
	RolloutConditionProgressing = "Progressing"
	// RolloutConditionHealthy is False once an analysis failed.
	RolloutConditionHealthy = "Healthy"
	// RolloutConditionLogCompatible says whether the stable shards can read
	// the target's log.
	RolloutConditionLogCompatible = "LogCompatible"
	// RolloutConditionFrozen is True while a freeze holds back promotion.
	RolloutConditionFrozen = "Frozen"
	// RolloutConditionInconclusive is True while the rollout is paused
	// because an analysis had too little evidence to pass or fail.
	RolloutConditionInconclusive = "AnalysisInconclusive"
)

// RolloutReasonInconclusive is status.reason while the rollout is paused
// because an analysis had too little evidence to pass or fail.
const RolloutReasonInconclusive = "AnalysisInconclusive"

// Annotations the rollout puts on the Showtimes it moves.
const (
	// AnnotationRollout names the rollout that last moved the showtime.
	AnnotationRollout = "boxoffice.dev/rollout"
	// AnnotationPreviousShardImage is spec.shard.image before the rollout
	// moved it ("" means the operator's own image).
	AnnotationPreviousShardImage = "boxoffice.dev/previous-shard-image"
	// AnnotationPreviousFrontendImage is spec.frontend.image before the
	// rollout moved it.
	AnnotationPreviousFrontendImage = "boxoffice.dev/previous-frontend-image"
)

// ShardRolloutStatus is what the rollout controller observed and did.
type ShardRolloutStatus struct {
	// phase of the rollout.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`

	// observedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// currentStep is the step in progress, 1-based; 0 before the first.
	// +optional
	CurrentStep int32 `json:"currentStep,omitempty"`

	// steps is the number of steps.
	// +optional
	Steps int32 `json:"steps,omitempty"`

	// stepTarget is how many showtimes are on the target once the current
	// step is done.
	// +optional
	StepTarget int32 `json:"stepTarget,omitempty"`

	// bakeUntil is when the current step's bake ends.
	// +optional
	BakeUntil *metav1.Time `json:"bakeUntil,omitempty"`

	// waitingForPromotion is true while a manual gate waits.
	// +optional
	WaitingForPromotion bool `json:"waitingForPromotion,omitempty"`

	// total showtimes selected.
	// +optional
	Total int32 `json:"total,omitempty"`
	// upgraded showtimes: on the target with analysis passed.
	// +optional
	Upgraded int32 `json:"upgraded,omitempty"`
	// inProgress showtimes: upgrading or baking.
	// +optional
	InProgress int32 `json:"inProgress,omitempty"`
	// waiting showtimes: held back by a freeze or their on-sale peak.
	// +optional
	Waiting int32 `json:"waiting,omitempty"`
	// rolledBack showtimes.
	// +optional
	RolledBack int32 `json:"rolledBack,omitempty"`

	// stableLogFormat is the newest log format every sampled stable shard reads.
	// +optional
	StableLogFormat int32 `json:"stableLogFormat,omitempty"`

	// stableHoldP99 is the p99 hold latency of the sampled stable shards, as
	// a duration.
	// +optional
	StableHoldP99 string `json:"stableHoldP99,omitempty"`

	// startedAt is when the rollout started moving showtimes.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// completedAt is when it reached Succeeded, RolledBack or Failed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// reason is a one-word cause of the phase (AnalysisFailed, Aborted, ...).
	// +optional
	Reason string `json:"reason,omitempty"`
	// message explains the phase for people.
	// +optional
	Message string `json:"message,omitempty"`

	// showtimes are the selected showtimes in the order they move.
	// +optional
	// +listType=atomic
	Showtimes []RolloutShowtime `json:"showtimes,omitempty"`

	// conditions: Progressing, Healthy, LogCompatible, Frozen,
	// AnalysisInconclusive.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RolloutShowtime is one showtime's place in the rollout.
type RolloutShowtime struct {
	// namespace of the showtime.
	Namespace string `json:"namespace"`
	// name of the showtime.
	Name string `json:"name"`
	// state of the showtime in the rollout.
	State ShowtimeRolloutState `json:"state"`
	// step that moved it, 1-based; 0 before it moved.
	// +optional
	Step int32 `json:"step,omitempty"`
	// fromShardImage is spec.shard.image before the rollout ("" is the
	// operator's own image).
	// +optional
	FromShardImage string `json:"fromShardImage,omitempty"`
	// fromFrontendImage is spec.frontend.image before the rollout.
	// +optional
	FromFrontendImage string `json:"fromFrontendImage,omitempty"`
	// toShardImage is the shard image it moves to.
	// +optional
	ToShardImage string `json:"toShardImage,omitempty"`
	// toFrontendImage is the front-end image it moves to.
	// +optional
	ToFrontendImage string `json:"toFrontendImage,omitempty"`
	// message: why it waits, or what analysis found.
	// +optional
	Message string `json:"message,omitempty"`
	// changedAt is when its image was last changed (upgrade or rollback).
	// +optional
	ChangedAt *metav1.Time `json:"changedAt,omitempty"`
	// pauseStartedAt is the earliest sign the old shard stopped taking writes.
	// +optional
	PauseStartedAt *metav1.Time `json:"pauseStartedAt,omitempty"`
	// readyAt is when the shard on the new image became ready.
	// +optional
	ReadyAt *metav1.Time `json:"readyAt,omitempty"`
	// writePause is readyAt - pauseStartedAt: how long the shard took no
	// writes during its upgrade.
	// +optional
	WritePause string `json:"writePause,omitempty"`
	// writesPerSecond is the shard's write rate (holds and confirms since its
	// start) when the rollout started; the busiest showtimes move first, so
	// that the canaries have traffic to be judged on.
	// +optional
	WritesPerSecond string `json:"writesPerSecond,omitempty"`
	// analysis result.
	// +optional
	Analysis AnalysisResult `json:"analysis,omitempty"`
	// analyzedAt is when it was last analysed.
	// +optional
	AnalyzedAt *metav1.Time `json:"analyzedAt,omitempty"`
}

// ShardRollout moves Showtimes to a new shard and/or front-end version cohort
// by cohort, judges each upgraded shard and rolls back by itself.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sro,categories=boxoffice
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.currentStep`
// +kubebuilder:printcolumn:name="Steps",type=integer,JSONPath=`.status.steps`
// +kubebuilder:printcolumn:name="Upgraded",type=integer,JSONPath=`.status.upgraded`
// +kubebuilder:printcolumn:name="Total",type=integer,JSONPath=`.status.total`
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.waiting`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
// +kubebuilder:printcolumn:name="Shard image",type=string,JSONPath=`.spec.target.shardImage`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ShardRollout struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec ShardRolloutSpec `json:"spec"`

	// +optional
	Status ShardRolloutStatus `json:"status,omitzero"`
}

// ShardRolloutList is a list of ShardRollouts.
// +kubebuilder:object:root=true
type ShardRolloutList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ShardRollout `json:"items"`
}

// ShowtimeRolloutStatus is the rollout that last touched a Showtime, as the
// rollout controller writes it into the Showtime's status.
type ShowtimeRolloutStatus struct {
	// name of the ShardRollout.
	// +optional
	Name string `json:"name,omitempty"`
	// step of the rollout that moved the showtime.
	// +optional
	Step int32 `json:"step,omitempty"`
	// state of the showtime in that rollout.
	// +optional
	State ShowtimeRolloutState `json:"state,omitempty"`
	// phase of the rollout.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// message: why it waits, or what analysis found.
	// +optional
	Message string `json:"message,omitempty"`
}

func init() {
	SchemeBuilder.Register(&ShardRollout{}, &ShardRolloutList{})
}
