// `kirsa demo`: watch IRSA work end to end in seconds, before touching a cluster or an AWS account.

import type { Command } from 'commander';
import { runDemo } from '../demo/demo.ts';
import { onStopSignal } from '../io/signals.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the whole IRSA flow on this machine (loopback only; no cluster, no AWS account)')
    .option('--keep', 'leave the issuer, STS and token in place and print the env to try them by hand')
    .option(
      '--kube',
      'admit the pod through a real kube-apiserver, tokens from its TokenRequest API (needs tools/realparts built)',
    )
    .option(
      '--node',
      'run the pod on a one-node cluster (kubelet, containerd) started here: implies --kube; needs root and the node parts and s3-echoer image (tools/realparts, tools/image)',
    )
    .action(async (flags: { keep?: boolean; kube?: boolean; node?: boolean }) => {
      // Listening before anything starts: a Ctrl-C right after "left running" is printed still cleans up,
      // and with --node a Ctrl-C during the run stops the node instead of leaving its bridge and mounts.
      const stopSignal = flags.keep || flags.node ? onStopSignal() : undefined;
      const interrupt = new AbortController();
      void stopSignal?.received.then(() => interrupt.abort());
      const result = await runDemo({
        keep: flags.keep === true,
        // --node is a cluster with its own kube-apiserver: it is --kube, with a kubelet behind it.
        kube: flags.kube === true || flags.node === true,
        node: flags.node === true,
        write: (text) => process.stdout.write(text),
        signal: flags.node ? interrupt.signal : undefined,
      });
      if (result.interrupted || (flags.keep && stopSignal && result.failed === 0)) {
        if (!result.interrupted) await stopSignal!.received;
        const cleaned = await result.stop();
        process.stdout.write(`\ncleaned up:\n${cleaned.map((line) => `  ${line}\n`).join('')}`);
      }
      stopSignal?.release();
      // 130: cut short by Ctrl-C, as a shell reports it. Otherwise the first failed step's code decides
      // the exit code, as for any command (docs/errors.md).
      if (result.interrupted) process.exitCode = 130;
      else if (result.failed > 0) process.exitCode = result.error?.exitCode ?? 1;
    });
}
