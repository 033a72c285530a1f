// The reference's mapping ConfigMap (`pod-identity-webhook` in --namespace, JSON under the key `config`),
// watched with its quirks fixed: a bad key is logged and skipped instead of crashing the process, deleting
// the ConfigMap (or the key) removes its entries, and an unparseable update keeps the last good mapping.

import { MAPPING_CONFIG_MAP_KEY, MAPPING_CONFIG_MAP_NAME } from '../consts.ts';
import { EMPTY_MAPPING, type IdentityMapping } from '../core/identity/identity.ts';
import type { Logger } from '../io/log.ts';
import type { KubeConnection } from '../kube/connection.ts';
import { type ListWatchHandle, startListWatch } from './list-watch.ts';
import { applyMappingText } from './mapping-text.ts';

export interface ConfigMapWatchOptions {
  connection: KubeConnection;
  namespace: string;
  onMapping(mapping: IdentityMapping): void;
  onSyncedChange?(synced: boolean): void;
  logger: Logger;
}

export function watchMappingConfigMap(options: ConfigMapWatchOptions): ListWatchHandle {
  const { namespace, logger } = options;
  const fieldSelector = `metadata.name=${MAPPING_CONFIG_MAP_NAME}`;
  const where = `${namespace}/${MAPPING_CONFIG_MAP_NAME}`;

  // Mapping texts are read asynchronously (in slices), so changes are applied strictly one after another,
  // in the order the API server sent them: a deletion never overtakes the update before it.
  let applying: Promise<void> = Promise.resolve();
  function inOrder(change: () => void | Promise<void>): Promise<void> {
    applying = applying.then(change).catch((error: unknown) => {
      logger.error({ configMap: where, err: error }, 'applying the mapping ConfigMap failed');
    });
    return applying;
  }

  async function take(object: unknown) {
    const text = (object as { data?: Record<string, string> | null } | undefined)?.data?.[
      MAPPING_CONFIG_MAP_KEY
    ];
    if (text === undefined) {
      logger.warn(
        { configMap: where },
        `ConfigMap has no "${MAPPING_CONFIG_MAP_KEY}" key; no mapping entries from it`,
      );
      options.onMapping(EMPTY_MAPPING);
      return;
    }
    const error = await applyMappingText(text, {
      logger,
      fields: { configMap: where },
      label: 'mapping ConfigMap',
      onMapping: options.onMapping,
    });
    if (error) {
      logger.error(
        { configMap: where, reason: error.message },
        'mapping ConfigMap is invalid; keeping the previous mapping',
      );
    }
  }

  return startListWatch({
    name: 'mapping-config-map',
    connection: options.connection,
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
    fieldSelector,
    beginRelist() {
      let found: unknown;
      return {
        add(object) {
          found = object;
        },
        commit() {
          return inOrder(() => {
            if (found !== undefined) return take(found);
            logger.info(
              { configMap: where },
              'mapping ConfigMap does not exist (yet); no mapping entries from it',
            );
            options.onMapping(EMPTY_MAPPING);
          });
        },
      };
    },
    onEvent(type, object) {
      void inOrder(() => {
        if (type !== 'DELETED') return take(object);
        logger.info({ configMap: where }, 'mapping ConfigMap deleted; its entries are removed');
        options.onMapping(EMPTY_MAPPING);
      });
    },
    ...(options.onSyncedChange ? { onSyncedChange: options.onSyncedChange } : {}),
    logger,
  });
}
