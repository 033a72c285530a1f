{{- define "kirsa.labels" -}}
app.kubernetes.io/name: kirsa
app.kubernetes.io/component: webhook
{{- end -}}

{{/* Where the serving pair is: the mounted Secret, or (self-managed) a scratch folder kirsa writes it into. */}}
{{- define "kirsa.tlsDir" -}}
{{- if eq .Values.tls.mode "self-managed" -}}/var/run/kirsa/tls{{- else -}}/etc/kirsa/tls{{- end -}}
{{- end -}}
