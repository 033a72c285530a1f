// The cluster calls the CLI verbs make (role create's annotate phase, the doctor), behind small interfaces,
// on @kubernetes/client-node. Access comes from --kubeconfig, else KUBECONFIG / ~/.kube/config, else the
// in-cluster service account, as kubectl does. API failures become KirsaErrors by their HTTP status.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type {
  KubeConfig,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Node,
  V1Pod,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { DEFAULT_SERVICE_ACCOUNT } from '../consts.ts';
import type { Container } from '../core/kube-types.ts';
import type { InventoryServiceAccount, InventoryWorkload, MigrationKind } from '../core/migration/plan.ts';
import { KirsaError } from '../errors.ts';
import { networkFailure } from '../io/network-failure.ts';

/** kirsa's name in managedFields, so `kubectl get -o yaml --show-managed-fields` says who wrote what. */
const FIELD_MANAGER = 'kirsa';

type KubeSdk = typeof import('@kubernetes/client-node');
let sdk: Promise<KubeSdk> | undefined;
/** The client library is imported on first use: it costs every other kirsa command ~370 ms and much memory. */
function loadSdk(): Promise<KubeSdk> {
  sdk ??= import('@kubernetes/client-node');
  return sdk;
}

export interface KubeAccess {
  kubeconfig?: string;
  context?: string;
}

export async function loadKubeConfig(access: KubeAccess = {}): Promise<KubeConfig> {
  const { KubeConfig } = await loadSdk();
  const config = new KubeConfig();
  // With nothing to load, the client falls back to http://localhost:8080 and then fails with a message about
  // TLS settings; kubectl's users expect to hear that there is no kubeconfig.
  if (!access.kubeconfig && !process.env.KUBECONFIG && !existsSync(join(homedir(), '.kube', 'config'))) {
    const inCluster =
      process.env.KUBERNETES_SERVICE_HOST &&
      existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
    if (!inCluster)
      throw new KirsaError(
        'KUBECONFIG_NOT_FOUND',
        'no kubeconfig found: KUBECONFIG unset, ~/.kube/config missing, not in a cluster',
        { hint: 'pass --kubeconfig FILE or set KUBECONFIG, as for kubectl' },
      );
  }
  try {
    if (access.kubeconfig) config.loadFromFile(access.kubeconfig);
    else config.loadFromDefault();
  } catch (error) {
    throw new KirsaError('KUBECONFIG_UNREADABLE', `cannot load the kubeconfig: ${(error as Error).message}`, {
      cause: error,
      hint: 'pass --kubeconfig FILE, or set KUBECONFIG',
    });
  }
  if (access.context) {
    if (!config.getContextObject(access.context))
      throw new KirsaError('KUBE_CONTEXT_NOT_FOUND', `the kubeconfig has no context "${access.context}"`, {
        hint: `contexts: ${
          config
            .getContexts()
            .map((context) => context.name)
            .join(', ') || '(none)'
        }`,
      });
    config.setCurrentContext(access.context);
  }
  if (!config.getCurrentCluster())
    throw new KirsaError('KUBECONFIG_INVALID', 'the kubeconfig names no cluster', {
      hint: 'pass --kubeconfig FILE',
    });
  return config;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server URL of the kubeconfig's current context, for messages. */
function serverOf(config: KubeConfig): string | undefined {
  return config.getCurrentCluster()?.server;
}

const UNREACHABLE_HINTS: Record<string, string> = {
  refused: 'check the cluster is up and the server URL in the kubeconfig (kubectl cluster-info)',
  dns: "check the server host name in the kubeconfig, and this machine's DNS and network",
  tls: "check the kubeconfig's certificate-authority(-data) is the API server's CA, and the server name",
};

/**
 * Turns a client-node failure into a KirsaError naming what was being done and, when the API server did not
 * answer, its URL and why (refused, DNS, TLS, timeout).
 */
export function kubeError(error: unknown, doing: string, server?: string): KirsaError {
  const status = statusOf(error);
  const body = (error as { body?: unknown })?.body;
  let detail = (error as Error)?.message ?? String(error);
  if (typeof body === 'string') {
    try {
      detail = (JSON.parse(body) as { message?: string }).message ?? detail;
    } catch {
      // keep the client's message
    }
  }
  if (status === 401 || status === 403)
    return new KirsaError('KUBE_FORBIDDEN', `${doing}: the API server refused (${status}): ${detail}`, {
      cause: error,
      hint: 'use a kubeconfig whose user may do this (kubectl auth can-i ...)',
    });
  if (status === 404) return new KirsaError('KUBE_NOT_FOUND', `${doing}: not found`, { cause: error });
  if (status === 409) return new KirsaError('KUBE_CONFLICT', `${doing}: ${detail}`, { cause: error });
  if (status !== undefined && status >= 400 && status < 500)
    return new KirsaError('KUBE_REJECTED', `${doing}: the API server rejected it (${status}): ${detail}`, {
      cause: error,
    });
  const network = networkFailure(error);
  const at = server ? ` at ${server}` : '';
  return new KirsaError(
    'KUBE_UNREACHABLE',
    `${doing}: cannot reach the API server${at}: ${network?.reason ?? detail}`,
    {
      cause: error,
      hint:
        UNREACHABLE_HINTS[network?.kind ?? ''] ?? 'check the cluster is up and the kubeconfig points at it',
    },
  );
}

async function orUndefined<T>(call: Promise<T>, doing: string, server?: string): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw kubeError(error, doing, server);
  }
}

// --- ServiceAccounts (role create) ---------------------------------------------------------------------------

export interface ServiceAccountStore {
  get(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  create(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
    labels: Record<string, string>,
  ): Promise<void>;
  /** Merges these annotations into the account's, leaving every other annotation alone. */
  annotate(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
  /** Removes these annotations (a JSON merge patch setting them to null), leaving every other one alone. */
  removeAnnotations(namespace: string, name: string, keys: readonly string[]): Promise<void>;
}

export async function createServiceAccountStore(config: KubeConfig): Promise<ServiceAccountStore> {
  const server = serverOf(config);
  const { CoreV1Api, PatchStrategy, setHeaderOptions } = await loadSdk();
  const core = config.makeApiClient(CoreV1Api);
  return {
    get: (namespace, name) =>
      orUndefined(
        core.readNamespacedServiceAccount({ namespace, name }),
        `reading ServiceAccount ${namespace}/${name}`,
        server,
      ),
    async create(namespace, name, annotations, labels) {
      try {
        await core.createNamespacedServiceAccount({
          namespace,
          fieldManager: FIELD_MANAGER,
          body: {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name, namespace, annotations, labels },
          },
        });
      } catch (error) {
        const failure = kubeError(error, `creating ServiceAccount ${namespace}/${name}`, server);
        if (failure.code === 'KUBE_NOT_FOUND')
          throw new KirsaError('KUBE_NOT_FOUND', `namespace ${namespace} does not exist`, {
            hint: `create it first (kubectl create namespace ${namespace})`,
          });
        throw failure;
      }
    },
    async annotate(namespace, name, annotations) {
      try {
        // Server-side apply: kirsa owns exactly these annotations, the API server merges them into the rest,
        // and managedFields record when they were set (the doctor compares that with pods' creation).
        // force: validation already refused to replace another role unless --overwrite was given.
        await core.patchNamespacedServiceAccount(
          {
            namespace,
            name,
            fieldManager: FIELD_MANAGER,
            force: true,
            body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, annotations } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        );
      } catch (error) {
        throw kubeError(error, `annotating ServiceAccount ${namespace}/${name}`, server);
      }
    },
    async removeAnnotations(namespace, name, keys) {
      try {
        // A merge patch, not an apply: the annotations may have been set by create (an Update in
        // managedFields) or by hand, and an apply removes only fields its own manager applied.
        await core.patchNamespacedServiceAccount(
          {
            namespace,
            name,
            fieldManager: FIELD_MANAGER,
            body: { metadata: { annotations: Object.fromEntries(keys.map((key) => [key, null])) } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (error) {
        throw kubeError(error, `removing annotations from ServiceAccount ${namespace}/${name}`, server);
      }
    },
  };
}

// --- The identity mapping ConfigMap (role create with a wildcard service account) --------------------------

export interface MappingConfigMapStore {
  /** The mapping text under the ConfigMap's key; `version` guards the write against a concurrent change. */
  read(namespace: string): Promise<{ text: string | undefined; version: string | undefined }>;
  /** Writes the text under the key, creating the ConfigMap when `version` is undefined; other keys are kept. */
  write(namespace: string, text: string, version: string | undefined): Promise<void>;
}

export async function createMappingConfigMapStore(
  config: KubeConfig,
  name: string,
  key: string,
): Promise<MappingConfigMapStore> {
  const { CoreV1Api } = await loadSdk();
  const core = config.makeApiClient(CoreV1Api);
  return {
    async read(namespace) {
      const found = await orUndefined(
        core.readNamespacedConfigMap({ namespace, name }),
        `reading ConfigMap ${namespace}/${name}`,
      );
      return { text: found?.data?.[key], version: found?.metadata?.resourceVersion };
    },
    async write(namespace, text, version) {
      const doing = `${version === undefined ? 'creating' : 'updating'} ConfigMap ${namespace}/${name}`;
      try {
        if (version === undefined) {
          await core.createNamespacedConfigMap({
            namespace,
            fieldManager: FIELD_MANAGER,
            body: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name, namespace },
              data: { [key]: text },
            },
          });
          return;
        }
        // A JSON merge patch of this one key, guarded by the version read: a concurrent writer makes this a
        // 409 instead of one of the two entries silently lost.
        const { PatchStrategy, setHeaderOptions } = await loadSdk();
        await core.patchNamespacedConfigMap(
          {
            namespace,
            name,
            fieldManager: FIELD_MANAGER,
            body: { metadata: { resourceVersion: version }, data: { [key]: text } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (error) {
        const failure = kubeError(error, doing);
        if (failure.code === 'KUBE_NOT_FOUND' && version === undefined)
          throw new KirsaError('KUBE_NOT_FOUND', `namespace ${namespace} does not exist`, {
            hint: `create it first (kubectl create namespace ${namespace}), or pass --mapping-namespace`,
          });
        throw failure;
      }
    },
  };
}

// --- What the doctor reads -----------------------------------------------------------------------------------

export interface TokenRequestResult {
  token: string;
  expirationTimestamp?: Date;
}

export interface ClusterReader {
  getPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  getServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  getNamespace(name: string): Promise<V1Namespace | undefined>;
  getNode(name: string): Promise<V1Node | undefined>;
  listNodes(): Promise<V1Node[]>;
  listMutatingWebhooks(): Promise<V1MutatingWebhookConfiguration[]>;
  /** Ready endpoint addresses of a Service, or undefined when its EndpointSlices cannot be read. */
  readyEndpoints(namespace: string, service: string): Promise<number | undefined>;
  serverVersion(): Promise<{ major: string; minor: string; gitVersion: string }>;
  /** A token for the service account, as the kubelet would request it for the pod's projected volume. */
  requestToken(
    namespace: string,
    serviceAccount: string,
    audience: string,
    boundPod?: { name: string; uid: string },
  ): Promise<TokenRequestResult>;
}

export async function createClusterReader(config: KubeConfig): Promise<ClusterReader> {
  const server = serverOf(config);
  const { AdmissionregistrationV1Api, CoreV1Api, DiscoveryV1Api, VersionApi } = await loadSdk();
  const core = config.makeApiClient(CoreV1Api);
  const admission = config.makeApiClient(AdmissionregistrationV1Api);
  const discovery = config.makeApiClient(DiscoveryV1Api);
  const version = config.makeApiClient(VersionApi);
  return {
    getPod: (namespace, name) =>
      orUndefined(core.readNamespacedPod({ namespace, name }), `reading pod ${namespace}/${name}`, server),
    getServiceAccount: (namespace, name) =>
      orUndefined(
        core.readNamespacedServiceAccount({ namespace, name }),
        `reading ServiceAccount ${namespace}/${name}`,
        server,
      ),
    getNamespace: (name) => orUndefined(core.readNamespace({ name }), `reading namespace ${name}`, server),
    getNode: (name) => orUndefined(core.readNode({ name }), `reading node ${name}`, server),
    async listNodes() {
      try {
        return (await core.listNode()).items;
      } catch (error) {
        throw kubeError(error, 'listing nodes', server);
      }
    },
    async listMutatingWebhooks() {
      try {
        return (await admission.listMutatingWebhookConfiguration()).items;
      } catch (error) {
        throw kubeError(error, 'listing MutatingWebhookConfigurations', server);
      }
    },
    async readyEndpoints(namespace, service) {
      try {
        const slices = await discovery.listNamespacedEndpointSlice({
          namespace,
          labelSelector: `kubernetes.io/service-name=${service}`,
        });
        return slices.items
          .flatMap((slice) => slice.endpoints ?? [])
          .filter((endpoint) => endpoint.conditions?.ready !== false).length;
      } catch (error) {
        const status = statusOf(error);
        if (status === 403 || status === 404) return undefined;
        throw kubeError(error, `listing EndpointSlices of ${namespace}/${service}`, server);
      }
    },
    async serverVersion() {
      try {
        const info = await version.getCode();
        return { major: info.major, minor: info.minor, gitVersion: info.gitVersion };
      } catch (error) {
        throw kubeError(error, 'reading the server version', server);
      }
    },
    async requestToken(namespace, serviceAccount, audience, boundPod) {
      try {
        const answer = await core.createNamespacedServiceAccountToken({
          namespace,
          name: serviceAccount,
          body: {
            spec: {
              audiences: [audience],
              expirationSeconds: 600,
              ...(boundPod
                ? {
                    boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: boundPod.name, uid: boundPod.uid },
                  }
                : {}),
            },
          },
        });
        const result: TokenRequestResult = { token: answer.status?.token ?? '' };
        if (answer.status?.expirationTimestamp)
          result.expirationTimestamp = answer.status.expirationTimestamp;
        return result;
      } catch (error) {
        throw kubeError(error, `requesting a token for ${namespace}/${serviceAccount}`, server);
      }
    },
  };
}

// --- The cluster's own service-account issuer ----------------------------------------------------------------

/** What the API server serves about its service-account issuer, parsed: the discovery document and JWKS. */
export interface ClusterIssuerDocuments {
  discovery: unknown;
  jwks: unknown;
}

function parsedJson(answer: unknown, what: string): unknown {
  if (typeof answer !== 'string') return answer;
  try {
    return JSON.parse(answer);
  } catch (error) {
    throw new KirsaError('KUBE_RESPONSE_INVALID', `the API server's ${what} is not JSON`, {
      cause: error,
      hint: 'check that the kubeconfig points at kube-apiserver itself',
    });
  }
}

/**
 * The API server's /.well-known/openid-configuration and /openid/v1/jwks, read with the kubeconfig's
 * credentials (the system:service-account-issuer-discovery ClusterRole allows both).
 */
export async function readClusterIssuer(config: KubeConfig): Promise<ClusterIssuerDocuments> {
  const server = serverOf(config);
  const { OpenidApi, WellKnownApi } = await loadSdk();
  let discovery: unknown;
  let jwks: unknown;
  try {
    discovery = await config.makeApiClient(WellKnownApi).getServiceAccountIssuerOpenIDConfiguration();
  } catch (error) {
    throw kubeError(error, 'reading /.well-known/openid-configuration', server);
  }
  try {
    jwks = await config.makeApiClient(OpenidApi).getServiceAccountIssuerOpenIDKeyset();
  } catch (error) {
    throw kubeError(error, 'reading /openid/v1/jwks', server);
  }
  return { discovery: parsedJson(discovery, 'discovery document'), jwks: parsedJson(jwks, 'JWKS') };
}

// --- What kirsa migrate reads and patches ----------------------------------------------------------------------

export interface MigrationCluster {
  /** Every workload of the migrated kinds and every pod, in one namespace or all; trimmed to what the plan reads. */
  listWorkloads(namespace?: string): Promise<InventoryWorkload[]>;
  listNamespaces(namespace?: string): Promise<Array<{ name: string; annotations: Record<string, string> }>>;
  listServiceAccounts(namespace?: string): Promise<InventoryServiceAccount[]>;
  /**
   * Changes a workload's pod template (a Pod's own metadata): the serviceAccountName when given, and these
   * annotations (a null value removes one). A JSON merge patch, so every other field stays as it is.
   */
  patchPodTemplate(
    workload: { kind: MigrationKind; namespace: string; name: string },
    change: { serviceAccountName?: string; annotations: Record<string, string | null> },
  ): Promise<void>;
}

interface ObjectLike {
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
  };
}

interface PodTemplateLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: { serviceAccountName?: string; containers?: unknown[] };
}

function trimWorkload(
  kind: MigrationKind,
  object: ObjectLike,
  template: PodTemplateLike | undefined,
  phase?: string,
): InventoryWorkload {
  const owner = object.metadata?.ownerReferences?.find((reference) => reference.controller);
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    name: object.metadata?.name ?? '',
    serviceAccountName: template?.spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT,
    annotations: { ...(template?.metadata?.annotations ?? {}) },
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    ...(kind === 'Pod'
      ? { containers: (template?.spec?.containers ?? []) as Container[], phase: phase ?? '' }
      : {}),
  };
}

/** The merge patch that sets these pod-template fields of a kind, nested where that kind keeps its template. */
function templatePatch(
  kind: MigrationKind,
  change: { serviceAccountName?: string; annotations: Record<string, string | null> },
): Record<string, unknown> {
  const template: Record<string, unknown> = { metadata: { annotations: change.annotations } };
  if (change.serviceAccountName !== undefined)
    template.spec = { serviceAccountName: change.serviceAccountName };
  if (kind === 'Pod') return { metadata: { annotations: change.annotations } };
  if (kind === 'CronJob') return { spec: { jobTemplate: { spec: { template } } } };
  return { spec: { template } };
}

export async function createMigrationCluster(config: KubeConfig): Promise<MigrationCluster> {
  const { AppsV1Api, BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } = await loadSdk();
  const core = config.makeApiClient(CoreV1Api);
  const apps = config.makeApiClient(AppsV1Api);
  const batch = config.makeApiClient(BatchV1Api);
  const where = (namespace?: string) => (namespace ? `in namespace ${namespace}` : 'in all namespaces');
  async function listed<T>(
    what: string,
    namespace: string | undefined,
    one: () => Promise<{ items: T[] }>,
    all: () => Promise<{ items: T[] }>,
  ): Promise<T[]> {
    try {
      return (await (namespace ? one() : all())).items;
    } catch (error) {
      throw kubeError(error, `listing ${what} ${where(namespace)}`);
    }
  }
  return {
    async listWorkloads(namespace) {
      const ns = namespace ?? '';
      const [deployments, statefulSets, daemonSets, replicaSets, jobs, cronJobs, pods] = await Promise.all([
        listed(
          'Deployments',
          namespace,
          () => apps.listNamespacedDeployment({ namespace: ns }),
          () => apps.listDeploymentForAllNamespaces(),
        ),
        listed(
          'StatefulSets',
          namespace,
          () => apps.listNamespacedStatefulSet({ namespace: ns }),
          () => apps.listStatefulSetForAllNamespaces(),
        ),
        listed(
          'DaemonSets',
          namespace,
          () => apps.listNamespacedDaemonSet({ namespace: ns }),
          () => apps.listDaemonSetForAllNamespaces(),
        ),
        listed(
          'ReplicaSets',
          namespace,
          () => apps.listNamespacedReplicaSet({ namespace: ns }),
          () => apps.listReplicaSetForAllNamespaces(),
        ),
        listed(
          'Jobs',
          namespace,
          () => batch.listNamespacedJob({ namespace: ns }),
          () => batch.listJobForAllNamespaces(),
        ),
        listed(
          'CronJobs',
          namespace,
          () => batch.listNamespacedCronJob({ namespace: ns }),
          () => batch.listCronJobForAllNamespaces(),
        ),
        listed(
          'Pods',
          namespace,
          () => core.listNamespacedPod({ namespace: ns }),
          () => core.listPodForAllNamespaces(),
        ),
      ]);
      const templated = (
        kind: MigrationKind,
        items: Array<ObjectLike & { spec?: { template?: PodTemplateLike } }>,
      ) => items.map((item) => trimWorkload(kind, item, item.spec?.template));
      return [
        ...templated('Deployment', deployments as never),
        ...templated('StatefulSet', statefulSets as never),
        ...templated('DaemonSet', daemonSets as never),
        ...templated('ReplicaSet', replicaSets as never),
        ...templated('Job', jobs as never),
        ...cronJobs.map((item) =>
          trimWorkload(
            'CronJob',
            item as ObjectLike,
            item.spec?.jobTemplate?.spec?.template as PodTemplateLike,
          ),
        ),
        ...pods.map((pod) =>
          trimWorkload('Pod', pod as ObjectLike, pod as PodTemplateLike, pod.status?.phase),
        ),
      ];
    },
    async listNamespaces(namespace) {
      try {
        const items = namespace
          ? [await core.readNamespace({ name: namespace })]
          : (await core.listNamespace()).items;
        return items.map((item) => ({
          name: item.metadata?.name ?? '',
          annotations: { ...(item.metadata?.annotations ?? {}) },
        }));
      } catch (error) {
        throw kubeError(error, namespace ? `reading namespace ${namespace}` : 'listing namespaces');
      }
    },
    async listServiceAccounts(namespace) {
      const items = await listed(
        'ServiceAccounts',
        namespace,
        () => core.listNamespacedServiceAccount({ namespace: namespace ?? '' }),
        () => core.listServiceAccountForAllNamespaces(),
      );
      return items.map((item) => ({
        namespace: item.metadata?.namespace ?? '',
        name: item.metadata?.name ?? '',
        annotations: { ...(item.metadata?.annotations ?? {}) },
      }));
    },
    async patchPodTemplate(workload, change) {
      const { kind, namespace, name } = workload;
      const request = { namespace, name, fieldManager: FIELD_MANAGER, body: templatePatch(kind, change) };
      const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      try {
        if (kind === 'Deployment') await apps.patchNamespacedDeployment(request, merge);
        else if (kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(request, merge);
        else if (kind === 'DaemonSet') await apps.patchNamespacedDaemonSet(request, merge);
        else if (kind === 'ReplicaSet') await apps.patchNamespacedReplicaSet(request, merge);
        else if (kind === 'Job') await batch.patchNamespacedJob(request, merge);
        else if (kind === 'CronJob') await batch.patchNamespacedCronJob(request, merge);
        else await core.patchNamespacedPod(request, merge);
      } catch (error) {
        throw kubeError(error, `patching ${kind} ${namespace}/${name}`);
      }
    },
  };
}
