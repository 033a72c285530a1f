// The doctor's thin shell: reads what the checks need from the cluster, the issuer's public documents and IAM,
// through the small interfaces passed in, and turns every read that fails into a reason rather than an error,
// so the checklist still prints every line it can.

import type { V1MutatingWebhookConfiguration, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { IamRoles } from '../aws/iam-role.ts';
import { ANNOTATION, DEFAULT_SERVICE_ACCOUNT } from '../consts.ts';
import { issuerHostPath, matchedProviderArn, roleArnParts } from '../core/iam/arn.ts';
import type { WebIdentityClaims } from '../core/iam/policy-evaluate.ts';
import { isKirsaError, KirsaError } from '../errors.ts';
import { fetchIssuerDocument } from '../issuer/https.ts';
import type { ClusterReader } from '../kube/client.ts';
import {
  type ContainerFact,
  type DoctorFacts,
  expectedAudience,
  type Gathered,
  type PodFact,
  type ServiceAccountFact,
  type WebhookFact,
} from './checks.ts';

export interface DoctorDependencies {
  cluster: ClusterReader;
  /** IAM, or why it is not available (no credentials, --no-aws). */
  iam: IamRoles | { unavailable: string };
  /** GETs a JSON document over HTTPS as STS would (anonymous, verified TLS, bounded time). */
  fetchJson: (url: string) => Promise<unknown>;
}

export interface DoctorTarget {
  kind: 'pod' | 'serviceaccount';
  namespace: string;
  name: string;
  annotationPrefix: string;
  /** Account of the IAM OIDC provider when it is not the role's. */
  accountId?: string;
}

function reasonOf(error: unknown): string {
  return isKirsaError(error) ? error.message : ((error as Error)?.message ?? String(error));
}

async function gather<T>(read: () => Promise<T>): Promise<Gathered<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string') return new Date(value);
  return undefined;
}

export function podFact(pod: V1Pod): PodFact {
  const spec = pod.spec;
  const containers: ContainerFact[] = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map(
    (container) => {
      const fact: ContainerFact = {
        name: container.name,
        env: Object.fromEntries(
          (container.env ?? []).map((variable) => [variable.name, variable.value ?? '']),
        ),
        mountPaths: Object.fromEntries(
          (container.volumeMounts ?? []).map((mount) => [mount.name, mount.mountPath]),
        ),
      };
      if (container.securityContext?.runAsUser !== undefined)
        fact.runAsUser = container.securityContext.runAsUser;
      if (container.securityContext?.runAsNonRoot !== undefined)
        fact.runAsNonRoot = container.securityContext.runAsNonRoot;
      return fact;
    },
  );
  const tokenVolumes: PodFact['tokenVolumes'] = {};
  for (const volume of spec?.volumes ?? []) {
    for (const source of volume.projected?.sources ?? []) {
      const token = source.serviceAccountToken;
      if (token)
        tokenVolumes[volume.name] = token.audience
          ? { audience: token.audience, path: token.path }
          : { path: token.path };
    }
  }
  const fact: PodFact = {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    serviceAccountName: spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    containers,
    tokenVolumes,
  };
  const created = toDate(pod.metadata?.creationTimestamp);
  if (created) fact.createdAt = created;
  const security = spec?.securityContext;
  if (security?.runAsUser !== undefined) fact.podRunAsUser = security.runAsUser;
  if (security?.runAsNonRoot !== undefined) fact.podRunAsNonRoot = security.runAsNonRoot;
  if (security?.fsGroup !== undefined) fact.fsGroup = security.fsGroup;
  return fact;
}

/** The latest managedFields entry that owns the role annotation tells when it was set. */
export function serviceAccountFact(account: V1ServiceAccount, annotationPrefix: string): ServiceAccountFact {
  const fact: ServiceAccountFact = {
    namespace: account.metadata?.namespace ?? '',
    name: account.metadata?.name ?? '',
    annotations: account.metadata?.annotations ?? {},
  };
  const created = toDate(account.metadata?.creationTimestamp);
  if (created) fact.createdAt = created;
  const field = `f:${annotationPrefix}/${ANNOTATION.roleArn}`;
  const times = (account.metadata?.managedFields ?? [])
    .filter((entry) => {
      const annotations = (
        entry.fieldsV1 as { 'f:metadata'?: { 'f:annotations'?: Record<string, unknown> } } | undefined
      )?.['f:metadata']?.['f:annotations'];
      return annotations !== undefined && field in annotations;
    })
    .map((entry) => toDate(entry.time))
    .filter((time): time is Date => time !== undefined);
  if (times.length > 0) fact.roleAnnotatedAt = new Date(Math.max(...times.map((time) => time.getTime())));
  return fact;
}

export function webhookFacts(
  configurations: V1MutatingWebhookConfiguration[],
): Array<WebhookFact & { service?: { namespace: string; name: string } }> {
  return configurations.flatMap((configuration) =>
    (configuration.webhooks ?? []).map((webhook) => {
      const service = webhook.clientConfig.service;
      const fact: WebhookFact & { service?: { namespace: string; name: string } } = {
        configuration: configuration.metadata?.name ?? '',
        name: webhook.name,
        rules: (webhook.rules ?? []).map((rule) => ({ ...rule })),
        target: service
          ? `service ${service.namespace}/${service.name}`
          : (webhook.clientConfig.url ?? '(no target)'),
        hasMatchConditions: (webhook.matchConditions ?? []).length > 0,
      };
      if (webhook.namespaceSelector)
        fact.namespaceSelector = webhook.namespaceSelector as WebhookFact['namespaceSelector'] & object;
      if (webhook.objectSelector)
        fact.objectSelector = webhook.objectSelector as WebhookFact['objectSelector'] & object;
      if (webhook.failurePolicy) fact.failurePolicy = webhook.failurePolicy;
      if (service) fact.service = { namespace: service.namespace, name: service.name };
      return fact;
    }),
  );
}

function minimumVersion(versions: string[]): string | undefined {
  const parse = (version: string) => (/^v?(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  return [...versions].sort((left, right) => {
    const [a1 = 0, a2 = 0] = parse(left);
    const [b1 = 0, b2 = 0] = parse(right);
    return a1 - b1 || a2 - b2;
  })[0];
}

export async function gatherFacts(
  target: DoctorTarget,
  dependencies: DoctorDependencies,
): Promise<DoctorFacts> {
  const { cluster } = dependencies;
  let pod: PodFact | undefined;
  let rawPod: V1Pod | undefined;
  if (target.kind === 'pod') {
    rawPod = await cluster.getPod(target.namespace, target.name);
    if (!rawPod) {
      throw new KirsaError('KUBE_NOT_FOUND', `pod ${target.namespace}/${target.name} does not exist`, {
        hint: `kubectl get pods -n ${target.namespace}`,
      });
    }
    pod = podFact(rawPod);
  }
  const accountName = pod?.serviceAccountName ?? target.name;
  const rawAccount = await cluster.getServiceAccount(target.namespace, accountName);
  const serviceAccount = rawAccount ? serviceAccountFact(rawAccount, target.annotationPrefix) : undefined;
  const namespace = await gather(() => cluster.getNamespace(target.namespace));
  const namespaceLabels = namespace.ok ? (namespace.value?.metadata?.labels ?? {}) : {};

  const webhooks = await gather(async () => {
    const facts = webhookFacts(await cluster.listMutatingWebhooks());
    for (const fact of facts) {
      if (fact.service) {
        const ready = await cluster.readyEndpoints(fact.service.namespace, fact.service.name);
        if (ready !== undefined) fact.readyEndpoints = ready;
      }
    }
    return facts;
  });

  const kubeletVersion = await gather(async () => {
    const nodeName = rawPod?.spec?.nodeName;
    if (nodeName) {
      const node = await cluster.getNode(nodeName);
      const version = node?.status?.nodeInfo?.kubeletVersion;
      if (version) return { version, source: `node ${nodeName}` };
    }
    const versions = (await cluster.listNodes().catch(() => []))
      .map((node) => node.status?.nodeInfo?.kubeletVersion)
      .filter((version): version is string => Boolean(version));
    const oldest = minimumVersion(versions);
    if (oldest) return { version: oldest, source: 'the oldest node' };
    const server = await cluster.serverVersion();
    return { version: server.gitVersion, source: 'the API server; no node reports a kubelet' };
  });

  const partial: DoctorFacts = {
    target: { kind: target.kind, namespace: target.namespace, name: target.name },
    annotationPrefix: target.annotationPrefix,
    ...(pod ? { pod } : {}),
    serviceAccount,
    namespaceLabels,
    webhooks,
    kubeletVersion,
    token: { ok: false, reason: 'not requested' },
    discovery: { ok: false, reason: 'no token to read the issuer from' },
    jwksKids: { ok: false, reason: 'no discovery document' },
    provider: { ok: false, reason: 'not read' },
    role: { ok: false, reason: 'not read' },
  };

  const audience = expectedAudience(partial);
  partial.token = serviceAccount
    ? await gather(async () => {
        const bound = rawPod?.metadata?.uid ? { name: target.name, uid: rawPod.metadata.uid } : undefined;
        const { token } = await cluster.requestToken(target.namespace, accountName, audience, bound);
        const claims = decodeJwt(token) as WebIdentityClaims;
        const { kid } = decodeProtectedHeader(token);
        return kid === undefined
          ? { claims, audienceAsked: audience }
          : { claims, kid, audienceAsked: audience };
      })
    : { ok: false, reason: 'the service account does not exist' };

  if (partial.token.ok && typeof partial.token.value.claims.iss === 'string') {
    const iss = partial.token.value.claims.iss;
    partial.discovery = await gather(async () => {
      const document = (await dependencies.fetchJson(`${iss}/.well-known/openid-configuration`)) as {
        issuer?: unknown;
        jwks_uri?: unknown;
      };
      if (typeof document?.issuer !== 'string' || typeof document.jwks_uri !== 'string')
        throw new Error('the discovery document lacks issuer or jwks_uri');
      return { issuer: document.issuer, jwksUri: document.jwks_uri };
    });
    if (partial.discovery.ok) {
      const jwksUri = partial.discovery.value.jwksUri;
      partial.jwksKids = await gather(async () => {
        const jwks = (await dependencies.fetchJson(jwksUri)) as { keys?: Array<{ kid?: unknown }> };
        if (!Array.isArray(jwks?.keys)) throw new Error(`${jwksUri} is not a JWKS`);
        return jwks.keys.map((key) => (typeof key.kid === 'string' ? key.kid : ''));
      });
    } else {
      partial.jwksKids = { ok: false, reason: 'the discovery document could not be read' };
    }
  }

  const roleArn =
    serviceAccount?.annotations[`${target.annotationPrefix}/${ANNOTATION.roleArn}`] ??
    pod?.containers.map((container) => container.env.AWS_ROLE_ARN).find(Boolean);
  if ('unavailable' in dependencies.iam) {
    partial.provider = { ok: false, reason: dependencies.iam.unavailable };
    partial.role = { ok: false, reason: dependencies.iam.unavailable };
    return partial;
  }
  const iam = dependencies.iam;
  const roleParts = roleArn ? roleArnParts(roleArn) : undefined;
  partial.role = roleParts
    ? await gather(async () => {
        const role = await iam.getRole(roleParts.name);
        return role ? { arn: role.arn, trustPolicy: role.trustPolicy } : undefined;
      })
    : { ok: false, reason: roleArn ? `"${roleArn}" is not a role ARN` : 'no role named' };
  const iss = partial.token.ok ? partial.token.value.claims.iss : undefined;
  const provider = iss
    ? matchedProviderArn(issuerHostPath(iss), { role: roleParts, accountId: target.accountId })
    : undefined;
  if (!iss || !provider) {
    partial.provider = {
      ok: false,
      reason: !iss
        ? 'no token issuer to look the provider up by'
        : 'no account to look the provider in (pass --account-id)',
    };
    return partial;
  }
  partial.provider = await gather(async () => {
    const record = await iam.getOidcProvider(provider.arn);
    if (!record) return undefined;
    // IAM's stored URL (host/path) is what must equal the token's iss.
    return { arn: record.arn, url: record.url, clientIds: record.clientIds };
  });
  return partial;
}

/** The doctor's reader: the one STS-like fetch (src/issuer/https.ts); `ca` replaces the trusted roots. */
export function httpsJsonFetcher(ca?: string | Buffer): (url: string) => Promise<unknown> {
  const options = ca ? { ca: [ca.toString()] } : {};
  return async (url) => (await fetchIssuerDocument(url, options)).json;
}
