// Reads the `skip-containers` annotation as the reference does: the first line, as one CSV record
// (RFC 4180 quoting). Unlike the reference, kirsa trims the names, so "a, b" skips `a` and `b`.

export type CsvResult = { ok: true; fields: string[] } | { ok: false; reason: string };

export function parseCsvRecord(text: string): CsvResult {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  const fields: string[] = [];
  let field = '';
  let index = 0;
  let quoted = false;
  let afterQuote = false;
  while (index < line.length) {
    const char = line[index]!;
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') {
        field += '"';
        index += 2;
        continue;
      }
      if (char === '"') {
        quoted = false;
        afterQuote = true;
      } else {
        field += char;
      }
    } else if (char === ',') {
      fields.push(field);
      field = '';
      afterQuote = false;
    } else if (char === '"') {
      if (field.trim() !== '' || afterQuote)
        return { ok: false, reason: `a quote inside an unquoted name at position ${index + 1}` };
      quoted = true;
      field = '';
    } else if (afterQuote && char.trim() !== '') {
      return { ok: false, reason: `text after a closing quote at position ${index + 1}` };
    } else {
      field += char;
    }
    index += 1;
  }
  if (quoted) return { ok: false, reason: 'a quote that is never closed' };
  fields.push(field);
  return { ok: true, fields };
}
