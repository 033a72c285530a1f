// Writes that never leave a half-written file: content goes to a temporary name in the same folder (same
// file system, so rename is atomic), and only whole files are renamed into place. A failure removes every
// temporary it made.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KirsaError } from '../errors.ts';

export interface FileToWrite {
  /** Path relative to the folder being written. */
  path: string;
  content: string;
  /** 0o600 for private keys, 0o644 otherwise. */
  mode: number;
}

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.kirsa-tmp-${randomBytes(4).toString('hex')}`);
}

export function fileSystemError(error: unknown, what: string): KirsaError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new KirsaError('PERMISSION', `cannot write ${what}: ${(error as Error).message}`, {
      hint: 'choose a folder you can write to with --dir',
      cause: error,
    });
  }
  return new KirsaError('INTERNAL', `cannot write ${what}: ${(error as Error).message}`, { cause: error });
}

/**
 * Creates `dir` holding exactly these files, or nothing at all. `dir` must not exist, or be empty: the files
 * are written into a sibling temporary folder that is renamed to `dir` at the end.
 */
export async function createFolderAtomically(dir: string, files: readonly FileToWrite[]): Promise<void> {
  const staging = temporaryName(dir);
  try {
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(staging, { mode: 0o755 });
    for (const file of files) {
      const target = join(staging, file.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.content, { mode: file.mode, flag: 'wx' });
    }
    try {
      await rename(staging, dir);
    } catch (error) {
      // rename(2) replaces an empty folder on Linux but not everywhere: remove it and try once more.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      if ((await readdir(dir)).length > 0) throw error;
      await rmdir(dir);
      await rename(staging, dir);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw fileSystemError(error, dir);
  }
}

/**
 * Replaces these files inside an existing `dir`. Every file is written to a temporary name first; only when
 * all are written are they renamed, in the order given (put the file that records the change last).
 */
export async function replaceFilesAtomically(dir: string, files: readonly FileToWrite[]): Promise<void> {
  const written: Array<{ temporary: string; target: string }> = [];
  try {
    for (const file of files) {
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      const temporary = temporaryName(target);
      written.push({ temporary, target });
      await writeFile(temporary, file.content, { mode: file.mode, flag: 'wx' });
    }
  } catch (error) {
    await Promise.all(written.map(({ temporary }) => rm(temporary, { force: true })));
    throw fileSystemError(error, dir);
  }
  for (const { temporary, target } of written) await rename(temporary, target);
}
