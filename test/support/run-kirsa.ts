// Runs the real `kirsa` command as a child process on this Node (the project's Node 24), as a user would.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KirsaErrorCode } from '../../src/errors.ts';

export const KIRSA_BIN = fileURLToPath(new URL('../../bin/kirsa.js', import.meta.url));

/** `kirsa webhook` flags for tests and benchmarks: loopback only, ports chosen by the OS (read back from its
 * "listening" log line), so runs never collide. */
export const WEBHOOK_ON_LOOPBACK = ['--port', '0', '--metrics-port', '0', '--bind-address', '127.0.0.1'];

export interface KirsaRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runKirsa(
  args: string[],
  {
    input,
    cwd,
    env,
    timeoutMs = 60_000,
  }: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<KirsaRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KIRSA_BIN, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A failed run's text error names this catalogue code on its `  code:` line (the last of the three). */
export function assertErrorCode(stderr: string, code: KirsaErrorCode): void {
  assert.match(stderr, new RegExp(`^ {2}code: ${code}$`, 'm'), `expected code ${code} in:\n${stderr}`);
}
