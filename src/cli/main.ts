// The `kirsa` command: builds the verb tree, runs it, and turns failures into one message line, one hint
// line, one code line and an exit code (or, with `-o json`, one JSON object on stderr). A stack trace is
// printed only with --debug.

import type { Command, CommanderError, Option } from 'commander';
import { isKirsaError, type KirsaErrorCode } from '../errors.ts';
import { kirsaVersion } from '../version.ts';

type Register = (program: Command) => void;

interface Verb {
  /** The line top-level help shows: kept here so that help loads no verb's module. */
  summary: string;
  load: () => Promise<Register>;
}

/**
 * Each verb's module, loaded only when that verb runs: the webhook then carries none of the other verbs'
 * code (about 17 MB of its memory), and top-level help, built from the summaries alone, loads none (it took
 * 0.6-1.5 s when it loaded them all). Order is help's order: the workflow, first touch to troubleshooting.
 */
const VERBS: Record<string, Verb> = {
  demo: {
    summary: 'run the whole IRSA flow on this machine (no cluster, no AWS account)',
    load: async () => (await import('./demo.ts')).registerDemo,
  },
  issuer: {
    summary: 'the OIDC issuer STS trusts: keys, documents, publishing, checks',
    load: async () => (await import('./issuer.ts')).registerIssuer,
  },
  'apiserver-config': {
    summary: 'print the kube-apiserver settings for the issuer, per distribution',
    load: async () => (await import('./apiserver-config.ts')).registerApiserverConfig,
  },
  provider: {
    summary: 'the IAM OIDC identity provider that trusts the issuer',
    load: async () => (await import('./provider.ts')).registerProvider,
  },
  role: {
    summary: 'IAM roles for service accounts: create, delete',
    load: async () => (await import('./role.ts')).registerRole,
  },
  stack: {
    summary: 'write the issuer bucket, provider and roles as one Terraform or CloudFormation stack',
    load: async () => (await import('./stack.ts')).registerStack,
  },
  manifests: {
    summary: 'print the webhook install manifests as YAML',
    load: async () => (await import('./manifests.ts')).registerManifests,
  },
  webhook: {
    summary: 'run the mutating admission webhook that gives pods AWS credentials',
    load: async () => (await import('./webhook-command.ts')).registerWebhook,
  },
  mutate: {
    summary: 'print Pods and workloads as the webhook would admit them (offline preview)',
    load: async () => (await import('./mutate.ts')).registerMutate,
  },
  migrate: {
    summary: 'move workloads from kube2iam or kiam to IRSA without downtime: plan, apply, cleanup',
    load: async () => (await import('./migrate.ts')).registerMigrate,
  },
  doctor: {
    summary: 'check every link from a pod to its AWS credentials, and say what to fix',
    load: async () => (await import('./doctor.ts')).registerDoctor,
  },
  explain: {
    summary: 'evaluate a trust policy as STS does, and say why it denies',
    load: async () => (await import('./explain.ts')).registerExplain,
  },
  'trust-policy': {
    summary: 'print the role trust policy for service accounts of one or more clusters',
    load: async () => (await import('./trust-policy.ts')).registerTrustPolicy,
  },
  sts: {
    summary: 'a local AWS STS that checks web-identity tokens as AWS does',
    load: async () => (await import('./sts.ts')).registerSts,
  },
  completion: {
    summary: 'print a shell completion script: bash, zsh or fish',
    load: async () => (await import('./completion.ts')).registerCompletion,
  },
};

export const VERB_NAMES: readonly string[] = Object.keys(VERBS);

/** The verb these arguments name (`kirsa help VERB` names VERB), if any. */
function namedVerb(argv: readonly string[]): string | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  const named = words[0] === 'help' ? words[1] : words[0];
  return named !== undefined && named in VERBS ? named : undefined;
}

/** Options made with requiredOption: commander checks them before unknown options, so kirsa checks them. */
const REQUIRED = new WeakSet<Option>();

/** Whether a flag is required (marked "(required)" in help); for the tests that check Examples. */
export function isRequiredOption(option: Option): boolean {
  return REQUIRED.has(option);
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** The full name of a command below the program: "role create". */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * The command tree for these arguments: the verb named, loaded, when one is; else every verb as a summary
 * line only (enough for top-level help and did-you-mean on a misspelt verb). `all` loads every verb (for
 * completion scripts and tests that walk the tree).
 */
export async function buildProgram(argv: readonly string[] = [], { all = false } = {}): Promise<Command> {
  // Imported here, not above: the webhook's process reads its flags without commander (webhook.ts).
  const { Command, Help } = await import('commander');
  // Help text only: the webhook's process, which goes through this module, never builds a program.
  const { EXAMPLES } = await import('./examples.ts');
  const help = new Help();
  const program = new Command('kirsa')
    .description('IAM Roles for Service Accounts on any self-managed Kubernetes cluster')
    .version(kirsaVersion(), '-V, --version', 'print the version of kirsa')
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`kirsa: ${text.replace(/^error: /, '')}`) })
    .configureHelp({
      optionDescription(option) {
        // A repeatable flag starts from an empty list, which is no default worth printing.
        const text = help.optionDescription(option).replace(/ \(default: \[\]\)$/, '');
        return REQUIRED.has(option) ? `${text} (required)` : text;
      },
    })
    .exitOverride();
  const named = namedVerb(argv);
  const load = all ? VERB_NAMES : named ? [named] : [];
  for (const [name, verb] of Object.entries(VERBS)) {
    if (load.includes(name)) (await verb.load())(program);
    else program.command(name).summary(verb.summary).description(verb.summary);
  }
  // The verbs are registered in the table's order; summaries make the top-level list short.
  for (const command of program.commands) {
    const verb = VERBS[command.name()];
    if (verb) command.summary(verb.summary);
  }
  program.addHelpText('after', `\nStart with: kirsa demo, then the quick start in the README.\n`);
  for (const command of allCommands(program)) {
    command.exitOverride();
    for (const option of command.options) {
      if (option.mandatory) {
        option.mandatory = false;
        REQUIRED.add(option);
      }
    }
    const examples = EXAMPLES[commandPath(command)];
    if (examples)
      command.addHelpText('after', `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n`);
  }
  // After commander has refused unknown options (it checks required ones first, which hid a typo).
  program.hook('preAction', (_program, action) => {
    for (const option of action.options) {
      if (REQUIRED.has(option) && action.getOptionValue(option.attributeName()) === undefined) {
        action.error(`required option '${option.flags}' not specified`, {
          code: 'commander.missingMandatoryOptionValue',
        });
      }
    }
  });
  return program;
}

/** With `-o json` (or `--output json`), errors go to stderr as one JSON object instead of lines. */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some(
    (arg, at) =>
      ((arg === '-o' || arg === '--output') && argv[at + 1] === 'json') ||
      arg === '-ojson' ||
      arg === '--output=json',
  );
}

interface ErrorReport {
  code: KirsaErrorCode;
  message: string;
  hint: string | null;
}

function writeReport(report: ErrorReport, json: boolean): void {
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: report })}\n`);
    return;
  }
  process.stderr.write(`kirsa: ${report.message}\n`);
  if (report.hint) process.stderr.write(`  hint: ${report.hint}\n`);
  // The code in every mode, not only with -o json or --debug: it is what a user looks up in docs/errors.md
  // or pastes into a bug report, and what a script written from a terminal session should branch on. It
  // gets its own last line so the first line stays exactly the JSON `message` after `kirsa: `.
  process.stderr.write(`  code: ${report.code}\n`);
}

/** Commander's own errors (usage, help, version), told apart without loading commander. */
function isCommanderError(error: unknown): error is CommanderError {
  const { code, exitCode } = (error ?? {}) as { code?: unknown; exitCode?: unknown };
  return (
    error instanceof Error &&
    typeof code === 'string' &&
    code.startsWith('commander.') &&
    typeof exitCode === 'number'
  );
}

export function reportError(
  error: unknown,
  debug: boolean,
  { json = false, usageText = '' }: { json?: boolean; usageText?: string } = {},
): number {
  if (isCommanderError(error)) {
    // Commander has printed its own message (or the help), unless JSON was asked for; usage errors exit 2.
    if (error.exitCode === 0) return 0;
    if (json) {
      const message = (usageText || error.message).replace(/^(kirsa: |error: )/, '').split('\n')[0] ?? '';
      writeReport({ code: 'USAGE', message, hint: 'run with --help for usage' }, true);
    } else if (error.code !== 'commander.help') {
      // Commander's own lines are out already; end them with the code as every other error does. Help
      // printed for a group called without a verb is not an error line, so it gets none.
      process.stderr.write('  code: USAGE\n');
    }
    return 2;
  }
  if (isKirsaError(error)) {
    writeReport({ code: error.code, message: error.message, hint: error.hint ?? null }, json);
    if (debug)
      process.stderr.write(
        `${error.stack ?? ''}\n${error.cause ? `cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n` : ''}`,
      );
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  writeReport(
    {
      code: 'INTERNAL',
      message: `unexpected error: ${message}`,
      hint: debug ? null : 'run again with --debug for details, and report it if it persists',
    },
    json,
  );
  if (debug) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
  return 1;
}

/**
 * `kirsa manifests | head` closes the pipe before kirsa has written everything; the write then fails with
 * EPIPE, which Node raises as an unhandled 'error' event with a stack. The reader has all it wanted, so
 * kirsa stops quietly, as shell tools do.
 */
function stopQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

export async function main(argv: string[]): Promise<number> {
  stopQuietlyOnClosedPipe(process.stdout);
  const debug = argv.includes('--debug');
  const json = wantsJson(argv);
  let usageText = '';
  try {
    // The webhook's process reads its own command line when it can, so commander stays out of it.
    if (argv[0] === 'webhook') {
      const { runWebhookCommandLine } = await import('./webhook.ts');
      if (await runWebhookCommandLine(argv.slice(1)))
        return typeof process.exitCode === 'number' ? process.exitCode : 0;
    }
    const program = await buildProgram(argv);
    if (json) {
      // Commander's own messages (unknown option, missing value) become the JSON report instead.
      for (const command of allCommands(program)) {
        command.configureOutput({
          outputError: (text) => {
            usageText ||= text.replace(/^error: /, '');
          },
          writeErr: () => {},
        });
      }
    }
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, debug, { json, usageText });
  }
}
