// What the identities file and the mapping ConfigMap do alike with a new mapping text: parse it, log each
// skipped entry, hand the mapping on and log the load. What a text that is no mapping at all means differs
// (fatal at start-up for the file, "keep the last good mapping" otherwise), so that is left to the caller.

import type { Logger } from 'pino';
import { type IdentityMapping, parseIdentityMapping } from '../core/identity.ts';

export interface MappingTextSource {
  logger: Logger;
  /** Log fields naming the source, e.g. { file: path } or { configMap: "ns/name" }. */
  fields: Record<string, string>;
  /** How the source is named in the "loaded" line: "identities file", "mapping ConfigMap". */
  label: string;
  onMapping(mapping: IdentityMapping): void;
}

/** Applies the text's mapping; returns the parse error instead, changing nothing, when it is no mapping. */
export function applyMappingText(text: string, source: MappingTextSource): Error | undefined {
  let parsed: ReturnType<typeof parseIdentityMapping>;
  try {
    parsed = parseIdentityMapping(text);
  } catch (error) {
    return error as Error;
  }
  for (const problem of parsed.problems)
    source.logger.warn({ ...source.fields, problem }, 'mapping entry skipped');
  source.onMapping(parsed.mapping);
  source.logger.info(
    { ...source.fields, entries: parsed.mapping.size, skipped: parsed.problems.length },
    `${source.label} loaded`,
  );
  return undefined;
}
