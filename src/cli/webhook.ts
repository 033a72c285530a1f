// `kirsa webhook`: the mutating admission webhook. Flags keep the reference's names and defaults, so an
// installation of amazon-eks-pod-identity-webhook can switch by changing its image. Two phases: validate
// every flag and file into a plan first, then hand the plan to webhook/main.ts (startWebhook) and run until
// SIGTERM/SIGINT: the first drains and stops, a second cuts every connection.

import {
  CONTAINER_CREDENTIALS_DEFAULTS,
  DEFAULT_LOOKUP_GRACE_PERIOD,
  DEFAULT_METRICS_PORT,
  DEFAULT_SHUTDOWN_DRAIN_DELAY,
  DEFAULT_TLS_CERT_FILE,
  DEFAULT_TLS_KEY_FILE,
  DEFAULT_TLS_MIN_VERSION,
  DEFAULT_TLS_SECRET_NAME,
  DEFAULT_WEBHOOK_NAMESPACE,
  DEFAULT_WEBHOOK_PORT,
  LOG_LEVELS,
  REFERENCE_CSR_SIGNER,
  REFERENCE_OBJECT_NAME,
  SELF_MANAGED_TLS_CHECK_INTERVAL,
  WEBHOOK_OBJECT_NAME,
} from '../consts.ts';
import { KirsaError } from '../errors.ts';
import { type LogLevel, levelForKlogVerbosity } from '../io/log.ts';
import { onStopSignal } from '../io/signals.ts';
import { v8FlagsWhenListening } from '../io/v8-flags.ts';
import { opensslCiphersForGoSuites } from '../tls/go-cipher-suites.ts';
import { kirsaVersion } from '../version.ts';
import type { WebhookPlan } from '../webhook/main.ts';
import { parseTlsMinVersion } from '../webhook/server.ts';
import { type FlagSpec, flagShape, parseDeclaredFlags } from './flag-specs.ts';
import { parseBooleanFlag, parseDurationFlag, parseIntegerFlag } from './flags.ts';
import { KLOG_FLAG_SPECS, klogFlagsGiven } from './klog-flags.ts';
import {
  identityDefaultsFrom,
  MUTATION_FLAGS,
  type MutationFlagValues,
  mutationOptionsFrom,
} from './mutation-flags.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { accessSync, constants } = process.getBuiltinModule('node:fs');

// The server's modules (the Kubernetes client alone takes half a second to load) are imported by
// webhook/main.ts when the webhook starts, so other verbs do not pay for them.

export interface WebhookFlags extends MutationFlagValues {
  port: number;
  metricsPort: number;
  bindAddress?: string;
  tlsCert: string;
  tlsKey: string;
  tlsMinVersion: string;
  kubeconfig?: string;
  namespace: string;
  watchConfigMap: boolean;
  watchServiceAccounts?: boolean;
  identitiesFile?: string;
  watchContainerCredentialsConfig?: string;
  containerCredentialsAudience: string;
  containerCredentialsTokenMountPath: string;
  containerCredentialsTokenVolumeName: string;
  containerCredentialsTokenPath: string;
  containerCredentialsFullUri: string;
  serviceAccountLookupGracePeriod: number;
  shutdownDrainDelay: number;
  logLevel?: string;
  /** klog's --v; the klog flags kirsa ignores are read from the same values (klogFlagsGiven). */
  v?: number;
  version?: boolean;
  inCluster?: boolean;
  composeRoleArn?: boolean;
  enableDebuggingHandlers?: boolean;
  tlsCipherSuites?: string;
  kubeApi?: string;
  resyncPeriod?: number;
  configMapNamespace?: string;
  podEvents: boolean;
  readEnvFromConfigMaps: boolean;
  gcMetrics: boolean;
  selfManagedTls: boolean;
  tlsSecret?: string;
  serviceName?: string;
  csrSignerName: string;
  webhookConfiguration: string;
  tlsHosts: string[];
  selfManagedTlsCheckInterval: number;
}

const portFlag = (name: string) => parseIntegerFlag(name, { min: 0 });

/** A Go duration flag: parsed to milliseconds, its default printed as the text it was written in. */
function durationFlag(flags: string, description: string, defaultText: string): FlagSpec {
  const name = flagShape({ flags }).long;
  return {
    flags,
    description,
    parse: parseDurationFlag(name),
    default: parseDurationFlag(name)(defaultText),
    defaultText,
  };
}

/** Every flag of `kirsa webhook`, in --help's order: one declaration for commander and the webhook's own parse. */
export const WEBHOOK_FLAGS: readonly FlagSpec[] = [
  {
    flags: '--port <port>',
    description:
      'HTTPS port of /mutate, /healthz and /readyz (443 as the reference; below 1024 a non-root process needs CAP_NET_BIND_SERVICE)',
    parse: portFlag('port'),
    default: DEFAULT_WEBHOOK_PORT,
  },
  {
    flags: '--metrics-port <port>',
    description: 'plain-HTTP port of /metrics, /healthz and /readyz',
    parse: portFlag('metrics-port'),
    default: DEFAULT_METRICS_PORT,
  },
  {
    flags: '--gc-metrics [bool]',
    description:
      'kirsa: also export nodejs_gc_duration_seconds; observing every collection makes V8 collect its old generation far more often under load',
    parse: parseBooleanFlag('gc-metrics'),
    default: false,
  },
  {
    flags: '--bind-address <address>',
    description: 'address both ports listen on (default: every interface)',
  },
  {
    flags: '--tls-cert <file>',
    description: 'PEM serving certificate; re-read when it changes',
    default: DEFAULT_TLS_CERT_FILE,
  },
  {
    flags: '--tls-key <file>',
    description: 'PEM private key of the certificate; re-read when it changes',
    default: DEFAULT_TLS_KEY_FILE,
  },
  {
    flags: '--tls-min-version <version>',
    description: 'oldest TLS version accepted: 1.2 or 1.3 (1.0 and 1.1 are accepted with a warning)',
    default: DEFAULT_TLS_MIN_VERSION,
  },
  {
    flags: '--tls-cipher-suites <list>',
    description: "comma-separated Go cipher suite names (TLS 1.3's are always on, as in Go); default: Node's",
  },
  {
    flags: '--kubeconfig <file>',
    description: 'kubeconfig to reach the cluster (default: the in-cluster service account)',
  },
  {
    flags: '--namespace <namespace>',
    description: 'namespace of the mapping ConfigMap (and of the --self-managed-tls Secret)',
    default: DEFAULT_WEBHOOK_NAMESPACE,
  },
  {
    flags: '--config-map-namespace <namespace>',
    description:
      'namespace of the mapping ConfigMap when it is not --namespace (kOps writes it in kube-system)',
  },
  {
    flags: '--kube-api <url>',
    description: "the API server's URL, instead of the kubeconfig's or the in-cluster one",
  },
  {
    flags: '--watch-config-map [bool]',
    description: 'read identities from ConfigMap pod-identity-webhook (key "config") in --namespace',
    parse: parseBooleanFlag('watch-config-map'),
    default: false,
  },
  {
    flags: '--pod-events [bool]',
    description:
      'kirsa: post an Event on a pod admitted without AWS credentials for a reason its owner can fix (needs RBAC create events)',
    parse: parseBooleanFlag('pod-events'),
    default: true,
  },
  {
    flags: '--read-env-from-config-maps [bool]',
    description:
      "kirsa: read the ConfigMaps a container's envFrom names (its namespace) to inject a region where they set none (needs RBAC get configmaps)",
    parse: parseBooleanFlag('read-env-from-config-maps'),
    default: false,
  },
  {
    flags: '--watch-service-accounts [bool]',
    description: 'watch ServiceAccounts for role annotations (default: on when the cluster is reachable)',
    parse: parseBooleanFlag('watch-service-accounts'),
  },
  {
    flags: '--identities-file <file>',
    description:
      'identity mapping JSON as the ConfigMap\'s "config" ({"ns/sa": {"RoleARN": ...}}); re-read when it changes',
  },
  {
    flags: '--watch-container-credentials-config <file>',
    description:
      'JSON list of service accounts that use container credentials (EKS Pod Identity); re-read when it changes',
  },
  {
    flags: '--container-credentials-audience <audience>',
    description: 'token audience in container-credentials mode',
    default: CONTAINER_CREDENTIALS_DEFAULTS.audience,
  },
  {
    flags: '--container-credentials-token-mount-path <path>',
    description: 'token mount path in container-credentials mode',
    default: CONTAINER_CREDENTIALS_DEFAULTS.mountPath,
  },
  {
    flags: '--container-credentials-token-volume-name <name>',
    description: 'token volume name in container-credentials mode',
    default: CONTAINER_CREDENTIALS_DEFAULTS.volumeName,
  },
  {
    flags: '--container-credentials-token-path <name>',
    description: 'token file name in container-credentials mode',
    default: CONTAINER_CREDENTIALS_DEFAULTS.tokenFileName,
  },
  {
    flags: '--container-credentials-full-uri <uri>',
    description: 'credentials endpoint in container-credentials mode',
    default: CONTAINER_CREDENTIALS_DEFAULTS.fullUri,
  },
  durationFlag(
    '--service-account-lookup-grace-period <duration>',
    'on a cache miss, wait up to this long for the ServiceAccount (watch or one direct GET); 0 turns it off',
    DEFAULT_LOOKUP_GRACE_PERIOD,
  ),
  durationFlag(
    '--shutdown-drain-delay <duration>',
    'after SIGTERM, keep answering (not ready) this long before closing',
    DEFAULT_SHUTDOWN_DRAIN_DELAY,
  ),
  {
    flags: '--log-level <level>',
    description: `one of ${LOG_LEVELS.join(', ')} (default: info, or what the reference's --v maps to)`,
  },
  { flags: '--version', description: 'print the version and exit' },
  {
    flags: '--self-managed-tls [bool]',
    description:
      'make and renew the CA and serving certificate in Secret --tls-secret (in --namespace), write them to --tls-cert/--tls-key, and keep the caBundle of --webhook-configuration current',
    parse: parseBooleanFlag('self-managed-tls'),
    default: false,
  },
  {
    flags: '--tls-secret <name>',
    description: `with --self-managed-tls: the Secret holding the CA and serving pair (default ${DEFAULT_TLS_SECRET_NAME}); with --in-cluster=true: the Secret keeping the issued pair (default ${REFERENCE_OBJECT_NAME}, as the reference)`,
  },
  {
    flags: '--service-name <name>',
    description: `with --self-managed-tls or --in-cluster=true: the Service the certificate names (<name>.<namespace>.svc); default ${WEBHOOK_OBJECT_NAME}, or ${REFERENCE_OBJECT_NAME} with --in-cluster=true, as the reference`,
  },
  {
    flags: '--csr-signer-name <name>',
    description: `with --in-cluster=true: the signerName of the CertificateSigningRequest; the reference's ${REFERENCE_CSR_SIGNER} is refused by every API server since 1.22, so give a signer your cluster runs`,
    default: REFERENCE_CSR_SIGNER,
  },
  {
    flags: '--webhook-configuration <name>',
    description: 'with --self-managed-tls: the MutatingWebhookConfiguration whose caBundle kirsa keeps',
    default: WEBHOOK_OBJECT_NAME,
  },
  {
    flags: '--tls-hosts <names>',
    description: 'with --self-managed-tls: more DNS names or IPs for the certificate, comma-separated',
    parse: (value: string) =>
      value
        .split(',')
        .map((host) => host.trim())
        .filter(Boolean),
    default: [],
  },
  durationFlag(
    '--self-managed-tls-check-interval <duration>',
    'with --self-managed-tls: how often to re-check the certificate and caBundle',
    SELF_MANAGED_TLS_CHECK_INTERVAL,
  ),
  ...MUTATION_FLAGS,
  {
    flags: '--compose-role-arn [bool]',
    description:
      "complete a bare role name in the role-arn annotation with the account and partition of the node (from EC2's instance identity document)",
    parse: parseBooleanFlag('compose-role-arn'),
  },
  {
    flags: '--in-cluster [bool]',
    description:
      "the reference's certificate mode: true gets the serving certificate from a CertificateSigningRequest (see --csr-signer-name) and keeps it in Secret --tls-secret; false or absent reads --tls-cert/--tls-key",
    parse: parseBooleanFlag('in-cluster'),
  },
  // The reference's flags with no kirsa meaning, or refused with a reason when set (validateWebhook).
  {
    flags: '--enable-debugging-handlers [bool]',
    parse: parseBooleanFlag('enable-debugging-handlers'),
    hidden: true,
  },
  { flags: '--resync-period <duration>', parse: parseDurationFlag('resync-period'), hidden: true },
  ...KLOG_FLAG_SPECS,
];

/**
 * `kirsa webhook` without commander, for the long-running process (flag-specs.ts says why): false when the
 * command line needs commander (help, an unknown flag, a missing value), which then reads it instead.
 */
export async function runWebhookCommandLine(words: readonly string[]): Promise<boolean> {
  const flags = parseDeclaredFlags(words, WEBHOOK_FLAGS);
  if (flags === undefined) return false;
  await runWebhookVerb(flags as unknown as WebhookFlags);
  return true;
}

/** What `kirsa webhook` does with its parsed flags, whichever parser read them. */
export async function runWebhookVerb(flags: WebhookFlags): Promise<void> {
  if (flags.version) {
    process.stdout.write(`${kirsaVersion()}\n`);
    return;
  }
  await runWebhook(flags);
}

// --- Phase 1: validate everything before any side effect -------------------------------------------------------

function readable(path: string, flag: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new KirsaError(
      'FILE_UNREADABLE',
      `${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      {
        hint: `check the path given to ${flag}`,
        cause: error,
      },
    );
  }
}

export async function validateWebhook(flags: WebhookFlags): Promise<WebhookPlan> {
  const inCluster = flags.inCluster === true;
  if (inCluster && flags.selfManagedTls) {
    throw new KirsaError(
      'FLAG_CONFLICT',
      '--in-cluster=true and --self-managed-tls both make the serving certificate',
      {
        hint: "choose one: a CertificateSigningRequest (--in-cluster=true) or kirsa's own CA (--self-managed-tls)",
      },
    );
  }
  if (flags.enableDebuggingHandlers === true) {
    throw new KirsaError(
      'FLAG_UNSUPPORTED',
      "--enable-debugging-handlers is not supported: the reference's handlers dump every role mapping on the unauthenticated metrics port and let anyone clear the cache or make /debug/alpha/deny reject",
      {
        hint: 'drop the flag; kirsa_webhook_identities and `kirsa doctor serviceaccount` show what the cache holds',
      },
    );
  }
  const logLevel = flags.logLevel ?? (flags.v !== undefined ? levelForKlogVerbosity(flags.v) : 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new KirsaError(
      'FLAG_INVALID',
      `--log-level takes one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`,
    );
  }
  const minVersion = parseTlsMinVersion(flags.tlsMinVersion);
  const ciphers =
    flags.tlsCipherSuites === undefined ? undefined : opensslCiphersForGoSuites(flags.tlsCipherSuites);
  const ignoredFlags = klogFlagsGiven(flags as unknown as Record<string, unknown>);
  if (flags.resyncPeriod !== undefined) ignoredFlags.push('--resync-period');
  for (const [name, port] of [
    ['--port', flags.port],
    ['--metrics-port', flags.metricsPort],
  ] as const) {
    if (port > 65_535) throw new KirsaError('FLAG_INVALID', `${name} ${port} is not a TCP port`);
  }
  if (flags.port !== 0 && flags.port === flags.metricsPort) {
    throw new KirsaError('FLAG_CONFLICT', `--port and --metrics-port are both ${flags.port}`, {
      hint: 'give them different ports',
    });
  }
  // With self-managed TLS kirsa writes the pair itself, with --in-cluster=true it is issued; otherwise it
  // must be there to read.
  if (!flags.selfManagedTls && !inCluster) {
    readable(flags.tlsCert, '--tls-cert');
    readable(flags.tlsKey, '--tls-key');
  }
  if (flags.identitiesFile !== undefined) readable(flags.identitiesFile, '--identities-file');
  // Imported here: the other verbs need no cluster connection module.
  const { connectToCluster } = await import('../kube/connection.ts');
  const kube = await connectToCluster(flags.kubeconfig, flags.kubeApi);
  if (kube === undefined) {
    if (flags.watchConfigMap) {
      throw new KirsaError('CLUSTER_ACCESS_REQUIRED', '--watch-config-map needs cluster access', {
        hint: 'pass --kubeconfig, run in a pod, or give the mapping with --identities-file instead',
      });
    }
    if (flags.watchServiceAccounts === true) {
      throw new KirsaError('CLUSTER_ACCESS_REQUIRED', '--watch-service-accounts needs cluster access', {
        hint: 'pass --kubeconfig or run in a pod',
      });
    }
    if (flags.readEnvFromConfigMaps) {
      throw new KirsaError('CLUSTER_ACCESS_REQUIRED', '--read-env-from-config-maps needs cluster access', {
        hint: 'pass --kubeconfig or run in a pod',
      });
    }
    if (flags.identitiesFile === undefined) {
      throw new KirsaError(
        'NO_IDENTITY_SOURCE',
        'no identity source: no cluster access and no --identities-file',
        {
          hint: 'run in a pod (or pass --kubeconfig) to watch ServiceAccounts, or give --identities-file',
        },
      );
    }
  }
  if (flags.selfManagedTls && kube === undefined) {
    throw new KirsaError(
      'CLUSTER_ACCESS_REQUIRED',
      '--self-managed-tls needs cluster access (it keeps its certificate in a Secret)',
      {
        hint: 'run in a pod or pass --kubeconfig; or give --tls-cert and --tls-key from cert-manager',
      },
    );
  }
  if (inCluster && kube === undefined) {
    throw new KirsaError(
      'CLUSTER_ACCESS_REQUIRED',
      '--in-cluster=true needs cluster access (it asks for its certificate with a CertificateSigningRequest)',
      { hint: 'run in a pod or pass --kubeconfig; or pass --in-cluster=false with --tls-cert and --tls-key' },
    );
  }
  const watchServiceAccounts = kube !== undefined && flags.watchServiceAccounts !== false;
  if (!watchServiceAccounts && !flags.watchConfigMap && flags.identitiesFile === undefined) {
    throw new KirsaError('NO_IDENTITY_SOURCE', 'every identity source is off', {
      hint: 'keep --watch-service-accounts on, or add --watch-config-map or --identities-file',
    });
  }
  return {
    ...(flags.bindAddress ? { host: flags.bindAddress } : {}),
    port: flags.port,
    metricsPort: flags.metricsPort,
    tls: {
      certFile: flags.tlsCert,
      keyFile: flags.tlsKey,
      minVersion,
      ...(ciphers !== undefined ? { ciphers } : {}),
    },
    logLevel: logLevel as LogLevel,
    ignoredFlags,
    v8FlagsWhenListening: v8FlagsWhenListening(process.env),
    composeRoleArn: flags.composeRoleArn === true,
    kube,
    namespace: flags.namespace,
    configMapNamespace: flags.configMapNamespace ?? flags.namespace,
    sources: {
      serviceAccounts: watchServiceAccounts,
      configMap: flags.watchConfigMap,
      ...(flags.identitiesFile !== undefined ? { identitiesFile: flags.identitiesFile } : {}),
      ...(flags.watchContainerCredentialsConfig !== undefined
        ? { containerCredentialsFile: flags.watchContainerCredentialsConfig }
        : {}),
    },
    lookupGraceMs: flags.serviceAccountLookupGracePeriod,
    podEvents: flags.podEvents && kube !== undefined,
    readEnvFromConfigMaps: flags.readEnvFromConfigMaps,
    gcMetrics: flags.gcMetrics,
    identityDefaults: identityDefaultsFrom(flags),
    containerCredentials: {
      audience: flags.containerCredentialsAudience,
      mountPath: flags.containerCredentialsTokenMountPath,
      volumeName: flags.containerCredentialsTokenVolumeName,
      tokenFileName: flags.containerCredentialsTokenPath,
      fullUri: flags.containerCredentialsFullUri,
    },
    mutation: mutationOptionsFrom(flags),
    drainDelayMs: flags.shutdownDrainDelay,
    ...(flags.selfManagedTls
      ? {
          selfManagedTls: {
            secretName: flags.tlsSecret ?? DEFAULT_TLS_SECRET_NAME,
            serviceName: flags.serviceName ?? WEBHOOK_OBJECT_NAME,
            webhookConfiguration: flags.webhookConfiguration,
            extraHosts: flags.tlsHosts,
            checkIntervalMs: flags.selfManagedTlsCheckInterval,
          },
        }
      : {}),
    ...(inCluster
      ? {
          csrTls: {
            signerName: flags.csrSignerName,
            secretName: flags.tlsSecret ?? REFERENCE_OBJECT_NAME,
            serviceName: flags.serviceName ?? REFERENCE_OBJECT_NAME,
          },
        }
      : {}),
  };
}

// --- Phase 2: run -------------------------------------------------------------------------------------------------

export async function runWebhook(flags: WebhookFlags): Promise<void> {
  const plan = await validateWebhook(flags);
  const { startWebhook } = await import('../webhook/main.ts');
  const webhook = await startWebhook(plan);
  const log = webhook.logger;
  const stopSignal = onStopSignal((signal) => {
    log.warn({ signal }, 'second signal: closing every connection now');
    webhook.closeNow();
  });
  try {
    log.info({ signal: await stopSignal.received }, 'signal received');
    await webhook.shutdown().catch(() => {});
  } finally {
    stopSignal.release();
  }
}
