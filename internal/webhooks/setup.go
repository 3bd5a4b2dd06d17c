package webhooks

import (
	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// +kubebuilder:rbac:groups=boxoffice.dev,resources=freezewindows;showtimes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Setup registers the webhooks with the manager's webhook server. They read
// windows, namespaces and showtimes from the manager's cache.
func Setup(mgr ctrl.Manager, cfg Config) error {
	g := newGate(mgr.GetClient(), mgr.GetEventRecorder("boxoffice-admission"), cfg)
	if err := ctrl.NewWebhookManagedBy(mgr, &boxv1.Showtime{}).WithValidator(&ShowtimeValidator{g: g}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &boxv1.FreezeWindow{}).WithValidator(FreezeWindowValidator{}).Complete(); err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(WorkloadPath, &webhook.Admission{
		Handler: &WorkloadGuard{g: g, decoder: admission.NewDecoder(mgr.GetScheme()), parents: mgr.GetAPIReader()},
	})
	return nil
}

func newGate(r client.Reader, rec events.EventRecorder, cfg Config) *gate {
	return &gate{reader: r, recorder: rec, cfg: cfg}
}

// NewShowtimeValidator is the Showtime validator on its own, for callers
// (benchmarks, tests) that drive it without a webhook server.
func NewShowtimeValidator(r client.Reader, rec events.EventRecorder, cfg Config) *ShowtimeValidator {
	return &ShowtimeValidator{g: newGate(r, rec, cfg)}
}
