#!/usr/bin/env bash
# Regenerates what the Helm chart derives from the code, and the plain manifests derived from
# the chart (docs/install.md):
#   charts/tandem/templates/crds/*.yaml   the CRDs as chart templates (`tandem crds --chart-templates`)
#   charts/install.yaml                   the chart rendered with its default values, release
#                                         "tandem" in namespace "tandem-system", with that Namespace
# --check writes nothing: it renders both into a temporary folder and exits 1, with a diff, when
# a committed file differs (the drift test runs this).
#
# Needs the tandem binary (built here with `swift build --product tandem` when missing) and
# the Python venv with helm-python-sdk (hack/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case ${1:-} in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: hack/render-manifests.sh [--check]" >&2; exit 2 ;;
esac

NAMESPACE=tandem-system
RELEASE=tandem
tandem=${TANDEM_BIN:-.build/debug/tandem}
if [ ! -x "$tandem" ]; then
  swift build --product tandem >/dev/null
fi

out=$(mktemp -d /tmp/tandem-manifests.XXXXXX)
trap 'rm -rf "$out"' EXIT

"$tandem" crds --chart-templates "$out/crds" 2>/dev/null
if [ $check = 0 ]; then
  # The chart's CRD templates first: install.yaml is rendered from the chart as it then is.
  rm -f charts/tandem/templates/crds/*.yaml
  mkdir -p charts/tandem/templates/crds
  cp "$out"/crds/*.yaml charts/tandem/templates/crds/
fi
{
  echo "# Tandem's plain manifests: the Helm chart charts/tandem rendered with its default values"
  echo "# (release $RELEASE, namespace $NAMESPACE) by hack/render-manifests.sh. Do not edit: change the"
  echo "# chart and run that script. Install: kubectl apply --server-side -f charts/install.yaml"
  echo "---"
  echo "apiVersion: v1"
  echo "kind: Namespace"
  echo "metadata:"
  echo "  name: $NAMESPACE"
  echo "  labels:"
  echo "    app.kubernetes.io/part-of: tandem"
  # The restricted Pod Security Standard, which the operator's pods meet (Kubernetes 1.23+ enforce it).
  echo "    pod-security.kubernetes.io/enforce: restricted"
  python3 hack/helm.py template charts/tandem --name "$RELEASE" --namespace "$NAMESPACE"
} >"$out/install.yaml"

if [ $check = 1 ]; then
  drift=0
  for f in "$out"/crds/*.yaml; do
    committed=charts/tandem/templates/crds/${f##*/}
    if ! diff -u "$committed" "$f" >"$out/diff" 2>&1; then
      echo "$committed is not what \`tandem crds --chart-templates\` generates; run hack/render-manifests.sh:"
      head -40 "$out/diff"
      drift=1
    fi
  done
  extra=$(comm -23 <(ls charts/tandem/templates/crds | sort) <(ls "$out/crds" | sort))
  if [ -n "$extra" ]; then
    echo "charts/tandem/templates/crds has files the generator does not make: $extra; run hack/render-manifests.sh"
    drift=1
  fi
  if ! diff -u charts/install.yaml "$out/install.yaml" >"$out/diff" 2>&1; then
    echo "charts/install.yaml is not the chart's fresh render; run hack/render-manifests.sh:"
    head -40 "$out/diff"
    drift=1
  fi
  [ $drift = 0 ] && echo "charts/install.yaml and charts/tandem/templates/crds are up to date"
  exit $drift
fi

cp "$out/install.yaml" charts/install.yaml
echo "wrote charts/tandem/templates/crds/ and charts/install.yaml" >&2
