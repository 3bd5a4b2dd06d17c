package dev

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

var (
	crdGVR     = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	vwcGVR     = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	mwcGVR     = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	showtimeGV = schema.GroupVersionResource{Group: "boxoffice.dev", Version: "v1alpha1", Resource: "showtimes"}
)

// readObjects decodes every YAML document in the files.
func readObjects(files ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if err == io.EOF {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(m) == 0 {
				continue
			}
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out, nil
}

func applyObj(ctx context.Context, dc dynamic.Interface, gvr schema.GroupVersionResource, u *unstructured.Unstructured) error {
	var ri dynamic.ResourceInterface = dc.Resource(gvr)
	if ns := u.GetNamespace(); ns != "" {
		ri = dc.Resource(gvr).Namespace(ns)
	}
	_, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "localcluster", Force: true})
	return err
}
