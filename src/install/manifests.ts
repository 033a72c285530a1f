// The objects that install the kirsa webhook in a cluster. `kirsa manifests` prints them; the Helm chart in
// deploy/helm/kirsa renders the same objects from the same settings (a test compares the two).
// Pure: settings in, plain objects out.

import { MAPPING_CONFIG_MAP_NAME, SKIP_POD_LABEL } from '../consts.ts';

/**
 * cert-manager: an Issuer and a Certificate, cert-manager injects the caBundle. secret: the user's Secret and
 * CA. self-managed: kirsa makes and renews its own CA and certificate in the Secret and keeps the caBundle.
 */
export const TLS_MODES = ['cert-manager', 'secret', 'self-managed'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export interface InstallSettings {
  namespace: string;
  image: string;
  replicas: number;
  tls: { mode: TlsMode; secretName: string; caBundle: string };
  webhook: {
    port: number;
    metricsPort: number;
    timeoutSeconds: number;
    annotationPrefix: string;
    tokenAudience: string;
    awsDefaultRegion: string;
    stsRegionalEndpoint: boolean;
    tokenExpiration: number;
    watchConfigMap: boolean;
    /** Where the mapping ConfigMap is when not in `namespace` (kOps writes it in kube-system); '' = there. */
    configMapNamespace: string;
  };
}

export const DEFAULT_INSTALL_SETTINGS: InstallSettings = {
  namespace: 'kirsa',
  image: 'ghcr.io/kirsa-dev/kirsa:0.1.0',
  replicas: 2,
  tls: { mode: 'cert-manager', secretName: 'kirsa-webhook-tls', caBundle: '' },
  webhook: {
    port: 8443,
    metricsPort: 9999,
    // The API server waits this long per call; kirsa answers in milliseconds, so a short bound limits the
    // damage of an unreachable replica (public choices are 1-3 s).
    timeoutSeconds: 3,
    annotationPrefix: 'eks.amazonaws.com',
    tokenAudience: 'sts.amazonaws.com',
    awsDefaultRegion: '',
    stsRegionalEndpoint: false,
    tokenExpiration: 86400,
    watchConfigMap: false,
    configMapNamespace: '',
  },
};

const NAME = 'kirsa-webhook';
const LABELS = { 'app.kubernetes.io/name': 'kirsa', 'app.kubernetes.io/component': 'webhook' };

export type Manifest = Record<string, unknown>;

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
  if (settings.tls.mode === 'self-managed') {
    args.push(
      '--self-managed-tls',
      `--tls-secret=${settings.tls.secretName}`,
      `--service-name=${NAME}`,
      `--webhook-configuration=${NAME}`,
    );
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

export function renderInstallManifests(settings: InstallSettings): Manifest[] {
  const { namespace } = settings;
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
      metadata: meta(NAME, false),
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
                resourceNames: [NAME],
                verbs: ['get', 'patch'],
              },
            ]
          : []),
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(NAME, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
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
                resourceNames: [settings.tls.secretName],
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
    ...mappingRbac(settings),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(NAME),
      spec: {
        selector: LABELS,
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
        selector: { matchLabels: LABELS },
        template: {
          metadata: { labels: { ...LABELS, [SKIP_POD_LABEL]: 'true' } },
          spec: {
            serviceAccountName: NAME,
            // Replicas on different nodes, so one node's loss never takes the webhook away.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: 'kubernetes.io/hostname',
                      labelSelector: { matchLabels: LABELS },
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
                : { name: 'tls', secret: { secretName: settings.tls.secretName } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(NAME),
      spec: { minAvailable: 1, selector: { matchLabels: LABELS } },
    },
    {
      // Only the two ports are reachable. The webhook port from anywhere: the API server's source address
      // differs by distribution (host network, a proxy); the chart's networkPolicy.webhookFrom narrows it.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(NAME),
      spec: {
        podSelector: { matchLabels: LABELS },
        policyTypes: ['Ingress'],
        ingress: [
          { ports: [{ protocol: 'TCP', port: settings.webhook.port }] },
          { ports: [{ protocol: 'TCP', port: settings.webhook.metricsPort }] },
        ],
      },
    },
  ];
  if (settings.tls.mode === 'cert-manager') {
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
        metadata: meta(NAME),
        spec: {
          secretName: settings.tls.secretName,
          dnsNames: [`${NAME}.${namespace}.svc`, `${NAME}.${namespace}.svc.cluster.local`],
          issuerRef: { name: `${NAME}-selfsigned`, kind: 'Issuer' },
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
      name: NAME,
      labels: LABELS,
      ...(settings.tls.mode === 'cert-manager'
        ? { annotations: { 'cert-manager.io/inject-ca-from': `${namespace}/${NAME}` } }
        : {}),
    },
    webhooks: [
      {
        name: 'pod-identity.kirsa.dev',
        admissionReviewVersions: ['v1', 'v1beta1'],
        sideEffects: 'None',
        // Never block pod creation on kirsa: a pod admitted without credentials is diagnosable (kirsa doctor),
        // a cluster that cannot start pods is not.
        failurePolicy: 'Ignore',
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
        // kube-system and kirsa's own namespace are never sent: no bootstrap loop with the webhook's own pods.
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', namespace] },
          ],
        },
        objectSelector: { matchExpressions: [{ key: SKIP_POD_LABEL, operator: 'DoesNotExist' }] },
      },
    ],
  });
  return manifests;
}

/**
 * The MutatingWebhookConfiguration of the install, pointed at a URL instead of the Service (a webhook
 * outside the cluster: the demo, development, tests), trusting the given CA.
 */
export function webhookConfigurationForUrl(url: string, caPem: string, name = NAME): Manifest {
  const caBundle = Buffer.from(caPem).toString('base64');
  const configuration = renderInstallManifests({
    ...DEFAULT_INSTALL_SETTINGS,
    tls: { mode: 'secret', secretName: DEFAULT_INSTALL_SETTINGS.tls.secretName, caBundle },
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
function mappingRbac(settings: InstallSettings): Manifest[] {
  const mappingNamespace = otherMappingNamespace(settings);
  if (mappingNamespace === undefined) return [];
  const metadata = { name: `${NAME}-mapping`, namespace: mappingNamespace, labels: LABELS };
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
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${NAME}-mapping` },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: settings.namespace }],
    },
  ];
}
