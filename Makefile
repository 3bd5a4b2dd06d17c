# Box office Makefile. Tools are pinned and installed into bin/ from the Go module proxy.

IMG ?= boxoffice:latest
# Extra manager flags for `make run`.
RUN_ARGS ?=
KUBE_VERSION ?= 1.37.1
ETCD_VERSION ?= 3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
KUBECTL ?= kubectl
CONTAINER_TOOL ?= docker

export KUBE_VERSION ETCD_VERSION

# Go test flags; CI adds nothing special, everything runs on a fresh machine.
GOTEST ?= go test
TEST_TIMEOUT ?= 20m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/..." paths="./controllers/..." paths="./internal/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver and etcd from the module proxy (cached outside the checkout).
	@hack/envtest-bins.sh kube-apiserver etcd

.PHONY: test
test: manifests generate fmt vet ## Run every test: pure packages, the shard with -race, envtest suites.
	@hack/check-generated.sh
	KUBEBUILDER_ASSETS="$$(hack/envtest-bins.sh kube-apiserver etcd)" $(GOTEST) -timeout $(TEST_TIMEOUT) ./...
	$(GOTEST) -race -timeout $(TEST_TIMEOUT) ./shard/... ./internal/seatmap/...

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s).
	@hack/fuzz.sh $${FUZZTIME:-30s}

.PHONY: bench
bench: build ## Benchmarks: shard against Redis and PostgreSQL, front-end fan-out. Prints ratios.
	hack/bench.sh
	@if [ -x hack/bench-fanout.sh ]; then hack/bench-fanout.sh; fi

##@ Build

.PHONY: build
build: fmt vet ## Build bin/boxoffice.
	CGO_ENABLED=0 go build -o $(LOCALBIN)/boxoffice ./cmd/boxoffice

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig.
	go run ./cmd/boxoffice manager --default-image=$(IMG) $(RUN_ARGS)

.PHONY: docker-build
docker-build: ## Build the image (needs a container engine).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image.
	$(CONTAINER_TOOL) push $(IMG)

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install CRDs into the current cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove CRDs (and every Showtime) from the current cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator with image IMG.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
