#!/usr/bin/env bash
# Builds the control-plane binaries that envtest (and the local cluster) need,
# from the Go module proxy, and caches them outside the checkout keyed by version.
# setup-envtest cannot download here, so this is the one path that works everywhere.
#
# Usage: hack/envtest-bins.sh [component...]   (default: kube-apiserver etcd)
# Prints the directory that holds the binaries (use it as KUBEBUILDER_ASSETS).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.1}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CACHE_ROOT="${BOXOFFICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/boxoffice}"
OUT="${CACHE_ROOT}/k8s/${KUBE_VERSION}-etcd${ETCD_VERSION}-v2"
components=("$@")
[ ${#components[@]} -eq 0 ] && components=(kube-apiserver etcd)

log() { echo "envtest-bins: $*" >&2; }
mkdir -p "$OUT"

build_kube() {
  local name="$1"
  [ -x "$OUT/$name" ] && return 0
  log "building $name v${KUBE_VERSION} from the module proxy (several minutes cold)"
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    go mod init boxoffice.local/k8sbuild >/dev/null 2>&1
    # k8s.io/kubernetes points its staging modules at ./staging; map each one to
    # the published k8s.io/<module> v0.<minor>.<patch> instead.
    local dl modfile
    if ! dl="$(go mod download -json "k8s.io/kubernetes@v${KUBE_VERSION}")"; then
      log "cannot download k8s.io/kubernetes@v${KUBE_VERSION}:"; echo "$dl" >&2; exit 1
    fi
    modfile="$(echo "$dl" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    local staging_version="v0.${KUBE_VERSION#*.}"
    {
      echo "require k8s.io/kubernetes v${KUBE_VERSION}"
      grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$modfile" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
    } >> go.mod
    # go version directive must satisfy k8s.io/kubernetes's own.
    go mod edit -go="$(awk '$1=="go"{print $2; exit}' "$modfile")"
    echo 'package k8sbuild' > doc.go
    GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/${name}@v${KUBE_VERSION}" >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/${name}@v${KUBE_VERSION}"
    # Stamp the real version (as the upstream release build does): without it the
    # API server reports v0.0.0-master and tools that check the server version
    # (helm's kubeVersion constraints, kubectl's skew warning) refuse or complain.
    local vpkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
    local ldflags="-s -w" p
    for p in "${vpkgs[@]}"; do
      ldflags+=" -X ${p}.gitVersion=v${KUBE_VERSION} -X ${p}.gitMajor=${KUBE_VERSION%%.*}"
      ldflags+=" -X ${p}.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X ${p}.gitTreeState=clean"
      ldflags+=" -X ${p}.buildDate=1970-01-01T00:00:00Z"
    done
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags="$ldflags" -o "$OUT/$name.tmp" "k8s.io/kubernetes/cmd/${name}"
  )
  mv "$OUT/$name.tmp" "$OUT/$name"
}

build_etcd() {
  [ -x "$OUT/etcd" ] && return 0
  log "building etcd v${ETCD_VERSION} from the module proxy"
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    go mod init boxoffice.local/etcdbuild >/dev/null 2>&1
    echo 'package etcdbuild' > doc.go
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

for c in "${components[@]}"; do
  case "$c" in
    etcd) build_etcd ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) build_kube "$c" ;;
    *) log "unknown component $c"; exit 2 ;;
  esac
done
echo "$OUT"
