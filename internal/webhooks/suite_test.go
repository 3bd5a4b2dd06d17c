package webhooks

import (
	"context"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testenv"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// This suite runs a real kube-apiserver and etcd (envtest) with the webhook
// configurations from config/webhook installed, and a manager serving the
// webhooks. Users are impersonated to test who may do what.

const (
	operatorUser    = "system:serviceaccount:boxoffice-system:boxoffice-controller-manager"
	breakGlassGroup = "sre-breakglass"
	testImage       = "registry.example/boxoffice:v2"
)

var (
	ctx        context.Context
	cancel     context.CancelFunc
	testEnv    *testenv.Env
	scheme     *runtime.Scheme
	admin      client.Client // cluster admin, not exempt from freezes
	operator   client.Client // the manager's own identity: exempt
	alice      client.Client // in the break-glass group
	bob        client.Client // may edit, may not break glass
	webhookCfg Config
)

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Webhooks Suite")
}

func impersonate(user string, groups ...string) client.Client {
	cl, err := testEnv.Impersonate(user, groups...)
	Expect(err).NotTo(HaveOccurred())
	return cl
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.TODO())

	var err error
	testEnv, err = testenv.Start(testenv.Options{Webhooks: true})
	Expect(err).NotTo(HaveOccurred())
	scheme, admin = testEnv.Scheme, testEnv.Client
	operator = impersonate(operatorUser)
	alice = impersonate("alice", breakGlassGroup)
	bob = impersonate("bob", "devs")

	// The manager runs as the operator's service account.
	webhookCfg = Config{
		BreakGlassGroups:  []string{breakGlassGroup},
		BreakGlassUsers:   []string{"carol"},
		OperatorUsernames: []string{operatorUser},
		DefaultImage:      testImage,
	}
	done, err := testEnv.StartWebhooks(ctx, operatorUser, func(mgr ctrl.Manager) error { return Setup(mgr, webhookCfg) }, 20*time.Second)
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(<-done).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})
