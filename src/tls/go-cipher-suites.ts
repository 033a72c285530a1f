// --tls-cipher-suites takes the names Go's crypto/tls gives its suites (the reference webhook accepts every
// name in tls.CipherSuites() and tls.InsecureCipherSuites()); Node's TLS takes OpenSSL's names. The table is
// Go's list with each suite's OpenSSL name, taken from the IANA code points both name.
//
// Two behaviours of Go's TLS that this keeps: TLS 1.3 suites are not configurable in Go (all three are always
// on, whatever the list says), so they are always on here too; and a list with only TLS 1.3 names leaves no
// TLS 1.2 suite, so only TLS 1.3 handshakes succeed. A name this Node's OpenSSL cannot do (RC4, 3DES: OpenSSL
// 3 removed them) is refused rather than silently dropped.

import { KirsaError } from '../errors.ts';

// Built-ins from Node's module table, not ES imports: test/loopback/webhook/loaded-modules.test.ts says why.
const { getCiphers } = process.getBuiltinModule('node:tls');

/** Go's TLS 1.3 suites; their Go names are also the OpenSSL names. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Go name -> OpenSSL name, for Go's TLS 1.0-1.2 suites (secure ones first, then Go's "insecure" list). */
export const GO_TLS12_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

/**
 * The OpenSSL cipher string (Node's `ciphers` option) for a comma-separated list of Go suite names, or
 * undefined for an empty list (Node's defaults then apply, as Go's do). Refuses an unknown name with the
 * list of known ones, and a known one this OpenSSL does not provide.
 */
export function opensslCiphersForGoSuites(list: string): string | undefined {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) return undefined;
  const available = new Set(getCiphers());
  const tls12: string[] = [];
  for (const name of names) {
    if (TLS13_SUITES.includes(name)) continue;
    const openssl = GO_TLS12_SUITES[name];
    if (openssl === undefined) {
      throw new KirsaError('FLAG_INVALID', `--tls-cipher-suites: unsupported cipher suite ${name}`, {
        hint: `use Go's names: ${[...TLS13_SUITES, ...Object.keys(GO_TLS12_SUITES)].join(', ')}`,
      });
    }
    if (!available.has(openssl.toLowerCase())) {
      throw new KirsaError(
        'FLAG_UNSUPPORTED',
        `--tls-cipher-suites: ${name} (OpenSSL ${openssl}) is not available in this Node's OpenSSL ${process.versions.openssl}`,
        {
          hint: 'RC4 and 3DES suites are broken and removed from OpenSSL 3; choose an AES-GCM or ChaCha20 suite',
        },
      );
    }
    if (!tls12.includes(openssl)) tls12.push(openssl);
  }
  return [...tls12, ...TLS13_SUITES].join(':');
}
