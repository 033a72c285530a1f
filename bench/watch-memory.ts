// The webhook in its default mode, watching ServiceAccounts in a real kube-apiserver (and etcd), as the
// container image runs it: spawn to the first right answer and resident memory 20 s after that, with one
// annotated account and then with 51,000 (50,000 realistic ones added), where "right" is the role of the
// last account created. kirsa reads a kubeconfig, as the reference does here; with one account it is also
// measured as its pod runs it (in-cluster files, bench/webhook-process.ts's inClusterStart; root only). Beside it, the floors: a do-nothing Node HTTPS server (bench/floor-server.ts) under
// the same node flags and a do-nothing Go one (bench/go-floor/), idle, so a figure reads as a distance from
// what Node itself needs on this machine; and the reference webhook (built by bench/go-servers.ts) on the same
// API server and accounts, measured the same way (spawn to the right answer, RSS 20 s later).
// Needs the real parts (tools/realparts/build.sh); says so and skips without them. A Go server that cannot be
// built says why and is left out. Creating the accounts takes a minute or more. Each server runs on one core
// where taskset exists (bench/pinning.ts), as in bench/webhook-admission.ts; the figures are recorded for
// `npm run bench`'s closing table (bench/figures.ts), which judges issue 21's start-up and 51,000-account
// targets from them.

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeApiserver } from '../src/local/control-plane.ts';
import { makeServingCertificate } from '../test/support/tls.ts';
import { startServerProcess } from '../test/support/webhook-harness.ts';
import { type Figure, recordFigures, verdictLine, verdicts } from './figures.ts';
import {
  GO_SERVER_ENV,
  goFloorBinary,
  measureReference,
  referenceBinary,
  startGoFloor,
} from './go-servers.ts';
import { pinning } from './pinning.ts';
import {
  floorAsImageRunsIt,
  imageNodeFlags,
  inClusterStart,
  measureWebhook,
  residentMb,
  serviceAccountObject,
  webhookAsImageRunsIt,
} from './webhook-process.ts';

/** Issue 21's 51,000 (with the one annotated first: 51,001); KIRSA_BENCH_ACCOUNTS changes it for a quicker run. */
const COUNT = Number(process.env.KIRSA_BENCH_ACCOUNTS ?? 51_000);
const NAMESPACES = Math.min(500, COUNT);
const IN_FLIGHT = 48;
/** As the issue measured them: memory 20 s after the first right answer. */
const SETTLE_MS = 20_000;
const ROLE = 'arn:aws:iam::123456789012:role/first';

if (!process.env.KIRSA_KUBE_APISERVER || !process.env.KIRSA_ETCD) {
  console.log('   skipped: run tools/realparts/build.sh and export its --print-env to include it');
  process.exit(0);
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
const pin = pinning();
const figures: Figure[] = [];
const goFloor = goFloorBinary();
const reference = referenceBinary();
const kube = await startKubeApiserver();
const cert = await makeServingCertificate();
const dir = await mkdtemp(join(tmpdir(), 'kirsa-bench-watch-'));
async function measureTheReference(
  label: string,
  account: { namespace: string; name: string; role: string },
): Promise<{ rightMs: number; rssMb: number } | undefined> {
  if ('skipped' in reference) return undefined;
  try {
    const figures = await measureReference(
      reference.binary,
      {
        ca: cert.caPem,
        certFile: cert.certFile,
        keyFile: cert.keyFile,
        kubeconfig: kube.kubeconfigPath,
        dir,
        launcher: pin.serverLauncher,
      },
      account,
      SETTLE_MS,
    );
    console.log(
      `   reference, ${label}: spawn to /healthz ${figures.listeningMs.toFixed(0)} ms, to the right answer ${figures.rightMs.toFixed(0)} ms (${figures.startCpuMs} ms of CPU); ${SETTLE_MS / 1000} s later RSS ${figures.rssMb.toFixed(1)} MB (machine load ${load()})`,
    );
    return figures;
  } catch (error) {
    console.log(`   reference, ${label}: left out: ${reason(error)}`);
    return undefined;
  }
}
try {
  console.log(`   ${pin.about}`);
  const flags = imageNodeFlags();
  const floorRun = await floorAsImageRunsIt(cert.certFile, cert.keyFile);
  const floor = await startServerProcess([...pin.serverLauncher, ...floorRun.command], floorRun.env);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS / 4));
  const floorMb = residentMb(floor.child.pid!);
  await floor.stop('SIGKILL');
  console.log(
    `   floor: a do-nothing Node HTTPS server (node ${flags.join(' ')}), idle: RSS ${floorMb.toFixed(1)} MB (machine load ${load()})`,
  );
  if ('skipped' in goFloor) console.log(`   Go floor: left out: ${goFloor.skipped}`);
  else {
    try {
      const goFloorProcess = await startGoFloor(
        goFloor.binary,
        cert.certFile,
        cert.keyFile,
        pin.serverLauncher,
      );
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS / 4));
      const goFloorMb = residentMb(goFloorProcess.child.pid!);
      await goFloorProcess.stop('SIGKILL');
      console.log(
        `   floor: a do-nothing Go HTTPS server (${goFloor.about}, GOMAXPROCS=${GO_SERVER_ENV.GOMAXPROCS}), idle: RSS ${goFloorMb.toFixed(1)} MB`,
      );
    } catch (error) {
      console.log(`   Go floor: left out: ${reason(error)}`);
    }
  }
  if ('skipped' in reference) console.log(`   reference: left out: ${reference.skipped}`);
  else console.log(`   reference webhook: ${reference.binary} (${reference.about})`);

  const { nodeArgs: command, env: imageEnv } = await webhookAsImageRunsIt();
  const args = ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--kubeconfig', kube.kubeconfigPath];
  const first = { ca: cert.caPem, namespace: 'default', name: 'first', role: ROLE };
  const created = await kube.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
    metadata: { name: 'first', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
  });
  if (created.status !== 201) throw new Error(`default/first: ${created.status}`);
  const one = await measureWebhook(command, args, {
    settleMs: SETTLE_MS,
    rightAnswer: first,
    launcher: pin.serverLauncher,
    env: imageEnv,
  });
  console.log(
    `   kirsa, 1 annotated account (plus the built-in ones): spawn to listening ${one.startMs.toFixed(0)} ms, to the first right answer ${one.rightMs?.toFixed(0)} ms (${one.startCpuMs} ms of CPU); ${SETTLE_MS / 1000} s later RSS ${one.rssMb.toFixed(1)} MB (V8 heap ${one.heapMb.toFixed(1)} MB) (machine load ${load()})`,
  );
  figures.push({ name: 'first-right-ms', column: 'kirsa', value: one.rightMs ?? Number.NaN });
  // The same, as kirsa runs in its pod: what the image does in a cluster (the line above reads a kubeconfig,
  // as the reference does here, and so loads a YAML parser).
  const pod = await inClusterStart(kube, dir);
  if ('skipped' in pod) console.log(`   kirsa in-cluster: left out: ${pod.skipped}`);
  else {
    const inPod = await measureWebhook(command, ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile], {
      settleMs: SETTLE_MS,
      rightAnswer: first,
      launcher: [...pin.serverLauncher, ...pod.launcher],
      env: { ...imageEnv, ...pod.env },
    });
    console.log(
      `   kirsa in-cluster (token and CA files, KUBERNETES_SERVICE_HOST, as in its pod), 1 annotated account: to the first right answer ${inPod.rightMs?.toFixed(0)} ms (${inPod.startCpuMs} ms of CPU); ${SETTLE_MS / 1000} s later RSS ${inPod.rssMb.toFixed(1)} MB (V8 heap ${inPod.heapMb.toFixed(1)} MB) (machine load ${load()})`,
    );
    figures.push({ name: 'rss-idle-in-cluster-mb', column: 'kirsa', value: inPod.rssMb });
  }
  const referenceOne = await measureTheReference('1 annotated account', first);
  if (referenceOne)
    figures.push({ name: 'first-right-ms', column: 'reference', value: referenceOne.rightMs });

  // `node bench/watch-memory.ts --one`: the one-account figures only, without creating 50,000 accounts.
  if (!process.argv.includes('--one')) {
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
    const last = serviceAccountObject(COUNT - 1 - ((COUNT - 1) % 5)).metadata;
    console.log(
      `   ${COUNT.toLocaleString()} ServiceAccounts in ${NAMESPACES} namespaces created in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    const lastAccount = {
      namespace: last.namespace,
      name: last.name,
      role: last.annotations['eks.amazonaws.com/role-arn']!,
    };
    const full = await measureWebhook(command, args, {
      settleMs: SETTLE_MS,
      until: 'initial list complete',
      rightAnswer: { ca: cert.caPem, ...lastAccount },
      launcher: pin.serverLauncher,
      env: imageEnv,
    });
    console.log(
      `   kirsa, ${(COUNT + 1).toLocaleString()} accounts: spawn to the list synced ${full.untilMs?.toFixed(0)} ms, to the right answer for the last account ${full.rightMs?.toFixed(0)} ms (${full.startCpuMs} ms of CPU); ${SETTLE_MS / 1000} s later RSS ${full.rssMb.toFixed(1)} MB (V8 heap ${full.heapMb.toFixed(1)} MB) (machine load ${load()})`,
    );
    const referenceMany = await measureTheReference(`${(COUNT + 1).toLocaleString()} accounts`, lastAccount);
    figures.push(
      { name: 'accounts-many', column: 'machine', value: COUNT + 1 },
      { name: 'rss-many-mb', column: 'kirsa', value: full.rssMb },
      { name: 'last-right-many-ms', column: 'kirsa', value: full.rightMs ?? Number.NaN },
      { name: 'synced-many-ms', column: 'kirsa', value: full.untilMs ?? Number.NaN },
    );
    if (referenceMany)
      figures.push(
        { name: 'rss-many-mb', column: 'reference', value: referenceMany.rssMb },
        { name: 'last-right-many-ms', column: 'reference', value: referenceMany.rightMs },
      );
  }
  recordFigures(figures);
  // The targets these figures judge, as `npm run bench` judges them (the memory-under-load ones are
  // bench/webhook-admission.ts's).
  for (const verdict of verdicts(figures))
    if (verdict.met !== undefined) console.log(`   target (issue #21): ${verdictLine(verdict)}`);
} finally {
  await kube.stop();
  await cert.cleanup();
  await rm(dir, { recursive: true, force: true });
}
