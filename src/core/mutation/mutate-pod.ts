// The rule that turns a pod into one that can get AWS credentials: env vars, a projected service-account
// token volume, and a mount of it. Pure: (pod, identity, options) -> JSON Patch + warnings.
//
// It follows the reference webhook's observable behaviour (env names and order, pair semantics, the early
// exit, skip-containers, Windows paths, lifetime precedence) with these deliberate differences:
// - patches add env entries, mounts and the volume by index; containers are never rewritten whole, so every
//   field of the input survives;
// - the token env never points at a token kirsa did not mount: a foreign volume of the token's name, or
//   another mount at the token path, means nothing is injected there, and a warning says why;
// - a second pass over our own output adds nothing (safe with reinvocationPolicy: IfNeeded);
// - `spec.os.name: windows` also selects the Windows token path; skip-containers names are trimmed;
// - a role that is not an IAM role ARN injects nothing and warns;
// - a container with envFrom gets no region (it may set one there), with a warning, unless the webhook read
//   the ConfigMaps it names (--read-env-from-config-maps) and they set none.
// And kirsa's extensions, each inert unless asked for: a region per account or from the role's partition,
// AWS_ROLE_SESSION_NAME, include-containers, fsGroup, region without a role. docs/webhook.md lists all.

import {
  ANNOTATION,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  ENV,
  GENERATED_NAME_SUFFIX_LENGTH,
  JITTER_FLOOR_SECONDS,
  OS_NODE_SELECTOR_KEYS,
  POD_IDENTITY_LABEL,
  POD_IDENTITY_LABEL_VALUE,
  STS_REGIONAL_VALUE,
  TOKEN_FILE_NAME,
  TOKEN_VOLUME_NAME,
  WINDOWS_DRIVE,
} from '../../consts.ts';
import { DEFAULT_PARTITION, defaultRegionOfPartition, partitionOfRegion, roleArnParts } from '../iam/arn.ts';
import {
  clampTokenExpiration,
  type Identity,
  parseGoBool,
  parseTokenExpiration,
  tokenExpirationWarning,
} from '../identity/identity.ts';
import type { Container, EnvVar, PodLike, Volume, VolumeMount } from '../kube-types.ts';
import { isRoleSessionName } from '../sts/session-name.ts';
import { parseCsvRecord } from './csv-record.ts';
import { type EnvFromConfigMaps, envFromRegion } from './env-from.ts';
import { add, type PatchOperation, pointer } from './json-patch.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { posix } = process.getBuiltinModule('node:path');

export interface MutationOptions {
  annotationPrefix: string;
  /** Mount path of the web-identity token (`--token-mount-path`). */
  tokenMountPath: string;
  /** `--aws-default-region`; empty means inject no region. */
  defaultRegion: string;
  /** A number in [0, 1) for the lifetime jitter; injected so the core stays deterministic under test. */
  random: () => number;
  // kirsa extensions, all off when absent (docs/webhook.md, "kirsa extensions"):
  /** `--inject-region-without-role`: pods whose account has no role still get --aws-default-region. */
  regionWithoutRole?: boolean;
  /** `--inject-role-session-name`: web-identity pods get AWS_ROLE_SESSION_NAME from their name. */
  roleSessionName?: boolean;
  /** `--inject-fs-group GID`: given to mutated pods whose security context sets no fsGroup. */
  fsGroup?: number;
}

/** What one admission read for this pod beyond its identity (per pod, unlike the options). */
export interface MutationContext {
  /** With --read-env-from-config-maps: the ConfigMaps the pod's envFrom names; absent: not read. */
  envFromConfigMaps?: EnvFromConfigMaps;
}

/**
 * mutated: the patch is not empty. unchanged: the pod already has all it needs (or every container was left
 * alone on purpose). conflict: something in the pod stops kirsa from mounting the token, nothing injected.
 * invalid-identity: the identity cannot be used (not a role ARN), nothing injected.
 */
export type MutationOutcome = 'mutated' | 'unchanged' | 'conflict' | 'invalid-identity';

export interface MutationResult {
  outcome: MutationOutcome;
  patch: PatchOperation[];
  warnings: string[];
  /** Containers (by name) left without credentials because of a conflict. */
  conflictedContainers: string[];
}

/** Everything about the token that the pod must end up with, derived once from the identity. */
interface TokenPlan {
  volumeName: string;
  mountPath: string;
  /** mountPath normalised, to compare with the containers' mounts. */
  normalisedMountPath: string;
  tokenFileName: string;
  /** The value of the token-file env var (Windows-style on Windows pods). */
  tokenFilePath: string;
  /** The token file as a mountPath names it: the Unix form, on Windows pods too. */
  unixTokenFilePath: string;
  audience: string;
  expirationSeconds: number;
  /** The pair of env vars that hand the credentials to the SDK, in the order they are appended. */
  credentialEnv: [EnvVar, EnvVar];
  regionalSts: boolean;
  /** AWS_REGION and AWS_DEFAULT_REGION to inject; undefined: none. */
  region: string | undefined;
  /** AWS_ROLE_SESSION_NAME from metadata.name, appended after the pair. */
  sessionName: boolean;
}

function isWindowsPod(pod: PodLike): boolean {
  const nodeSelector = pod.spec?.nodeSelector;
  for (let i = 0; i < OS_NODE_SELECTOR_KEYS.length; i++)
    if (nodeSelector?.[OS_NODE_SELECTOR_KEYS[i]!] === 'windows') return true;
  return pod.spec?.os?.name === 'windows';
}

/** The mount path joined with the file name, normalised as Go's path.Join does (no duplicate or trailing `/`). */
function joinTokenPath(mountPath: string, fileName: string): string {
  // posix.join is the non-empty parts joined by `/`, then normalised: normaliseMountPath normalises, and
  // skips the work when the path is already normal, as it nearly always is.
  const joined = mountPath === '' ? fileName : fileName === '' ? mountPath : `${mountPath}/${fileName}`;
  return normaliseMountPath(joined);
}

/** A path with no empty, `.` or `..` segment and no trailing `/` is already normal. */
const NEEDS_NORMALISING = /\/\/|(?:^|\/)\.\.?(?:\/|$)|.\/$/;

/** A mount path as posix.normalize makes it, without a trailing `/` (exported for its property test). */
export function normaliseMountPath(path: string): string {
  // Every mount of every container comes through here; almost all are already normal.
  if (path !== '' && !NEEDS_NORMALISING.test(path)) return path;
  const normalised = posix.normalize(path);
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
}

function decideExpiration(
  pod: PodLike,
  identity: Identity,
  options: MutationOptions,
  warnings: string[],
): number {
  const key = `${options.annotationPrefix}/${ANNOTATION.tokenExpiration}`;
  const podText = pod.metadata?.annotations?.[key];
  const fromPod = podText === undefined ? undefined : parseTokenExpiration(podText);
  const tooLong =
    fromPod === undefined
      ? undefined
      : tokenExpirationWarning(fromPod, `"${podText}" (pod annotation ${key})`);
  if (tooLong !== undefined) warnings.push(tooLong);
  const seconds = clampTokenExpiration(fromPod ?? identity.tokenExpirationSeconds);
  if (identity.mode === 'container-credentials' && seconds === DEFAULT_TOKEN_EXPIRATION_SECONDS) {
    const span = DEFAULT_TOKEN_EXPIRATION_SECONDS - JITTER_FLOOR_SECONDS + 1;
    return JITTER_FLOOR_SECONDS + Math.min(span - 1, Math.floor(options.random() * span));
  }
  return seconds;
}

function planToken(
  pod: PodLike,
  identity: Identity,
  options: MutationOptions,
  warnings: string[],
): TokenPlan {
  const web = identity.mode === 'web-identity';
  const mountPath = web ? options.tokenMountPath : identity.mountPath;
  const tokenFileName = web ? TOKEN_FILE_NAME : identity.tokenFileName;
  const unixPath = joinTokenPath(mountPath, tokenFileName);
  const tokenFilePath = isWindowsPod(pod) ? WINDOWS_DRIVE + unixPath.replaceAll('/', '\\') : unixPath;
  const credentialEnv: [EnvVar, EnvVar] = web
    ? [
        { name: ENV.roleArn, value: identity.roleArn },
        { name: ENV.webIdentityTokenFile, value: tokenFilePath },
      ]
    : [
        { name: ENV.containerCredentialsFullUri, value: identity.fullUri },
        { name: ENV.containerAuthorizationTokenFile, value: tokenFilePath },
      ];
  // Each of these may warn; the warnings keep this order.
  const expirationSeconds = decideExpiration(pod, identity, options, warnings);
  const { region, regionalSts } = planRegion(identity, options, warnings);
  const sessionName = web && wantsSessionName(pod, identity, options, warnings);
  return {
    volumeName: web ? TOKEN_VOLUME_NAME : identity.volumeName,
    mountPath,
    normalisedMountPath: normaliseMountPath(mountPath),
    tokenFileName,
    tokenFilePath,
    unixTokenFilePath: unixPath,
    audience: identity.audience,
    expirationSeconds,
    credentialEnv,
    region,
    regionalSts,
    sessionName,
  };
}

/**
 * The region a pod gets, and whether its STS must be the regional one. The account's region (annotation, else
 * mapping entry) wins; else a role in another partition than --aws-default-region's gets its partition's
 * region, because the default region's STS cannot issue credentials of another partition (the reference's
 * #149); else --aws-default-region. A region outside the default region's partition always gets the regional
 * STS: the global endpoint is the commercial partition's.
 */
function planRegion(
  identity: Identity,
  options: MutationOptions,
  warnings: string[],
): { region: string | undefined; regionalSts: boolean } {
  const defaultPartition =
    options.defaultRegion === '' ? DEFAULT_PARTITION : partitionOfRegion(options.defaultRegion);
  const rolePartition =
    identity.mode === 'web-identity' ? roleArnParts(identity.roleArn)?.partition : undefined;
  let region = options.defaultRegion === '' ? undefined : options.defaultRegion;
  if (identity.region !== undefined) {
    region = identity.region;
    if (rolePartition !== undefined && partitionOfRegion(region) !== rolePartition)
      warnings.push(
        `kirsa: region ${region} (from ${identity.source}) is in partition ${partitionOfRegion(region)}, but role ${identity.mode === 'web-identity' ? identity.roleArn : ''} is in ${rolePartition}; its STS cannot issue that role's credentials. Name a region of ${rolePartition}.`,
      );
  } else if (rolePartition !== undefined && rolePartition !== defaultPartition) {
    const partitionRegion = defaultRegionOfPartition(rolePartition);
    if (partitionRegion !== undefined) region = partitionRegion;
    else
      warnings.push(
        `kirsa: role ${identity.mode === 'web-identity' ? identity.roleArn : ''} is in partition ${rolePartition}, whose region kirsa does not know; the default region's STS cannot issue its credentials. Set the ${options.annotationPrefix}/${ANNOTATION.region} annotation on the service account.`,
      );
  }
  const outsideDefault = region !== undefined && partitionOfRegion(region) !== defaultPartition;
  return { region, regionalSts: identity.regionalSts || outsideDefault };
}

/**
 * Whether AWS_ROLE_SESSION_NAME is injected: the pod's annotation, else the account's, else the flag. Only
 * when the pod's name fits STS's session-name rule (2 to 64 characters; a pod name's characters always fit),
 * since the kubelet resolves the name as it is and STS would refuse the whole call.
 */
function wantsSessionName(
  pod: PodLike,
  identity: Identity,
  options: MutationOptions,
  warnings: string[],
): boolean {
  const key = `${options.annotationPrefix}/${ANNOTATION.sessionName}`;
  const podText = pod.metadata?.annotations?.[key];
  const fromPod = podText === undefined ? undefined : parseGoBool(podText);
  const fromAccount = identity.mode === 'web-identity' ? identity.sessionName : undefined;
  const wanted = fromPod ?? fromAccount ?? options.roleSessionName ?? false;
  if (!wanted) return false;
  // A generated name is the prefix and 5 lower-case letters or digits, checked here with a stand-in suffix.
  const name =
    pod.metadata?.name || `${pod.metadata?.generateName ?? ''}${'x'.repeat(GENERATED_NAME_SUFFIX_LENGTH)}`;
  if (isRoleSessionName(name)) return true;
  warnings.push(
    `kirsa: the pod's name "${name}" is not a valid STS session name (2 to 64 of letters, digits and +=,.@_-); ${ENV.roleSessionName} was not injected, so the SDK picks a session name. Give the pod a shorter name, or set ${key}: "false".`,
  );
  return false;
}

function tokenVolume(plan: TokenPlan): Volume {
  return {
    name: plan.volumeName,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: plan.audience,
            expirationSeconds: plan.expirationSeconds,
            path: plan.tokenFileName,
          },
        },
      ],
    },
  };
}

/** True when the volume is a projected token kirsa would have added: same audience and same file. */
function isOurTokenVolume(volume: Volume, plan: TokenPlan): boolean {
  return (volume.projected?.sources ?? []).some(
    (source) =>
      source.serviceAccountToken?.audience === plan.audience &&
      source.serviceAccountToken.path === plan.tokenFileName,
  );
}

function describeVolume(volume: Volume): string {
  const kind = Object.keys(volume).find((key) => key !== 'name');
  if (kind !== 'projected') return kind ? `a ${kind} volume` : 'a volume of unknown type';
  const token = volume.projected?.sources?.find((source) => source.serviceAccountToken)?.serviceAccountToken;
  return token
    ? `a projected token for audience "${token.audience ?? '(API server default)'}" at "${token.path}"`
    : 'a projected volume without a service-account token';
}

/** A CSV container list annotation as a set of trimmed names; undefined when absent, blank or unreadable. */
function containerListAnnotation(
  pod: PodLike,
  options: MutationOptions,
  annotation: string,
  whenUnreadable: string,
  warnings: string[],
): Set<string> | undefined {
  const key = `${options.annotationPrefix}/${annotation}`;
  const text = pod.metadata?.annotations?.[key];
  if (text === undefined || text.trim() === '') return undefined;
  const parsed = parseCsvRecord(text);
  if (!parsed.ok) {
    warnings.push(
      `kirsa: annotation ${key} could not be read (${parsed.reason}); ${whenUnreadable}. Write it as a,b,c.`,
    );
    return undefined;
  }
  return new Set(parsed.fields.map((name) => name.trim()).filter((name) => name !== ''));
}

/**
 * Which containers get credentials: all but those skip-containers names; with include-containers (a kirsa
 * extension), only those it names, and still not the skipped ones. An unreadable skip list skips nothing
 * (the reference's rule); an unreadable include list includes nothing, since it exists to keep credentials
 * away from the containers it leaves out.
 */
function containerSelection(
  pod: PodLike,
  options: MutationOptions,
  warnings: string[],
): (name: string) => boolean {
  const skip = containerListAnnotation(
    pod,
    options,
    ANNOTATION.skipContainers,
    'no container was skipped',
    warnings,
  );
  const includeKey = `${options.annotationPrefix}/${ANNOTATION.includeContainers}`;
  const includeText = pod.metadata?.annotations?.[includeKey];
  const include = containerListAnnotation(
    pod,
    options,
    ANNOTATION.includeContainers,
    'no container was given credentials',
    warnings,
  );
  const unreadableInclude = include === undefined && includeText !== undefined && includeText.trim() !== '';
  return (name) =>
    !(skip?.has(name) ?? false) && !unreadableInclude && (include === undefined || include.has(name));
}

/** An absent or null list of the pod: nothing to loop over. */
const NO_ITEMS: readonly never[] = Object.freeze([]);

/**
 * A list of the pod (containers, env, mounts, volumes) to loop over; absent or null is empty. Any other value
 * that is not an array comes from no API server: it throws a TypeError, so processAdmission admits the pod
 * unchanged, as for a null container.
 */
function listOf<T>(list: readonly T[] | null | undefined): readonly T[] {
  if (list === undefined || list === null) return NO_ITEMS;
  if (!Array.isArray(list)) throw new TypeError('a list in the pod is not an array');
  return list;
}

/** The first volume or mount of a list with this name. */
function findNamed<T extends { name: string }>(list: readonly T[], name: string): T | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.name === name) return list[i];
  return undefined;
}

/** Whether a container's env has a variable of this name. */
function envHas(env: readonly EnvVar[], name: string): boolean {
  for (let i = 0; i < env.length; i++) if (env[i]!.name === name) return true;
  return false;
}

/** Whether a container's env sets its region already, under either of the names the SDKs read. */
function envHasRegion(env: readonly EnvVar[]): boolean {
  return envHas(env, ENV.region) || envHas(env, ENV.defaultRegion);
}

type ContainerPlan =
  | { kind: 'untouched' }
  | { kind: 'conflict'; warning: string }
  | { kind: 'change'; env: EnvVar[]; mount: VolumeMount | undefined };

/** The plan of every container left as it is: it carries nothing, so one object serves them all. */
const UNTOUCHED: ContainerPlan = Object.freeze({ kind: 'untouched' });

/**
 * Appends the region env a container gets (AWS_DEFAULT_REGION, then AWS_REGION) to `into`: none when it has
 * a region already, in env or through envFrom, or when its envFrom may set one that kirsa cannot see (the
 * reference's #248: its explicit env would override that value); then it warns. env-from.ts decides what
 * envFrom sets, from the ConfigMaps read when asked.
 */
function appendRegionEnv(
  into: EnvVar[],
  container: Container,
  region: string | undefined,
  warnings: string[],
  context: MutationContext,
): void {
  if (region === undefined || envHasRegion(listOf(container.env))) return;
  const fromEnvFrom = envFromRegion(container, context.envFromConfigMaps);
  if (fromEnvFrom.kind === 'sets') return;
  if (fromEnvFrom.kind === 'unknown') {
    const why = context.envFromConfigMaps === undefined ? '' : `, and ${fromEnvFrom.why}`;
    warnings.push(
      `kirsa: container "${container.name}" takes env from envFrom, which may set ${ENV.region}${why}; kirsa injected no region into it (it would override that value). Set ${ENV.region} in its env to choose.`,
    );
    return;
  }
  into.push({ name: ENV.defaultRegion, value: region }, { name: ENV.region, value: region });
}

function planContainer(
  container: Container,
  plan: TokenPlan,
  options: MutationOptions,
  warnings: string[],
  context: MutationContext,
): ContainerPlan {
  const env = listOf(container.env);
  const pairPresent = envHas(env, plan.credentialEnv[0].name) || envHas(env, plan.credentialEnv[1].name);
  const regionPresent = envHasRegion(env);
  const stsPresent = envHas(env, ENV.stsRegionalEndpoints);
  // The reference's early exit: a container that already has all three groups is left alone, mount included.
  if (pairPresent && regionPresent && stsPresent) return UNTOUCHED;

  const mounts = listOf(container.volumeMounts);
  const wantedPath = plan.normalisedMountPath;
  const ours = findNamed(mounts, plan.volumeName);
  if (ours && normaliseMountPath(ours.mountPath ?? '') !== wantedPath) {
    return {
      kind: 'conflict',
      warning: `kirsa: container "${container.name}" mounts volume "${plan.volumeName}" at "${ours.mountPath ?? ''}", not at "${plan.mountPath}"; no AWS credentials were injected into it. Remove that mount so kirsa can add its own.`,
    };
  }
  let blocking: VolumeMount | undefined;
  for (let i = 0; i < mounts.length && blocking === undefined; i++) {
    const mount = mounts[i]!;
    if (mount.name === plan.volumeName) continue;
    // Mount paths are written in the Unix form on Windows pods too, so that is the form compared (the
    // `C:\...` form the env var gets is written by nobody, and matching only it let the rule never fire).
    const path = normaliseMountPath(mount.mountPath ?? '');
    if (path === wantedPath || path === plan.unixTokenFilePath) blocking = mount;
  }
  if (blocking) {
    return {
      kind: 'conflict',
      warning: `kirsa: container "${container.name}" already mounts "${blocking.name}" at "${blocking.mountPath}", where the AWS token goes; no AWS credentials were injected into it. Move that mount, or list the container in ${options.annotationPrefix}/${ANNOTATION.skipContainers}.`,
    };
  }

  const additions: EnvVar[] = [];
  if (plan.regionalSts && !stsPresent)
    additions.push({ name: ENV.stsRegionalEndpoints, value: STS_REGIONAL_VALUE });
  appendRegionEnv(additions, container, plan.region, warnings, context);
  if (!pairPresent) additions.push({ ...plan.credentialEnv[0] }, { ...plan.credentialEnv[1] });
  // After the pair, from the pod's own name as the kubelet resolves it (generated names included).
  if (plan.sessionName && !envHas(env, ENV.roleSessionName))
    additions.push({ name: ENV.roleSessionName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  const mount = ours ? undefined : { name: plan.volumeName, mountPath: plan.mountPath, readOnly: true };
  if (additions.length === 0 && mount === undefined) return UNTOUCHED;
  return { kind: 'change', env: additions, mount };
}

/**
 * Appends to `into` the operations that add items to a container's list field by index, or create the field
 * when it is absent or null. The paths are built here rather than with pointer(): `base` is a container's
 * pointer from forEachSelectedContainer, and the rest are a constant field name and an index, which need no
 * escaping.
 */
function appendOperations(
  into: PatchOperation[],
  base: string,
  field: 'env' | 'volumeMounts',
  existing: unknown,
  items: readonly unknown[],
): void {
  if (items.length === 0) return;
  if (!Array.isArray(existing)) {
    into.push(add(`${base}/${field}`, items));
    return;
  }
  const itemPrefix = `${base}/${field}/`;
  for (let offset = 0; offset < items.length; offset++)
    into.push(add(`${itemPrefix}${existing.length + offset}`, items[offset]));
}

const CONTAINER_FIELDS = ['containers', 'initContainers'] as const;

/**
 * Calls `visit` with each container of both lists that the selection lets through, in the pod's order, and
 * its JSON Pointer. The pointer is built here rather than with pointer(): its tokens are a constant field name
 * and an index, which need no escaping.
 */
function forEachSelectedContainer(
  pod: PodLike,
  selected: (name: string) => boolean,
  visit: (container: Container, base: string) => void,
): void {
  for (let f = 0; f < CONTAINER_FIELDS.length; f++) {
    const field = CONTAINER_FIELDS[f]!;
    const containers = listOf(pod.spec?.[field]);
    const itemPrefix = `/spec/${field}/`;
    for (let index = 0; index < containers.length; index++) {
      const container = containers[index]!;
      if (selected(container.name)) visit(container, `${itemPrefix}${index}`);
    }
  }
}

/**
 * `--inject-region-without-role` (the reference's #192): a pod whose account has no role still gets
 * --aws-default-region, by the same rules (selection, a region already set, envFrom) as a pod with one.
 */
function regionOnly(
  pod: PodLike,
  options: MutationOptions,
  result: MutationResult,
  context: MutationContext,
): MutationResult {
  if (!options.regionWithoutRole || options.defaultRegion === '') return result;
  const selected = containerSelection(pod, options, result.warnings);
  forEachSelectedContainer(pod, selected, (container, base) => {
    const env: EnvVar[] = [];
    appendRegionEnv(env, container, options.defaultRegion, result.warnings, context);
    appendOperations(result.patch, base, 'env', container.env, env);
  });
  if (result.patch.length > 0) result.outcome = 'mutated';
  return result;
}

/**
 * `--inject-fs-group GID` (the reference's #8): a pod whose security context sets no fsGroup gets this one,
 * so containers running as a user other than the pod's can read the token (the kubelet gives the file to
 * that group). The pod's choice always stands; the API has no fsGroup per container.
 */
function fsGroupOperation(
  pod: PodLike,
  options: MutationOptions,
  warnings: string[],
): PatchOperation | undefined {
  if (options.fsGroup === undefined) return undefined;
  const context = pod.spec?.securityContext as Record<string, unknown> | null | undefined;
  if (context?.fsGroup !== undefined && context.fsGroup !== null) return undefined;
  warnings.push(
    `kirsa: the pod sets no fsGroup, so kirsa set securityContext.fsGroup ${options.fsGroup} (--inject-fs-group) for non-root containers to read the AWS token; the kubelet also gives that group the pod's other volumes that support it. Set fsGroup in the pod to choose another.`,
  );
  return context !== null && typeof context === 'object'
    ? add('/spec/securityContext/fsGroup', options.fsGroup)
    : add('/spec/securityContext', { fsGroup: options.fsGroup });
}

/**
 * Decides what a pod needs for the identity and returns it as add-only JSON Patch operations. An undefined
 * identity means "no identity": no patch and no warning, unless --inject-region-without-role asks for the
 * region alone.
 */
export function mutatePod(
  pod: PodLike,
  identity: Identity | undefined,
  options: MutationOptions,
  context: MutationContext = {},
): MutationResult {
  const result: MutationResult = { outcome: 'unchanged', patch: [], warnings: [], conflictedContainers: [] };
  if (identity === undefined) return regionOnly(pod, options, result, context);

  if (identity.mode === 'web-identity' && roleArnParts(identity.roleArn) === undefined) {
    result.outcome = 'invalid-identity';
    result.warnings.push(
      `kirsa: "${identity.roleArn}" (from ${identity.source}) is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>); no AWS credentials were injected. Correct it to the role's ARN.`,
    );
    return result;
  }

  const identityWarnings = identity.warnings ?? NO_ITEMS;
  for (let i = 0; i < identityWarnings.length; i++) result.warnings.push(identityWarnings[i]!);
  const plan = planToken(pod, identity, options, result.warnings);
  const volumes = pod.spec?.volumes;
  const existingVolume = findNamed(listOf(volumes), plan.volumeName);
  if (existingVolume && !isOurTokenVolume(existingVolume, plan)) {
    result.outcome = 'conflict';
    result.warnings.push(
      `kirsa: the pod already has a volume "${plan.volumeName}" (${describeVolume(existingVolume)}), not the projected token for audience "${plan.audience}"; no AWS credentials were injected. Rename or remove that volume.`,
    );
    return result;
  }

  const selected = containerSelection(pod, options, result.warnings);
  // Order as the reference: label, volume, containers, init containers. The label and the volume warn of
  // nothing, so adding them before the containers are planned keeps the warnings' order too.
  if (identity.mode === 'container-credentials') {
    const labels = pod.metadata?.labels;
    if (pod.metadata === undefined || pod.metadata === null) {
      result.patch.push(add('/metadata', { labels: { [POD_IDENTITY_LABEL]: POD_IDENTITY_LABEL_VALUE } }));
    } else if (labels === undefined || labels === null) {
      result.patch.push(add('/metadata/labels', { [POD_IDENTITY_LABEL]: POD_IDENTITY_LABEL_VALUE }));
    } else if (!(POD_IDENTITY_LABEL in labels)) {
      // A label the user set, whatever its value, is theirs: `add` would overwrite it.
      result.patch.push(add(pointer('metadata', 'labels', POD_IDENTITY_LABEL), POD_IDENTITY_LABEL_VALUE));
    }
  }
  if (!existingVolume) {
    // Prepended like the reference, so mutated pods read the same; order of volumes has no meaning.
    result.patch.push(
      Array.isArray(volumes)
        ? add('/spec/volumes/0', tokenVolume(plan))
        : add('/spec/volumes', [tokenVolume(plan)]),
    );
  }
  const beforeContainers = result.patch.length;
  // The image runs node on Maglev only (--max-opt=2; docs/webhook.md, "Performance (measured)"), where every
  // closure, iterator and temporary array made per container or env entry is a heap allocation that each
  // admission pays. So this path loops by index and appends to the patch in place.
  forEachSelectedContainer(pod, selected, (container, base) => {
    const decision = planContainer(container, plan, options, result.warnings, context);
    if (decision.kind === 'conflict') {
      result.warnings.push(decision.warning);
      result.conflictedContainers.push(container.name);
    } else if (decision.kind === 'change') {
      appendOperations(result.patch, base, 'env', container.env, decision.env);
      if (decision.mount)
        appendOperations(result.patch, base, 'volumeMounts', container.volumeMounts, [decision.mount]);
    }
  });
  if (result.patch.length > beforeContainers) {
    const fsGroup = fsGroupOperation(pod, options, result.warnings);
    if (fsGroup !== undefined) result.patch.push(fsGroup);
  }
  result.outcome =
    result.patch.length > 0 ? 'mutated' : result.conflictedContainers.length > 0 ? 'conflict' : 'unchanged';
  return result;
}
