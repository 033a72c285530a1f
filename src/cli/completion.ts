// `kirsa completion bash|zsh|fish`: a completion script for the shell, made from the command tree itself
// (every verb loaded), so a new verb or flag completes without editing a script. zsh runs the bash script
// through bashcompinit, which every zsh ships.

import type { Command } from 'commander';
import { KirsaError } from '../errors.ts';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

interface Node {
  /** Full name below the program, "" for the program itself. */
  path: string;
  summary: string;
  subcommands: string[];
  flags: string[];
}

function flatten(command: Command, path = ''): Node[] {
  const flags = command.options
    .flatMap((option) => [option.long, option.short])
    .filter((f) => f !== undefined);
  const visible = command.commands.filter((sub) => sub.name() !== 'help');
  const node: Node = {
    path,
    summary: command.summary() || command.description(),
    subcommands: visible.map((sub) => sub.name()),
    flags: [...flags, '--help'],
  };
  return [node, ...visible.flatMap((sub) => flatten(sub, path ? `${path} ${sub.name()}` : sub.name()))];
}

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

export function bashScript(program: Command): string {
  const nodes = flatten(program);
  const paths = nodes.filter((node) => node.path).map((node) => quote(node.path));
  return [
    '# kirsa completion for bash (kirsa completion bash)',
    '_kirsa() {',
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" word words`,
    `  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do`,
    '    [[ $word == -* ]] && continue',
    `    case "\${cmd:+$cmd }$word" in`,
    `      ${paths.join('|')}) cmd="\${cmd:+$cmd }$word" ;;`,
    '    esac',
    '  done',
    '  case "$cmd" in',
    ...nodes.map(
      (node) => `    ${quote(node.path)}) words=${quote([...node.subcommands, ...node.flags].join(' '))} ;;`,
    ),
    '  esac',
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '}',
    'complete -o default -F _kirsa kirsa',
    '',
  ].join('\n');
}

function zshScript(program: Command): string {
  return [
    '#compdef kirsa',
    '# kirsa completion for zsh (kirsa completion zsh), through bashcompinit',
    'autoload -U +X bashcompinit && bashcompinit',
    bashScript(program).split('\n').slice(1).join('\n'),
  ].join('\n');
}

function fishScript(program: Command): string {
  const nodes = flatten(program);
  const summaries = new Map(nodes.map((node) => [node.path, node.summary]));
  const lines = ['# kirsa completion for fish (kirsa completion fish)', 'complete -c kirsa -f'];
  for (const node of nodes) {
    const words = node.path ? node.path.split(' ') : [];
    const deeper = node.subcommands.length
      ? [`not __fish_seen_subcommand_from ${node.subcommands.join(' ')}`]
      : [];
    const condition = words.length
      ? [...words.map((word) => `__fish_seen_subcommand_from ${word}`), ...deeper].join('; and ')
      : '__fish_use_subcommand';
    for (const name of node.subcommands) {
      const summary = summaries.get(node.path ? `${node.path} ${name}` : name) ?? '';
      lines.push(`complete -c kirsa -n ${quote(condition)} -a ${name} -d ${quote(summary)}`);
    }
    for (const flag of node.flags) {
      const spec = flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      lines.push(`complete -c kirsa -n ${quote(condition)} ${spec}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  if (shell === 'bash') return bashScript(program);
  if (shell === 'zsh') return zshScript(program);
  return fishScript(program);
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description(
      'print a completion script for your shell (bash, zsh or fish); source it or put it where the shell looks',
    )
    .argument('<shell>', SHELLS.join(' | '))
    .action(async (shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        throw new KirsaError('FLAG_INVALID', `completion takes bash, zsh or fish, not "${shell}"`, {
          hint: 'kirsa completion bash > /etc/bash_completion.d/kirsa',
        });
      }
      // The whole tree, every verb loaded: completion must know them all.
      const { buildProgram } = await import('./main.ts');
      process.stdout.write(completionScript(await buildProgram([], { all: true }), shell as Shell));
    });
}
