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
// - a role that is not an IAM role ARN injects nothing and warns.

import { posix } from 'node:path';
import {
  ANNOTATION,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  ENV,
  JITTER_FLOOR_SECONDS,
  OS_NODE_SELECTOR_KEYS,
  POD_IDENTITY_LABEL,
  POD_IDENTITY_LABEL_VALUE,
  STS_REGIONAL_VALUE,
  TOKEN_FILE_NAME,
  TOKEN_VOLUME_NAME,
  WINDOWS_DRIVE,
} from '../../consts.ts';
import { roleArnParts } from '../iam/arn.ts';
import {
  clampTokenExpiration,
  type Identity,
  parseTokenExpiration,
  tokenExpirationWarning,
} from '../identity/identity.ts';
import type { Container, EnvVar, PodLike, Volume, VolumeMount } from '../kube-types.ts';
import { parseCsvRecord } from './csv-record.ts';
import { add, type PatchOperation, pointer } from './json-patch.ts';

export interface MutationOptions {
  annotationPrefix: string;
  /** Mount path of the web-identity token (`--token-mount-path`). */
  tokenMountPath: string;
  /** `--aws-default-region`; empty means inject no region. */
  defaultRegion: string;
  /** A number in [0, 1) for the lifetime jitter; injected so the core stays deterministic under test. */
  random: () => number;
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
}

function isWindowsPod(pod: PodLike): boolean {
  const nodeSelector = pod.spec?.nodeSelector ?? {};
  return (
    OS_NODE_SELECTOR_KEYS.some((key) => nodeSelector[key] === 'windows') || pod.spec?.os?.name === 'windows'
  );
}

/** The mount path joined with the file name, normalised as Go's path.Join does (no duplicate or trailing `/`). */
function joinTokenPath(mountPath: string, fileName: string): string {
  const joined = posix.normalize(posix.join(mountPath, fileName));
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
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
  return {
    volumeName: web ? TOKEN_VOLUME_NAME : identity.volumeName,
    mountPath,
    normalisedMountPath: normaliseMountPath(mountPath),
    tokenFileName,
    tokenFilePath,
    unixTokenFilePath: unixPath,
    audience: identity.audience,
    expirationSeconds: decideExpiration(pod, identity, options, warnings),
    credentialEnv,
    regionalSts: identity.regionalSts,
  };
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

/** Reads skip-containers: the first line, as one CSV record, names trimmed. A bad value skips nothing. */
function skippedContainers(pod: PodLike, options: MutationOptions, warnings: string[]): Set<string> {
  const key = `${options.annotationPrefix}/${ANNOTATION.skipContainers}`;
  const text = pod.metadata?.annotations?.[key];
  if (text === undefined || text.trim() === '') return new Set();
  const parsed = parseCsvRecord(text);
  if (!parsed.ok) {
    warnings.push(
      `kirsa: annotation ${key} could not be read (${parsed.reason}); no container was skipped. Write it as a,b,c.`,
    );
    return new Set();
  }
  return new Set(parsed.fields.map((name) => name.trim()).filter((name) => name !== ''));
}

type ContainerPlan =
  | { kind: 'untouched' }
  | { kind: 'conflict'; warning: string }
  | { kind: 'change'; env: EnvVar[]; mount: VolumeMount | undefined };

function planContainer(container: Container, plan: TokenPlan, options: MutationOptions): ContainerPlan {
  const env = container.env ?? [];
  const has = (name: string) => env.some((entry) => entry.name === name);
  const pairPresent = has(plan.credentialEnv[0].name) || has(plan.credentialEnv[1].name);
  const regionPresent = has(ENV.region) || has(ENV.defaultRegion);
  const stsPresent = has(ENV.stsRegionalEndpoints);
  // The reference's early exit: a container that already has all three groups is left alone, mount included.
  if (pairPresent && regionPresent && stsPresent) return { kind: 'untouched' };

  const mounts = container.volumeMounts ?? [];
  const wantedPath = plan.normalisedMountPath;
  const ours = mounts.find((mount) => mount.name === plan.volumeName);
  if (ours && normaliseMountPath(ours.mountPath ?? '') !== wantedPath) {
    return {
      kind: 'conflict',
      warning: `kirsa: container "${container.name}" mounts volume "${plan.volumeName}" at "${ours.mountPath ?? ''}", not at "${plan.mountPath}"; no AWS credentials were injected into it. Remove that mount so kirsa can add its own.`,
    };
  }
  const blocking = mounts.find(
    (mount) =>
      mount.name !== plan.volumeName &&
      // Mount paths are written in the Unix form on Windows pods too, so that is the form compared (the
      // `C:\...` form the env var gets is written by nobody, and matching only it let the rule never fire).
      [wantedPath, plan.unixTokenFilePath].includes(normaliseMountPath(mount.mountPath ?? '')),
  );
  if (blocking) {
    return {
      kind: 'conflict',
      warning: `kirsa: container "${container.name}" already mounts "${blocking.name}" at "${blocking.mountPath}", where the AWS token goes; no AWS credentials were injected into it. Move that mount, or list the container in ${options.annotationPrefix}/${ANNOTATION.skipContainers}.`,
    };
  }

  const additions: EnvVar[] = [];
  if (plan.regionalSts && !stsPresent)
    additions.push({ name: ENV.stsRegionalEndpoints, value: STS_REGIONAL_VALUE });
  if (options.defaultRegion !== '' && !regionPresent) {
    additions.push({ name: ENV.defaultRegion, value: options.defaultRegion });
    additions.push({ name: ENV.region, value: options.defaultRegion });
  }
  if (!pairPresent) additions.push(...plan.credentialEnv.map((entry) => ({ ...entry })));
  const mount = ours ? undefined : { name: plan.volumeName, mountPath: plan.mountPath, readOnly: true };
  if (additions.length === 0 && mount === undefined) return { kind: 'untouched' };
  return { kind: 'change', env: additions, mount };
}

/** Appends items to an array field by index, or creates the field when it is absent or null. */
function appendOperations(
  base: string,
  field: string,
  existing: unknown[] | null | undefined,
  items: unknown[],
) {
  if (items.length === 0) return [];
  if (!Array.isArray(existing)) return [add(`${base}${pointer(field)}`, items)];
  return items.map((item, offset) => add(`${base}${pointer(field, existing.length + offset)}`, item));
}

/**
 * Decides what a pod needs for the identity and returns it as add-only JSON Patch operations. An undefined
 * identity means "no identity": no patch, no warning.
 */
export function mutatePod(
  pod: PodLike,
  identity: Identity | undefined,
  options: MutationOptions,
): MutationResult {
  const result: MutationResult = { outcome: 'unchanged', patch: [], warnings: [], conflictedContainers: [] };
  if (identity === undefined) return result;

  if (identity.mode === 'web-identity' && roleArnParts(identity.roleArn) === undefined) {
    result.outcome = 'invalid-identity';
    result.warnings.push(
      `kirsa: "${identity.roleArn}" (from ${identity.source}) is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>); no AWS credentials were injected. Correct it to the role's ARN.`,
    );
    return result;
  }

  result.warnings.push(...(identity.warnings ?? []));
  const plan = planToken(pod, identity, options, result.warnings);
  const volumes = pod.spec?.volumes;
  const existingVolume = (volumes ?? []).find((volume) => volume.name === plan.volumeName);
  if (existingVolume && !isOurTokenVolume(existingVolume, plan)) {
    result.outcome = 'conflict';
    result.warnings.push(
      `kirsa: the pod already has a volume "${plan.volumeName}" (${describeVolume(existingVolume)}), not the projected token for audience "${plan.audience}"; no AWS credentials were injected. Rename or remove that volume.`,
    );
    return result;
  }

  const skip = skippedContainers(pod, options, result.warnings);
  const containerOps: PatchOperation[] = [];
  const initContainerOps: PatchOperation[] = [];
  for (const [field, ops] of [
    ['containers', containerOps],
    ['initContainers', initContainerOps],
  ] as const) {
    (pod.spec?.[field] ?? []).forEach((container, index) => {
      if (skip.has(container.name)) return;
      const decision = planContainer(container, plan, options);
      if (decision.kind === 'conflict') {
        result.warnings.push(decision.warning);
        result.conflictedContainers.push(container.name);
        return;
      }
      if (decision.kind === 'untouched') return;
      const base = pointer('spec', field, index);
      // push(...x) passes every element as an argument, which throws RangeError past ~65,000: loops here.
      for (const op of appendOperations(base, 'env', container.env, decision.env)) ops.push(op);
      if (decision.mount)
        for (const op of appendOperations(base, 'volumeMounts', container.volumeMounts, [decision.mount]))
          ops.push(op);
    });
  }

  // Order as the reference: label, volume, containers, init containers.
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
  for (const op of containerOps) result.patch.push(op);
  for (const op of initContainerOps) result.patch.push(op);
  result.outcome =
    result.patch.length > 0 ? 'mutated' : result.conflictedContainers.length > 0 ? 'conflict' : 'unchanged';
  return result;
}
