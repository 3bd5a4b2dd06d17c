package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FreezeWindowSpec is a period during which changes to the Showtimes it
// selects (and to the workloads they own) are denied by admission.
// +kubebuilder:validation:XValidation:rule="has(self.oneOff) != has(self.recurring)",message="exactly one of spec.oneOff and spec.recurring must be set"
type FreezeWindowSpec struct {
	// reason is shown in every denial, e.g. "11.11 sale" or "month-end close".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason"`

	// oneOff is a single period [start, end).
	// +optional
	OneOff *OneOffPeriod `json:"oneOff,omitempty"`

	// recurring repeats: either a cron schedule plus a duration, or the last
	// N days of every month.
	// +optional
	Recurring *RecurringPeriod `json:"recurring,omitempty"`

	// timeZone is the IANA time zone the recurring schedule is read in, and
	// the one denial messages show times in. Default UTC.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$')",message="spec.timeZone must be an IANA time zone name such as UTC or Asia/Bangkok"
	TimeZone string `json:"timeZone,omitempty"`

	// namespaceSelector selects the namespaces whose Showtimes are frozen.
	// Empty or absent: every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// showtimeSelector selects the Showtimes (by their labels) that are
	// frozen. Empty or absent: every Showtime.
	// +optional
	ShowtimeSelector *metav1.LabelSelector `json:"showtimeSelector,omitempty"`
}

// OneOffPeriod is one period, [start, end).
// +kubebuilder:validation:XValidation:rule="timestamp(self.end) > timestamp(self.start)",message="spec.oneOff.end must be after spec.oneOff.start"
type OneOffPeriod struct {
	// start of the period (RFC 3339, with its offset).
	// +required
	Start metav1.Time `json:"start"`
	// end of the period, exclusive.
	// +required
	End metav1.Time `json:"end"`
}

// RecurringPeriod is a period that repeats. Either schedule and duration:
// a period starts at each time the cron schedule fires, in spec.timeZone, and
// lasts duration (elapsed time). Or lastDaysOfMonth: from midnight at the
// start of the Nth-last day of each month to midnight at the start of the
// next month, in spec.timeZone.
// +kubebuilder:validation:XValidation:rule="has(self.schedule) != has(self.lastDaysOfMonth)",message="spec.recurring needs exactly one of schedule (with duration) and lastDaysOfMonth"
// +kubebuilder:validation:XValidation:rule="has(self.schedule) == has(self.duration)",message="spec.recurring.duration is required with spec.recurring.schedule and not allowed with spec.recurring.lastDaysOfMonth"
type RecurringPeriod struct {
	// schedule is a five-field cron expression (minute hour day-of-month
	// month day-of-week) or @yearly, @monthly, @weekly, @daily: when each
	// period starts. "0 0 11 11 *" is 11 November at midnight. The time zone
	// is spec.timeZone; TZ= and CRON_TZ= prefixes and @every are not allowed.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.contains('TZ=') && !self.startsWith('@every')",message="spec.recurring.schedule: use spec.timeZone instead of TZ=/CRON_TZ=, and a calendar schedule instead of @every"
	Schedule string `json:"schedule,omitempty"`

	// duration of each period started by schedule, 1m to 744h (31 days).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('744h')",message="spec.recurring.duration must be a duration between 1m and 744h, such as 24h or 90m"
	Duration *metav1.Duration `json:"duration,omitempty"`

	// lastDaysOfMonth freezes the last N days of every month (1 to 28),
	// whole days in spec.timeZone: 3 is the 29th-31st of a 31-day month and
	// the 26th-28th of a 28-day February.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=28
	LastDaysOfMonth *int32 `json:"lastDaysOfMonth,omitempty"`
}

// FreezeWindowStatus is what the operator last computed for the window.
type FreezeWindowStatus struct {
	// active is true while a period of the window is in progress.
	// +optional
	Active bool `json:"active"`

	// currentStart is when the period in progress started.
	// +optional
	CurrentStart *metav1.Time `json:"currentStart,omitempty"`

	// currentEnd is when the period in progress ends (overlapping or
	// touching periods count as one).
	// +optional
	CurrentEnd *metav1.Time `json:"currentEnd,omitempty"`

	// nextStart is when the next period starts; absent when none will.
	// +optional
	NextStart *metav1.Time `json:"nextStart,omitempty"`

	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Valid (the schedule and time zone parse), Active.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// FreezeWindow condition types.
const (
	// ConditionValid is True when the window's schedule and time zone parse.
	ConditionValid = "Valid"
	// ConditionActive is True while a period is in progress.
	ConditionActive = "Active"
)

// FreezeWindow blocks changes to the Showtimes it selects while one of its
// periods is in progress: a promotion day, a month end, a release freeze.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=fw,categories=boxoffice
// +kubebuilder:printcolumn:name="Active",type=boolean,JSONPath=`.status.active`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Until",type=string,format=date-time,JSONPath=`.status.currentEnd`
// +kubebuilder:printcolumn:name="Next",type=string,format=date-time,JSONPath=`.status.nextStart`
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.spec.timeZone`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FreezeWindow struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec FreezeWindowSpec `json:"spec"`

	// +optional
	Status FreezeWindowStatus `json:"status,omitzero"`
}

// FreezeWindowList is a list of FreezeWindows.
// +kubebuilder:object:root=true
type FreezeWindowList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []FreezeWindow `json:"items"`
}

// SaleFreeze is a showtime's own freeze around its on-sale moment: from
// opensAt-before to opensAt+after, changes to this showtime (and its
// workloads) are denied, except rollbacks and scale-ups.
type SaleFreeze struct {
	// enabled turns the sale freeze on (the default) or off.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// before is how long before opensAt the freeze starts, 0s to 168h.
	// Absent means 30m; 0s means the freeze starts at opensAt.
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.sales.freeze.before must be a duration between 0s and 168h"
	Before *metav1.Duration `json:"before,omitempty"`

	// after is how long after opensAt the freeze lasts, 0s to 168h.
	// Absent means 2h; 0s means the freeze ends at opensAt.
	// +optional
	// +kubebuilder:default="2h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.sales.freeze.after must be a duration between 0s and 168h"
	After *metav1.Duration `json:"after,omitempty"`
}

// VersionHistory records the images a showtime's shard and front end ran,
// so that a rollback to any of them is told apart from a new version.
type VersionHistory struct {
	// shard images.
	// +optional
	Shard ImageHistory `json:"shard,omitzero"`
	// frontend images.
	// +optional
	Frontend ImageHistory `json:"frontend,omitzero"`
}

// MaxImageHistory bounds ImageHistory.History.
const MaxImageHistory = 10

// ImageHistory is the image running now, the one that ran before it, and
// the last MaxImageHistory distinct images that ran. An image is recorded
// once a pod runs it ready: one that never became ready is not a version
// the showtime ran.
type ImageHistory struct {
	// current image, as last seen running ready.
	// +optional
	Current string `json:"current,omitempty"`
	// previous image: the one that ran before current.
	// +optional
	Previous string `json:"previous,omitempty"`
	// history lists the distinct images seen running ready, newest first
	// (current first), at most 10. Changing back to any of them is a
	// rollback, allowed even during a freeze.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=512
	// +listType=atomic
	History []string `json:"history,omitempty"`
}

// ConditionFrozen is True on a Showtime while a freeze window or its own sale
// freeze applies to it.
const ConditionFrozen = "Frozen"

// BreakGlassAnnotation on a change lets a configured user or group make it
// during a freeze; its value is the reason, recorded in an Event.
const BreakGlassAnnotation = "boxoffice.dev/break-glass"

func init() {
	SchemeBuilder.Register(&FreezeWindow{}, &FreezeWindowList{})
}
