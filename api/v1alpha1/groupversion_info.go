// Package v1alpha1 contains the Box office API: Showtime, ShardRollout and
// FreezeWindow.
//
// It is also the one vocabulary of the objects a Showtime owns. names.go
// names them (Showtime.ShardName, ShardPodName, TokenSecretName,
// FrontendName, ...), gives their labels (SelectorLabels, OwnedLabels) and the
// keys of the data their Secrets and ConfigMap hold (TokenSecretKey, ...);
// defaults.go gives the defaults applied to unset spec fields (HoldTTL,
// ShardReplicas, FrontendAutoscaling, ...). The controllers, the webhooks,
// the kubectl plugin, the local cluster and the tests call these; nothing
// else spells an owned object's name.
// +kubebuilder:object:generate=true
// +groupName=boxoffice.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "boxoffice.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this API's types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
