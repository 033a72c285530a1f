// `kirsa webhook` as a commander command: for --help, completion scripts, and the command lines the
// webhook's own parse leaves to commander (webhook.ts, runWebhookCommandLine).

import type { Command } from 'commander';
import { addFlagSpecs } from './commander-flags.ts';
import { runWebhookVerb, WEBHOOK_FLAGS, type WebhookFlags } from './webhook.ts';

export function registerWebhook(program: Command): void {
  addFlagSpecs(
    program
      .command('webhook')
      .description('run the mutating admission webhook that gives pods AWS credentials (HTTPS, /mutate)'),
    WEBHOOK_FLAGS,
  ).action(async (flags: WebhookFlags) => runWebhookVerb(flags));
}
