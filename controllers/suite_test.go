package controllers

import (
	"context"
	"testing"

	"boxoffice.dev/boxoffice/internal/testenv"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// These suites run against a real kube-apiserver and etcd (envtest, started
// by internal/testenv). `make test` builds both from the Go module proxy and
// sets KUBEBUILDER_ASSETS.

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *testenv.Env
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.TODO())

	var err error
	testEnv, err = testenv.Start(testenv.Options{})
	Expect(err).NotTo(HaveOccurred())
	cfg, scheme, k8sClient = testEnv.Config, testEnv.Scheme, testEnv.Client
	Expect(cfg).NotTo(BeNil())
})

var _ = AfterSuite(func() {
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})
