// The webhook as its pod runs it, without a kubelet: the service-account files (token, CA, namespace) bound
// where the kubelet mounts them, in a private mount namespace of the webhook's process alone, so nothing on
// this machine changes. Used by the in-cluster test and the memory benchmark's in-cluster figures.

import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the kubelet mounts a pod's service-account files (and where in-cluster configuration reads them). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Why the pod's files cannot be bound here (no root, no private mounts), or undefined when they can. */
export function privateMountsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a private mount namespace)';
  if (spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status !== 0)
    return 'unshare --mount failed here';
  return undefined;
}

/** Writes a pod's service-account files into `dir`: the token, the API server's CA and the namespace. */
export async function writePodFiles(
  dir: string,
  files: { token: string; caFile: string; namespace: string },
) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'token'), files.token);
  await writeFile(join(dir, 'ca.crt'), await readFile(files.caFile));
  await writeFile(join(dir, 'namespace'), files.namespace);
}

/**
 * The launcher that starts a command with `dir` bound at SERVICE_ACCOUNT_DIR: a tmpfs over /var/run in a
 * private mount namespace (so the machine's own /var/run is untouched), then the bind, then the command.
 */
export function podLauncher(dir: string): string[] {
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mount -t tmpfs kirsa-pod /var/run && mkdir -p ${SERVICE_ACCOUNT_DIR} && mount --bind "$0" ${SERVICE_ACCOUNT_DIR} && exec "$@"`,
    dir,
  ];
}

/** The environment in-cluster configuration reads the API server's address from. */
export function serviceEnv(apiServerUrl: string): NodeJS.ProcessEnv {
  return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(apiServerUrl).port };
}
