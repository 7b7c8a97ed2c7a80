#!/usr/bin/env python3
"""Lints and renders Tandem's Helm chart with Helm's own Go SDK, no helm binary.

The SDK is the PyPI package helm-python-sdk (Helm v4 built as a C library, called through
ctypes), installed by hack/install-deps.sh into $TANDEM_CACHE/venv; this script re-runs itself
with that venv's Python when started with another one.

    hack/helm.py lint CHART [-f VALUES]... [--strict]
    hack/helm.py template CHART [-f VALUES]... [--name N] [--namespace NS] [-o FILE]
                          [--kube-version V] [--api-versions G/V,...] [--kubeconfig PATH]
    hack/helm.py validate CHART [-f VALUES]...

`template` prints the manifests in the order Helm installs kinds, each under a
`# Source: TEMPLATE` line, like `helm template`. With --kubeconfig it renders the way
`helm install --dry-run=server` does: against that API server's discovered capabilities
(Kubernetes version, served group/versions and kinds), creating nothing. Without it, offline,
with Helm's default capabilities (or --kube-version / --api-versions added to them).

Exit status: 0 on success; 1 when the chart or values are wrong (the message says which
file or key, and what Helm objected to); 2 on wrong usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

VENV = os.path.join(
    os.environ.get("TANDEM_CACHE")
    or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tandem"),
    "venv",
)

try:
    import helm_python as helm
    from helm_python import _native
except ImportError:
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV) and os.access(python, os.X_OK):
        os.execv(python, [python, *sys.argv])
    sys.exit(f"hack/helm.py: the Python package helm-python-sdk is not installed (looked in {VENV}); run hack/install-deps.sh (make deps)")

# The order in which Helm creates kinds (its install order: namespaces and policies, accounts,
# CRDs, RBAC, services, workloads); kinds it does not know go last. Names within a kind sort.
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
    "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
]


def fail(message: str) -> None:
    print(f"hack/helm.py: {message}", file=sys.stderr)
    sys.exit(1)


def merge(base: dict, extra: dict) -> dict:
    """Deep-merges values files the way Helm does with several -f: later files win, maps merge."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_values(files: list[str]) -> dict | None:
    if not files:
        return None
    values: dict = {}
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            fail(f"cannot read values file {path}: {error.strerror}")
        try:
            values = merge(values, helm.values_from_yaml(text) or {})
        except helm.HelmError as error:
            fail(f"values file {path} is not valid YAML: {error}")
    return values


def split_documents(source: str, text: str) -> list[tuple[str, str, str, str]]:
    """(kind, name, source, document) for each non-empty YAML document of a rendered template."""
    documents = []
    for part in ("\n" + text).split("\n---"):
        body = part.strip("\n")
        lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not lines:
            continue
        try:
            parsed = helm.values_from_yaml(body) or {}
        except helm.HelmError as error:
            fail(f"{source} rendered a document that is not YAML: {error}\n{body}")
        kind = str(parsed.get("kind", ""))
        name = str((parsed.get("metadata") or {}).get("name", ""))
        if not kind:
            fail(f"{source} rendered a document without a kind:\n{body}")
        documents.append((kind, name, source, body))
    return documents


def ordered(manifests: dict[str, str]) -> str:
    documents = []
    for source, text in manifests.items():
        if source.endswith("NOTES.txt"):
            continue
        documents.extend(split_documents(source, text))

    def rank(document: tuple[str, str, str, str]) -> tuple[int, str, str, str]:
        kind, name, source, _ = document
        index = INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
        return (index, kind, name, source)

    return "".join(f"---\n# Source: {source}\n{body}\n" for _, _, source, body in sorted(documents, key=rank))


def render_offline(chart: "helm.Chart", values: dict | None, args: argparse.Namespace) -> dict[str, str]:
    options: dict = {"name": args.name, "namespace": args.namespace, "is_install": True}
    if args.kube_version:
        options["kube_version"] = args.kube_version
    if args.api_versions:
        options["api_versions"] = [v for v in args.api_versions.split(",") if v]
    # Chart.render offers no capabilities; the library's render call takes them in its options
    # (kube_version, api_versions), as `helm template --kube-version --api-versions` does.
    rendered = _native.call_string("helm_render", chart._raw(), None if values is None else json.dumps(values), json.dumps(options))
    return json.loads(rendered)


def render_against(chart: "helm.Chart", values: dict | None, args: argparse.Namespace) -> str:
    with helm.Config(kubeconfig_path=args.kubeconfig, namespace=args.namespace) as config:
        release = config.install(chart, args.name, values, namespace=args.namespace, dry_run="server")
    manifest = release.get("manifest") if isinstance(release, dict) else None
    if manifest is None:
        fail(f"the server-side dry run of release {args.name} returned no manifest: {release}")
    # The manifest is one stream, "# Source:" before each document: split it back by template.
    by_source: dict[str, str] = {}
    source = "unknown"
    for chunk in ("\n" + manifest).split("\n---\n"):
        lines = chunk.strip("\n").splitlines()
        if lines and lines[0].startswith("# Source: "):
            source = lines[0][len("# Source: "):]
            lines = lines[1:]
        by_source[source] = by_source.get(source, "") + "\n---\n" + "\n".join(lines)
    return ordered(by_source)


def main() -> None:
    parser = argparse.ArgumentParser(prog="hack/helm.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("lint", "template", "validate"):
        command = commands.add_parser(name)
        command.add_argument("chart")
        command.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable; later wins)")
        if name == "lint":
            command.add_argument("--strict", action="store_true", help="warnings fail too")
            command.add_argument("--kube-version")
        if name == "template":
            command.add_argument("--name", default="tandem", help="release name (default tandem)")
            command.add_argument("--namespace", default="tandem-system", help="release namespace (default tandem-system)")
            command.add_argument("--kube-version", help="offline: the Kubernetes version to render for, e.g. v1.20.2")
            command.add_argument("--api-versions", help="offline: group/versions (or group/version/Kind) to add, comma-separated")
            command.add_argument("--kubeconfig", help="render against this cluster's capabilities (a server-side dry run)")
            command.add_argument("-o", "--output", help="write the manifests to this file instead of standard output")
    args = parser.parse_args()
    values = load_values(args.values)

    if args.command == "lint":
        try:
            report = helm.lint(args.chart, values, strict=args.strict or None, kube_version=args.kube_version)
        except helm.HelmError as error:
            fail(f"lint {args.chart}: {error}")
        names = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
        worst = 0
        for message in report.get("messages") or []:
            severity = int(message.get("severity", 0))
            worst = max(worst, severity)
            print(f"[{names.get(severity, severity)}] {message.get('path', '')}: {message.get('error', '')}")
        for error in report.get("errors") or []:
            print(f"[ERROR] {error}")
            worst = 3
        print(f"{report.get('total_charts_linted', 0)} chart(s) linted, {'failed' if worst >= (2 if args.strict else 3) else 'no failures'}")
        sys.exit(1 if worst >= (2 if args.strict else 3) else 0)

    try:
        chart = helm.Chart.load(args.chart)
    except helm.HelmError as error:
        fail(f"cannot load the chart at {args.chart}: {error}")
    with chart:
        try:
            # Helm validates values against values.schema.json on install and template alike.
            chart.validate_schema(values)
        except helm.HelmError as error:
            fail(f"values rejected by {args.chart}/values.schema.json: {error}")
        if args.command == "validate":
            print("values are valid")
            return
        try:
            if args.kubeconfig:
                text = render_against(chart, values, args)
            else:
                text = ordered(render_offline(chart, values, args))
        except helm.HelmError as error:
            fail(f"rendering {args.chart} as release {args.name} in {args.namespace} failed: {error}")
        if args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text)


if __name__ == "__main__":
    main()
