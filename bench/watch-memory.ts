// The webhook's memory in its default mode, watching ServiceAccounts, with 50,000 of them in a real
// kube-apiserver (and etcd): RSS once idle and the time from start to the end of its first list, as the
// container image runs it, against the same webhook on a cluster with only its built-in accounts. Needs the
// real parts (tools/realparts/build.sh); says so and skips without them. Creating the accounts takes about
// a minute.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeApiserver } from '../src/local/control-plane.ts';
import { makeServingCertificate } from '../test/support/tls.ts';
import { measureWebhook, serviceAccountObject, webhookAsImageRunsIt } from './webhook-process.ts';

const COUNT = 50_000;
const NAMESPACES = 500;
const IN_FLIGHT = 48;

if (!process.env.KIRSA_KUBE_APISERVER || !process.env.KIRSA_ETCD) {
  console.log('   skipped: run tools/realparts/build.sh and export its --print-env to include it');
  process.exit(0);
}

const kube = await startKubeApiserver();
const cert = await makeServingCertificate();
const scratch = await mkdtemp(join(tmpdir(), 'kirsa-bench-watch-'));
try {
  const command = await webhookAsImageRunsIt();
  const args = ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--kubeconfig', kube.kubeconfigPath];
  const until = 'initial list complete';
  const empty = await measureWebhook(command, args, { settleMs: 12_000, until });

  const started = performance.now();
  for (let i = 0; i < NAMESPACES; i++) {
    const answer = await kube.request('POST', '/api/v1/namespaces', { metadata: { name: `team-${i}` } });
    if (answer.status !== 201) throw new Error(`namespace team-${i}: ${answer.status}`);
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < COUNT) {
        const account = serviceAccountObject(next++);
        const answer = await kube.request(
          'POST',
          `/api/v1/namespaces/${account.metadata.namespace}/serviceaccounts`,
          account,
        );
        if (answer.status !== 201) throw new Error(`${account.metadata.name}: ${answer.status}`);
      }
    }),
  );
  console.log(
    `   ${COUNT.toLocaleString()} ServiceAccounts in ${NAMESPACES} namespaces created in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  const full = await measureWebhook(command, args, { settleMs: 12_000, until });
  console.log(
    `   as the image runs it (compiled, node ${command.filter((word) => word.startsWith('--')).join(' ')}), watching ServiceAccounts, after 12 s idle: RSS ${empty.rssMb.toFixed(1)} MB with the built-in accounts, ${full.rssMb.toFixed(1)} MB with ${COUNT.toLocaleString()} (+${(full.rssMb - empty.rssMb).toFixed(1)} MB); start to first list complete ${empty.untilMs?.toFixed(0)} ms vs ${full.untilMs?.toFixed(0)} ms`,
  );
} finally {
  await kube.stop();
  await cert.cleanup();
  await rm(scratch, { recursive: true, force: true });
}
