// moto_server (S3, IAM, STS, ... on one port) from the real-parts cache, on a free port (loopback unless told), for the
// tests that drive kirsa's real AWS SDK calls. The binary comes from KIRSA_MOTO_SERVER (npm test exports
// it), else from `tools/realparts/build.sh --print-json`. Stop it in an after() hook.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, stopProcess } from './processes.ts';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

async function motoBinary(): Promise<string> {
  const fromEnv = process.env.KIRSA_MOTO_SERVER;
  if (fromEnv) return fromEnv;
  let stdout: string;
  try {
    ({ stdout } = await run('bash', ['tools/realparts/build.sh', '--print-json'], { cwd: repositoryRoot }));
  } catch (error) {
    throw new Error(
      `moto_server is not built: run bash tools/realparts/build.sh (or npm test) first. ${(error as { stderr?: string }).stderr ?? ''}`.trim(),
    );
  }
  const binary = (JSON.parse(stdout) as Record<string, string>).KIRSA_MOTO_SERVER;
  if (!binary) throw new Error('tools/realparts/build.sh --print-json names no KIRSA_MOTO_SERVER');
  return binary;
}

async function waitUntilAnswering(
  endpoint: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${output()}`);
    try {
      const answer = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await answer.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`moto_server did not answer within ${STARTUP_TIMEOUT_MS} ms: ${output()}`);
}

/**
 * Why moto cannot run here, or undefined when it can. Test files skip on a reason outside CI (as
 * real-parts.ts does for the other parts); in CI a missing part must fail, so this throws there.
 */
export async function motoUnavailable(): Promise<string | undefined> {
  try {
    await motoBinary();
    return undefined;
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    return (error as Error).message;
  }
}

/**
 * Starts moto_server on 127.0.0.1 and a free port; a port taken in between is retried with another. `env`
 * reaches the server. To make moto check credentials and IAM policies after some set-up, POST the number
 * of requests still let through (e.g. "0") to `${endpoint}/moto-api/reset-auth`.
 */
export async function startMoto({
  env,
  host = '127.0.0.1',
}: {
  env?: Record<string, string>;
  /** The address to listen on: a node's address lets its pods reach moto. */
  host?: string;
} = {}): Promise<MotoServer> {
  const binary = await motoBinary();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const child = spawn(binary, ['-H', host, '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const endpoint = `http://${host}:${port}`;
    try {
      await waitUntilAnswering(endpoint, child, () => output);
      return { endpoint, stop: () => stopProcess(child) };
    } catch (error) {
      lastError = error;
      await stopProcess(child);
    }
  }
  throw lastError;
}

/** Environment for a kirsa process talking to moto: dummy static credentials, a region, no profile files. */
export function motoClientEnv(): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
