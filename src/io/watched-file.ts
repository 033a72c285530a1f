// Re-reads a set of files when any of them changes: the serving certificate and key, the identities file,
// the container-credentials list. Files mounted from a Secret or ConfigMap volume change by an atomic swap of
// the `..data` symlink, which a watch on the file itself never sees; so this watches the parent directories
// and also polls (stat, then read and hash only when stat differs), and calls back only when the content
// really changed. It lives outside the shells because two of them use it (src/identity for the mappings,
// src/webhook for the certificate) and shells do not import each other.

import type { FSWatcher } from 'node:fs';
import { FILE_POLL_INTERVAL_MS } from '../consts.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { createHash } = process.getBuiltinModule('node:crypto');
const { watch } = process.getBuiltinModule('node:fs');
const { readFile, stat } = process.getBuiltinModule('node:fs/promises');
const { dirname } = process.getBuiltinModule('node:path');

/** The files' contents in the order given; undefined for a file that does not exist (or cannot be read). */
export type FileContents = Array<Buffer | undefined>;

export interface WatchedFiles {
  /** Checks now (tests and start-up use this); resolves once any resulting callback has finished. */
  check(): Promise<void>;
  close(): void;
}

export interface WatchFilesOptions {
  paths: string[];
  /** Called with the new contents after each real change, and once at start. May throw: reported, not retried. */
  onContents(contents: FileContents): void | Promise<void>;
  onError(error: unknown): void;
  pollMs?: number;
}

async function signature(path: string): Promise<string> {
  try {
    const info = await stat(path); // follows symlinks, so a `..data` swap shows as a new inode
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}

export async function watchFiles(options: WatchFilesOptions): Promise<WatchedFiles> {
  const { paths } = options;
  let lastSignature = '';
  let lastHash = '';
  let closed = false;

  async function runCheck(): Promise<void> {
    const current = (await Promise.all(paths.map(signature))).join('|');
    if (current === lastSignature) return;
    const contents = await Promise.all(paths.map(readOrUndefined));
    // stat ran before the read, so a swap in between only causes one more (harmless) read next time.
    lastSignature = current;
    const hash = createHash('sha256');
    for (const content of contents)
      hash.update(content === undefined ? '\0missing' : `\0${content.length}\0`).update(content ?? '');
    const digest = hash.digest('hex');
    if (digest === lastHash) return;
    lastHash = digest;
    try {
      await options.onContents(contents);
    } catch (error) {
      options.onError(error);
    }
  }

  // Checks run one at a time; a call while one runs queues exactly one more, so every caller's promise
  // covers a check that started after the call.
  let tail: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  function check(): Promise<void> {
    if (closed) return Promise.resolve();
    if (queued) return queued;
    const next = tail.then(() => {
      queued = undefined;
      return closed ? undefined : runCheck();
    });
    queued = next.catch(options.onError);
    tail = queued;
    return queued;
  }

  await check();

  let debounce: NodeJS.Timeout | undefined;
  const onEvent = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), 20);
    debounce.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const directory of new Set(paths.map((path) => dirname(path)))) {
    try {
      const watcher = watch(directory, { persistent: false }, onEvent);
      watcher.on('error', () => {}); // the directory went away; polling carries on
      watchers.push(watcher);
    } catch {
      // An unwatchable directory (missing, or a filesystem without inotify): polling alone covers it.
    }
  }
  const poll = setInterval(() => void check(), options.pollMs ?? FILE_POLL_INTERVAL_MS);
  poll.unref();

  return {
    check,
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(debounce);
      for (const watcher of watchers) watcher.close();
    },
  };
}
