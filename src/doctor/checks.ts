// The doctor's checklist, as pure functions over facts a gatherer collected (pod, ServiceAccount, webhook
// configurations, versions, a fresh token's claims, the published discovery document and JWKS, the IAM
// provider and role). Each check answers pass / fail / skip with the reason and, for a failure, the fix.
// Order matters: it follows the path a credential takes, so the first failure is usually the cause.

import { ANNOTATION, ASSUME_ROLE_WITH_WEB_IDENTITY, DEFAULT_TOKEN_AUDIENCE, ENV } from '../consts.ts';
import { issuerUrlOfHostPath } from '../core/iam/arn.ts';
import {
  contextFromClaims,
  evaluateTrustPolicy,
  type WebIdentityClaims,
} from '../core/iam/policy-evaluate.ts';
import { closestFailures } from '../core/iam/policy-explain.ts';
import type { PolicyDocument } from '../core/iam/policy-grammar.ts';
import { legacyIdentity } from '../core/migration/legacy.ts';
import { audienceFindings, kidFinding } from '../core/sts/token-checks.ts';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  reason: string;
  fix?: string;
}

// --- Facts ---------------------------------------------------------------------------------------------------

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface WebhookFact {
  configuration: string;
  name: string;
  rules: Array<{
    operations?: string[];
    apiGroups?: string[];
    apiVersions?: string[];
    resources?: string[];
    scope?: string;
  }>;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  failurePolicy?: string;
  /** "service ns/name" or the URL. */
  target: string;
  /** Ready endpoints behind a service-backed webhook; undefined when unknown (URL webhooks, no permission). */
  readyEndpoints?: number;
  hasMatchConditions: boolean;
}

export interface ContainerFact {
  name: string;
  env: Record<string, string | undefined>;
  mountPaths: Record<string, string>;
  runAsUser?: number;
  runAsNonRoot?: boolean;
}

export interface PodFact {
  namespace: string;
  name: string;
  serviceAccountName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  createdAt?: Date;
  containers: ContainerFact[];
  /** Projected serviceAccountToken sources by volume name: audience and path. */
  tokenVolumes: Record<string, { audience?: string; path: string }>;
  podRunAsUser?: number;
  podRunAsNonRoot?: boolean;
  fsGroup?: number;
}

export interface ServiceAccountFact {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
  createdAt?: Date;
  /** When the role-arn annotation was last set, from managedFields, if the server recorded it. */
  roleAnnotatedAt?: Date;
}

/** Something that may have failed to be gathered: the value, or why it is missing. */
export type Gathered<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface DoctorFacts {
  target: { kind: 'pod' | 'serviceaccount'; namespace: string; name: string };
  annotationPrefix: string;
  pod?: PodFact;
  serviceAccount: ServiceAccountFact | undefined;
  namespaceLabels: Record<string, string>;
  webhooks: Gathered<WebhookFact[]>;
  /** The kubelet version that projects the pod's token, and where it was read. */
  kubeletVersion: Gathered<{ version: string; source: string }>;
  /** A token the API server issued now for the service account and the pod's audience. */
  token: Gathered<{ claims: WebIdentityClaims; kid?: string; audienceAsked: string }>;
  discovery: Gathered<{ issuer: string; jwksUri: string }>;
  jwksKids: Gathered<string[]>;
  /** AWS facts; absent (ok: false) without credentials or with --no-aws. */
  provider: Gathered<{ arn: string; url: string; clientIds: string[] } | undefined>;
  role: Gathered<{ arn: string; trustPolicy: PolicyDocument } | undefined>;
}

// --- Small pure helpers --------------------------------------------------------------------------------------

export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function anyOf(values: string[] | undefined, ...wanted: string[]): boolean {
  return (values ?? []).some((value) => value === '*' || wanted.includes(value));
}

/** Does this webhook's rules send pod CREATE requests to it? */
export function interceptsPodCreate(webhook: WebhookFact): boolean {
  return webhook.rules.some(
    (rule) =>
      anyOf(rule.operations, 'CREATE') &&
      anyOf(rule.apiGroups, '') &&
      anyOf(rule.apiVersions, 'v1') &&
      anyOf(rule.resources, 'pods') &&
      (rule.scope === undefined || rule.scope === '*' || rule.scope === 'Namespaced'),
  );
}

/** Kubernetes version "v1.18.20" (or major/minor parts) compared with a minor of 1.x. */
export function versionAtLeast(version: string, minor: number): boolean | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) return undefined;
  const [major, found] = [Number(match[1]), Number(match[2])];
  return major > 1 || (major === 1 && found >= minor);
}

function roleArnOf(facts: DoctorFacts): string | undefined {
  const fromAccount = facts.serviceAccount?.annotations[`${facts.annotationPrefix}/${ANNOTATION.roleArn}`];
  if (fromAccount) return fromAccount;
  return facts.pod?.containers
    .map((container) => container.env[ENV.roleArn])
    .find((value) => value !== undefined);
}

/** The audience the pod's token is (or would be) projected with. */
export function expectedAudience(facts: DoctorFacts): string {
  const fromVolume = tokenVolumeOf(facts.pod)?.audience;
  if (fromVolume) return fromVolume;
  return (
    facts.serviceAccount?.annotations[`${facts.annotationPrefix}/${ANNOTATION.audience}`] ??
    DEFAULT_TOKEN_AUDIENCE
  );
}

function tokenFileOf(pod: PodFact): string | undefined {
  return pod.containers
    .map((container) => container.env[ENV.webIdentityTokenFile])
    .find((value) => value !== undefined);
}

function tokenVolumeOf(
  pod: PodFact | undefined,
): { audience?: string; path: string; volume: string } | undefined {
  if (!pod) return undefined;
  const file = tokenFileOf(pod);
  // Without the env var there is no AWS token to find; the API server's own kube-api-access volume is not it.
  if (file === undefined) return undefined;
  for (const container of pod.containers) {
    for (const [volume, mountPath] of Object.entries(container.mountPaths)) {
      const source = pod.tokenVolumes[volume];
      if (!source) continue;
      if (
        file
          .replaceAll('\\', '/')
          .endsWith(`${mountPath.replace(/\/$/, '')}/${source.path}`.replace(/^C:/, ''))
      )
        return { ...source, volume };
    }
  }
  return undefined;
}

function skip(id: string, title: string, reason: string): CheckResult {
  return { id, title, status: 'skip', reason };
}

// --- The checks ----------------------------------------------------------------------------------------------

function checkServiceAccount(facts: DoctorFacts): CheckResult {
  const id = 'service-account';
  const title = 'service account names a role';
  const { namespace } = facts.target;
  const name = facts.pod?.serviceAccountName ?? facts.target.name;
  const key = `${facts.annotationPrefix}/${ANNOTATION.roleArn}`;
  if (!facts.serviceAccount)
    return {
      id,
      title,
      status: 'fail',
      reason: `ServiceAccount ${namespace}/${name} does not exist`,
      fix: `kirsa role create --namespace ${namespace} --service-account ${name} ... creates it with the annotation`,
    };
  const arn = facts.serviceAccount.annotations[key];
  if (arn) return { id, title, status: 'pass', reason: `${namespace}/${name} has ${key}: ${arn}` };
  const fromEnv = facts.pod?.containers.map((container) => container.env[ENV.roleArn]).find(Boolean);
  if (fromEnv)
    return {
      id,
      title,
      status: 'pass',
      reason: `${namespace}/${name} has no ${key}, but the pod's AWS_ROLE_ARN is ${fromEnv} (an identity mapping or a hand-written env)`,
    };
  return {
    id,
    title,
    status: 'fail',
    reason: `${namespace}/${name} has no ${key} annotation, so the webhook gives its pods no role`,
    fix: `kubectl annotate serviceaccount -n ${namespace} ${name} ${key}=arn:aws:iam::<account>:role/<name> (or kirsa role create), then re-create the pod`,
  };
}

function checkPodMutated(facts: DoctorFacts): CheckResult {
  const id = 'pod-mutated';
  const title = 'pod carries the AWS env and the projected token';
  const pod = facts.pod;
  if (!pod) return skip(id, title, 'no pod named (doctor serviceaccount)');
  const skipped = new Set(
    (pod.annotations[`${facts.annotationPrefix}/${ANNOTATION.skipContainers}`] ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  const missing: string[] = [];
  for (const container of pod.containers) {
    if (skipped.has(container.name)) continue;
    const lacks = [ENV.roleArn, ENV.webIdentityTokenFile].filter((name) => container.env[name] === undefined);
    if (lacks.length > 0) missing.push(`${container.name} lacks ${lacks.join(', ')}`);
  }
  const volume = tokenVolumeOf(pod);
  if (missing.length === 0 && volume)
    return {
      id,
      title,
      status: 'pass',
      reason: `AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE set; volume ${volume.volume} projects a token for audience ${volume.audience ?? '(the API server default)'}`,
    };
  const reasons = [...missing];
  if (!volume)
    reasons.push(
      'no projected serviceAccountToken volume is mounted where AWS_WEB_IDENTITY_TOKEN_FILE points',
    );
  return {
    id,
    title,
    status: 'fail',
    reason: `the pod was not mutated: ${reasons.join('; ')} (SDKs then answer NoCredentialProviders / "Could not load credentials")`,
    fix: 'see the webhook lines below for why; a pod is only mutated when it is created, so re-create it once fixed',
  };
}

/** The webhooks that intercept pod creation, or why the webhook checks have nothing to look at. */
function webhooksToCheck(facts: DoctorFacts, podMutated: boolean): WebhookFact[] | string {
  if (podMutated) return 'the pod is mutated';
  if (!facts.webhooks.ok) return facts.webhooks.reason;
  return facts.webhooks.value.filter(interceptsPodCreate);
}

/**
 * Only for a pod kube2iam/kiam serve too (it carries their role annotation): which of the two mechanisms its
 * SDK uses. The SDKs' default chains read the web identity token file before they ask the instance metadata
 * endpoint that kube2iam/kiam answer, so a mutated pod uses the web identity role, and an unmutated one has
 * only the legacy role: taking kube2iam/kiam away would leave it without credentials.
 */
function checkLegacyCredentials(facts: DoctorFacts, podMutated: boolean): CheckResult | undefined {
  const id = 'kube2iam-kiam';
  const title = 'which credentials the SDK uses when kube2iam/kiam serve the pod too';
  const legacy = legacyIdentity(facts.pod?.annotations);
  if (!facts.pod || !legacy) return undefined;
  const annotation = `iam.amazonaws.com/role: ${legacy.role}`;
  if (!podMutated)
    return {
      id,
      title,
      status: 'fail',
      reason: `only kube2iam/kiam (${annotation}, through the metadata endpoint): the pod has no web identity, so it loses its credentials when the annotation or kube2iam/kiam go`,
      fix: 'annotate its ServiceAccount (kirsa migrate apply), re-create the pod so the webhook mutates it, and only then run kirsa migrate cleanup',
    };
  const webIdentityRole = roleArnOf(facts) ?? '(unknown)';
  const legacyName = legacy.role.split('/').pop();
  const same = legacy.role.startsWith('arn:')
    ? legacy.role === webIdentityRole
    : webIdentityRole.split('/').pop() === legacyName;
  return {
    id,
    title,
    status: 'pass',
    reason: `both: web identity (${webIdentityRole}) and kube2iam/kiam (${annotation}); the SDK's default chain takes the web identity token file before the metadata endpoint, so the pod uses ${webIdentityRole} (an SDK too old for web identity would keep using kube2iam/kiam)${same ? '' : '; the two name different roles, so its permissions changed with the switch'}`,
  };
}

function checkWebhookRegistered(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'webhook-registered';
  const title = 'a mutating webhook intercepts pod creation';
  const intercepting = webhooksToCheck(facts, podMutated);
  if (typeof intercepting === 'string') return skip(id, title, intercepting);
  const registered = facts.webhooks.ok ? facts.webhooks.value.length : 0;
  if (intercepting.length === 0)
    return {
      id,
      title,
      status: 'fail',
      reason:
        registered === 0
          ? 'no MutatingWebhookConfiguration exists'
          : `none of the ${registered} mutating webhooks has a rule for pods CREATE`,
      fix: 'install the webhook: kirsa manifests | kubectl apply -f - (or the Helm chart in deploy/)',
    };
  return {
    id,
    title,
    status: 'pass',
    reason: intercepting
      .map((webhook) => `${webhook.configuration}/${webhook.name} -> ${webhook.target}`)
      .join(', '),
  };
}

function checkWebhookReady(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'webhook-ready';
  const title = 'the webhook has ready endpoints';
  const intercepting = webhooksToCheck(facts, podMutated);
  if (typeof intercepting === 'string') return skip(id, title, intercepting);
  if (intercepting.length === 0) return skip(id, title, 'no webhook to check');
  const empty = intercepting.filter((webhook) => webhook.readyEndpoints === 0);
  const unknown = intercepting.filter((webhook) => webhook.readyEndpoints === undefined);
  if (empty.length > 0 && empty.length === intercepting.length)
    return {
      id,
      title,
      status: 'fail',
      reason: `${empty.map((webhook) => webhook.target).join(', ')} has no ready endpoints${empty.some((webhook) => webhook.failurePolicy !== 'Fail') ? '; with failurePolicy Ignore the API server admits pods unmutated' : ''}`,
      fix: 'kubectl get pods -n <webhook namespace>: start the webhook (check its logs), then re-create the pod',
    };
  if (unknown.length === intercepting.length)
    return skip(
      id,
      title,
      `readiness of ${unknown.map((webhook) => webhook.target).join(', ')} cannot be read from the API (URL webhook or no permission)`,
    );
  return {
    id,
    title,
    status: 'pass',
    reason: `${intercepting
      .filter((webhook) => (webhook.readyEndpoints ?? 0) > 0)
      .map((webhook) => `${webhook.target}: ${webhook.readyEndpoints} ready`)
      .join(', ')}`,
  };
}

function checkWebhookSelects(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'webhook-selects';
  const title = 'the webhook selects this namespace and pod';
  const intercepting = webhooksToCheck(facts, podMutated);
  if (typeof intercepting === 'string') return skip(id, title, intercepting);
  if (intercepting.length === 0) return skip(id, title, 'no webhook to check');
  const podLabels = facts.pod?.labels ?? {};
  const problems: string[] = [];
  let namespaceExcluded = false;
  for (const webhook of intercepting) {
    const label = `${webhook.configuration}/${webhook.name}`;
    if (!selectorMatches(webhook.namespaceSelector, facts.namespaceLabels)) {
      namespaceExcluded = true;
      problems.push(
        `${label}'s namespaceSelector ${JSON.stringify(webhook.namespaceSelector)} excludes namespace ${facts.target.namespace}`,
      );
      continue;
    }
    if (facts.pod && !selectorMatches(webhook.objectSelector, podLabels)) {
      problems.push(
        `${label}'s objectSelector ${JSON.stringify(webhook.objectSelector)} excludes the pod (labels ${JSON.stringify(podLabels)})`,
      );
      continue;
    }
    return {
      id,
      title,
      status: 'pass',
      reason: `${label} selects namespace ${facts.target.namespace}${facts.pod ? ' and the pod' : ''}${webhook.hasMatchConditions ? ' (its matchConditions were not evaluated)' : ''}`,
    };
  }
  return {
    id,
    title,
    status: 'fail',
    reason: problems.join('; '),
    // kirsa's install sets the selectors from these settings: the fix names where to change them.
    fix: namespaceExcluded
      ? `relabel namespace ${facts.target.namespace}, or widen the selector (the chart's webhook.namespaceSelector and webhook.mode; kirsa manifests --namespace-selector and --webhook-mode), then re-create the pod`
      : "relabel the pod (with webhook.mode opt-in: the opt-in label, webhook.optInLabel), or widen the selector (the chart's webhook.objectSelector; kirsa manifests --object-selector), then re-create the pod",
  };
}

function checkAnnotatedBeforePod(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'annotated-before-pod';
  const title = 'the service account was annotated before the pod was created';
  if (!facts.pod) return skip(id, title, 'no pod named');
  if (podMutated) return skip(id, title, 'the pod is mutated');
  const account = facts.serviceAccount;
  const created = facts.pod.createdAt;
  if (!account || !created) return skip(id, title, 'no service account or pod creation time');
  if (!account.annotations[`${facts.annotationPrefix}/${ANNOTATION.roleArn}`])
    return skip(id, title, 'the service account has no role annotation');
  // The annotation is at least as young as the account; managedFields say when it was last written.
  const annotatedAt = account.roleAnnotatedAt ?? account.createdAt;
  if (annotatedAt && annotatedAt.getTime() > created.getTime())
    return {
      id,
      title,
      status: 'fail',
      reason: `the role annotation was set at ${annotatedAt.toISOString()}, after the pod was created at ${created.toISOString()}; the webhook only mutates pods at creation`,
      fix: `delete the pod so its controller re-creates it (kubectl delete pod -n ${facts.pod.namespace} ${facts.pod.name}, or kubectl rollout restart)`,
    };
  if (!account.roleAnnotatedAt)
    return skip(
      id,
      title,
      'the API server recorded no managedFields for the annotation, so when it was set is unknown (the account itself predates the pod)',
    );
  return {
    id,
    title,
    status: 'pass',
    reason: `annotated at ${annotatedAt!.toISOString()}, pod created at ${created.toISOString()}`,
  };
}

function checkAudience(facts: DoctorFacts): CheckResult {
  const id = 'token-audience';
  const title = "the token's audience is one of the provider's client IDs";
  const audience = expectedAudience(facts);
  if (!facts.provider.ok) return skip(id, title, facts.provider.reason);
  const provider = facts.provider.value;
  if (!provider) return skip(id, title, 'no IAM OIDC provider for the issuer (see token-issuer-provider)');
  if (facts.token.ok) {
    const aud = facts.token.value.claims.aud;
    const auds = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
    if (!auds.includes(audience))
      return {
        id,
        title,
        status: 'fail',
        reason: `the API server issued aud ${auds.join(', ')} when asked for ${audience}`,
        fix: 'check --api-audiences on the API server',
      };
  }
  // STS's audience rule (core/sts/token-checks.ts) on the token the API server issued, or, without one, on
  // the audience the pod's token will carry.
  const claims = facts.token.ok ? facts.token.value.claims : { aud: audience };
  const failure = audienceFindings(claims, provider.clientIds).find((finding) => finding.status === 'fail');
  if (!failure)
    return { id, title, status: 'pass', reason: `${audience} is in ${provider.arn}'s client IDs` };
  const fix = `add ${audience} to the provider (aws iam add-client-id-to-open-id-connect-provider, or kirsa provider create --audience ${audience}), or set the service account's ${facts.annotationPrefix}/${ANNOTATION.audience} to one of them`;
  if (failure.problem !== 'mismatch')
    return { id, title, status: 'fail', reason: `${failure.message}; STS answers InvalidIdentityToken`, fix };
  return {
    id,
    title,
    status: 'fail',
    reason: `the pod's token audience is ${failure.seen}, the provider's client IDs are ${provider.clientIds.join(', ') || '(none)'}; STS answers InvalidIdentityToken: Incorrect token audience`,
    fix,
  };
}

function checkIssuerDiscovery(facts: DoctorFacts): CheckResult {
  const id = 'token-issuer-discovery';
  const title = "the token's iss equals the published discovery issuer";
  if (!facts.token.ok) return skip(id, title, facts.token.reason);
  const iss = facts.token.value.claims.iss;
  if (!facts.discovery.ok)
    return {
      id,
      title,
      status: 'fail',
      reason: `cannot read ${iss}/.well-known/openid-configuration: ${facts.discovery.reason}; STS answers InvalidIdentityToken (could not retrieve the verification key)`,
      fix: 'publish the discovery document and JWKS (kirsa issuer publish) and check with kirsa issuer verify',
    };
  if (facts.discovery.value.issuer !== iss)
    return {
      id,
      title,
      status: 'fail',
      reason: `tokens carry iss ${iss}, the discovery document says ${facts.discovery.value.issuer}`,
      fix: 'make --service-account-issuer and the published issuer identical (scheme, host, path, no trailing slash)',
    };
  return { id, title, status: 'pass', reason: `${iss}` };
}

function checkIssuerProvider(facts: DoctorFacts): CheckResult {
  const id = 'token-issuer-provider';
  const title = "an IAM OIDC provider exists for the token's iss";
  if (!facts.token.ok) return skip(id, title, facts.token.reason);
  if (!facts.provider.ok) return skip(id, title, facts.provider.reason);
  const iss = facts.token.value.claims.iss ?? '';
  const provider = facts.provider.value;
  if (!provider)
    return {
      id,
      title,
      status: 'fail',
      reason: `no IAM OIDC provider for ${iss}; STS answers InvalidIdentityToken: No OpenIDConnect provider found`,
      fix: `kirsa provider create --issuer-url ${iss}`,
    };
  if (issuerUrlOfHostPath(provider.url) !== iss)
    return {
      id,
      title,
      status: 'fail',
      reason: `the provider URL is ${issuerUrlOfHostPath(provider.url)}, tokens carry ${iss}`,
      fix: 'the two must match exactly',
    };
  return { id, title, status: 'pass', reason: provider.arn };
}

function checkKid(facts: DoctorFacts): CheckResult {
  const id = 'token-kid';
  const title = "the token's kid is in the published JWKS";
  if (!facts.token.ok) return skip(id, title, facts.token.reason);
  if (!facts.jwksKids.ok) return skip(id, title, facts.jwksKids.reason);
  const kid = facts.token.value.kid;
  const kids = facts.jwksKids.value;
  const finding = kidFinding(kid, kids);
  if (finding.status === 'pass') return { id, title, status: 'pass', reason: finding.message };
  if (kid === undefined)
    return {
      id,
      title,
      status: 'fail',
      reason: finding.message,
      fix: 'use Kubernetes 1.16+, which sets kid',
    };
  return {
    id,
    title,
    status: 'fail',
    reason: `kid ${kid} is not among the published ${kids.join(', ') || '(no keys)'}; STS answers InvalidIdentityToken (could not retrieve the verification key)`,
    fix: 'publish the JWKS with the signing key (kirsa issuer publish) after every rotation',
  };
}

function checkTrustPolicy(facts: DoctorFacts): CheckResult {
  const id = 'trust-policy';
  const title = 'the role trust policy allows this service account';
  const roleArn = roleArnOf(facts);
  if (!roleArn) return skip(id, title, 'no role named');
  if (!facts.role.ok) return skip(id, title, facts.role.reason);
  const role = facts.role.value;
  if (!role)
    return {
      id,
      title,
      status: 'fail',
      reason: `role ${roleArn} does not exist; STS answers AccessDenied`,
      fix: 'kirsa role create ...',
    };
  if (!facts.provider.ok || !facts.provider.value)
    return skip(id, title, 'no IAM OIDC provider to name as the principal');
  const provider = facts.provider.value;
  const namespace = facts.target.namespace;
  const name = facts.pod?.serviceAccountName ?? facts.target.name;
  const claims: WebIdentityClaims = facts.token.ok
    ? facts.token.value.claims
    : { sub: `system:serviceaccount:${namespace}:${name}`, aud: expectedAudience(facts) };
  const evaluation = evaluateTrustPolicy(role.trustPolicy, {
    principalFederated: provider.arn,
    action: ASSUME_ROLE_WITH_WEB_IDENTITY,
    context: contextFromClaims(provider.url, claims),
  });
  if (evaluation.decision === 'allow')
    return { id, title, status: 'pass', reason: `${role.arn}: ${evaluation.reasons[0]}` };
  const failures = closestFailures(evaluation);
  const first = failures[0];
  return {
    id,
    title,
    status: 'fail',
    reason: `${role.arn}: ${first ? first.message : evaluation.reasons[0]} (STS answers AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity)`,
    fix:
      first?.fix ??
      `kirsa explain --role-arn ${role.arn} --issuer-url ${claims.iss ?? '<issuer>'} --namespace ${namespace} --service-account ${name}`,
  };
}

function checkTokenReadable(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'token-readable';
  const title = 'non-root containers can read the token file';
  const pod = facts.pod;
  if (!pod) return skip(id, title, 'no pod named');
  if (!podMutated) return skip(id, title, 'the pod has no token volume');
  if (!facts.kubeletVersion.ok) return skip(id, title, facts.kubeletVersion.reason);
  const { version, source } = facts.kubeletVersion.value;
  const modern = versionAtLeast(version, 19);
  if (modern === undefined) return skip(id, title, `cannot read the version "${version}"`);
  if (modern)
    return {
      id,
      title,
      status: 'pass',
      reason: `kubelet ${version} (${source}) projects the token readable by the pod's users (0644, or 0600/0640 for its runAsUser/fsGroup)`,
    };
  if (pod.fsGroup !== undefined)
    return {
      id,
      title,
      status: 'pass',
      reason: `fsGroup ${pod.fsGroup} makes the token group-readable on kubelet ${version}`,
    };
  const nonRoot = pod.containers.filter((container) => {
    const user = container.runAsUser ?? pod.podRunAsUser;
    const nonRootFlag = container.runAsNonRoot ?? pod.podRunAsNonRoot;
    return (user !== undefined && user !== 0) || (user === undefined && nonRootFlag === true);
  });
  if (nonRoot.length === 0)
    return {
      id,
      title,
      status: 'pass',
      reason: `kubelet ${version} (${source}) writes the token 0600 root, and no container sets a non-root runAsUser or runAsNonRoot (an image's own USER is not visible here: if it is not root, set fsGroup)`,
    };
  return {
    id,
    title,
    status: 'fail',
    reason: `kubelet ${version} (${source}) writes the token 0600 owned by root, and ${nonRoot.map((container) => container.name).join(', ')} run${nonRoot.length === 1 ? 's' : ''} as non-root without fsGroup: "open ...token: permission denied"`,
    fix: 'set spec.securityContext.fsGroup (e.g. 65534) on the pod, or move to Kubernetes 1.19+',
  };
}

function checkRegion(facts: DoctorFacts, podMutated: boolean): CheckResult {
  const id = 'aws-region';
  const title = 'AWS_REGION is set (SDKs ignore AWS_DEFAULT_REGION)';
  const pod = facts.pod;
  if (!pod) return skip(id, title, 'no pod named');
  if (!podMutated) return skip(id, title, 'the pod is not mutated');
  const withRole = pod.containers.filter((container) => container.env[ENV.roleArn] !== undefined);
  const lacking = withRole.filter((container) => !container.env[ENV.region]);
  if (lacking.length === 0)
    return { id, title, status: 'pass', reason: `AWS_REGION=${withRole[0]?.env[ENV.region] ?? ''}` };
  const onlyDefault = lacking.filter((container) => container.env[ENV.defaultRegion]);
  return {
    id,
    title,
    status: 'fail',
    reason:
      onlyDefault.length > 0
        ? `${onlyDefault.map((container) => container.name).join(', ')} set only AWS_DEFAULT_REGION, which aws-sdk-js-v3 ignores: STS calls go to us-east-1`
        : `${lacking.map((container) => container.name).join(', ')} set no AWS_REGION: SDKs call STS in us-east-1 and need the region from elsewhere`,
    fix: "set the webhook's --aws-default-region (it injects AWS_REGION and AWS_DEFAULT_REGION), or add AWS_REGION to the container",
  };
}

/** The ordered checklist. */
export function runChecks(facts: DoctorFacts): CheckResult[] {
  const mutated = checkPodMutated(facts);
  const podMutated = facts.pod !== undefined && mutated.status === 'pass';
  const legacy = checkLegacyCredentials(facts, podMutated);
  const results = [
    checkServiceAccount(facts),
    mutated,
    ...(legacy ? [legacy] : []),
    checkWebhookRegistered(facts, podMutated),
    checkWebhookReady(facts, podMutated),
    checkWebhookSelects(facts, podMutated),
    checkAnnotatedBeforePod(facts, podMutated),
    checkAudience(facts),
    checkIssuerDiscovery(facts),
    checkIssuerProvider(facts),
    checkKid(facts),
    checkTrustPolicy(facts),
    checkTokenReadable(facts, podMutated),
    checkRegion(facts, podMutated),
  ];
  return results;
}

/** The checklist as printed lines. */
export function formatChecks(results: CheckResult[]): string {
  const width = Math.max(...results.map((result) => result.id.length));
  const lines: string[] = [];
  results.forEach((result, index) => {
    lines.push(
      `${String(index + 1).padStart(2)}. ${result.status.padEnd(4)}  ${result.id.padEnd(width)}  ${result.reason}`,
    );
    if (result.fix && result.status === 'fail') lines.push(`${' '.repeat(10 + width)}fix: ${result.fix}`);
  });
  const failed = results.filter((result) => result.status === 'fail').length;
  const skipped = results.filter((result) => result.status === 'skip').length;
  lines.push('', `${results.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
  return `${lines.join('\n')}\n`;
}

export type DoctorVerdict = 'healthy' | 'failed' | 'incomplete';

/**
 * The checklist's verdict: failed when a check failed; else incomplete when the AWS checks did not run
 * (without them the role and its trust policy are unverified, so the result must not read as healthy);
 * else healthy. With the counts the JSON output reports.
 */
export function doctorVerdict(
  results: readonly CheckResult[],
  awsChecked: boolean,
): { verdict: DoctorVerdict; passed: number; failed: number; skipped: number } {
  const count = (status: CheckStatus) => results.filter((result) => result.status === status).length;
  const failed = count('fail');
  return {
    verdict: failed > 0 ? 'failed' : awsChecked ? 'healthy' : 'incomplete',
    passed: count('pass'),
    failed,
    skipped: count('skip'),
  };
}
