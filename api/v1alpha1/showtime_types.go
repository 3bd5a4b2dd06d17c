package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ShowtimeSpec describes one showtime on sale: its seats, its sale window and
// how its shard runs.
// +kubebuilder:validation:XValidation:rule="!has(self.frontend) || !has(self.frontend.clientLimits) || !has(self.frontend.clientLimits.seatsPerHoldTTL) || self.frontend.clientLimits.seatsPerHoldTTL == 0 || self.frontend.clientLimits.seatsPerHoldTTL >= (has(self.sales.maxSeatsPerHolder) ? self.sales.maxSeatsPerHolder : 8)",message="spec.frontend.clientLimits.seatsPerHoldTTL must be 0 (off) or at least spec.sales.maxSeatsPerHolder"
type ShowtimeSpec struct {
	// title is shown to buyers.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Title string `json:"title"`

	// startsAt is when the show starts.
	// +required
	StartsAt metav1.Time `json:"startsAt"`

	// venue is where the show is, as buyers see it on the booking page.
	// +optional
	Venue Venue `json:"venue,omitzero"`

	// seatMap lists the sections, rows and seats. It cannot change once the
	// showtime exists: changing seats mid-sale is how seats get double-sold.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.seatMap is immutable once the showtime is created; create a new Showtime for a different seat map"
	SeatMap SeatMap `json:"seatMap"`

	// sales says when tickets are on sale and the rules for holds.
	// +required
	Sales Sales `json:"sales"`

	// shard configures the seat-locking shard of this showtime.
	// +optional
	// +kubebuilder:default={}
	Shard ShardSpec `json:"shard,omitzero"`

	// frontend configures the booking front end and its autoscaling.
	// +optional
	Frontend FrontendSpec `json:"frontend,omitzero"`
}

// Venue is the place of a showtime, shown to buyers.
type Venue struct {
	// name of the venue, e.g. "Riverside Hall, Bangkok".
	// +optional
	// +kubebuilder:validation:MaxLength=200
	Name string `json:"name,omitempty"`

	// timeZone is the venue's IANA time zone, e.g. "Asia/Bangkok". The
	// booking page shows the show's date and time in it, as on the ticket.
	// Empty: UTC (the API server keeps startsAt as an instant, not the
	// offset it was written with).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+){1,2})$')",message="spec.venue.timeZone must be an IANA time zone name such as Asia/Bangkok or Europe/London, or UTC"
	TimeZone string `json:"timeZone,omitempty"`
}

// FrontendSpec configures the stateless booking front end buyers talk to.
type FrontendSpec struct {
	// image of the front end; empty means the operator's own image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources of each front-end container. The CPU request is what the
	// autoscaler's utilisation target is measured against.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`

	// autoscaling of the front end.
	// +optional
	Autoscaling FrontendAutoscaling `json:"autoscaling,omitzero"`

	// payments says how a hold becomes sold.
	// +optional
	Payments Payments `json:"payments,omitzero"`

	// clientLimits bound what one client (an address, see trustedProxyHops)
	// may do on one front-end pod, however many sessions it opens.
	// +optional
	// +kubebuilder:default={}
	ClientLimits ClientLimits `json:"clientLimits,omitzero"`

	// trustedProxyHops is the number of proxies in front of the front end that
	// append the client's address to X-Forwarded-For (an ingress, a cloud load
	// balancer); client limits then key on the address the outermost one saw.
	// 0 keys them on the connection's peer. Unset: the operator's
	// --frontend-trusted-proxy-hops (Helm value manager.frontendTrustedProxyHops).
	// Set it only when the pods cannot be reached except through those proxies.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 16",message="spec.frontend.trustedProxyHops must be between 0 and 16"
	TrustedProxyHops *int32 `json:"trustedProxyHops,omitempty"`

	// plainHTTP says the page is served over plain HTTP (development only):
	// the session cookie then lacks the Secure attribute, which browsers
	// would otherwise refuse over http:// on any host but localhost.
	// +optional
	PlainHTTP bool `json:"plainHTTP,omitempty"`
}

// ClientLimits are per-client limits of the front end. A client is one
// address (an IPv6 client its /64); many buyers can share one (a venue's
// Wi-Fi, carrier NAT), so keep them well above one buyer's needs. Each
// front-end pod counts on its own.
type ClientLimits struct {
	// newSessionsPerMinute is how many new buyer sessions (cookies) one client
	// may start per minute after its burst; 0 turns the limit off.
	// +optional
	// +kubebuilder:default=60
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 60000",message="spec.frontend.clientLimits.newSessionsPerMinute must be between 0 (off) and 60000"
	NewSessionsPerMinute *int32 `json:"newSessionsPerMinute,omitempty"`

	// newSessionBurst is how many new sessions one client may start at once.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 100000",message="spec.frontend.clientLimits.newSessionBurst must be between 1 and 100000"
	NewSessionBurst *int32 `json:"newSessionBurst,omitempty"`

	// seatsPerHoldTTL is how many seats one client may put on hold per
	// holdTTL, across all its sessions (a token bucket of this size, refilled
	// over holdTTL): fresh cookies do not multiply sales.maxSeatsPerHolder.
	// 0 turns it off; otherwise at least sales.maxSeatsPerHolder.
	// +optional
	// +kubebuilder:default=32
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 100000",message="spec.frontend.clientLimits.seatsPerHoldTTL must be between 0 (off) and 100000"
	SeatsPerHoldTTL *int32 `json:"seatsPerHoldTTL,omitempty"`

	// streamsPerClient caps the live seat-update streams one client may keep
	// open (each browser tab has one); 0 turns it off.
	// +optional
	// +kubebuilder:default=8
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 100000",message="spec.frontend.clientLimits.streamsPerClient must be between 0 (off) and 100000"
	StreamsPerClient *int32 `json:"streamsPerClient,omitempty"`
}

// Payments configures how the front end confirms paid holds.
type Payments struct {
	// demo makes "pay" confirm a hold at once. For demos and tests only.
	// +optional
	Demo bool `json:"demo,omitempty"`

	// callbackSecretName names a Secret in the showtime's namespace whose key
	// "secret" signs the payment service's callbacks. Empty (and not demo):
	// the operator creates SHOWTIME-payment-callback with a random secret for
	// the payment service to read.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CallbackSecretName string `json:"callbackSecretName,omitempty"`
}

// FrontendAutoscaling drives the front end's HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="spec.frontend.autoscaling.minReplicas must not exceed maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.preScale) || (self.preScale.replicas >= self.minReplicas && self.preScale.replicas <= self.maxReplicas)",message="spec.frontend.autoscaling.preScale.replicas must be between minReplicas and maxReplicas"
type FrontendAutoscaling struct {
	// minReplicas is the floor outside the pre-scale window.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the ceiling.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// targetCPUUtilizationPercentage is the autoscaler's CPU target.
	// +optional
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`

	// preScale raises the floor ahead of the sale: an autoscaler reacting to
	// CPU is minutes too late for a ticket drop.
	// +optional
	PreScale *PreScale `json:"preScale,omitempty"`
}

// PreScale holds the front end at a floor from opensAt-lead until opensAt+hold,
// with scale-down disabled.
type PreScale struct {
	// replicas is the floor inside the window.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Replicas int32 `json:"replicas"`

	// lead is how long before opensAt the window starts.
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.frontend.autoscaling.preScale.lead must be a duration between 0s and 168h"
	Lead metav1.Duration `json:"lead,omitzero"`

	// hold is how long after opensAt the window lasts.
	// +optional
	// +kubebuilder:default="2h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('168h')",message="spec.frontend.autoscaling.preScale.hold must be a duration between 0s and 168h"
	Hold metav1.Duration `json:"hold,omitzero"`
}

// SeatMap is the seat map, in the same format as the shard's --seat-map file.
// +kubebuilder:validation:XValidation:rule="self.sections.all(s, self.sections.exists_one(t, t.name == s.name))",message="spec.seatMap.sections: section names must be unique"
type SeatMap struct {
	// sections of the venue, at least one.
	// +required
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="size(self) >= 1",message="spec.seatMap.sections: at least one section is required"
	// +listType=atomic
	Sections []SeatSection `json:"sections"`
}

// SeatSection is one named section of the venue.
type SeatSection struct {
	// name of the section, [a-z0-9-]{1,32}; part of every seat id (SECTION/ROW/NUMBER).
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9-]{1,32}$')",message="spec.seatMap.sections[].name must match [a-z0-9-]{1,32}"
	Name string `json:"name"`

	// rows of the section, at least one.
	// +required
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:XValidation:rule="size(self) >= 1",message="spec.seatMap.sections[].rows: at least one row is required"
	// +listType=atomic
	Rows []SeatRow `json:"rows"`
}

// SeatRow is a line of rows that share seat numbers.
type SeatRow struct {
	// names of the rows: a letter range ("A-H"), a number range ("1-12") or a comma list ("J,K").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Names string `json:"names"`

	// seats numbers in each row: a range ("1-24") or a comma list of ranges ("1-10,13-30").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Seats string `json:"seats"`
}

// Sales is the sale window and the rules for holds.
// +kubebuilder:validation:XValidation:rule="timestamp(self.closesAt) > timestamp(self.opensAt)",message="spec.sales.closesAt must be after spec.sales.opensAt"
// +kubebuilder:validation:XValidation:rule="!has(self.maxHoldLifetime) || duration(self.maxHoldLifetime) >= duration(has(self.holdTTL) ? self.holdTTL : '10m')",message="spec.sales.maxHoldLifetime must not be shorter than spec.sales.holdTTL"
type Sales struct {
	// opensAt is when tickets go on sale.
	// +required
	OpensAt metav1.Time `json:"opensAt"`

	// closesAt is when the sale ends.
	// +required
	ClosesAt metav1.Time `json:"closesAt"`

	// holdTTL is how long a hold keeps its seats before they are free again, 1m to 2h.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('2h')",message="spec.sales.holdTTL must be a duration between 1m and 2h"
	HoldTTL metav1.Duration `json:"holdTTL,omitzero"`

	// paymentTTL is how long a hold waits for a payment once the buyer goes
	// to pay (the hold is then awaiting_payment), 1m to 2h. A payment that
	// arrives later finds the seats gone and must be refunded.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('2h')",message="spec.sales.paymentTTL must be a duration between 1m and 2h"
	PaymentTTL metav1.Duration `json:"paymentTTL,omitzero"`

	// maxHoldLifetime is the longest a buyer may keep a hold by extending it,
	// counted from when it was made, holdTTL to 2h. Unset: twice holdTTL, at
	// most 2h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('2h')",message="spec.sales.maxHoldLifetime must be a duration between 1m and 2h"
	MaxHoldLifetime *metav1.Duration `json:"maxHoldLifetime,omitempty"`

	// maxSeatsPerHolder caps the seats one buyer's active holds may hold together, 1 to 50.
	// +optional
	// +kubebuilder:default=8
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 50",message="spec.sales.maxSeatsPerHolder must be between 1 and 50"
	MaxSeatsPerHolder int32 `json:"maxSeatsPerHolder,omitempty"`

	// freeze is the showtime's own change freeze around opensAt (on by
	// default, 30m before to 2h after).
	// +optional
	// +kubebuilder:default={}
	Freeze SaleFreeze `json:"freeze,omitzero"`

	// waitingRoom puts a fair queue in front of the seats: a cap on buyers
	// choosing seats at once, a pre-queue drawn in random order at opensAt,
	// first come first served after that (off by default).
	// +optional
	// +kubebuilder:default={}
	WaitingRoom WaitingRoom `json:"waitingRoom,omitzero"`
}

// WaitingRoom is the showtime's waiting room. The defaults suit a
// 2,000-seat hall: 200 buyers choosing at once (with 8 seats each at most
// 1,600 seats in play), 3 minutes of idleness, the pre-queue open 30 minutes
// before the sale.
type WaitingRoom struct {
	// enabled turns the waiting room on.
	// +optional
	// +kubebuilder:default=false
	Enabled bool `json:"enabled,omitempty"`

	// maxActiveBuyers is how many buyers may choose seats at once, 1 to
	// 10000. Raising it is a scale-up, which a freeze allows.
	// +optional
	// +kubebuilder:default=200
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 10000",message="spec.sales.waitingRoom.maxActiveBuyers must be between 1 and 10000"
	MaxActiveBuyers int32 `json:"maxActiveBuyers,omitempty"`

	// idleTimeout is how long an admitted buyer holding no seat may stay
	// idle before the next buyer is admitted in their place, 30s to 30m.
	// +optional
	// +kubebuilder:default="3m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('30s') && duration(self) <= duration('30m')",message="spec.sales.waitingRoom.idleTimeout must be a duration between 30s and 30m"
	IdleTimeout metav1.Duration `json:"idleTimeout,omitzero"`

	// preQueue is how long before opensAt visitors may join the pre-queue,
	// 0s to 24h.
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="spec.sales.waitingRoom.preQueue must be a duration between 0s and 24h"
	PreQueue *metav1.Duration `json:"preQueue,omitempty"`
}

// AccessMode of the shard's data volume.
// +kubebuilder:validation:Enum=ReadWriteOncePod;ReadWriteOnce
type AccessMode string

const (
	// AccessModeReadWriteOncePod lets one pod only mount the volume: the
	// single-writer guarantee at the storage layer. The default.
	AccessModeReadWriteOncePod AccessMode = "ReadWriteOncePod"
	// AccessModeReadWriteOnce is for storage classes without ReadWriteOncePod.
	AccessModeReadWriteOnce AccessMode = "ReadWriteOnce"
)

// RetentionPolicy says what happens to the shard's volume when the showtime is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type RetentionPolicy string

const (
	// RetainVolume keeps the sales log after the showtime is deleted. The default.
	RetainVolume RetentionPolicy = "Retain"
	// DeleteVolume deletes it with the showtime.
	DeleteVolume RetentionPolicy = "Delete"
)

// ShardSpec configures the seat-locking shard.
type ShardSpec struct {
	// image of the shard; empty means the operator's own image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources of the shard container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`

	// replicas is the number of shard members: 1 (a single shard, as in
	// contract v1: one pod, a ReadWriteOncePod volume and the log's epoch
	// keep it the only writer) or 3 or 5 (a replicated shard: every member
	// keeps the whole log, a write is acknowledged once a majority has it on
	// disk, and the sale goes on while a minority of members is down).
	// Default 3. It cannot change on a live showtime: the member count is
	// fixed when the shard is first made (a 1-member data directory is not a
	// cluster's, and shrinking a cluster during a sale is refused outright);
	// to change it, create a new Showtime. Each member needs its own node
	// (required anti-affinity on the hostname), so 3 needs 3 schedulable
	// nodes.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:XValidation:rule="self == 1 || self == 3 || self == 5",message="spec.shard.replicas must be 1, 3 or 5"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.shard.replicas cannot change on a live showtime; create a new Showtime for another member count"
	Replicas int32 `json:"replicas,omitempty"`

	// storage of the shard's log and snapshots. Immutable once created.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.shard.storage is immutable once the showtime is created"
	Storage ShardStorage `json:"storage,omitzero"`
}

// ShardStorage is the shard's data volume.
type ShardStorage struct {
	// size of the volume.
	// +optional
	// +kubebuilder:default="1Gi"
	Size resource.Quantity `json:"size,omitzero"`

	// storageClassName of the volume; empty means the cluster default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName string `json:"storageClassName,omitempty"`

	// accessMode of the volume: ReadWriteOncePod (default) where the storage
	// class supports it, ReadWriteOnce otherwise.
	// +optional
	// +kubebuilder:default=ReadWriteOncePod
	AccessMode AccessMode `json:"accessMode,omitempty"`

	// whenDeleted says whether the volume is kept (Retain, default) or deleted
	// when the showtime is deleted.
	// +optional
	// +kubebuilder:default=Retain
	WhenDeleted RetentionPolicy `json:"whenDeleted,omitempty"`
}

// ShowtimePhase is the showtime's place in its life.
// +kubebuilder:validation:Enum=Pending;Provisioning;Ready;OnSale;SoldOut;Closed;Degraded
type ShowtimePhase string

// Phases.
const (
	PhasePending      ShowtimePhase = "Pending"
	PhaseProvisioning ShowtimePhase = "Provisioning"
	PhaseReady        ShowtimePhase = "Ready"
	PhaseOnSale       ShowtimePhase = "OnSale"
	PhaseSoldOut      ShowtimePhase = "SoldOut"
	PhaseClosed       ShowtimePhase = "Closed"
	PhaseDegraded     ShowtimePhase = "Degraded"
)

// Condition types.
const (
	ConditionSeatMapValid  = "SeatMapValid"
	ConditionShardReady    = "ShardReady"
	ConditionOnSale        = "OnSale"
	ConditionFrontendReady = "FrontendReady"
	// ConditionShardQuorum is True while a majority of the shard's members
	// serves (a leader is known and most members are ready).
	ConditionShardQuorum = "ShardQuorum"
	// ConditionShardRedundancy is True while every member serves.
	ConditionShardRedundancy = "ShardRedundancy"
	// ConditionObjectsOwned is False while an object the showtime needs (a
	// generated Secret, its ConfigMap, a workload) exists under its name
	// and is not the showtime's own: the operator never adopts it.
	ConditionObjectsOwned = "ObjectsOwned"
)

// ShowtimeStatus is what the operator observed.
type ShowtimeStatus struct {
	// phase summarises the conditions.
	// +optional
	Phase ShowtimePhase `json:"phase,omitempty"`

	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: SeatMapValid, ObjectsOwned, ShardReady, ShardQuorum,
	// ShardRedundancy, FrontendReady, OnSale, Frozen.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// shard is the shard pod as last seen.
	// +optional
	Shard ShardStatus `json:"shard,omitzero"`

	// seats are the seat counts read from the shard.
	// +optional
	Seats SeatCounts `json:"seats,omitzero"`

	// frontend is the booking front end as last seen.
	// +optional
	Frontend FrontendStatus `json:"frontend,omitzero"`

	// waitingRoom is the waiting room as its shard last reported it; absent
	// while spec.sales.waitingRoom.enabled is false.
	// +optional
	WaitingRoom *WaitingRoomStatus `json:"waitingRoom,omitempty"`

	// soldOutAt is when the operator first saw every seat sold (phase
	// SoldOut). Sold is final, so it is set once.
	// +optional
	SoldOutAt *metav1.Time `json:"soldOutAt,omitempty"`

	// versions are the shard and front-end images seen running, current and
	// previous: changing back to the previous one is a rollback.
	// +optional
	Versions VersionHistory `json:"versions,omitzero"`

	// rollout is the ShardRollout that last moved this showtime and where it
	// stands in it. Written by the rollout controller only.
	// +optional
	Rollout *ShowtimeRolloutStatus `json:"rollout,omitempty"`
}

// FrontendStatus is the front end as last seen.
type FrontendStatus struct {
	// desiredReplicas the autoscaler asks for now (the Deployment's
	// spec.replicas).
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas"`
	// replicas the front end's Deployment runs now (during a rolling
	// update, old and new pods).
	// +optional
	Replicas int32 `json:"replicas"`
	// readyReplicas serving buyers.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// minReplicas is the autoscaler's floor now: the pre-scale replicas inside
	// the pre-scale window, the configured floor outside.
	// +optional
	MinReplicas int32 `json:"minReplicas"`
	// preScaled is true inside the pre-scale window.
	// +optional
	PreScaled bool `json:"preScaled,omitempty"`
	// image the front end runs.
	// +optional
	Image string `json:"image,omitempty"`
}

// ShardStatus is the shard pod as last seen.
type ShardStatus struct {
	// pod is the shard pod's name.
	// +optional
	Pod string `json:"pod,omitempty"`
	// image the shard pod runs.
	// +optional
	Image string `json:"image,omitempty"`
	// ready is true when the shard pod is ready.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// epoch of the shard's log: it increases each time a new pod takes ownership.
	// +optional
	Epoch int64 `json:"epoch,omitempty"`
	// version of the seat map: it increases with each change.
	// +optional
	Version int64 `json:"version,omitempty"`
	// replicas is the number of members the shard runs.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// readyMembers is "READY/MEMBERS", e.g. "3/3".
	// +optional
	ReadyMembers string `json:"readyMembers,omitempty"`
	// leader is the pod that leads the replicated shard ("" while none is
	// known, and for a 1-member shard).
	// +optional
	Leader string `json:"leader,omitempty"`
	// term is the Raft term of the leader.
	// +optional
	Term int64 `json:"term,omitempty"`
	// lastLeaderChange is when the operator last saw the leader change.
	// +optional
	LastLeaderChange *metav1.Time `json:"lastLeaderChange,omitempty"`
	// lastHandover is the last leadership hand-over the operator started by
	// restarting the leader during a member-by-member update.
	// +optional
	LastHandover *ShardHandover `json:"lastHandover,omitempty"`
	// memberUpdate says where a member-by-member update of a replicated
	// shard stands ("" when every member runs the StatefulSet's revision).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	MemberUpdate string `json:"memberUpdate,omitempty"`
	// members of a replicated shard, by pod name.
	// +optional
	// +listType=map
	// +listMapKey=pod
	// +kubebuilder:validation:MaxItems=5
	Members []ShardMember `json:"members,omitempty"`
}

// ShardHandover is one hand-over of a replicated shard's leadership that
// the operator started by deleting the leader's pod (its SIGTERM hands
// leadership to the most up-to-date follower before it exits).
type ShardHandover struct {
	// from is the pod that led.
	// +required
	// +kubebuilder:validation:MaxLength=253
	From string `json:"from"`
	// to is the pod that leads after it ("" when no member was seen leading
	// within the operator's wait).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	To string `json:"to,omitempty"`
	// term of the new leader.
	// +optional
	Term int64 `json:"term,omitempty"`
	// startedAt is when the operator asked for the old leader's pod to be
	// deleted.
	// +required
	StartedAt metav1.MicroTime `json:"startedAt"`
	// duration from startedAt until another member reported that it leads,
	// as the operator measured it by polling the members (an upper bound on
	// the hand-over); "" when not seen within the wait.
	// +optional
	Duration string `json:"duration,omitempty"`
}

// ShardMemberRole is a member's Raft role as it reports it.
// +kubebuilder:validation:Enum=leader;follower;candidate;single;unknown
type ShardMemberRole string

// Member roles.
const (
	RoleLeader    ShardMemberRole = "leader"
	RoleFollower  ShardMemberRole = "follower"
	RoleCandidate ShardMemberRole = "candidate"
	RoleUnknown   ShardMemberRole = "unknown"
)

// ShardMember is one member of a replicated shard as last seen.
type ShardMember struct {
	// pod is the member's pod name (SHOWTIME-shard-ORDINAL).
	// +required
	// +kubebuilder:validation:MaxLength=253
	Pod string `json:"pod"`
	// id is the member's slot (--id), the pod's ordinal plus one.
	// +optional
	ID int32 `json:"id,omitempty"`
	// node the pod runs on.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node,omitempty"`
	// role the member reports; unknown when it did not answer.
	// +optional
	Role ShardMemberRole `json:"role,omitempty"`
	// image the member's pod runs.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// ready is true when the pod is ready (caught up and part of a majority).
	// +optional
	Ready bool `json:"ready,omitempty"`
	// lag is how many log entries the member is behind the leader's commit
	// index (from the leader's view of its match index); absent when unknown.
	// +optional
	Lag *int64 `json:"lag,omitempty"`
}

// SeatCounts counts seats by state. A zero is written as 0, never left out:
// kubectl shows it. Total comes from the seat map; the others are 0 until the
// shard first reports (ShardReady says whether they are current).
type SeatCounts struct {
	// +optional
	Total int32 `json:"total"`
	// +optional
	Available int32 `json:"available"`
	// +optional
	Held int32 `json:"held"`
	// +optional
	AwaitingPayment int32 `json:"awaitingPayment"`
	// +optional
	Sold int32 `json:"sold"`
}

// WaitingRoomStatus is the waiting room as the shard last reported it (the
// room summary of its GET /v1/status). Counts are written when zero: a zero
// is an answer.
type WaitingRoomStatus struct {
	// enabled mirrors spec.sales.waitingRoom.enabled: true while this status
	// is present.
	// +optional
	Enabled bool `json:"enabled"`
	// reported is true once the shard reported a configured room; until
	// then the counts below are zero because nothing was read.
	// +optional
	Reported bool `json:"reported"`
	// open is true once the sale opened and the pre-queue was drawn.
	// +optional
	Open bool `json:"open"`
	// soldOut is true once every seat is sold and the room closed.
	// +optional
	SoldOut bool `json:"soldOut"`
	// seatsMayReturn is true while no seat is free but some are held:
	// admission pauses until holds end.
	// +optional
	SeatsMayReturn bool `json:"seatsMayReturn"`
	// waiting is everyone in line, the pre-queue included (the printer
	// column WAITING).
	// +optional
	Waiting int32 `json:"waiting"`
	// preQueued is how many of those wait in the pre-queue, to be drawn at
	// opensAt.
	// +optional
	PreQueued int32 `json:"preQueued"`
	// active is how many buyers are admitted now (at most maxActiveBuyers).
	// +optional
	Active int32 `json:"active"`
	// admitted is how many buyers were admitted so far.
	// +optional
	Admitted int64 `json:"admitted"`
	// medianWaitSeconds is the median wait of everyone admitted so far, in
	// whole seconds rounded up (an upper bound: the shard keeps waits in
	// buckets a factor of sqrt(2) wide).
	// +optional
	MedianWaitSeconds int64 `json:"medianWaitSeconds"`
	// p99WaitSeconds is the 99th percentile of the same waits.
	// +optional
	P99WaitSeconds int64 `json:"p99WaitSeconds"`
	// admissionsPerMinute is the admission rate measured over the last 64
	// admissions (0 until measured).
	// +optional
	AdmissionsPerMinute int64 `json:"admissionsPerMinute"`
}

// Showtime is one performance on sale, with its own seat-locking shard.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=st,categories=boxoffice
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.seats.available`
// +kubebuilder:printcolumn:name="Held",type=integer,JSONPath=`.status.seats.held`
// +kubebuilder:printcolumn:name="Sold",type=integer,JSONPath=`.status.seats.sold`
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.waitingRoom.waiting`
// +kubebuilder:printcolumn:name="Shard",type=string,JSONPath=`.status.conditions[?(@.type=="ShardReady")].status`
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.status.shard.readyMembers`
// +kubebuilder:printcolumn:name="Front ends",type=integer,JSONPath=`.status.frontend.readyReplicas`
// +kubebuilder:printcolumn:name="Opens",type=string,format=date-time,JSONPath=`.spec.sales.opensAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Showtime struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec ShowtimeSpec `json:"spec"`

	// +optional
	Status ShowtimeStatus `json:"status,omitzero"`
}

// ShowtimeList is a list of Showtimes.
// +kubebuilder:object:root=true
type ShowtimeList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Showtime `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Showtime{}, &ShowtimeList{})
}
