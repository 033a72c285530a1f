// The file-based identity sources: the identities file (the reference's ConfigMap JSON, typically mounted
// from a ConfigMap volume) and the container-credentials list. Both are re-read when they change; a file
// that cannot be parsed keeps the previous content in force and says why in the log.

import {
  EMPTY_MAPPING,
  type IdentityMapping,
  parseContainerCredentialsList,
} from '../core/identity/identity.ts';
import { KirsaError } from '../errors.ts';
import type { Logger } from '../io/log.ts';
import { type WatchedFiles, watchFiles } from '../io/watched-file.ts';
import { applyMappingText } from './mapping-text.ts';

export interface IdentitiesFileOptions {
  path: string;
  onMapping(mapping: IdentityMapping): void;
  logger: Logger;
  pollMs?: number;
}

/**
 * Watches the identities file. The first read must succeed (a typo at start-up is a configuration error);
 * later, an unreadable or invalid file keeps the last good mapping, and a deleted file empties it.
 */
export async function watchIdentitiesFile(options: IdentitiesFileOptions): Promise<WatchedFiles> {
  const { path, logger } = options;
  let first = true;
  let startError: KirsaError | undefined;
  const watched = await watchFiles({
    paths: [path],
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    async onContents([content]) {
      const initial = first;
      first = false;
      if (content === undefined) {
        if (initial) {
          startError = new KirsaError('FILE_UNREADABLE', `cannot read the identities file ${path}`, {
            hint: 'check the path given to --identities-file and that the file is mounted',
          });
          return;
        }
        logger.warn({ file: path }, 'identities file is gone; its mapping entries are removed');
        options.onMapping(EMPTY_MAPPING);
        return;
      }
      const error = await applyMappingText(content, {
        logger,
        fields: { file: path },
        label: 'identities file',
        onMapping: options.onMapping,
      });
      if (!error) return;
      if (initial) {
        startError = new KirsaError('IDENTITIES_FILE_INVALID', `identities file ${path}: ${error.message}`, {
          hint: 'write it as {"namespace/serviceaccount": {"RoleARN": "arn:aws:iam::111122223333:role/name"}}',
        });
        return;
      }
      logger.error(
        { file: path, reason: error.message },
        'identities file is invalid; keeping the previous mapping',
      );
    },
    onError(error) {
      logger.error({ file: path, reason: (error as Error)?.message }, 'identities file check failed');
    },
  });
  if (startError) {
    watched.close();
    throw startError;
  }
  return watched;
}

export interface ContainerCredentialsFileOptions {
  path: string;
  onIdentities(identities: ReadonlySet<string>): void;
  logger: Logger;
  pollMs?: number;
}

/** Watches the container-credentials list: a missing or empty file means no pod uses that mode (as the reference). */
export function watchContainerCredentialsFile(
  options: ContainerCredentialsFileOptions,
): Promise<WatchedFiles> {
  const { path, logger } = options;
  return watchFiles({
    paths: [path],
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    onContents([content]) {
      if (content === undefined) {
        options.onIdentities(new Set());
        logger.info({ file: path }, 'container-credentials file absent; the mode is off');
        return;
      }
      let identities: Set<string>;
      try {
        identities = parseContainerCredentialsList(content.toString('utf8'));
      } catch (error) {
        logger.error(
          { file: path, reason: (error as Error).message },
          'container-credentials file is invalid; keeping the previous list',
        );
        return;
      }
      options.onIdentities(identities);
      logger.info({ file: path, entries: identities.size }, 'container-credentials file loaded');
    },
    onError(error) {
      logger.error(
        { file: path, reason: (error as Error)?.message },
        'container-credentials file check failed',
      );
    },
  });
}
