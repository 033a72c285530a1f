// Memory and load time with 50,000 identities, two ways:
// 1. the webhook process (the real CLI) with a 50,000-entry identities file, against the same process with
//    a 1-entry file: resident memory from its own /metrics, and the time from start to "listening";
// 2. the ServiceAccount cache taking in 50,000 realistic accounts (managedFields, last-applied annotations,
//    a role annotation on one in five), page by page as the list API returns them, here in this process:
//    retained heap after GC and the time it took.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceAccountCache } from '../src/identity/service-accounts.ts';
import { KIRSA_BIN } from '../test/support/run-kirsa.ts';
import { makeServingCertificate } from '../test/support/tls.ts';
import { measureWebhook, serviceAccountObject, webhookAsImageRunsIt } from './webhook-process.ts';

const COUNT = 50_000;

/** A page of the list API's answer: the accounts as written, with the fields the API server adds. */
function serviceAccountPage(from: number, size: number, resourceVersion: number): string {
  const items = [];
  for (let i = from; i < from + size; i++) {
    const { metadata } = serviceAccountObject(i);
    items.push({
      metadata: {
        ...metadata,
        uid: `0b5b1a52-1d6e-4a8e-9b0e-${String(i).padStart(12, '0')}`,
        resourceVersion: String(resourceVersion + i),
        creationTimestamp: '2026-11-01T10:00:00Z',
        managedFields: [
          {
            manager: 'kubectl-client-side-apply',
            operation: 'Update',
            apiVersion: 'v1',
            time: '2026-11-01T10:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {} }, 'f:labels': { '.': {} } } },
          },
        ],
      },
    });
  }
  return JSON.stringify({
    kind: 'ServiceAccountList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '1' },
    items,
  });
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** The cache alone, first and in its own scope, so nothing else this script holds muddies the heap figure. */
function measureServiceAccountCache(): void {
  // Pages kept as Buffers (outside the JS heap), as they arrive off the socket, so the heap shows the cache alone.
  const pages = Array.from({ length: COUNT / 500 }, (_, page) =>
    Buffer.from(serviceAccountPage(page * 500, 500, 1000)),
  );
  const listBytes = pages.reduce((total, page) => total + page.length, 0);
  const cache = createServiceAccountCache('eks.amazonaws.com');
  const heapBefore = heapMb();
  const rssBefore = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  const sink = cache.beginRelist();
  for (const page of pages)
    for (const item of (JSON.parse(page.toString('utf8')) as { items: unknown[] }).items) sink.add(item);
  sink.commit();
  const loadMs = performance.now() - started;
  pages.length = 0;
  const heapAfter = heapMb();
  console.log(
    `   ServiceAccount cache: ${cache.size.toLocaleString()} accounts from a ${(listBytes / 2 ** 20).toFixed(1)} MB list in pages of 500: taken in ${loadMs.toFixed(0)} ms, retained heap +${(heapAfter - heapBefore).toFixed(1)} MB (${(((heapAfter - heapBefore) * 2 ** 20) / COUNT).toFixed(0)} B per account), process RSS ${rssBefore.toFixed(0)} -> ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
  );
}

measureServiceAccountCache();
const dir = await mkdtemp(join(tmpdir(), 'kirsa-bench-memory-'));
const cert = await makeServingCertificate();
try {
  const big = join(dir, 'identities-50k.json');
  const small = join(dir, 'identities-1.json');
  const mapping: Record<string, { RoleARN: string }> = {};
  for (let i = 0; i < COUNT; i++) {
    mapping[`team-${i % 500}/app-${i}`] = {
      RoleARN: `arn:aws:iam::123456789012:role/team-${i % 500}-app-${i}`,
    };
  }
  const text = JSON.stringify(mapping);
  await writeFile(big, text);
  await writeFile(
    small,
    JSON.stringify({ 'team-0/app-0': { RoleARN: 'arn:aws:iam::123456789012:role/app' } }),
  );
  console.log(
    `   identities file: ${COUNT.toLocaleString()} entries, ${(text.length / 2 ** 20).toFixed(1)} MB`,
  );
  const tls = ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile];
  // As a checkout runs it (TypeScript sources, default heap), and as the container image runs it: compiled
  // JavaScript with the image's node flags, measured once idle for 12 s.
  const asImage = await webhookAsImageRunsIt();
  for (const [label, command, settleMs, env] of [
    ['kirsa webhook from the TypeScript sources', [KIRSA_BIN, 'webhook'], 1500, {}],
    [
      `as the image runs it (compiled, node ${asImage.nodeArgs.filter((word) => word.startsWith('--')).join(' ')}), after 12 s idle`,
      asImage.nodeArgs,
      12_000,
      asImage.env,
    ],
  ] as const) {
    const one = await measureWebhook([...command], [...tls, '--identities-file', small], { settleMs, env });
    const many = await measureWebhook([...command], [...tls, '--identities-file', big], { settleMs, env });
    console.log(
      `   ${label}: RSS ${one.rssMb.toFixed(1)} MB with 1 identity, ${many.rssMb.toFixed(1)} MB with ${COUNT.toLocaleString()} (+${(many.rssMb - one.rssMb).toFixed(1)} MB); start to listening ${one.startMs.toFixed(0)} ms vs ${many.startMs.toFixed(0)} ms`,
    );
  }
} finally {
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
}
