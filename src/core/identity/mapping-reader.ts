// Reads an identity mapping text (the reference's ConfigMap JSON) into an IdentityMapping, entry by entry.
// Apart from identity.ts, whose rules it applies to each entry, because it is the one part of the identity
// rules that needs a streaming JSON parser: the webhook loads this file (and @streamparser/json, +3.5 MB of
// RSS under the image's flags, bench/module-cost.ts) only when it has a mapping to read, an identities file
// or the mapping ConfigMap, not when it only watches ServiceAccounts, its default in a cluster.

import { JSONParser, TokenType } from '@streamparser/json';
import { MAPPING_ENTRY_MAX_BYTES, MAPPING_MAX_DEPTH } from '../../consts.ts';
import {
  addMappingEntry,
  comparePatterns,
  type MappingEntry,
  type ParsedMapping,
  type PatternEntry,
} from './identity.ts';

/** The first byte or character that is not JSON whitespace, or undefined for a blank text. */
function firstNonBlank(text: string | Uint8Array): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const at = typeof text === 'string' ? text.charCodeAt(i) : text[i]!;
    // JSON whitespace: space, tab, line feed, carriage return.
    if (at !== 0x20 && at !== 0x09 && at !== 0x0a && at !== 0x0d) return String.fromCharCode(at);
  }
  return undefined;
}

/** A mapping over the depth or entry-size limit: thrown from the token callback to stop the parser. */
class MappingLimitError extends Error {}

/** Reads a mapping text piece by piece; the webhook feeds a large file in slices so admissions go on meanwhile. */
export interface MappingReader {
  /** Takes the next piece of the text; a piece may end anywhere, even inside a UTF-8 sequence. */
  write(piece: string | Uint8Array): void;
  /** The mapping, once the whole text is in. Throws a SyntaxError when the text is not a JSON object. */
  finish(): ParsedMapping;
}

/**
 * Reads the mapping JSON `{"ns/sa": {"RoleARN": ..., "Audience": ..., "UseRegionalSTS": ..., "TokenExpiration": ...}}`.
 * Unlike the reference, a bad key is reported and skipped instead of crashing the process, and namespace
 * globs such as `team-*` match as documented. Fails only when the text is not a JSON object at all.
 *
 * The text is read entry by entry with a streaming parser rather than JSON.parse: a 50,000-entry mapping
 * (4 MB) parsed whole is a second copy of the mapping, about three times its size, alive all at once, and
 * V8 keeps the heap it grew for it. Entry by entry, each parsed entry is garbage by the next one. Bytes are
 * taken as they are, so a file need not become one large string first. As with JSON.parse, a key given
 * twice keeps its last value.
 */
export function createMappingReader(): MappingReader {
  const exact = new Map<string, MappingEntry>();
  const patterns = new Map<string, PatternEntry>();
  const problems: string[] = [];
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  // Limits checked token by token, before the parser has built the value: nesting depth, and the bytes an
  // entry spans. The error names the entry (its key as far as it was read).
  let depth = 0;
  let expectingKey = false;
  let entryKey = '';
  let entryStart = 0;
  const named = (key: string) => JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key);
  parser.onToken = ({ token, value, offset }) => {
    if (depth === 1 && expectingKey && token === TokenType.STRING) {
      entryKey = String(value);
      entryStart = offset;
      expectingKey = false;
    }
    if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
      depth += 1;
      if (depth === 1) expectingKey = true;
      if (depth > MAPPING_MAX_DEPTH)
        throw new MappingLimitError(
          `entry ${named(entryKey)} nests deeper than ${MAPPING_MAX_DEPTH} levels; an entry is {"RoleARN": ..., "Audience": ..., "UseRegionalSTS": ..., "TokenExpiration": ...}`,
        );
    } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
      depth -= 1;
    } else if (token === TokenType.COMMA && depth === 1) {
      expectingKey = true;
    }
    if (depth >= 1 && !expectingKey && offset - entryStart > MAPPING_ENTRY_MAX_BYTES)
      throw new MappingLimitError(
        `entry ${named(entryKey)} is larger than ${MAPPING_ENTRY_MAX_BYTES} bytes; an entry is {"RoleARN": ..., "Audience": ..., "UseRegionalSTS": ..., "TokenExpiration": ...}`,
      );
  };
  parser.onValue = ({ key, value }) => {
    const name = String(key);
    const problem = addMappingEntry(name, value, exact, patterns);
    if (problem === undefined) return;
    problems.push(`${problem}; skipped`);
    // The last value of a repeated key is the one that counts, even when it is the bad one.
    exact.delete(name);
    patterns.delete(name);
  };
  let started = false;
  let failure: SyntaxError | undefined;
  return {
    write(piece) {
      if (failure !== undefined) return;
      if (!started) {
        const first = firstNonBlank(piece);
        if (first === undefined) return;
        started = true;
        // The parser would take a top-level array or string too; the mapping must be an object.
        if (first !== '{') {
          failure = new SyntaxError('expected a JSON object keyed by "namespace/serviceaccount"');
          return;
        }
      }
      try {
        parser.write(piece);
      } catch (error) {
        failure =
          error instanceof MappingLimitError
            ? new SyntaxError(error.message)
            : new SyntaxError(`not valid JSON: ${(error as Error).message}`);
      }
    },
    finish() {
      if (failure !== undefined) throw failure;
      if (!started) throw new SyntaxError('not valid JSON: the text is empty');
      try {
        // The parser ends by itself once the top-level object closes; end() then only reports a cut-off text.
        if (!parser.isEnded) parser.end();
      } catch (error) {
        throw new SyntaxError(`not valid JSON: ${(error as Error).message}`);
      }
      const sorted = [...patterns.values()].sort(comparePatterns);
      return { mapping: { exact, patterns: sorted, size: exact.size + sorted.length }, problems };
    },
  };
}

/** Reads a whole mapping text at once (see createMappingReader). Throws when it is not a JSON object. */
export function parseIdentityMapping(text: string | Uint8Array): ParsedMapping {
  const reader = createMappingReader();
  reader.write(text);
  return reader.finish();
}
