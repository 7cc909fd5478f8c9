{{/* Names and labels shared by every template. */}}

{{- define "openperouter.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-openperouter, or the release name when it already contains the chart name. */}}
{{- define "openperouter.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "openperouter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "openperouter.labels" -}}
app.kubernetes.io/name: {{ include "openperouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: openperouter
{{- if not .Values.plainManifests }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "router"). */}}
{{- define "openperouter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openperouter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "openperouter.componentLabels" -}}
{{ include "openperouter.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Tolerations of the node agents (and the nodemarker): control-plane taints when runOnMaster. */}}
{{- define "openperouter.controlPlaneTolerations" -}}
{{- if .Values.runOnMaster }}
- key: node-role.kubernetes.io/control-plane
  operator: Exists
  effect: NoSchedule
- key: node-role.kubernetes.io/master
  operator: Exists
  effect: NoSchedule
{{- end }}
{{- end -}}

{{/* Affinity of the node agents: off control-plane nodes unless runOnMaster. */}}
{{- define "openperouter.nodeAgentAffinity" -}}
{{- if not .Values.runOnMaster }}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: node-role.kubernetes.io/control-plane
              operator: DoesNotExist
            - key: node-role.kubernetes.io/master
              operator: DoesNotExist
{{- end }}
{{- end -}}

{{- define "openperouter.socketPath" -}}
{{- printf "%s/reloader.sock" (trimSuffix "/" .Values.hostPaths.socketDir) -}}
{{- end -}}

{{- define "openperouter.stateFile" -}}
{{- printf "%s/frr-last-good.conf" (trimSuffix "/" .Values.hostPaths.stateDir) -}}
{{- end -}}

{{/* Fixed names: the nodemarker knows them (one installation per cluster). */}}
{{- define "openperouter.webhookServiceName" -}}openpe-webhook-service{{- end -}}
{{- define "openperouter.webhookConfigurationName" -}}openpe-validating-webhook-configuration{{- end -}}
{{- define "openperouter.webhookSecretName" -}}openpe-webhook-server-cert{{- end -}}
