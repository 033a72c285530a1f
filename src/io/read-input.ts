// Reading a file the user named: one error shape everywhere, saying which file, what it was for, the
// likely cause in plain words, and what to check.

import { readFile } from 'node:fs/promises';
import { KirsaError } from '../errors.ts';

const CAUSES: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
};

/** The file's text; `what` names its role in messages ("policy", "CA file"). */
export async function readInputText(path: string, what = 'file'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new KirsaError(
      'FILE_UNREADABLE',
      `cannot read the ${what} ${path}: ${CAUSES[code] ?? (error as Error).message}`,
      {
        hint: 'check the path and that you may read it',
        cause: error,
      },
    );
  }
}
