// A list of several pages, and the watch's history running out, on a real kube-apiserver: the webhook reaches the API server through a
// TCP relay the test can cut. While it is cut, service accounts change and etcd compacts the revisions the
// webhook's watch would resume from, so its next watch is answered 410 Gone; it must list again and so
// catch up with everything it missed. The API server runs without its watch cache, so resuming watches go
// to etcd and the compaction (every 2 s here) is what ends the history. It runs twice: with the WatchList
// feature gate on (kube-apiserver's default: the webhook lists with a watch-list, from etcd here), and with
// it off, where the API server refuses the watch-list (422) and the webhook falls back to the paged list.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiserver, startKubeApiserver } from '../../support/kube-apiserver.ts';
import { realPart } from '../../support/real-parts.ts';
import { makeServingCertificate, type ServingCertificate } from '../../support/tls.ts';
import {
  admittedRole,
  eventually,
  httpGet,
  metricValue,
  startWebhook,
  type WebhookProcess,
} from '../../support/webhook-harness.ts';

const ROLE_OLD = 'arn:aws:iam::111122223333:role/old';
const ROLE_NEW = 'arn:aws:iam::111122223333:role/new';

/** A TCP relay to `port` that can be cut (open connections dropped, new ones refused) and restored. */
async function startRelay(port: number) {
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = createConnection({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const watchList of [true, false]) {
  describe(watchList ? 'with the watch-list' : 'with the WatchList feature gate off: the paged list', () => {
    let kube: KubeApiserver | undefined;
    let cert: ServingCertificate;
    let webhook: WebhookProcess | undefined;
    let relay: Awaited<ReturnType<typeof startRelay>> | undefined;

    before(async (t) => {
      if (!realPart(t, 'KIRSA_KUBE_APISERVER') || !realPart(t, 'KIRSA_ETCD')) return;
      kube = await startKubeApiserver({
        extraArgs: [
          '--watch-cache=false',
          '--etcd-compaction-interval=2s',
          ...(watchList ? [] : ['--feature-gates=WatchList=false']),
        ],
      });
      cert = await makeServingCertificate();
    });

    after(async () => {
      await webhook?.stop('SIGKILL');
      await relay?.close();
      await kube?.stop();
      await cert?.cleanup();
    });

    async function roleFor(namespace: string, serviceAccountName: string): Promise<string | undefined> {
      return (await admittedRole(webhook!, cert.caPem, namespace, serviceAccountName)).role;
    }

    test('every account of the list is held; after its watch history is compacted away, the webhook lists again and catches up', async (t) => {
      if (!kube) return t.skip('no kube-apiserver');
      const config = new KubeConfig();
      config.loadFromFile(kube.kubeconfigPath);
      const core = config.makeApiClient(CoreV1Api);
      const account = (name: string, roleArn: string) => ({
        metadata: { name, namespace: 'default', annotations: { 'eks.amazonaws.com/role-arn': roleArn } },
      });
      await core.createNamespacedServiceAccount({ namespace: 'default', body: account('changed', ROLE_OLD) });
      await core.createNamespacedServiceAccount({ namespace: 'default', body: account('deleted', ROLE_OLD) });
      // Enough accounts for two list pages of 1,000, so every paged list here follows continue tokens.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 1_100) {
            const name = `bulk-${next++}`;
            await core.createNamespacedServiceAccount({
              namespace: 'default',
              body: account(name, ROLE_OLD),
            });
          }
        }),
      );

      relay = await startRelay(Number(new URL(kube.url).port));
      const relayed = join(kube.dir, 'relayed.kubeconfig');
      await writeFile(
        relayed,
        (await readFile(kube.kubeconfigPath, 'utf8')).replace(kube.url, `https://127.0.0.1:${relay.port}`),
        { mode: 0o600 },
      );
      webhook = await startWebhook([
        '--tls-cert',
        cert.certFile,
        '--tls-key',
        cert.keyFile,
        '--kubeconfig',
        relayed,
        '--service-account-lookup-grace-period',
        '0', // no miss path: what the webhook learns, it learns from its list and watch
      ]);
      await webhook.waitForLog((line) => line.msg === 'initial list complete');
      const refused = webhook.logs.find(
        (line) => line.msg === 'the API server refuses a watch-list; listing in pages',
      );
      assert.equal(refused?.status, watchList ? undefined : 422, 'the fallback, and only without the gate');
      assert.equal(await roleFor('default', 'changed'), ROLE_OLD);
      // Every account of every page is held: 1,100 bulk ones, the two above (no controller makes others here).
      const metrics = (await httpGet(webhook.metricsPort, '/metrics')).body;
      assert.equal(metricValue(metrics, 'kirsa_webhook_identities', { source: 'service-accounts' }), 1_102);
      for (const name of ['bulk-0', 'bulk-550', 'bulk-1099'])
        assert.equal(await roleFor('default', name), ROLE_OLD, `${name} came with the list`);

      relay.cut();
      await webhook.waitForLog((line) => line.msg === 'watch failed; reconnecting');
      const changed = await core.readNamespacedServiceAccount({ namespace: 'default', name: 'changed' });
      changed.metadata!.annotations!['eks.amazonaws.com/role-arn'] = ROLE_NEW;
      await core.replaceNamespacedServiceAccount({ namespace: 'default', name: 'changed', body: changed });
      await core.deleteNamespacedServiceAccount({ namespace: 'default', name: 'deleted' });
      await core.createNamespacedServiceAccount({ namespace: 'default', body: account('created', ROLE_NEW) });
      // Two compaction rounds, with writes between them, put the webhook's last revision out of etcd's reach.
      for (let round = 0; round < 3; round++) {
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        await core.createNamespacedServiceAccount({
          namespace: 'default',
          body: { metadata: { name: `filler-${round}` } },
        });
      }
      assert.equal(await roleFor('default', 'changed'), ROLE_OLD, 'cut off, it answers from its cache');

      relay.restore();
      await webhook.waitForLog((line) => line.msg === 'watch history expired; listing again', 60_000);
      // The 410 was understood (in the protobuf watch, a Status inside an ERROR event), not logged as unknown.
      assert.equal(
        webhook.logs.some((line) => line.msg === 'watch error event'),
        false,
      );
      await eventually(async () => {
        const [changedRole, deletedRole, createdRole] = await Promise.all([
          roleFor('default', 'changed'),
          roleFor('default', 'deleted'),
          roleFor('default', 'created'),
        ]);
        return changedRole === ROLE_NEW && deletedRole === undefined && createdRole === ROLE_NEW
          ? true
          : undefined;
      }, 30_000);
      // The list again after the 410 took the same way as the first.
      const refusals = webhook.logs.filter(
        (line) => line.msg === 'the API server refuses a watch-list; listing in pages',
      ).length;
      if (watchList) assert.equal(refusals, 0);
      else assert.ok(refusals >= 2, `${refusals} refusals`);
    });
  });
}
