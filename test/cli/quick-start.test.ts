// The README's quick start cannot drift from the CLI: every `npx kirsa` command in it names a command and
// flags that exist (read from the full command tree), and the steps that need no cluster or AWS account
// (issuer init, apiserver-config, manifests, the mutate preview) run as written, in a fresh folder, exit 0.
// The steps that call AWS or a cluster are checked for their command and flags only here.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { runKirsa } from '../support/run-kirsa.ts';

const ROOT = new URL('../../', import.meta.url);
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kirsa-quick-start-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The quick start's kirsa commands, continuation lines joined, split into words (no quoting is used). */
async function quickStartCommands(): Promise<string[][]> {
  const readme = await readFile(new URL('README.md', ROOT), 'utf8');
  const start = readme.indexOf('## Quick start on a real cluster');
  const end = readme.indexOf('\n## ', start + 1);
  assert.ok(start > 0 && end > start, 'the README has a quick start section');
  const section = readme.slice(start, end).replace(/\\\n\s*/g, ' ');
  const commands: string[][] = [];
  for (const match of section.matchAll(/(?:^\s*\$ |`)npx (kirsa [^`\n#|]+)/gm)) {
    commands.push(match[1]!.trim().split(/\s+/).slice(1));
  }
  return commands;
}

function find(program: Command, words: string[]): { command: Command; rest: string[] } {
  let command = program;
  let at = 0;
  while (at < words.length) {
    const next = command.commands.find((sub) => sub.name() === words[at]);
    if (!next) break;
    command = next;
    at += 1;
  }
  return { command, rest: words.slice(at) };
}

test('every kirsa command in the quick start names a command and flags that exist', async () => {
  const commands = await quickStartCommands();
  assert.ok(commands.length >= 7, `found ${commands.length} commands`);
  const program = await buildProgram([], { all: true });
  for (const words of commands) {
    const { command, rest } = find(program, words);
    assert.ok(
      command !== program && command.commands.length === 0,
      `not a command: kirsa ${words.join(' ')}`,
    );
    for (const word of rest.filter((item) => item.startsWith('-'))) {
      const flag = word.split('=')[0]!;
      assert.ok(
        command.options.some((option) => option.long === flag || option.short === flag),
        `kirsa ${words.join(' ')}: no flag ${flag}`,
      );
    }
  }
});

test('the offline steps of the quick start run as written', async () => {
  const commands = await quickStartCommands();
  const offline = commands.filter((words) =>
    ['issuer init', 'apiserver-config', 'manifests', 'mutate'].some((name) =>
      words.join(' ').startsWith(name),
    ),
  );
  assert.ok(offline.length >= 4, `found ${offline.length} offline steps`);
  for (const words of offline) {
    // Files the README names relative to the checkout (examples/...) are read from it.
    const args = words.map((word) => (word.startsWith('examples/') ? new URL(word, ROOT).pathname : word));
    const run = await runKirsa(args, { cwd: work });
    assert.equal(run.code, 0, `kirsa ${words.join(' ')}:\n${run.stderr}`);
  }
});
