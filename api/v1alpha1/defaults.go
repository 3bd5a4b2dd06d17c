package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of spec fields the operator, its webhooks and its pods apply when
// a Showtime leaves them unset. The CRD defaults most of them too; these
// methods make an object read before defaulting (a dry run, a test, an old
// stored version) mean the same.
const (
	// DefaultShardReplicas is the member count of a Showtime that names none.
	DefaultShardReplicas = 3

	DefaultHoldTTL           = 10 * time.Minute
	DefaultPaymentTTL        = 15 * time.Minute
	DefaultMaxSeatsPerHolder = 8

	DefaultMaxActiveBuyers = 200
	DefaultIdleTimeout     = 3 * time.Minute
	DefaultPreQueue        = 30 * time.Minute

	DefaultFrontendMinReplicas = 2
	DefaultFrontendMaxReplicas = 50
	DefaultFrontendTargetCPU   = 60
	DefaultPreScaleLead        = 30 * time.Minute
	DefaultPreScaleHold        = 2 * time.Hour
)

// ShardReplicas is the shard's member count: spec.shard.replicas, else
// DefaultShardReplicas.
func (s *Showtime) ShardReplicas() int32 {
	if r := s.Spec.Shard.Replicas; r > 0 {
		return r
	}
	return DefaultShardReplicas
}

// Replicated tells whether the shard runs as a cluster (contract v2).
func (s *Showtime) Replicated() bool { return s.ShardReplicas() > 1 }

// HoldTTL is the showtime's hold lifetime with its default.
func (s *Showtime) HoldTTL() time.Duration {
	if d := s.Spec.Sales.HoldTTL.Duration; d > 0 {
		return d
	}
	return DefaultHoldTTL
}

// PaymentTTL is how long a hold waits for a payment, with its default.
func (s *Showtime) PaymentTTL() time.Duration {
	if d := s.Spec.Sales.PaymentTTL.Duration; d > 0 {
		return d
	}
	return DefaultPaymentTTL
}

// MaxHoldLifetime is the longest a hold may be extended to, counted from its
// creation: the showtime's maxHoldLifetime, else twice holdTTL, at most 2h;
// never shorter than holdTTL.
func (s *Showtime) MaxHoldLifetime() time.Duration {
	ttl := s.HoldTTL()
	if l := s.Spec.Sales.MaxHoldLifetime; l != nil && l.Duration > 0 {
		return max(l.Duration, ttl)
	}
	return max(min(2*ttl, 2*time.Hour), ttl)
}

// MaxSeatsPerHolder is the showtime's per-holder limit with its default.
func (s *Showtime) MaxSeatsPerHolder() int32 {
	if n := s.Spec.Sales.MaxSeatsPerHolder; n > 0 {
		return n
	}
	return DefaultMaxSeatsPerHolder
}

// WaitingRoom is the showtime's waiting room with its defaults filled in
// (enabled as the spec says).
func (s *Showtime) WaitingRoom() WaitingRoom {
	w := s.Spec.Sales.WaitingRoom
	if w.MaxActiveBuyers <= 0 {
		w.MaxActiveBuyers = DefaultMaxActiveBuyers
	}
	if w.IdleTimeout.Duration <= 0 {
		w.IdleTimeout.Duration = DefaultIdleTimeout
	}
	if w.PreQueue == nil {
		w.PreQueue = &metav1.Duration{Duration: DefaultPreQueue}
	}
	return w
}

// FrontendAutoscaling is the front end's autoscaler bounds and CPU target
// with their defaults; the ceiling is never below the floor.
func (s *Showtime) FrontendAutoscaling() (minReplicas, maxReplicas, targetCPU int32) {
	a := s.Spec.Frontend.Autoscaling
	minReplicas, maxReplicas, targetCPU = a.MinReplicas, a.MaxReplicas, a.TargetCPUUtilizationPercentage
	if minReplicas <= 0 {
		minReplicas = DefaultFrontendMinReplicas
	}
	if maxReplicas <= 0 {
		maxReplicas = DefaultFrontendMaxReplicas
	}
	maxReplicas = max(maxReplicas, minReplicas)
	if targetCPU <= 0 {
		targetCPU = DefaultFrontendTargetCPU
	}
	return minReplicas, maxReplicas, targetCPU
}

// PreScaleWindow is [opensAt-lead, opensAt+hold) with the lead and hold
// defaults; ok is false when the showtime has no preScale.
func (s *Showtime) PreScaleWindow() (start, end time.Time, ok bool) {
	p := s.Spec.Frontend.Autoscaling.PreScale
	if p == nil {
		return time.Time{}, time.Time{}, false
	}
	lead, hold := p.Lead.Duration, p.Hold.Duration
	if lead == 0 {
		lead = DefaultPreScaleLead
	}
	if hold == 0 {
		hold = DefaultPreScaleHold
	}
	opens := s.Spec.Sales.OpensAt.Time
	return opens.Add(-lead), opens.Add(hold), true
}

// Client limit defaults, as the CRD defaults them; 0 is a real value (off).
const (
	DefaultNewSessionsPerMinute = 60
	DefaultNewSessionBurst      = 20
	DefaultSeatsPerHoldTTL      = 32
	DefaultStreamsPerClient     = 8
)

// ClientLimits is spec.frontend.clientLimits with every unset field set to
// its default.
func (s *Showtime) ClientLimits() ClientLimits {
	l := s.Spec.Frontend.ClientLimits
	return ClientLimits{
		NewSessionsPerMinute: orDefault(l.NewSessionsPerMinute, DefaultNewSessionsPerMinute),
		NewSessionBurst:      orDefault(l.NewSessionBurst, DefaultNewSessionBurst),
		SeatsPerHoldTTL:      orDefault(l.SeatsPerHoldTTL, DefaultSeatsPerHoldTTL),
		StreamsPerClient:     orDefault(l.StreamsPerClient, DefaultStreamsPerClient),
	}
}

// orDefault is v, or a pointer to def when v is unset.
func orDefault(v *int32, def int32) *int32 {
	if v == nil {
		return &def
	}
	return v
}
