// Date#toISOString's text, written from the UTC getters. toISOString (and toUTCString) ask V8 for the local
// time-zone offset first, which loads ICU's time-zone data: 0.8 MB of the node binary's pages resident in
// every process that formats one date, a tenth of what the webhook idles above a do-nothing Node server
// (docs/webhook.md, "Idle memory: what is left"). The UTC getters do not touch it. The servers' log
// timestamps (log.ts) and the webhook's certificate lines use this; the CLI, which exits, keeps toISOString.

const pad2 = (value: number) => (value < 10 ? `0${value}` : `${value}`);

/** The instant `ms` (milliseconds since 1970, years 0 to 9999) as toISOString writes it. */
export function utcIsoString(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  const millis = date.getUTCMilliseconds();
  return `${String(year).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(
    date.getUTCHours(),
  )}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${String(millis).padStart(3, '0')}Z`;
}
