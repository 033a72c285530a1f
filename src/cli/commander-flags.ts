// Declared flags (flag-specs.ts) added to a commander command, exactly as `.option()` would add them.

import { type Command, Option } from 'commander';
import type { FlagSpec } from './flag-specs.ts';

export function addFlagSpecs(command: Command, specs: readonly FlagSpec[]): Command {
  for (const spec of specs) {
    const option = new Option(spec.flags, spec.description);
    if (spec.parse) option.argParser(spec.parse);
    if (spec.default !== undefined) option.default(spec.default, spec.defaultText);
    if (spec.hidden) option.hideHelp();
    command.addOption(option);
  }
  return command;
}
