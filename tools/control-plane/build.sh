#!/usr/bin/env bash
# Build the real Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd) as one multi-call binary from published Go modules, into a
# cache outside the repo keyed by everything that goes into the binary:
#
#   ~/.cache/hybrid-e2e/control-plane-<first 16 hex of sha256(go.mod go.sum main.go build.sh)>/
#       control-plane                    the binary
#       kube-apiserver -> control-plane  (and kube-controller-manager, kube-scheduler, etcd)
#
# Prints ONLY that folder on stdout; progress goes to stderr. Skips the build when
# the binary is already there. Exits non-zero with one "build.sh: error: ..." line
# when go is missing or the build fails.
#
# Env: HYBRID_E2E_CACHE (default ~/.cache/hybrid-e2e), CONTROL_PLANE_FORCE=1 to rebuild,
#      GOPROXY (default https://proxy.golang.org, no "direct" fallback).
set -euo pipefail

die() { echo "build.sh: error: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null 2>&1 || die "go not found on PATH (need Go >= 1.26 and the Go module proxy)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found"
inputs=(go.mod go.sum main.go build.sh)
for f in "${inputs[@]}"; do
  [[ -f "$here/$f" ]] || die "missing $here/$f"
done

# The module graph, the sources and the ldflags (in this script): a change to any of them
# must not reuse a stale binary.
key="$(cd "$here" && cat "${inputs[@]}" | sha256sum | cut -c1-16)"
cache_root="${HYBRID_E2E_CACHE:-$HOME/.cache/hybrid-e2e}"
out="$cache_root/control-plane-$key"
bin="$out/control-plane"
components=(kube-apiserver kube-controller-manager kube-scheduler etcd)

link_components() {
  local c
  for c in "${components[@]}"; do
    ln -sfn control-plane "$out/$c" || die "cannot create symlink $out/$c"
  done
}

mkdir -p "$out" || die "cannot create $out"

# One builder at a time per cache folder (a second caller waits, then skips).
exec 9>"$out/.lock"
flock 9 2>/dev/null || true

if [[ -x "$bin" && "${CONTROL_PLANE_FORCE:-0}" != 1 ]]; then
  log "up to date: $bin"
  link_components
  echo "$out"
  exit 0
fi

k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
[[ "$k8s_version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "cannot read the k8s.io/kubernetes version from go.mod"
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"

# Same -X keys as upstream hack/lib/version.sh, so /version and `kubectl version`
# report the real release instead of "v0.0.0-master+$Format:%H$".
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=module-$k8s_version"
done

log "building kube control plane $k8s_version (key $key) into $out"
log "$(go version)"
start=$SECONDS
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# Niced, one package at a time: the 2-core machine is shared with other builds.
if ! (
  cd "$here" &&
    GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 \
      nice -n 19 go build -p "${CONTROL_PLANE_BUILD_JOBS:-1}" -trimpath -ldflags "$ldflags" -o "$tmp" . >&2
); then
  die "go build failed in $here (see the go output above)"
fi
mv -f "$tmp" "$bin" || die "cannot move the binary to $bin"
link_components
log "built in $((SECONDS - start)) s: $(du -h "$bin" | cut -f1) $bin"
echo "$out"
