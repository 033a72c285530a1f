{{/*
The name of every object. Service names are DNS labels (63 characters): 55 leaves room for the longest
suffix the chart adds ("-mapping"). src/install/manifests.ts (installObjectName) derives the same name.
*/}}
{{- define "kirsa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 55 | trimSuffix "-" -}}
{{- end -}}

{{- define "kirsa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "kirsa.name" . -}}
{{- $base := ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) -}}
{{- printf "%s-webhook" ($base | trunc 47 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects: the same release name may be installed in two namespaces. */}}
{{- define "kirsa.clusterName" -}}
{{- printf "%s-%s" (include "kirsa.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "kirsa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kirsa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kirsa.labels" -}}
{{ include "kirsa.selectorLabels" . }}
app.kubernetes.io/component: webhook
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "kirsa.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "kirsa.tlsSecretName" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "kirsa.fullname" .)) -}}
{{- end -}}

{{/* The label that keeps a pod away from the webhook: the reference's key, under the annotation prefix. */}}
{{- define "kirsa.skipLabel" -}}
{{ .Values.webhook.annotationPrefix }}/skip-pod-identity-webhook
{{- end -}}

{{/* Where the serving pair is: the mounted Secret, or (self-managed) a scratch folder kirsa writes it into. */}}
{{- define "kirsa.tlsDir" -}}
{{- if eq .Values.tls.mode "self-managed" -}}/var/run/kirsa/tls{{- else -}}/etc/kirsa/tls{{- end -}}
{{- end -}}

{{/* Two label selectors ANDed (a list of two dicts): labels merged, expressions concatenated; as YAML. */}}
{{- define "kirsa.bothSelectors" -}}
{{- $first := index . 0 -}}
{{- $second := index . 1 -}}
{{- $labels := merge (dict) (deepCopy ($second.matchLabels | default dict)) (deepCopy ($first.matchLabels | default dict)) -}}
{{- $expressions := concat ($first.matchExpressions | default list) ($second.matchExpressions | default list) -}}
{{- $selector := dict -}}
{{- if $labels }}{{ $_ := set $selector "matchLabels" $labels }}{{ end -}}
{{- if $expressions }}{{ $_ := set $selector "matchExpressions" $expressions }}{{ end -}}
{{- toYaml $selector -}}
{{- end -}}
