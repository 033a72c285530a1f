// `kirsa issuer serve` without --tls-cert: it makes its own certificate in-process (no openssl on the PATH
// needed), signed by a development CA kept in DIR/serve-tls, and `kirsa issuer verify` trusting that CA
// passes. A restart serves the same certificate, so clients keep trusting it.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../../support/processes.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';

const work = await mkdtemp(join(tmpdir(), 'kirsa-serve-dev-tls-'));
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await rm(work, { recursive: true, force: true });
});

/** Starts `kirsa issuer serve` with an empty PATH (so no openssl) and resolves with its output once serving. */
async function serve(dir: string): Promise<{ child: ChildProcess; output: string }> {
  const child = spawn(process.execPath, [KIRSA_BIN, 'issuer', 'serve', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: '' },
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('serving ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`kirsa issuer serve exited ${code}: ${output}`)));
  });
  return { child, output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

test('serve makes a CA-signed certificate in-process; verify trusting that CA passes; a restart reuses it', async () => {
  const issuer = `https://127.0.0.1:${await freePort()}/cluster-1`;
  const dir = join(work, 'issuer');
  const init = await runKirsa(['issuer', 'init', '--issuer-url', issuer, '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);

  const first = await serve(dir);
  const caFile = join(dir, 'serve-tls', 'ca.pem');
  assert.ok(first.output.includes(`clients need --ca-file ${caFile}`), first.output);
  const verify = await runKirsa(['issuer', 'verify', issuer, '--ca-file', caFile]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /STS can use this issuer/);
  const certificate = await readFile(join(dir, 'serve-tls', 'cert.pem'), 'utf8');
  assert.equal(await stop(first.child), 0, 'SIGTERM stops the server cleanly');

  const second = await serve(dir);
  assert.equal(await readFile(join(dir, 'serve-tls', 'cert.pem'), 'utf8'), certificate);
  const again = await runKirsa(['issuer', 'verify', issuer, '--ca-file', caFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await stop(second.child), 0);
});
