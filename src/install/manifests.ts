// The objects that install the kirsa webhook in a cluster. `kirsa manifests` prints them; the Helm chart in
// deploy/helm/kirsa renders the same objects from the same settings. Two sources by necessity: the chart
// must install with helm alone (no kirsa binary, Go templates), and `kirsa manifests` must work with no helm.
// test/real-parts/deploy/manifests.test.ts renders both for a matrix of settings and requires equal objects (helm's own
// labels aside), and Chart.yaml's appVersion to be kirsa's version. Pure: settings in, plain objects out.

import { MAPPING_CONFIG_MAP_NAME, SKIP_POD_LABEL_NAME } from '../consts.ts';
import { KirsaError } from '../errors.ts';
import { kirsaVersion } from '../version.ts';

/**
 * cert-manager: a CA chain (a self-signed root, a CA Issuer, the serving Certificate) or an existing issuer;
 * cert-manager injects the caBundle. secret: the user's Secret and CA. self-managed: kirsa makes and renews
 * its own CA and certificate in the Secret and keeps the caBundle.
 */
export const TLS_MODES = ['cert-manager', 'secret', 'self-managed'] as const;
export type TlsMode = (typeof TLS_MODES)[number];
/** all: every pod of the selected namespaces; opt-in: only pods, or namespaces, labelled `optInLabel: "true"`. */
export const WEBHOOK_MODES = ['all', 'opt-in'] as const;
export type WebhookMode = (typeof WEBHOOK_MODES)[number];
export const FAILURE_POLICIES = ['Ignore', 'Fail'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

/** A Kubernetes label selector, as written in a webhook's namespaceSelector and objectSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface InstallSettings {
  /** Helm's release name: the objects are named from it, as the chart names them. */
  name: string;
  nameOverride: string;
  fullnameOverride: string;
  namespace: string;
  image: string;
  imagePullPolicy: string;
  replicas: number;
  priorityClassName: string;
  /** The cluster's DNS domain, for the serving certificate's long Service name. */
  dnsDomain: string;
  /** secretName '' = `<fullname>-tls`. */
  tls: { mode: TlsMode; secretName: string; caBundle: string };
  webhook: {
    port: number;
    metricsPort: number;
    timeoutSeconds: number;
    mode: WebhookMode;
    failurePolicy: FailurePolicy;
    /** Added to what the mode selects (ANDed); {} selects every namespace, kube-system included. */
    namespaceSelector: LabelSelector;
    objectSelector: LabelSelector;
    /** The label (value "true") that opts a pod or a namespace in, with mode opt-in. */
    optInLabel: string;
    annotationPrefix: string;
    tokenAudience: string;
    awsDefaultRegion: string;
    stsRegionalEndpoint: boolean;
    tokenExpiration: number;
    watchConfigMap: boolean;
    /** Where the mapping ConfigMap is when not in `namespace` (kOps writes it in kube-system); '' = there. */
    configMapNamespace: string;
    /** --read-env-from-config-maps; adds `get` on ConfigMaps in every namespace to the ClusterRole. */
    readEnvFromConfigMaps: boolean;
  };
}

export const DEFAULT_INSTALL_SETTINGS: InstallSettings = {
  name: 'kirsa',
  nameOverride: '',
  fullnameOverride: '',
  namespace: 'kirsa',
  image: `ghcr.io/kirsa-dev/kirsa:${kirsaVersion()}`,
  imagePullPolicy: 'IfNotPresent',
  replicas: 2,
  // The webhook sits in the path of pod creation cluster-wide: it is scheduled before (and evicted after)
  // ordinary workloads, as other admission webhooks and cluster add-ons are.
  priorityClassName: 'system-cluster-critical',
  dnsDomain: 'cluster.local',
  tls: { mode: 'cert-manager', secretName: '', caBundle: '' },
  webhook: {
    port: 8443,
    metricsPort: 9999,
    // The API server waits this long per call; kirsa answers in milliseconds, so a short bound limits the
    // damage of an unreachable replica (public choices are 1-3 s).
    timeoutSeconds: 3,
    mode: 'all',
    // Never block pod creation on kirsa: a pod admitted without credentials is diagnosable (kirsa doctor),
    // a cluster that cannot start pods is not. Fail is safe with mode opt-in.
    failurePolicy: 'Ignore',
    namespaceSelector: {},
    objectSelector: {},
    optInLabel: 'kirsa.dev/inject',
    annotationPrefix: 'eks.amazonaws.com',
    tokenAudience: 'sts.amazonaws.com',
    awsDefaultRegion: '',
    stsRegionalEndpoint: false,
    tokenExpiration: 86400,
    watchConfigMap: false,
    configMapNamespace: '',
    readEnvFromConfigMaps: false,
  },
};

export type Manifest = Record<string, unknown>;

/** Service names are DNS labels (63); the chart keeps 55 for the longest suffix it adds ("-mapping"). */
const NAME_LIMIT = 55;

/**
 * The name every object is given, as the chart's kirsa.fullname: the override, else the release name with
 * "-webhook" (with the chart's name in between unless the release name holds it). Release kirsa: kirsa-webhook.
 */
export function installObjectName(settings: InstallSettings): string {
  const trim = (text: string) => text.slice(0, NAME_LIMIT).replace(/-+$/, '');
  if (settings.fullnameOverride !== '') return trim(settings.fullnameOverride);
  const chartName = settings.nameOverride || 'kirsa';
  const base = settings.name.includes(chartName) ? settings.name : `${settings.name}-${chartName}`;
  return `${trim(base.slice(0, NAME_LIMIT - '-webhook'.length))}-webhook`;
}

/**
 * The name of the cluster-scoped objects (ClusterRole, ClusterRoleBinding, MutatingWebhookConfiguration): the
 * same release name may be installed in two namespaces, so the namespace is part of it.
 */
export function installClusterObjectName(settings: InstallSettings): string {
  return `${installObjectName(settings)}-${settings.namespace}`;
}

/** The labels Deployment, Service, PDB and NetworkPolicy select on: the app and its instance (release). */
function selectorLabels(settings: InstallSettings): Record<string, string> {
  return {
    'app.kubernetes.io/name': settings.nameOverride || 'kirsa',
    'app.kubernetes.io/instance': settings.name,
  };
}

/** Every object's labels; helm adds managed-by and helm.sh/chart, which kubectl-applied YAML should not claim. */
function commonLabels(settings: InstallSettings): Record<string, string> {
  return {
    ...selectorLabels(settings),
    'app.kubernetes.io/component': 'webhook',
    'app.kubernetes.io/version': kirsaVersion(),
  };
}

/** The label that keeps a pod away from the webhook; the reference's key, under the annotation prefix. */
export function skipPodLabel(annotationPrefix: string): string {
  return `${annotationPrefix}/${SKIP_POD_LABEL_NAME}`;
}

function tlsSecretName(settings: InstallSettings): string {
  return settings.tls.secretName || `${installObjectName(settings)}-tls`;
}

function webhookArgs(settings: InstallSettings): string[] {
  const w = settings.webhook;
  const args = [
    'webhook',
    `--port=${w.port}`,
    `--metrics-port=${w.metricsPort}`,
    `--tls-cert=${tlsDir(settings)}/tls.crt`,
    `--tls-key=${tlsDir(settings)}/tls.key`,
    `--namespace=${settings.namespace}`,
    `--annotation-prefix=${w.annotationPrefix}`,
    `--token-audience=${w.tokenAudience}`,
    `--token-expiration=${w.tokenExpiration}`,
    `--sts-regional-endpoint=${w.stsRegionalEndpoint}`,
  ];
  if (w.awsDefaultRegion !== '') args.push(`--aws-default-region=${w.awsDefaultRegion}`);
  if (w.watchConfigMap) args.push('--watch-config-map');
  const mappingNamespace = otherMappingNamespace(settings);
  if (mappingNamespace !== undefined) args.push(`--config-map-namespace=${mappingNamespace}`);
  if (w.readEnvFromConfigMaps) args.push('--read-env-from-config-maps');
  if (settings.tls.mode === 'self-managed') {
    args.push(
      '--self-managed-tls',
      `--tls-secret=${tlsSecretName(settings)}`,
      `--service-name=${installObjectName(settings)}`,
      `--webhook-configuration=${installClusterObjectName(settings)}`,
    );
    // kirsa's certificate names the Service under cluster.local; another domain is added as a host.
    if (settings.dnsDomain !== 'cluster.local') {
      args.push(`--tls-hosts=${installObjectName(settings)}.${settings.namespace}.svc.${settings.dnsDomain}`);
    }
  }
  return args;
}

/** The mapping ConfigMap's namespace when kirsa reads one outside its own namespace, else undefined. */
function otherMappingNamespace(settings: InstallSettings): string | undefined {
  const { watchConfigMap, configMapNamespace } = settings.webhook;
  return watchConfigMap && configMapNamespace !== '' && configMapNamespace !== settings.namespace
    ? configMapNamespace
    : undefined;
}

/** Where the serving pair is: the mounted Secret, or (self-managed) a scratch folder kirsa writes it into. */
function tlsDir(settings: InstallSettings): string {
  return settings.tls.mode === 'self-managed' ? '/var/run/kirsa/tls' : '/etc/kirsa/tls';
}

/** Two selectors ANDed: the labels merged, the expressions concatenated. */
function bothSelectors(first: LabelSelector, second: LabelSelector): LabelSelector {
  const matchLabels = { ...first.matchLabels, ...second.matchLabels };
  const matchExpressions = [...(first.matchExpressions ?? []), ...(second.matchExpressions ?? [])];
  return {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
}

/**
 * The webhooks of the configuration and what each selects. The webhook's own pods carry the skip label, and
 * every objectSelector requires its absence: they are never sent, whatever the user's selectors, so even
 * failurePolicy Fail cannot stop the webhook from starting. Mirror pods are sent; kirsa admits them unchanged
 * (a selector cannot see their annotation). Opt-in takes two webhooks, since one cannot OR a pod label with a
 * namespace label: pods labelled, in any namespace; and pods of labelled namespaces that have no label.
 */
function webhookScopes(
  settings: InstallSettings,
): Array<{ name: string; namespaceSelector: LabelSelector; objectSelector: LabelSelector }> {
  const w = settings.webhook;
  const notSkipped: LabelSelector = {
    matchExpressions: [{ key: skipPodLabel(w.annotationPrefix), operator: 'DoesNotExist' }],
  };
  const objects = bothSelectors(notSkipped, w.objectSelector);
  if (w.mode === 'all') {
    return [
      { name: 'pod-identity.kirsa.dev', namespaceSelector: w.namespaceSelector, objectSelector: objects },
    ];
  }
  const optedIn = { matchLabels: { [w.optInLabel]: 'true' } };
  return [
    {
      name: 'pod-identity.kirsa.dev',
      namespaceSelector: w.namespaceSelector,
      objectSelector: bothSelectors(optedIn, objects),
    },
    {
      name: 'namespace.pod-identity.kirsa.dev',
      namespaceSelector: bothSelectors(optedIn, w.namespaceSelector),
      objectSelector: bothSelectors(
        { matchExpressions: [{ key: w.optInLabel, operator: 'DoesNotExist' }] },
        objects,
      ),
    },
  ];
}

export function renderInstallManifests(settings: InstallSettings): Manifest[] {
  const { namespace } = settings;
  const NAME = installObjectName(settings);
  const CLUSTER_NAME = installClusterObjectName(settings);
  const LABELS = commonLabels(settings);
  const SELECTOR = selectorLabels(settings);
  const secretName = tlsSecretName(settings);
  const meta = (name: string, namespaced = true) => ({
    name,
    ...(namespaced ? { namespace } : {}),
    labels: LABELS,
  });
  const probe = (path: string) => ({
    httpGet: { path, port: 'https', scheme: 'HTTPS' },
    periodSeconds: 5,
    failureThreshold: 3,
  });
  const manifests: Manifest[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: LABELS } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(NAME) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(CLUSTER_NAME, false),
      // Cluster-wide, the webhook reads service accounts (get for the lookup on a cache miss) and creates
      // Events on pods it admitted without credentials for a reason their owner can fix (--pod-events).
      // Self-managed TLS adds patching its own webhook configuration's caBundle, by name.
      rules: [
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
        ...(settings.tls.mode === 'self-managed'
          ? [
              {
                apiGroups: ['admissionregistration.k8s.io'],
                resources: ['mutatingwebhookconfigurations'],
                resourceNames: [CLUSTER_NAME],
                verbs: ['get', 'patch'],
              },
            ]
          : []),
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        // --read-env-from-config-maps: the ConfigMaps pods' envFrom names, one GET each (never list or watch).
        ...(settings.webhook.readEnvFromConfigMaps
          ? [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]
          : []),
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(CLUSTER_NAME, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CLUSTER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(NAME),
      // The identity mapping ConfigMap lives in kirsa's own namespace. Self-managed TLS adds its one Secret
      // (create cannot be limited by name in RBAC; get and update are).
      rules: [
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
        ...(settings.tls.mode === 'self-managed'
          ? [
              { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
              {
                apiGroups: [''],
                resources: ['secrets'],
                resourceNames: [secretName],
                verbs: ['get', 'update'],
              },
            ]
          : []),
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(NAME),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace }],
    },
    ...mappingRbac(settings, NAME, LABELS),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(NAME),
      spec: {
        selector: SELECTOR,
        ports: [
          { name: 'https', port: 443, targetPort: 'https' },
          { name: 'metrics', port: settings.webhook.metricsPort, targetPort: 'metrics' },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(NAME),
      spec: {
        replicas: settings.replicas,
        selector: { matchLabels: SELECTOR },
        template: {
          // The skip label keeps the webhook's own pods out of every webhook of the configuration.
          metadata: { labels: { ...LABELS, [skipPodLabel(settings.webhook.annotationPrefix)]: 'true' } },
          spec: {
            serviceAccountName: NAME,
            ...(settings.priorityClassName !== '' ? { priorityClassName: settings.priorityClassName } : {}),
            // Replicas on different nodes, so one node's loss never takes the webhook away.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: 'kubernetes.io/hostname',
                      labelSelector: { matchLabels: SELECTOR },
                    },
                  },
                ],
              },
            },
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            // Longer than the drain: readiness flips at SIGTERM, in-flight admissions finish, then exit.
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'webhook',
                image: settings.image,
                imagePullPolicy: settings.imagePullPolicy,
                args: webhookArgs(settings),
                ports: [
                  { name: 'https', containerPort: settings.webhook.port },
                  { name: 'metrics', containerPort: settings.webhook.metricsPort },
                ],
                livenessProbe: probe('/healthz'),
                readinessProbe: probe('/readyz'),
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  {
                    name: 'tls',
                    mountPath: tlsDir(settings),
                    readOnly: settings.tls.mode !== 'self-managed',
                  },
                ],
              },
            ],
            volumes: [
              settings.tls.mode === 'self-managed'
                ? { name: 'tls', emptyDir: { medium: 'Memory' } }
                : { name: 'tls', secret: { secretName } },
            ],
          },
        },
      },
    },
    // Only when it cannot block a node drain: one replica with minAvailable 1 never lets the pod go.
    ...(settings.replicas > 1
      ? [
          {
            apiVersion: 'policy/v1',
            kind: 'PodDisruptionBudget',
            metadata: meta(NAME),
            spec: { minAvailable: 1, selector: { matchLabels: SELECTOR } },
          },
        ]
      : []),
    {
      // Only the two ports are reachable. The webhook port from anywhere: the API server's source address
      // differs by distribution (host network, a proxy); the chart's networkPolicy.webhookFrom narrows it.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NAME),
      spec: {
        podSelector: { matchLabels: SELECTOR },
        policyTypes: ['Ingress'],
        ingress: [
          { ports: [{ protocol: 'TCP', port: settings.webhook.port }] },
          { ports: [{ protocol: 'TCP', port: settings.webhook.metricsPort }] },
        ],
      },
    },
  ];
  if (settings.tls.mode === 'cert-manager') {
    // A CA chain: a self-signed root signs a CA, whose Issuer signs the serving certificate. cert-manager
    // injects the CA (ca.crt) into the caBundle, so renewing the serving certificate leaves the caBundle
    // alone; a self-signed leaf would change the trusted certificate at every renewal.
    manifests.push(
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: meta(`${NAME}-selfsigned`),
        spec: { selfSigned: {} },
      },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta(`${NAME}-ca`),
        spec: {
          isCA: true,
          commonName: `${NAME}-ca`,
          secretName: `${NAME}-ca`,
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { name: `${NAME}-selfsigned`, kind: 'Issuer' },
          duration: '87600h',
        },
      },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: meta(`${NAME}-ca`),
        spec: { ca: { secretName: `${NAME}-ca` } },
      },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta(NAME),
        spec: {
          secretName,
          dnsNames: [`${NAME}.${namespace}.svc`, `${NAME}.${namespace}.svc.${settings.dnsDomain}`],
          issuerRef: { name: `${NAME}-ca`, kind: 'Issuer' },
          duration: '2160h',
          renewBefore: '360h',
        },
      },
    );
  }
  const clientConfig: Record<string, unknown> = {
    service: { name: NAME, namespace, path: '/mutate', port: 443 },
  };
  if (settings.tls.mode === 'secret') clientConfig.caBundle = settings.tls.caBundle;
  manifests.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: CLUSTER_NAME,
      labels: LABELS,
      ...(settings.tls.mode === 'cert-manager'
        ? { annotations: { 'cert-manager.io/inject-ca-from': `${namespace}/${NAME}` } }
        : {}),
    },
    webhooks: webhookScopes(settings).map((scope) => ({
      name: scope.name,
      admissionReviewVersions: ['v1', 'v1beta1'],
      sideEffects: 'None',
      failurePolicy: settings.webhook.failurePolicy,
      // kirsa's mutation is idempotent, so being called again after other webhooks is safe.
      reinvocationPolicy: 'IfNeeded',
      timeoutSeconds: settings.webhook.timeoutSeconds,
      clientConfig,
      rules: [
        {
          operations: ['CREATE'],
          apiGroups: [''],
          apiVersions: ['v1'],
          resources: ['pods'],
          scope: 'Namespaced',
        },
      ],
      namespaceSelector: scope.namespaceSelector,
      objectSelector: scope.objectSelector,
    })),
  });
  return manifests;
}

/**
 * The caBundle for --tls-mode secret: the CA's PEM, base64-encoded as the webhook configuration carries it.
 * A file with no PEM certificate in it (a key, DER, a path typo that read another file) is refused here, not
 * by the API server at apply time.
 */
export function caBundleOf(pem: string, source: string): string {
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new KirsaError('CERTIFICATE_INVALID', `${source} holds no PEM certificate`, {
      hint: 'give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)',
    });
  return Buffer.from(pem).toString('base64');
}

/**
 * The MutatingWebhookConfiguration of the install, pointed at a URL instead of the Service (a webhook
 * outside the cluster: the demo, development, tests), trusting the given CA.
 */
export function webhookConfigurationForUrl(url: string, caPem: string, name = 'kirsa-webhook'): Manifest {
  const caBundle = Buffer.from(caPem).toString('base64');
  const configuration = renderInstallManifests({
    ...DEFAULT_INSTALL_SETTINGS,
    tls: { mode: 'secret', secretName: '', caBundle },
  }).find((manifest) => manifest.kind === 'MutatingWebhookConfiguration') as {
    metadata: Record<string, unknown>;
    webhooks: Array<Record<string, unknown>>;
  };
  configuration.metadata = { ...configuration.metadata, name };
  for (const webhook of configuration.webhooks) webhook.clientConfig = { url, caBundle };
  return configuration;
}

/**
 * Reading the mapping ConfigMap in another namespace (kOps' kube-system): that one ConfigMap by name, which
 * the API server authorizes for list and watch too, since kirsa asks them with a metadata.name selector.
 */
function mappingRbac(settings: InstallSettings, name: string, labels: Record<string, string>): Manifest[] {
  const mappingNamespace = otherMappingNamespace(settings);
  if (mappingNamespace === undefined) return [];
  const metadata = { name: `${name}-mapping`, namespace: mappingNamespace, labels };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: [MAPPING_CONFIG_MAP_NAME],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-mapping` },
      subjects: [{ kind: 'ServiceAccount', name, namespace: settings.namespace }],
    },
  ];
}
