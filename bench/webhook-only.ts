// `kirsa webhook` with only the webhook verb registered: what the webhook itself costs in memory, without
// the modules the CLI's other verbs load at start-up (the AWS SDK, the Kubernetes client).

import { Command } from 'commander';
import { registerWebhook } from '../src/cli/webhook.ts';

const program = new Command('kirsa');
registerWebhook(program);
await program.parseAsync(['webhook', ...process.argv.slice(2)], { from: 'user' });
