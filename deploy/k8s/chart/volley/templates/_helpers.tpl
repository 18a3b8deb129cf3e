{{/*
Names, labels and the pod pieces every component shares. Objects are named
"<fullname>-<component>": volley-web, volley-worker... for the release "volley".
*/}}

{{/* The release's base name: the release name, or "<release>-volley" when it lacks "volley". */}}
{{- define "volley.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select a component's pods; call with (dict "root" $ "component" "web"). */}}
{{- define "volley.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Labels of every object: the selector labels plus who manages it. */}}
{{- define "volley.labels" -}}
{{ include "volley.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* The object's metadata block: name, namespace, labels; (dict "root" $ "name" "web" "component" "web"). */}}
{{- define "volley.metadata" -}}
metadata:
  name: {{ include "volley.fullname" .root }}-{{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "volley.labels" . | nindent 4 }}
{{- end -}}

{{- define "volley.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "volley.configName" -}}
{{ include "volley.fullname" . }}-config
{{- end -}}

{{/* The settings of the ConfigMap: config plus the New Relic application name. */}}
{{- define "volley.configData" -}}
{{- range $key, $value := .Values.config }}
{{ $key }}: {{ $value | quote }}
{{- end }}
NEW_RELIC_APP_NAME: {{ .Values.newrelic.appName | quote }}
{{- end -}}

{{/*
Annotations that roll a Deployment's pods when their settings change (envFrom is read
only when a container starts).
*/}}
{{- define "volley.checksums" -}}
checksum/config: {{ include "volley.configData" . | sha256sum }}
{{- if .Values.secrets.create }}
checksum/secrets: {{ toJson .Values.secrets.values | sha256sum }}
{{- end }}
{{- end -}}

{{/* Settings for a container: the ConfigMap and the Secret; (dict "config" NAME "secret" NAME). */}}
{{- define "volley.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ .config }}
  - secretRef:
      name: {{ .secret }}
{{- end -}}

{{/*
The pod-level part every Volley pod shares: no API token unless asked for, no service
links (Kubernetes would add VOLLEY_WEB_PORT=tcp://... and the like, which collide with
VOLLEY_* settings), non-root with the runtime's seccomp profile.
Call with (dict "root" $) or (dict "root" $ "apiToken" true).
*/}}
{{- define "volley.podSpec" -}}
automountServiceAccountToken: {{ .apiToken | default false }}
enableServiceLinks: false
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Where a component runs: its nodeSelector and tolerations; call with its values block. */}}
{{- define "volley.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The container-level hardening: read-only root, no privilege escalation, no capabilities. */}}
{{- define "volley.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
{{- end -}}

{{/* The writable /tmp a read-only root filesystem needs. */}}
{{- define "volley.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "volley.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ . }}
{{- end -}}
