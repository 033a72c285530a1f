// Namespace globs of the identity mapping (`team-*`, `*-prod-*`): `*` stands for any run of characters,
// everything else is literal. Matched in time linear in the namespace and the pattern, whatever the pattern:
// a regular expression built from the glob (`^team-.*-.*$`) backtracks, and a namespace pattern with 7 stars
// took 7 s per lookup on a 63-character namespace, 5,000 stars spun the webhook at 100 % CPU.
//
// Why linear: a glob is literal pieces separated by stars. The first piece must start the text, the last must
// end it, and each piece in between may be placed at its leftmost occurrence after the one before (a later
// placement never leaves more room for the rest). Each of those searches is Knuth-Morris-Pratt, which never
// moves back in the text, so the whole match reads each character of the text a bounded number of times.

export interface NamespaceGlob {
  /** The pattern as written. */
  readonly source: string;
  /** Text before the first star; the whole pattern when it has no star. */
  readonly head: string;
  /** Text after the last star; undefined when the pattern has no star. */
  readonly tail: string | undefined;
  /** The non-empty literal pieces between the first and last star (repeated stars collapse), with their KMP tables. */
  readonly middle: ReadonlyArray<{ piece: string; fallback: Int32Array }>;
}

/** For each prefix of `piece`, the length of its longest proper prefix that is also its suffix (KMP). */
function fallbackTable(piece: string): Int32Array {
  const table = new Int32Array(piece.length);
  let matched = 0;
  for (let i = 1; i < piece.length; i++) {
    while (matched > 0 && piece[i] !== piece[matched]) matched = table[matched - 1]!;
    if (piece[i] === piece[matched]) matched++;
    table[i] = matched;
  }
  return table;
}

export function compileGlob(pattern: string): NamespaceGlob {
  const pieces = pattern.split('*');
  if (pieces.length === 1) return { source: pattern, head: pattern, tail: undefined, middle: [] };
  return {
    source: pattern,
    head: pieces[0]!,
    tail: pieces[pieces.length - 1]!,
    middle: pieces
      .slice(1, -1)
      .filter((piece) => piece !== '')
      .map((piece) => ({ piece, fallback: fallbackTable(piece) })),
  };
}

/** Counts the character comparisons a match makes, so tests can bound the work instead of timing it. */
export interface MatchSteps {
  count: number;
}

/** The first index at or after `from` (and ending by `end`) where `piece` occurs in `text`, or -1. */
function indexOfKmp(
  text: string,
  piece: string,
  fallback: Int32Array,
  from: number,
  end: number,
  steps: MatchSteps | undefined,
): number {
  let matched = 0;
  for (let i = from; i < end; i++) {
    while (matched > 0 && text[i] !== piece[matched]) {
      matched = fallback[matched - 1]!;
      if (steps) steps.count++;
    }
    if (steps) steps.count++;
    if (text[i] === piece[matched]) matched++;
    if (matched === piece.length) return i - piece.length + 1;
  }
  return -1;
}

/** Whether `text` matches the glob. */
export function globMatches(glob: NamespaceGlob, text: string, steps?: MatchSteps): boolean {
  if (glob.tail === undefined) {
    if (steps) steps.count += text.length;
    return text === glob.head;
  }
  const end = text.length - glob.tail.length;
  if (end < glob.head.length) return false;
  if (steps) steps.count += glob.head.length + glob.tail.length;
  if (!text.startsWith(glob.head) || !text.endsWith(glob.tail)) return false;
  let at = glob.head.length;
  for (const { piece, fallback } of glob.middle) {
    const found = indexOfKmp(text, piece, fallback, at, end, steps);
    if (found === -1) return false;
    at = found + piece.length;
  }
  return true;
}
