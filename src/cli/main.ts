// The `kirsa` command: builds the verb tree, runs it, and turns failures into one message line, one hint
// line and an exit code. A stack trace is printed only with --debug.

import { Command, CommanderError } from 'commander';
import { isKirsaError } from '../errors.ts';

type Register = (program: Command) => void;

/**
 * Each verb's module, loaded only when that verb runs (every module for top-level help): the webhook then
 * carries none of the other verbs' code, which measured about 17 MB of its memory. Order is help's order.
 */
const VERBS: Record<string, () => Promise<Register>> = {
  demo: async () => (await import('./demo.ts')).registerDemo,
  mutate: async () => (await import('./mutate.ts')).registerMutate,
  manifests: async () => (await import('./manifests.ts')).registerManifests,
  'trust-policy': async () => (await import('./trust-policy.ts')).registerTrustPolicy,
  explain: async () => (await import('./explain.ts')).registerExplain,
  webhook: async () => (await import('./webhook.ts')).registerWebhook,
  sts: async () => (await import('./sts.ts')).registerSts,
  role: async () => (await import('./role.ts')).registerRole,
  issuer: async () => (await import('./issuer.ts')).registerIssuer,
  provider: async () => (await import('./provider.ts')).registerProvider,
  'apiserver-config': async () => (await import('./apiserver-config.ts')).registerApiserverConfig,
  doctor: async () => (await import('./doctor.ts')).registerDoctor,
};

/** The command tree for these arguments: just the verb named, when one is, else all of them. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const named = argv.find((arg) => !arg.startsWith('-'));
  const verbs = named !== undefined && named in VERBS ? [named] : Object.keys(VERBS);
  const program = new Command('kirsa')
    .description('IAM Roles for Service Accounts on any self-managed Kubernetes cluster')
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`kirsa: ${text.replace(/^error: /, '')}`) })
    .exitOverride();
  for (const register of await Promise.all(verbs.map((verb) => VERBS[verb]!()))) register(program);
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
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, debug);
  }
}
