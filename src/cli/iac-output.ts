// Where `-o terraform|cloudformation` output goes: with --output-dir, one file per resource group (the
// template, and the ServiceAccount manifest beside it) so several verbs can fill one folder that Terraform
// reads as one configuration; without it, the template alone on standard output, for a pipe.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { IAC_FILE_SUFFIX, type IacFormat, iacName } from '../core/iam/iac.ts';
import { KirsaError } from '../errors.ts';
import { printNote } from './flags.ts';

export interface IacOutput {
  format: IacFormat;
  outputDir?: string | undefined;
  /** The file name without its suffix (`role-<name>`, `provider-<host>`). */
  stem: string;
  document: object;
  /** Kubernetes objects to apply beside the template (the annotated ServiceAccounts). */
  manifests?: object[];
}

/** The option pair every verb with IaC output takes. */
export const IAC_OPTIONS = {
  output: [
    '-o, --output <format>',
    'json: call AWS and print the result as JSON (docs/cli-json.md); terraform (*.tf.json) or cloudformation: write IaC instead of calling AWS',
  ],
  outputDir: [
    '--output-dir <dir>',
    'with -o: write the files here (the template and the ServiceAccount manifest) instead of to stdout',
  ],
} as const;

export async function writeIacOutput(output: IacOutput): Promise<void> {
  const json = `${JSON.stringify(output.document, null, 2)}\n`;
  const manifests = output.manifests ?? [];
  if (output.outputDir === undefined) {
    process.stdout.write(json);
    if (manifests.length > 0)
      printNote('kirsa: the ServiceAccount manifest is written only with --output-dir');
    return;
  }
  const stem = iacName(output.stem);
  const files: Array<[string, string]> = [[`${stem}${IAC_FILE_SUFFIX[output.format]}`, json]];
  if (manifests.length > 0)
    files.push([
      `${stem}.serviceaccount.yaml`,
      manifests.map((manifest) => stringify(manifest)).join('---\n'),
    ]);
  try {
    await mkdir(output.outputDir, { recursive: true });
    for (const [name, text] of files) await writeFile(join(output.outputDir, name), text);
  } catch (error) {
    throw new KirsaError('WRITE_DENIED', `cannot write to ${output.outputDir}: ${(error as Error).message}`, {
      cause: error,
      hint: 'give an --output-dir kirsa may write to',
    });
  }
  for (const [name] of files) process.stdout.write(`${join(output.outputDir, name)}\n`);
}
