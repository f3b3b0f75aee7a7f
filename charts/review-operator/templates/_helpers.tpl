{{/* Chart name. */}}
{{- define "review-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object-name prefix. */}}
{{- define "review-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Namespace of ReviewJobs, review pods, per-review Secrets and the Lease (REVIEWOP_NAMESPACE). */}}
{{- define "review-operator.workNamespace" -}}
{{- default .Release.Namespace .Values.namespace.name }}
{{- end }}

{{- define "review-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Common labels; pass (dict "ctx" $ "component" "webhook"). */}}
{{- define "review-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "review-operator.selectorLabels" . }}
{{- end }}

{{- define "review-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "review-operator.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* Restricted PodSecurity: pod level. */}}
{{- define "review-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Restricted PodSecurity: container level. */}}
{{- define "review-operator.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Environment from a config map of camelCase keys: key fooBar becomes <prefix>FOO_BAR (1:1 with the
pydantic-settings field foo_bar). Strings are used as they are; lists are comma-joined when
.csv is true (NoDecode settings), otherwise every non-string is JSON. null values are skipped.
*/}}
{{- define "review-operator.envFrom" -}}
{{- $csv := .csv }}
{{- range $key, $value := .config }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ printf "%s%s" $.prefix ($key | snakecase | upper) }}
  {{- if kindIs "string" $value }}
  value: {{ $value | quote }}
  {{- else if and $csv (kindIs "slice" $value) }}
  value: {{ join "," $value | quote }}
  {{- else }}
  value: {{ toJson $value | quote }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "review-operator.commonEnv" -}}
- name: REVIEWOP_NAMESPACE
  value: {{ include "review-operator.workNamespace" . | quote }}
- name: REVIEWOP_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: REVIEWOP_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end }}

{{/* An IPv4 address as an integer. */}}
{{- define "review-operator.ipv4ToInt" -}}
{{- $p := splitList "." . -}}
{{- add (mul (atoi (index $p 0)) 16777216) (mul (atoi (index $p 1)) 65536) (mul (atoi (index $p 2)) 256) (atoi (index $p 3)) -}}
{{- end }}

{{/* "true" when the IPv4 CIDR .inner lies inside the IPv4 CIDR .outer; pass (dict "inner" .. "outer" ..). */}}
{{- define "review-operator.cidrWithin" -}}
{{- $in := splitList "/" .inner -}}
{{- $out := splitList "/" .outer -}}
{{- $outLen := atoi (index $out 1) -}}
{{- $block := 1 -}}
{{- range until (sub 32 $outLen | int) -}}{{- $block = mul $block 2 -}}{{- end -}}
{{- $a := include "review-operator.ipv4ToInt" (index $in 0) | atoi -}}
{{- $b := include "review-operator.ipv4ToInt" (index $out 0) | atoi -}}
{{- if and (ge (atoi (index $in 1)) $outLen) (eq (div $a $block) (div $b $block)) }}true{{ end -}}
{{- end }}
