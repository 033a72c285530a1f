// The webhook's composition root: from a validated plan to a running webhook. It starts the identity
// sources (ServiceAccount watch with its miss lookup, mapping ConfigMap watch, identities file,
// container-credentials list), self-managed TLS when asked, the app and its TLS and metrics servers, and
// hands back what stops them. Every check of the command line happened before (cli/webhook.ts builds the
// plan); what fails here is the world (a port in use, a certificate that cannot be read).
//
// The heavy modules are imported here, when the webhook starts. The watches reach the API server through
// kube/connection.ts over node:https; @kubernetes/client-node (about 40 MB and 0.5-3 s to load) is loaded
// only for self-managed TLS or a kubeconfig that needs it (an exec plugin, an auth provider).

import type { SecureVersion } from 'node:tls';
import {
  CONFIG_MAP_KEYS_FAILURE_TTL_MS,
  CONFIG_MAP_KEYS_MAX_ENTRIES,
  CONFIG_MAP_KEYS_TTL_MS,
  CONFIG_MAP_READ_TIMEOUT_MS,
  IDLE_RELEASE_GROWTH_BYTES,
  IDLE_RELEASE_QUIET_MS,
  LOOKUP_BURST,
  LOOKUP_NEGATIVE_CACHE_MS,
  LOOKUP_RATE_PER_SECOND,
  MAPPING_CONFIG_MAP_NAME,
  POD_EVENT_BURST,
  POD_EVENT_INTERVAL_MS,
  POD_EVENT_POST_TIMEOUT_MS,
  POD_EVENT_RATE_PER_SECOND,
} from '../consts.ts';
import type { RoleAccount } from '../core/iam/arn.ts';
import type { ContainerCredentialsSettings, IdentityDefaults } from '../core/identity/identity.ts';
import type { MutationOptions } from '../core/mutation/mutate-pod.ts';
import { cgroupCpuLimit } from '../io/cpu-limit.ts';
import type { Logger, LogLevel } from '../io/log.ts';
// Small, and already loaded by the command line that built the plan (cli/webhook.ts reads the variable).
import { collectorFlagsForCpus, setV8Flags } from '../io/v8-flags.ts';
import type { KubeConnection } from '../kube/connection.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface SelfManagedTlsPlan {
  /** The Secret (in the plan's namespace) holding the CA and the serving pair. */
  secretName: string;
  /** The Service the certificate names (<name>.<namespace>.svc). */
  serviceName: string;
  /** The MutatingWebhookConfiguration whose caBundle kirsa keeps. */
  webhookConfiguration: string;
  /** More DNS names or IPs for the certificate. */
  extraHosts: string[];
  checkIntervalMs: number;
}

/** --in-cluster=true: a serving certificate from a CertificateSigningRequest, kept in a Secret. */
export interface CsrTlsPlan {
  signerName: string;
  /** The Secret (in the plan's namespace) that keeps the issued pair. */
  secretName: string;
  /** The Service the certificate names (<name>, <name>.<namespace>[.svc[.cluster.local]]). */
  serviceName: string;
}

/** Everything the webhook needs to start, already validated. */
export interface WebhookPlan {
  /** Listen address of both ports; undefined listens on every interface. */
  host?: string;
  port: number;
  metricsPort: number;
  /** `ciphers`: the OpenSSL cipher string from --tls-cipher-suites; absent: Node's default. */
  tls: { certFile: string; keyFile: string; minVersion: SecureVersion; ciphers?: string };
  logLevel: LogLevel;
  /** The reference's flags given that mean nothing to kirsa (klog's, --resync-period): named at start. */
  ignoredFlags: string[];
  /** V8 flags to set once the webhook listens (io/v8-flags.ts; the image gives V8's default Maglev threshold). */
  v8FlagsWhenListening?: string[];
  /** --compose-role-arn: complete bare role names with the node's account, read from EC2 at start. */
  composeRoleArn: boolean;
  /** Undefined without cluster access: then only files are identity sources. */
  kube: KubeConnection | undefined;
  /** Namespace of the self-managed TLS Secret (and, as the reference's --namespace, the default below). */
  namespace: string;
  /** Namespace of the mapping ConfigMap `pod-identity-webhook`. */
  configMapNamespace: string;
  sources: {
    serviceAccounts: boolean;
    configMap: boolean;
    identitiesFile?: string;
    containerCredentialsFile?: string;
  };
  /** On a cache miss, wait up to this long for the ServiceAccount; 0 turns the miss lookup off. */
  lookupGraceMs: number;
  /** --pod-events: Events on pods admitted without credentials for a reason their owner can fix. */
  podEvents?: boolean;
  /** --read-env-from-config-maps: read the ConfigMaps pods' envFrom names to decide on their region. */
  readEnvFromConfigMaps?: boolean;
  /** --gc-metrics: export nodejs_gc_duration_seconds (webhook/process-metrics.ts says what it costs). */
  gcMetrics?: boolean;
  identityDefaults: IdentityDefaults;
  containerCredentials: ContainerCredentialsSettings;
  mutation: MutationOptions;
  /** After shutdown() starts: how long to keep answering (not ready) before closing. */
  drainDelayMs: number;
  selfManagedTls?: SelfManagedTlsPlan;
  csrTls?: CsrTlsPlan;
}

export interface RunningWebhook {
  port: number;
  metricsPort: number;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Drains, closes both servers, then stops every source. Idempotent. */
  shutdown(): Promise<void>;
  /** Cuts every connection now (a second signal); shutdown() still finishes the rest. */
  closeNow(): void;
}

export interface StartWebhookOptions {
  logger?: Logger;
  metrics?: WebhookMetrics;
}

export async function startWebhook(
  plan: WebhookPlan,
  options: StartWebhookOptions = {},
): Promise<RunningWebhook> {
  const { createLogger } = await import('../io/log.ts');
  const { createWebhookMetrics } = await import('./metrics.ts');
  const log = options.logger ?? createLogger(plan.logLevel);
  const metrics = options.metrics ?? createWebhookMetrics({ gcDurations: plan.gcMetrics === true });
  const stops: Array<() => void> = [];
  const stopAll = () => {
    for (const stop of stops.splice(0).reverse()) stop();
  };
  try {
    const server = await start(plan, log, metrics, stops);
    let stopped: Promise<void> | undefined;
    return {
      port: server.port,
      metricsPort: server.metricsPort,
      logger: log,
      metrics,
      shutdown() {
        stopped ??= server.shutdown().finally(stopAll);
        return stopped;
      },
      closeNow: server.closeNow,
    };
  } catch (error) {
    stopAll();
    throw error;
  }
}

async function start(plan: WebhookPlan, log: Logger, metrics: WebhookMetrics, stops: Array<() => void>) {
  const { kube, sources } = plan;
  const { watchContainerCredentialsFile, watchIdentitiesFile } = await import('../identity/files.ts');
  const { createMissLookup } = await import('../identity/miss-lookup.ts');
  const { createIdentityProvider } = await import('../identity/provider.ts');
  const { createServiceAccountCache, serviceAccountFetcher, watchServiceAccounts } =
    sources.serviceAccounts && kube
      ? await import('../identity/service-accounts.ts')
      : ({} as Partial<typeof import('../identity/service-accounts.ts')>);
  const { watchMappingConfigMap } =
    sources.configMap && kube
      ? await import('../identity/config-map.ts')
      : ({} as Partial<typeof import('../identity/config-map.ts')>);
  const { createWebhookApp } = await import('./app.ts');
  const { isLegacyTlsVersion, startWebhookServer } = await import('./server.ts');
  const { createIdleRelease } = await import('./idle-release.ts');
  const { lastResortCollection } = await import('../io/last-resort-gc.ts');
  const annotationPrefix = plan.mutation.annotationPrefix;
  if (plan.ignoredFlags.length > 0) {
    log.info(
      { flags: plan.ignoredFlags },
      "the reference's flags given that kirsa has no use for are accepted and ignored: klog's output flags (kirsa writes JSON lines to stdout; --v sets the level unless --log-level does) and --resync-period",
    );
  }
  if (isLegacyTlsVersion(plan.tls.minVersion)) {
    log.warn(
      { tlsMinVersion: plan.tls.minVersion },
      'INSECURE: --tls-min-version allows TLS 1.0/1.1, which are broken (RFC 8996); OpenSSL is lowered to security level 0 for them. Every supported API server speaks TLS 1.2: use --tls-min-version 1.2',
    );
  }
  // As the reference: the account and partition of the node, read once at start; without them, no start.
  let roleAccount: RoleAccount | undefined;
  if (plan.composeRoleArn) {
    const { fetchInstanceIdentity } = await import('../aws/instance-identity.ts');
    const identity = await fetchInstanceIdentity();
    roleAccount = { partition: identity.partition, accountId: identity.accountId };
    log.info(
      { accountId: identity.accountId, partition: identity.partition, region: identity.region },
      '--compose-role-arn: bare role names are completed with this account and partition',
    );
  }

  const cache = createServiceAccountCache ? createServiceAccountCache(annotationPrefix) : undefined;
  const lookUpMiss =
    cache && kube && serviceAccountFetcher && plan.lookupGraceMs > 0
      ? createMissLookup({
          cache,
          fetch: serviceAccountFetcher(kube),
          graceMs: plan.lookupGraceMs,
          ratePerSecond: LOOKUP_RATE_PER_SECOND,
          burst: LOOKUP_BURST,
          negativeCacheMs: LOOKUP_NEGATIVE_CACHE_MS,
          countLookup: metrics.countLookup,
          logger: log,
        })
      : undefined;
  const provider = createIdentityProvider({
    annotationPrefix,
    defaults: { ...plan.identityDefaults, ...(roleAccount ? { roleAccount } : {}) },
    containerCredentials: plan.containerCredentials,
    ...(cache ? { serviceAccounts: { cache, ...(lookUpMiss ? { lookUpMiss } : {}) } } : {}),
  });
  const refreshCounts = () => {
    for (const [source, count] of Object.entries(provider.counts())) metrics.setIdentityCount(source, count);
  };

  // Sources. Each one that has to catch up first is a readiness reason until it has.
  const waitingFor = new Map<string, () => boolean>();
  if (sources.identitiesFile !== undefined) {
    const watched = await watchIdentitiesFile({
      path: sources.identitiesFile,
      logger: log,
      onMapping(mapping) {
        provider.setMapping('identities-file', mapping);
        refreshCounts();
      },
    });
    stops.push(() => watched.close());
    metrics.setSourceSynced('identities-file', true);
  }
  if (sources.containerCredentialsFile !== undefined) {
    const watched = await watchContainerCredentialsFile({
      path: sources.containerCredentialsFile,
      logger: log,
      onIdentities(identities) {
        provider.setContainerCredentials(identities);
        refreshCounts();
      },
    });
    stops.push(() => watched.close());
  }
  if (cache && kube && watchServiceAccounts) {
    metrics.setSourceSynced('service-accounts', false);
    const handle = watchServiceAccounts({
      connection: kube,
      cache,
      logger: log,
      onSyncedChange(synced) {
        metrics.setSourceSynced('service-accounts', synced);
        refreshCounts();
      },
    });
    stops.push(() => handle.stop());
    waitingFor.set('the ServiceAccount watch has not synced yet', () => handle.hasSynced());
  }
  if (kube && watchMappingConfigMap) {
    metrics.setSourceSynced('mapping-config-map', false);
    const handle = watchMappingConfigMap({
      connection: kube,
      namespace: plan.configMapNamespace,
      logger: log,
      onMapping(mapping) {
        provider.setMapping('config-map', mapping);
        refreshCounts();
      },
      onSyncedChange: (synced) => metrics.setSourceSynced('mapping-config-map', synced),
    });
    stops.push(() => handle.stop());
    waitingFor.set('the mapping ConfigMap watch has not synced yet', () => handle.hasSynced());
  }

  if (plan.selfManagedTls && kube) {
    const kubeConfig = await kube.kubeConfig();
    const { startSelfManagedTls, servingHosts } = await import('./self-managed-tls.ts');
    const { kubeCaBundleTarget, kubeTlsSecretStore } = await import('./self-managed-tls-kube.ts');
    const { secretName, serviceName, webhookConfiguration, extraHosts, checkIntervalMs } =
      plan.selfManagedTls;
    stops.push(
      await startSelfManagedTls({
        store: await kubeTlsSecretStore(kubeConfig, plan.namespace, secretName),
        target: await kubeCaBundleTarget(kubeConfig, webhookConfiguration),
        hosts: servingHosts(serviceName, plan.namespace, extraHosts),
        certFile: plan.tls.certFile,
        keyFile: plan.tls.keyFile,
        checkIntervalMs,
        secret: `${plan.namespace}/${secretName}`,
        webhookConfiguration,
        logger: log,
      }),
    );
  }

  let podEvents: import('./pod-events.ts').PodEvents | undefined;
  if (plan.podEvents && kube) {
    const { kubePostJson } = await import('../kube/connection.ts');
    const { createPodEvents } = await import('./pod-events.ts');
    const { hostname } = process.getBuiltinModule('node:os'); // not an ES import: loaded-modules.test.ts
    podEvents = createPodEvents({
      post: (namespace, event) =>
        kubePostJson(kube, {
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
          body: event,
          idleTimeoutMs: POD_EVENT_POST_TIMEOUT_MS,
        }),
      logger: log,
      reportingInstance: process.env.HOSTNAME || hostname(),
      intervalMs: POD_EVENT_INTERVAL_MS,
      ratePerSecond: POD_EVENT_RATE_PER_SECOND,
      burst: POD_EVENT_BURST,
    });
  }

  let configMaps: import('../core/mutation/env-from.ts').ConfigMapSource | undefined;
  if (plan.readEnvFromConfigMaps && kube) {
    const { kubeGetJson } = await import('../kube/connection.ts');
    const { createConfigMapKeysCache } = await import('./env-from-config-maps.ts');
    configMaps = createConfigMapKeysCache({
      fetch: (namespace, name, signal) =>
        kubeGetJson(kube, {
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
          accept: 'application/json',
          signal,
          idleTimeoutMs: CONFIG_MAP_READ_TIMEOUT_MS,
        }),
      ttlMs: CONFIG_MAP_KEYS_TTL_MS,
      failureTtlMs: CONFIG_MAP_KEYS_FAILURE_TTL_MS,
      maxEntries: CONFIG_MAP_KEYS_MAX_ENTRIES,
      timeoutMs: CONFIG_MAP_READ_TIMEOUT_MS,
      countRead: metrics.countConfigMapRead,
    });
  }

  const app = createWebhookApp({
    identities: provider,
    ...(configMaps ? { configMaps } : {}),
    mutation: plan.mutation,
    metrics,
    logger: log,
    ...(podEvents ? { onNotice: podEvents.report } : {}),
    notReadyReasons: () => [
      ...[...waitingFor].filter(([, done]) => !done()).map(([reason]) => reason),
      ...(serverReasons?.() ?? []),
      ...(csrReason?.() ? [csrReason()!] : []),
    ],
  });
  // The server exists only once the app does; until then it has nothing to say.
  let serverReasons: (() => string[]) | undefined;
  let csrReason: (() => string | undefined) | undefined;
  const server = await startWebhookServer({
    app,
    metrics,
    logger: log,
    certFile: plan.tls.certFile,
    keyFile: plan.tls.keyFile,
    ...(plan.csrTls ? { certificateSource: 'pushed' as const } : {}),
    minVersion: plan.tls.minVersion,
    ...(plan.tls.ciphers !== undefined ? { ciphers: plan.tls.ciphers } : {}),
    ...(plan.host ? { host: plan.host } : {}),
    port: plan.port,
    metricsPort: plan.metricsPort,
    drainDelayMs: plan.drainDelayMs,
  });
  serverReasons = server.notReadyReasons;
  if (plan.csrTls && kube) {
    // After the server: an issued pair is handed to it. Before any request is answered, the server has no
    // certificate and every handshake fails, as the reference's does until its CSR is approved.
    const kubeConfig = await kube.kubeConfig();
    const { csrSubject, startCsrTls } = await import('./csr-tls.ts');
    const { kubeCsrApi, kubeServingPairStore } = await import('./csr-tls-kube.ts');
    const { signerName, secretName, serviceName } = plan.csrTls;
    try {
      const csr = await startCsrTls({
        api: await kubeCsrApi(kubeConfig),
        store: await kubeServingPairStore(kubeConfig, plan.namespace, secretName),
        signerName,
        subject: csrSubject(serviceName, plan.namespace),
        serve: (pair) => server.offerCertificate(Buffer.from(pair.certPem), Buffer.from(pair.keyPem)),
        logger: log,
        secret: `${plan.namespace}/${secretName}`,
        onRotation: metrics.certificateRotation(),
      });
      stops.push(csr.stop);
      csrReason = csr.notReadyReason;
    } catch (error) {
      server.closeNow();
      void server.shutdown();
      throw error;
    }
  }
  refreshCounts();
  // Memory back once start-up is over and after a burst of admissions (idle-release.ts); only where node
  // exposes gc, as the image does.
  const collect = lastResortCollection();
  if (collect !== undefined) {
    const release = createIdleRelease({
      admissions: metrics.admissionCount,
      residentBytes: () => process.memoryUsage.rss(),
      collect,
      growthBytes: IDLE_RELEASE_GROWTH_BYTES,
      started: () => [...waitingFor.values()].every((done) => done()),
      onRelease: (before, after, cause) =>
        log.info(
          { rssMbBefore: Math.round(before / 2 ** 20), rssMbAfter: Math.round(after / 2 ** 20) },
          cause === 'start'
            ? "start-up over: its garbage's memory given back"
            : 'quiet after admissions: memory given back',
        ),
    });
    const timer = setInterval(release.check, IDLE_RELEASE_QUIET_MS).unref();
    stops.push(() => clearInterval(timer));
  }
  log.info(
    {
      port: server.port,
      metricsPort: server.metricsPort,
      sources: {
        serviceAccounts: cache !== undefined,
        configMap: sources.configMap ? `${plan.configMapNamespace}/${MAPPING_CONFIG_MAP_NAME}` : false,
        identitiesFile: sources.identitiesFile ?? false,
        containerCredentials: sources.containerCredentialsFile ?? false,
      },
      lookupGracePeriodMs: lookUpMiss ? plan.lookupGraceMs : 0,
      readEnvFromConfigMaps: configMaps !== undefined,
    },
    'listening',
  );
  // The CPUs this process may use: the affinity mask (as libuv reads it, with some cgroup limits) and the
  // container's CPU limit (io/cpu-limit.ts), the smaller.
  const affinity = process.getBuiltinModule('node:os').availableParallelism(); // not an ES import: loaded-modules.test.ts
  const cpus = Math.min(affinity, cgroupCpuLimit() ?? affinity);
  const collectorFlags = collectorFlagsForCpus(cpus, plan.v8FlagsWhenListening);
  if (collectorFlags.length > 0) {
    setV8Flags(collectorFlags);
    log.info(
      { cpus, v8Flags: collectorFlags },
      "one CPU to run on: V8 collects garbage on the webhook's thread alone",
    );
  }
  // Everything kirsa loads is loaded: from here V8 may optimize what runs (io/v8-flags.ts).
  if (plan.v8FlagsWhenListening?.length) {
    setV8Flags(plan.v8FlagsWhenListening);
    log.debug({ v8Flags: plan.v8FlagsWhenListening }, 'V8 flags set now that the webhook listens');
  }
  return server;
}
