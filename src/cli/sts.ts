// `kirsa sts serve`: a local STS that judges web-identity tokens as AWS does, for development clusters and
// demos without an AWS account. Point SDKs at it with AWS_ENDPOINT_URL_STS.

import type { Command } from 'commander';
import { KirsaError } from '../errors.ts';
import { createLogger, fileDescriptorDestination } from '../io/log.ts';
import { readInputText } from '../io/read-input.ts';
import { untilStopSignal } from '../io/signals.ts';
import { loadStsConfig } from '../sts/config.ts';
import { createIssuerKeySource } from '../sts/issuer-keys.ts';
import { startStsServer } from '../sts/server.ts';
import { collect, parseIntegerFlag } from './flags.ts';

interface ServeFlags {
  config: string;
  port: number;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  caFile: string[];
}

/** The port a local STS listens on unless told otherwise: next to LocalStack's 4566, not on it. */
const DEFAULT_STS_PORT = 4599;

export function registerSts(program: Command): void {
  const sts = program
    .command('sts')
    .description('a local AWS STS that checks web-identity tokens as AWS does');
  sts
    .command('serve')
    .description('serve AssumeRoleWithWebIdentity and GetCallerIdentity on the AWS Query protocol')
    .requiredOption(
      '--config <file>',
      'YAML: providers (issuer URL, client IDs) and roles (ARN, trust policy)',
    )
    .option(
      '--port <port>',
      'port to listen on (0 picks a free one)',
      parseIntegerFlag('port', { min: 0 }),
      DEFAULT_STS_PORT,
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'key of --tls-cert (PEM)')
    .option('--ca-file <file>', 'extra CA to trust when fetching issuers (repeatable)', collect, [])
    .action(async (flags: ServeFlags) => {
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new KirsaError('FLAG_REQUIRED', '--tls-cert and --tls-key go together');
      }
      const config = await loadStsConfig(flags.config);
      const extraCa = await Promise.all(flags.caFile.map((file) => readInputText(file, 'CA file')));
      const tls =
        flags.tlsCert && flags.tlsKey
          ? {
              cert: await readInputText(flags.tlsCert, 'certificate'),
              key: await readInputText(flags.tlsKey, 'key'),
            }
          : undefined;
      const log = createLogger('info', fileDescriptorDestination(2), 'kirsa-sts');
      const running = await startStsServer({
        config,
        keySource: createIssuerKeySource({ extraCaPem: [...config.extraCaPem, ...extraCa] }),
        host: flags.host,
        port: flags.port,
        ...(tls ? { tls } : {}),
        onCall: (record) => log.info(record, 'sts call'),
      });
      process.stdout.write(
        `kirsa sts: listening on ${running.url} (${config.providers.length} providers, ${config.roles.length} roles)\n` +
          `  export AWS_ENDPOINT_URL_STS=${running.url}\n`,
      );
      await untilStopSignal();
      await running.close();
    });
}
