package webhooks

import (
	"context"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// +kubebuilder:webhook:path=/validate-boxoffice-dev-v1alpha1-freezewindow,mutating=false,failurePolicy=fail,sideEffects=None,groups=boxoffice.dev,resources=freezewindows,verbs=create;update,versions=v1alpha1,name=vfreezewindow.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5

// FreezeWindowValidator checks what CEL cannot: that the cron schedule
// parses, that the time zone exists, and that the selectors are valid.
type FreezeWindowValidator struct{}

var _ admission.Validator[*boxv1.FreezeWindow] = FreezeWindowValidator{}

func (FreezeWindowValidator) validate(fw *boxv1.FreezeWindow) error {
	probe := fw.DeepCopy()
	// Compile without the cache: the object has no generation yet.
	probe.UID, probe.Generation = "", 0
	if err := freeze.Validate(probe); err != nil {
		return apierrors.NewInvalid(boxv1.GroupVersion.WithKind("FreezeWindow").GroupKind(), fw.Name,
			field.ErrorList{field.Invalid(field.NewPath("spec"), field.OmitValueType{}, err.Error())})
	}
	return nil
}

// ValidateCreate implements admission.Validator.
func (v FreezeWindowValidator) ValidateCreate(_ context.Context, fw *boxv1.FreezeWindow) (admission.Warnings, error) {
	return nil, v.validate(fw)
}

// ValidateUpdate implements admission.Validator.
func (v FreezeWindowValidator) ValidateUpdate(_ context.Context, _, fw *boxv1.FreezeWindow) (admission.Warnings, error) {
	return nil, v.validate(fw)
}

// ValidateDelete implements admission.Validator: deleting a window is how a
// freeze is lifted early, and is never refused.
func (FreezeWindowValidator) ValidateDelete(context.Context, *boxv1.FreezeWindow) (admission.Warnings, error) {
	return nil, nil
}
