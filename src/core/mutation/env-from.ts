// Whether a container's envFrom already sets its region (the reference's #248). The kubelet puts envFrom's
// variables first and `env` after, so an AWS_REGION kirsa appends to `env` overrides one that a ConfigMap
// brings: kirsa injects a region only where it knows envFrom sets none. Without --read-env-from-config-maps
// it knows nothing of envFrom (no region, a warning); with it, the webhook reads the ConfigMaps a pod names
// (same namespace, only `data` keys, as the kubelet reads them) and hands them here. Secrets are never read,
// so a secretRef keeps the region out. Pure: the reading is the webhook's (webhook/env-from-config-maps.ts).

import { ENV } from '../../consts.ts';
import type { Container, PodLike } from '../kube-types.ts';

/** What kirsa knows of one ConfigMap: its keys that some prefix could turn into a region variable, or why not. */
export type ConfigMapKeys =
  | { found: true; regionKeys: readonly string[] }
  | { found: false; why: 'absent' | 'unreadable' };

/** What one ConfigMap read came to; the webhook counts them by these names (a metric label). */
export const CONFIG_MAP_READ_RESULTS = ['found', 'absent', 'unreadable'] as const;
export type ConfigMapReadResult = (typeof CONFIG_MAP_READ_RESULTS)[number];

export function readResultOf(keys: ConfigMapKeys): ConfigMapReadResult {
  return keys.found ? 'found' : keys.why;
}

/** The ConfigMaps of the pod's namespace that envFrom names, by name; a name missing here is unknown. */
export type EnvFromConfigMaps = ReadonlyMap<string, ConfigMapKeys>;

/**
 * The port the webhook implements: synchronous from its cache, a promise only on a miss. The promise never
 * rejects (a failure is `unreadable`).
 */
export interface ConfigMapSource {
  keysOf(namespace: string, name: string): ConfigMapKeys | Promise<ConfigMapKeys>;
}

const REGION_NAMES = [ENV.region, ENV.defaultRegion] as const;

/**
 * The keys worth keeping of a ConfigMap's `data`: those that a prefix (`envFrom[].prefix`) can complete to
 * AWS_REGION or AWS_DEFAULT_REGION, i.e. their non-empty suffixes. All the rest cannot set a region.
 */
export function regionKeysOf(keys: Iterable<string>): string[] {
  const kept: string[] = [];
  for (const key of keys) {
    if (key !== '' && REGION_NAMES.some((name) => name.endsWith(key))) kept.push(key);
  }
  return kept;
}

/** The envFrom of a container without one: every container without envFrom shares it. */
const NO_ENTRIES: readonly unknown[] = Object.freeze([]);

function envFromOf(container: Container): readonly unknown[] {
  return Array.isArray(container.envFrom) ? (container.envFrom as unknown[]) : NO_ENTRIES;
}

function refName(entry: unknown, field: 'configMapRef' | 'secretRef'): string | undefined {
  const ref = (entry as Record<string, unknown> | null)?.[field] as { name?: unknown } | null | undefined;
  return typeof ref?.name === 'string' ? ref.name : undefined;
}

/** The distinct ConfigMap names the pod's containers (init included) take env from, at most `max`. */
export function envFromConfigMapNames(pod: PodLike, max: number): string[] {
  const names = new Set<string>();
  for (const field of ['containers', 'initContainers'] as const) {
    const containers = pod.spec?.[field];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      for (const entry of envFromOf(container ?? ({} as Container))) {
        const name = refName(entry, 'configMapRef');
        if (name !== undefined && name !== '') names.add(name);
        if (names.size >= max) return [...names];
      }
    }
  }
  return [...names];
}

/**
 * What envFrom means for a container's region: `sets` (a ConfigMap brings AWS_REGION or AWS_DEFAULT_REGION,
 * under its prefix), `none` (every source is known and none does), or `unknown` with why, in words for the
 * warning. A known region wins over unknown sources: the container has one whatever the rest holds.
 * `configMaps` undefined: the ConfigMaps were not read (the flag is off).
 */
export type EnvFromRegion = { kind: 'sets' } | { kind: 'none' } | { kind: 'unknown'; why: string };

// The verdicts that carry nothing more than their kind: one object each, since this runs for every container.
const SETS: EnvFromRegion = Object.freeze({ kind: 'sets' });
const NONE: EnvFromRegion = Object.freeze({ kind: 'none' });

export function envFromRegion(
  container: Container,
  configMaps: EnvFromConfigMaps | undefined,
): EnvFromRegion {
  const entries = envFromOf(container);
  if (entries.length === 0) return NONE;
  if (configMaps === undefined) return { kind: 'unknown', why: 'kirsa does not read envFrom sources' };
  let unknown: string | undefined;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    const secret = refName(entry, 'secretRef');
    if (secret !== undefined) {
      unknown ??= `Secret "${secret}" is not read by kirsa`;
      continue;
    }
    const name = refName(entry, 'configMapRef');
    if (name === undefined) continue; // neither source: the API server refuses such an entry
    const keys = configMaps.get(name);
    if (keys === undefined) {
      unknown ??= `ConfigMap "${name}" was not read`;
      continue;
    }
    if (!keys.found) {
      unknown ??=
        keys.why === 'absent'
          ? `ConfigMap "${name}" was not found (it may be created before the container starts)`
          : `ConfigMap "${name}" could not be read`;
      continue;
    }
    const rawPrefix = (entry as { prefix?: unknown }).prefix;
    const prefix = typeof rawPrefix === 'string' ? rawPrefix : '';
    if (keys.regionKeys.some((key) => (REGION_NAMES as readonly string[]).includes(prefix + key)))
      return SETS;
  }
  return unknown === undefined ? NONE : { kind: 'unknown', why: unknown };
}
