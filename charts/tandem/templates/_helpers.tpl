{{/* The chart's name, or nameOverride. */}}
{{- define "tandem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base name of every object: fullnameOverride, else the release name when it already
contains the chart's name, else "<release>-<chart>". 63 characters at most (a DNS label).
*/}}
{{- define "tandem.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "tandem.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels every object carries (the app.kubernetes.io recommended labels). */}}
{{- define "tandem.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tandem.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tandem
{{- end }}

{{/* The labels that select the operator's pods (never change them on upgrade: selectors are immutable). */}}
{{- define "tandem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tandem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "tandem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tandem.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name the existing ServiceAccount the operator should run as" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest, else repository:tag (tag defaults to the appVersion). */}}
{{- define "tandem.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The PodDisruptionBudget's apiVersion, from what the API server serves: policy/v1 (Kubernetes
1.21+) when discovery lists it, policy/v1beta1 when discovery lists only that (1.20, the
local control plane); rendered offline (helm template, no discovery), from the Kubernetes
version (--kube-version), since Helm's offline set names group/versions, not kinds.
*/}}
{{- define "tandem.pdbAPIVersion" -}}
{{- if .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" -}}
policy/v1
{{- else if .Capabilities.APIVersions.Has "policy/v1beta1/PodDisruptionBudget" -}}
policy/v1beta1
{{- else if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end }}
{{- end }}

{{/*
What the operator does in the namespaces it watches, read from its code and measured in the
API server's audit log (docs/install.md has the table): the pool informer (list, watch) and
status writes (server-side apply = patch); the Deployments and Services it owns (informers;
server-side apply is a patch, and the API server also checks create when the apply makes the
object; Deployments are also read live before a replica handover); the pools' pods (the
autoscaler's informer); Events (events.k8s.io/v1: create, and patch to count a repeat).
With a pool's scheduler block, the router: ConfigMaps, ServiceAccounts, Roles, RoleBindings
(informers, apply, delete when the block goes), the GIE InferencePool (read live, apply, delete),
and delete of the picker's Deployment and Service. Kubernetes lets the operator grant the
picker's Role only what it holds itself, so it also holds what that Role grants and it never
uses: get pods; list and watch GIE InferencePools; get, list and watch InferenceObjectives and
InferenceModelRewrites (GIE's x-k8s.io group and llm-d.ai).
*/}}
{{- define "tandem.namespacedRules" -}}
- apiGroups: [inference.x-k8s.io]
  resources: [inferencepools]
  verbs: [list, watch]
- apiGroups: [inference.x-k8s.io]
  resources: [inferencepools/status]
  verbs: [patch]
{{- /* Setting blockOwnerDeletion on a child's owner reference needs update on the owner's
finalizers under the OwnerReferencesPermissionEnforcement admission plugin (on by default on
OpenShift); an authorization check, never a request of its own. */}}
- apiGroups: [inference.x-k8s.io]
  resources: [inferencepools/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
{{- /* get: a child missing from the cache (the informers see only objects labelled as
Tandem's) is looked up before it is created, so an object someone else made under its name is
reported (ChildConflict) and never written over. */}}
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [configmaps, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [inference.networking.k8s.io]
  resources: [inferencepools]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [inference.networking.x-k8s.io, llm-d.ai]
  resources: [inferenceobjectives, inferencemodelrewrites]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* Cluster-scoped: Nodes' labels name the accelerator of pools that name none; with
metrics.secure, /metrics asks the API server who a scraper's token names (TokenReview) and
whether it may get /metrics (SubjectAccessReview), as controller-runtime's secure serving. */}}
{{- define "tandem.clusterRules" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
{{- if .Values.metrics.secure }}
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
{{- end }}
{{- end }}

{{/* The Lease the operator's replicas elect a leader on (KubeRuntime's LeaderElector). */}}
{{- define "tandem.leaseName" -}}tandem-operator{{- end }}
