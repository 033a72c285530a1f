{{- define "kirsa.labels" -}}
app.kubernetes.io/name: kirsa
app.kubernetes.io/component: webhook
{{- end -}}
