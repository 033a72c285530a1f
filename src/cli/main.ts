// The `kirsa` command: builds the verb tree, runs it, and turns failures into one message line, one hint
// line and an exit code. A stack trace is printed only with --debug.

import { Command, CommanderError } from 'commander';
import { isKirsaError } from '../errors.ts';
import { registerApiserverConfig } from './apiserver-config.ts';
import { registerDemo } from './demo.ts';
import { registerDoctor } from './doctor.ts';
import { registerExplain } from './explain.ts';
import { registerIssuer } from './issuer.ts';
import { registerManifests } from './manifests.ts';
import { registerMutate } from './mutate.ts';
import { registerProvider } from './provider.ts';
import { registerRole } from './role.ts';
import { registerSts } from './sts.ts';
import { registerTrustPolicy } from './trust-policy.ts';
import { registerWebhook } from './webhook.ts';

const VERBS: Array<(program: Command) => void> = [
  registerDemo,
  registerMutate,
  registerManifests,
  registerTrustPolicy,
  registerExplain,
  registerWebhook,
  registerSts,
  registerRole,
  registerIssuer,
  registerProvider,
  registerApiserverConfig,
  registerDoctor,
];

export function buildProgram(): Command {
  const program = new Command('kirsa')
    .description('IAM Roles for Service Accounts on any self-managed Kubernetes cluster')
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`kirsa: ${text.replace(/^error: /, '')}`) })
    .exitOverride();
  for (const register of VERBS) register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has printed its own message (or the help); usage errors exit 2 like bad input.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (isKirsaError(error)) {
    process.stderr.write(`kirsa: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
    if (debug)
      process.stderr.write(
        `${error.stack ?? ''}\n${error.cause ? `cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n` : ''}`,
      );
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`kirsa: unexpected error: ${message}\n`);
  if (debug) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
  else process.stderr.write('  hint: run again with --debug for details, and report it if it persists\n');
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, debug);
  }
}
