// Package testenv starts the project's real control plane for tests and
// benchmarks: an envtest kube-apiserver and etcd with the CRDs from
// config/crd/bases and, when asked, the webhook configurations from
// config/webhook, a scheme that knows the Kubernetes and Box office types,
// an admin client, impersonated clients, and a manager serving the webhooks
// on the port and certificate envtest prepared.
//
// It is the one envtest bootstrap of the repository: the controllers and
// webhooks suites and the admission benchmark use it. It builds nothing and
// downloads nothing: kube-apiserver and etcd come from KUBEBUILDER_ASSETS
// (`make envtest-assets` builds them). It asserts nothing either; callers
// turn its errors into test failures.
package testenv
