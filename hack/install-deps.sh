#!/usr/bin/env bash
# Installs everything Tandem's tests and `make run` need on a fresh Debian machine (root):
# Debian packages, and kube-apiserver / kube-controller-manager / kube-scheduler built from
# Debian's `kubernetes` source package (see docs/local-cluster.md). Idempotent: a second run
# checks and returns in seconds. Build output is cached outside the checkout in $TANDEM_CACHE.
set -euo pipefail

TANDEM_CACHE=${TANDEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem}
BIN=$TANDEM_CACHE/bin
K8S_VERSION=1.20.2   # Debian bookworm's kubernetes source package: 1.20.5+really1.20.2
mkdir -p "$TANDEM_CACHE"
log() { printf 'install-deps: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------------------------
# etcd-server/etcd-client: the real etcd 3.4 and etcdctl (compaction in tests).
# golang-go, rsync: Kubernetes' build. jq, openssl: scripts and certificates.
# golang-github-modern-go-reflect2-dev: the reflect2 fix for Go >= 1.18 (docs/local-cluster.md).
# libcurl4-openssl-dev, libssl-dev, libyaml-dev: named on the design card (Foundation/TLS).
# iproute2, procps: ip and pkill/pgrep for scripts.
# prometheus: /usr/bin/prometheus and /usr/bin/promtool for the PrometheusSource tests (2.42 on
# bookworm, built without Kubernetes discovery; docs/prometheus-source.md). The tests start their
# own servers on 127.0.0.1; the package's service is not wanted (see below).
PKGS=(etcd-server etcd-client golang-go rsync jq openssl golang-github-modern-go-reflect2-dev
      libcurl4-openssl-dev libssl-dev libyaml-dev procps curl dpkg-dev prometheus)
command -v kubectl >/dev/null 2>&1 || PKGS+=(kubernetes-client)
# python3-venv: `python3 -m venv` for $TANDEM_CACHE/venv below (a python3 that has venv and
# ensurepip already, such as pyenv's, needs nothing more).
python3 -c 'import importlib.util as u; assert u.find_spec("venv") and u.find_spec("ensurepip")' >/dev/null 2>&1 \
  || PKGS+=(python3-venv)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

need_src=0
[ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kube-scheduler" ] || need_src=1

if [ ${#missing[@]} -gt 0 ] || [ $need_src = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "need root to install: ${missing[*]:-} (and the kubernetes source package); run as root"
    exit 1
  fi
  # deb-src entries for `apt-get source` (Debian's sources file with Types: deb-src).
  if [ $need_src = 1 ] && [ -f /etc/apt/sources.list.d/debian.sources ] \
     && [ ! -f /etc/apt/sources.list.d/tandem-debian-src.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/tandem-debian-src.sources
  fi
  log "apt-get update"
  # Some images carry third-party sources that are unreachable here; their failures are not ours.
  apt-get update -q >"$TANDEM_CACHE/apt-update.log" 2>&1 || log "apt-get update reported errors (see $TANDEM_CACHE/apt-update.log); going on"
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    # The prometheus package enables and starts a server on :9090 (all interfaces) where an init
    # system runs services; only the tests' own servers are wanted, so stop the one just installed.
    if [[ " ${missing[*]} " == *" prometheus "* ]]; then
      if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || log "could not stop the prometheus service; stop it by hand"
      elif [ -x /etc/init.d/prometheus ]; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
      fi
    fi
  fi
fi

# --- kube-apiserver, kube-controller-manager, kube-scheduler from source --------------------
mkdir -p "$BIN"
if [ $need_src = 1 ]; then
  src=$TANDEM_CACHE/src
  mkdir -p "$src"
  cd "$src"
  if ! ls kubernetes_*.orig.tar.gz >/dev/null 2>&1; then
    log "apt-get source --download-only kubernetes"
    apt-get source --download-only -q kubernetes >/dev/null
  fi
  tree=$src/kubernetes-$K8S_VERSION
  if [ ! -f "$tree/.tandem-prepared" ]; then
    rm -rf "$tree"
    log "unpacking $(ls kubernetes_*.orig.tar.gz | head -1)"
    tar xzf "$(ls kubernetes_*.orig.tar.gz | head -1)"
    [ -d "$tree" ] || { log "expected $tree after unpacking; found: $(ls)"; exit 1; }
    # Kubernetes 1.20 vendors modern-go/reflect2 v1.0.1, which crashes under Go >= 1.18 the first
    # time a custom resource is stored; Debian's 1.0.2 carries the fix.
    rm -rf "$tree/vendor/github.com/modern-go/reflect2"
    cp -rL /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
    mkdir -p "$tree/.go/src/k8s.io"
    ln -sfn ../../.. "$tree/.go/src/k8s.io/kubernetes"
    touch "$tree/.tandem-prepared"
  fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler (5-10 minutes on 2 cores; log: $TANDEM_CACHE/k8s-build.log)"
  mkdir -p "$TANDEM_CACHE/gohome"
  ( cd "$tree" && GOPATH=$tree/.go CGO_ENABLED=0 HOME=$TANDEM_CACHE/gohome \
      make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" ) \
      >"$TANDEM_CACHE/k8s-build.log" 2>&1 || { tail -30 "$TANDEM_CACHE/k8s-build.log" >&2; log "build failed"; exit 1; }
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    cp "$tree/_output/bin/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"
  done
  # The tree is large (vendor + build output); keep only the binaries.
  rm -rf "$tree"
fi

# Python clients the emulator tests talk through: the real `openai` client and the real
# Prometheus text parser (prometheus_client), from PyPI.
if ! python3 -c 'import openai, prometheus_client' >/dev/null 2>&1; then
  log "pip install openai prometheus_client"
  python3 -m pip install --quiet --root-user-action=ignore openai prometheus_client >/dev/null
fi

# A virtual environment outside the checkout, for what runs only in tools and tests:
# helm-python-sdk (Helm v4's Go SDK as a library: hack/helm.py lints and renders the chart with it,
# no helm binary) and matplotlib (the benchmark's charts). Recreated only when a package is missing
# or the pinned SDK version changed.
VENV=$TANDEM_CACHE/venv
HELM_SDK_VERSION=0.2.2   # the version on the package mirror; the chart tests are written against it
if ! "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('helm-python-sdk') == '$HELM_SDK_VERSION'; m.version('matplotlib')" >/dev/null 2>&1; then
  log "python venv $VENV: helm-python-sdk==$HELM_SDK_VERSION matplotlib (log: $TANDEM_CACHE/venv-install.log)"
  { python3 -m venv "$VENV" \
      && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
           "helm-python-sdk==$HELM_SDK_VERSION" matplotlib; } >"$TANDEM_CACHE/venv-install.log" 2>&1 \
    || { tail -20 "$TANDEM_CACHE/venv-install.log" >&2; log "creating the python venv $VENV failed"; exit 1; }
fi

for b in etcd etcdctl kubectl openssl prometheus promtool; do
  command -v "$b" >/dev/null || { log "$b is not on PATH after install"; exit 1; }
done
log "ready: $("$BIN/kube-apiserver" --version 2>&1), etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), binaries in $BIN"
