// The command line as platform engineers expect it (issue #15): --version, top-level help built without
// loading any verb, verbs in workflow order, Examples and "(required)" in every help, an unknown option
// reported (with did-you-mean) before a missing required one, no default printed twice, completion scripts
// that bash runs, and errors as one JSON object on stderr with -o json.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { EXAMPLES } from '../../../src/cli/examples.ts';
import { buildProgram, commandPath, isRequiredOption, VERB_NAMES } from '../../../src/cli/main.ts';
import { KIRSA_BIN, runKirsa } from '../../support/run-kirsa.ts';

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

const firstLine = (text: string): string => text.split('\n')[0] ?? '';

describe('kirsa basics', () => {
  test('--version prints the version from package.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
    const run = await runKirsa(['--version']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), manifest.version);
  });

  test('a reader that closes the pipe early (| head) ends kirsa quietly, without a stack', async () => {
    for (const args of [['manifests'], ['manifests', '--help']]) {
      const child = spawn(process.execPath, [KIRSA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      // Closed before kirsa writes anything: its first write fails with EPIPE, as under `| head -1`.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const [code] = await once(child, 'close');
      assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, `kirsa ${args.join(' ')}`);
      assert.equal(code, 0, `kirsa ${args.join(' ')}`);
    }
  });

  test('top-level help loads no verb module and lists the verbs in workflow order', async () => {
    const program = await buildProgram(['--help']);
    for (const command of program.commands) {
      assert.equal(command.options.length, 0, `${command.name()} was loaded for top-level help`);
      assert.equal(command.commands.length, 0, `${command.name()} was loaded for top-level help`);
    }
    const run = await runKirsa(['--help']);
    assert.equal(run.code, 0, run.stderr);
    const at = (verb: string) => run.stdout.search(new RegExp(`^  ${verb} `, 'm'));
    const order = [
      'demo',
      'issuer',
      'apiserver-config',
      'provider',
      'role',
      'manifests',
      'doctor',
      'explain',
    ];
    const positions = order.map(at);
    assert.ok(
      positions.every((position) => position > 0),
      `a verb is missing from help:\n${run.stdout}`,
    );
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
  });

  test('every verb in the summary table loads a module that registers it', async () => {
    const program = await buildProgram([], { all: true });
    for (const verb of VERB_NAMES) {
      const command = program.commands.find((candidate) => candidate.name() === verb);
      assert.ok(
        command && (command.options.length > 0 || command.commands.length > 0 || verb === 'completion'),
        verb,
      );
    }
  });

  test('every command that runs something has Examples; none prints a default twice', async () => {
    const program = await buildProgram([], { all: true });
    for (const command of allCommands(program).slice(1)) {
      const help = command.createHelp();
      if (command.commands.length === 0) {
        assert.ok(EXAMPLES[commandPath(command)]?.length, `no examples for "${commandPath(command)}"`);
      }
      for (const option of command.options) {
        const text = help.optionDescription(option);
        assert.doesNotMatch(text, /\(default: \[\]\)/, `${commandPath(command)} ${option.flags}`);
        assert.doesNotMatch(
          text,
          /[(;] ?default [^)]*\) \(default: /,
          `${commandPath(command)} ${option.flags}`,
        );
      }
    }
  });

  test('every Example runs its own command with flags that command has, and its required ones', async () => {
    const program = await buildProgram([], { all: true });
    const byPath = new Map(allCommands(program).map((command) => [commandPath(command), command]));
    const wrong: string[] = [];
    for (const [path, examples] of Object.entries(EXAMPLES)) {
      const command = byPath.get(path);
      assert.ok(command, `Examples for "${path}", which is not a command`);
      for (const example of examples) {
        // The kirsa command alone: a pipe, a redirection or a comment ends it.
        const words = example
          .split(/\s+[|>#]/)[0]!
          .trim()
          .split(/\s+/);
        assert.deepEqual(words.slice(0, 1 + path.split(' ').length), ['kirsa', ...path.split(' ')], example);
        const flags = words.filter((word) => word.startsWith('-')).map((word) => word.split('=')[0]!);
        for (const flag of flags) {
          if (!command.options.some((option) => option.long === flag || option.short === flag))
            wrong.push(`"${example}" names ${flag}, which is not a flag of kirsa ${path}`);
        }
        for (const option of command.options.filter(isRequiredOption)) {
          if (!flags.includes(option.long!) && !(option.short && flags.includes(option.short)))
            wrong.push(`"${example}" lacks the required ${option.long}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('--help shows Examples and marks required flags', async () => {
    const run = await runKirsa(['mutate', '--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Examples:\n {2}\$ kirsa mutate -f /m);
    assert.match(run.stdout, /-f, --file <file>[\s\S]{0,120}\(required\)\n {2}--service-account/);
    const serve = await runKirsa(['issuer', 'serve', '--help']);
    assert.doesNotMatch(serve.stdout, /openssl/i);
  });

  test('an unknown option is reported before a missing required one, with did-you-mean', async () => {
    const run = await runKirsa(['mutate', '--fiel', 'pod.yaml']);
    assert.equal(run.code, 2);
    assert.equal(firstLine(run.stderr), "kirsa: unknown option '--fiel'");
    assert.match(run.stderr, /Did you mean --file\?/);
    const missing = await runKirsa(['mutate']);
    assert.equal(missing.code, 2);
    assert.equal(firstLine(missing.stderr), "kirsa: required option '-f, --file <file>' not specified");
    // Commander's own refusals end with the code line too; help for a verb group is not a refusal.
    assert.ok(run.stderr.endsWith('\n  code: USAGE\n'), run.stderr);
    assert.ok(missing.stderr.endsWith('\n  code: USAGE\n'), missing.stderr);
    const group = await runKirsa(['issuer']);
    assert.doesNotMatch(group.stderr, /code:/);
  });

  test('a misspelt verb suggests the right one', async () => {
    const run = await runKirsa(['rol', 'create']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown command 'rol'[\s\S]*Did you mean role\?/);
  });

  test('a text error is the message, the hint and the code; --debug only adds the stack after them', async () => {
    const run = await runKirsa(['mutate', '-f', '/nonexistent/pods.yaml']);
    assert.equal(run.code, 2);
    assert.deepEqual(run.stderr.split('\n'), [
      'kirsa: cannot read the manifest file /nonexistent/pods.yaml: no such file',
      '  hint: check the path and that you may read it',
      '  code: FILE_UNREADABLE',
      '',
    ]);
    const debug = await runKirsa(['mutate', '-f', '/nonexistent/pods.yaml', '--debug']);
    assert.equal(debug.code, 2);
    assert.ok(debug.stderr.startsWith(run.stderr), debug.stderr);
    assert.match(
      debug.stderr.slice(run.stderr.length),
      /^KirsaError: cannot read the manifest file[\s\S]*\n {4}at /,
    );
  });

  test('-o json: an error is one JSON object on stderr with its catalogue code', async () => {
    const missing = await runKirsa(['mutate', '-f', '/nonexistent/pods.yaml', '-o', 'json']);
    assert.equal(missing.code, 2);
    const report = JSON.parse(missing.stderr);
    assert.equal(report.error.code, 'FILE_UNREADABLE');
    assert.equal(typeof report.error.message, 'string');
    assert.ok('hint' in report.error);
    const usage = await runKirsa(['mutate', '--fiel', 'x', '-o', 'json']);
    assert.equal(usage.code, 2);
    assert.deepEqual(Object.keys(JSON.parse(usage.stderr).error), ['code', 'message', 'hint']);
    assert.equal(JSON.parse(usage.stderr).error.code, 'USAGE');
    assert.match(JSON.parse(usage.stderr).error.message, /unknown option '--fiel'/);
  });
});

describe('kirsa completion', () => {
  test('bash: the script parses and completes verbs, subcommands and flags', async () => {
    const run = await runKirsa(['completion', 'bash']);
    assert.equal(run.code, 0, run.stderr);
    const complete = (words: string[]) => {
      const script = `${run.stdout}\nCOMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kirsa; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const bash = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      assert.equal(bash.status, 0, bash.stderr);
      return bash.stdout.trim().split('\n');
    };
    assert.deepEqual(complete(['kirsa', 'ro']), ['role']);
    assert.deepEqual(complete(['kirsa', 'role', 'cr']), ['create']);
    assert.ok(complete(['kirsa', 'role', 'create', '--provider']).includes('--provider-arn'));
    assert.ok(complete(['kirsa', 'issuer', 'publish', '--bu']).includes('--bucket'));
  });

  test('zsh and fish scripts name every verb; another shell is a usage error', async () => {
    const zsh = await runKirsa(['completion', 'zsh']);
    assert.equal(zsh.code, 0, zsh.stderr);
    assert.match(zsh.stdout, /^#compdef kirsa/);
    const fish = await runKirsa(['completion', 'fish']);
    assert.equal(fish.code, 0, fish.stderr);
    for (const verb of VERB_NAMES) assert.match(fish.stdout, new RegExp(`-a ${verb} `));
    const other = await runKirsa(['completion', 'ksh', '-o', 'json']);
    assert.equal(other.code, 2);
  });
});
