// Reads the `skip-containers` (and `include-containers`) annotation as the reference does: the first record
// of the text read as CSV (RFC 4180 quoting), as Go's encoding/csv Reader.Read gives it. As there, empty
// lines before the record are skipped ("\nsidecar" names `sidecar`), and a quoted field may span lines
// ("\"a\nb\",sidecar" is one record of two names, the first holding a newline; a CR LF inside quotes reads
// as LF). Unlike Go, kirsa trims the names, so "a, b" skips `a` and `b`, and a quote after blanks opens a
// quoted name (` "b"`) where Go calls it a bare quote.

export type CsvResult = { ok: true; fields: string[] } | { ok: false; reason: string };

export function parseCsvRecord(text: string): CsvResult {
  let index = 0;
  // Go's reader skips empty lines (a lone LF, or CR LF) before a record.
  while (index < text.length) {
    if (text[index] === '\n') index += 1;
    else if (text[index] === '\r' && text[index + 1] === '\n') index += 2;
    else break;
  }
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  while (index < text.length) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 2;
        continue;
      }
      if (char === '"') {
        quoted = false;
        afterQuote = true;
      } else if (char === '\r' && text[index + 1] === '\n') {
        // Inside quotes, the record goes on to the next line; Go turns its CR LF into LF.
        field += '\n';
        index += 2;
        continue;
      } else {
        field += char;
      }
    } else if (char === '\n' || (char === '\r' && text[index + 1] === '\n')) {
      break; // the end of the first record; the rest of the text is not read, as in the reference
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
