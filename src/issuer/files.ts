// Writes that never leave a half-written file: content goes to a temporary name in the same folder (same
// file system, so rename is atomic), and only whole files are renamed into place. A failure removes every
// temporary it made; a process killed mid-write (kill -9, power loss) cannot, so every write first removes
// the temporaries an earlier one left: they may hold a whole private key.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KirsaError } from '../errors.ts';

export interface FileToWrite {
  /** Path relative to the folder being written. */
  path: string;
  content: string;
  /** 0o600 for private keys, 0o644 otherwise. */
  mode: number;
}

const TEMPORARY_SUFFIX = '.kirsa-tmp-';
/** `.<name>.kirsa-tmp-<8 hex digits>`: the names temporaryName makes, and only those. */
const TEMPORARY_NAME = /^\..+\.kirsa-tmp-[0-9a-f]{8}$/;

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMPORARY_SUFFIX}${randomBytes(4).toString('hex')}`);
}

/**
 * Removes the temporaries an interrupted write left under `dir` (files and staging folders), and returns their
 * paths. Writes to one issuer folder are not meant to run at the same time, so whatever temporary is there
 * belongs to a write that died.
 */
export async function removeLeftoverTemporaries(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true })).map(String);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const leftovers = entries.filter((entry) => TEMPORARY_NAME.test(basename(entry)));
  // A staging folder's contents are listed too; removing the folder first makes them gone already.
  for (const entry of leftovers) await rm(join(dir, entry), { recursive: true, force: true });
  return leftovers.map((entry) => join(dir, entry));
}

/** Leftover staging folders of `dir` itself (`.name.kirsa-tmp-*` beside it) from an interrupted init. */
async function removeLeftoverStaging(dir: string): Promise<void> {
  const parent = dirname(dir);
  let siblings: string[];
  try {
    siblings = await readdir(parent);
  } catch {
    return;
  }
  const prefix = `.${basename(dir)}${TEMPORARY_SUFFIX}`;
  for (const name of siblings)
    if (name.startsWith(prefix) && TEMPORARY_NAME.test(name))
      await rm(join(parent, name), { recursive: true, force: true });
}

/**
 * mkdir -p that names the folder it could not make and why. Node's recursive mkdir reports ENOENT for the
 * folder asked when a parent cannot be made (on a read-only mount `ro/a/b` failed with "ENOENT ... ro/a/b"
 * while the cause was EROFS at ro/a): on ENOENT, the first missing folder is made alone to get its error.
 */
export async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let missing = dir;
    for (let parent = dirname(missing); parent !== missing; parent = dirname(missing)) {
      const exists = await stat(parent).then(
        () => true,
        () => false,
      );
      if (exists) break;
      missing = parent;
    }
    await mkdir(missing); // throws the real cause (EROFS, EACCES, ENOTDIR) for the right folder
    throw error;
  }
}

export function fileSystemError(error: unknown, what: string): KirsaError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new KirsaError('WRITE_DENIED', `cannot write ${what}: ${(error as Error).message}`, {
      hint: 'choose a folder you can write to with --dir',
      cause: error,
    });
  }
  return new KirsaError('WRITE_FAILED', `cannot write ${what}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * Creates `dir` holding exactly these files, or nothing at all. `dir` must not exist, or be empty: the files
 * are written into a sibling temporary folder that is renamed to `dir` at the end.
 */
export async function createFolderAtomically(dir: string, files: readonly FileToWrite[]): Promise<void> {
  const staging = temporaryName(dir);
  try {
    await removeLeftoverStaging(dir);
    await makeFolders(dirname(dir));
    await mkdir(staging, { mode: 0o755 });
    for (const file of files) {
      const target = join(staging, file.path);
      await makeFolders(dirname(target));
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
    await removeLeftoverTemporaries(dir);
    for (const file of files) {
      const target = join(dir, file.path);
      await makeFolders(dirname(target));
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
