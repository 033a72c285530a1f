// What the identities file and the mapping ConfigMap do alike with a new mapping text: read it, log each
// skipped entry, hand the mapping on and log the load. What a text that is no mapping at all means differs
// (fatal at start-up for the file, "keep the last good mapping" otherwise), so that is left to the caller.

import { MAPPING_READ_SLICE } from '../consts.ts';
import type { IdentityMapping, ParsedMapping } from '../core/identity/identity.ts';
import type { Logger } from '../io/log.ts';
import { LARGE_READ_BYTES, returnGarbageSoon } from './return-garbage.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { setImmediate: nextTurn } = process.getBuiltinModule('node:timers/promises');

export interface MappingTextSource {
  logger: Logger;
  /** Log fields naming the source, e.g. { file: path } or { configMap: "ns/name" }. */
  fields: Record<string, string>;
  /** How the source is named in the "loaded" line: "identities file", "mapping ConfigMap". */
  label: string;
  onMapping(mapping: IdentityMapping): void;
}

/**
 * Reads the text a slice at a time, letting the event loop run between slices, so a webhook answering
 * admissions keeps answering them while a large mapping loads.
 */
async function readInSlices(text: string | Uint8Array): Promise<ParsedMapping> {
  // Loaded with the first mapping: a webhook that only watches ServiceAccounts never needs the parser.
  const { createMappingReader } = await import('../core/identity/mapping-reader.ts');
  const reader = createMappingReader();
  for (let start = 0; start < text.length; start += MAPPING_READ_SLICE) {
    if (start > 0) await nextTurn();
    const end = start + MAPPING_READ_SLICE;
    // A slice may end inside a UTF-8 sequence or a surrogate pair: the reader carries it over.
    reader.write(typeof text === 'string' ? text.slice(start, end) : text.subarray(start, end));
  }
  return reader.finish();
}

/** Applies the text's mapping; returns the parse error instead, changing nothing, when it is no mapping. */
export async function applyMappingText(
  text: string | Uint8Array,
  source: MappingTextSource,
): Promise<Error | undefined> {
  let parsed: ParsedMapping;
  try {
    parsed = await readInSlices(text);
  } catch (error) {
    return error as Error;
  }
  for (const problem of parsed.problems)
    source.logger.warn({ ...source.fields, problem }, 'mapping entry skipped');
  source.onMapping(parsed.mapping);
  if (text.length >= LARGE_READ_BYTES) returnGarbageSoon();
  source.logger.info(
    { ...source.fields, entries: parsed.mapping.size, skipped: parsed.problems.length },
    `${source.label} loaded`,
  );
  return undefined;
}
