import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAPPING_ENTRY_MAX_BYTES, MAPPING_MAX_DEPTH } from '../../consts.ts';
import type { KirsaError } from '../../errors.ts';
import {
  annotatedServiceAccounts,
  BUILTIN_CONTAINER_CREDENTIALS,
  BUILTIN_IDENTITY_DEFAULTS,
  clampTokenExpiration,
  EMPTY_MAPPING,
  type IdentitySources,
  identityFromMappingEntry,
  identityFromServiceAccount,
  lookupMapping,
  mappingEntryFor,
  parseContainerCredentialsList,
  parseGoBool,
  parseTokenExpiration,
  resolveIdentity,
  setMappingEntries,
  setMappingEntry,
  trimServiceAccount,
  webIdentityAnnotations,
} from './identity.ts';
import { createMappingReader, parseIdentityMapping } from './mapping-reader.ts';

const ROLE = (name: string) => `arn:aws:iam::111122223333:role/${name}`;

describe('value parsing', () => {
  test('Go booleans', () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(text), true);
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(text), false);
    for (const text of ['', 'yes', 'tRuE', ' true']) assert.equal(parseGoBool(text), undefined);
  });

  test('token expiration is a base-10 int64', () => {
    assert.equal(parseTokenExpiration('3600'), 3600);
    assert.equal(parseTokenExpiration('-1'), -1);
    assert.equal(parseTokenExpiration('+5'), 5);
    assert.equal(parseTokenExpiration('3600s'), undefined);
    assert.equal(parseTokenExpiration(''), undefined);
    assert.equal(parseTokenExpiration('9223372036854775808'), undefined);
  });

  test('an int64 lifetime above 2^32 s from an annotation or a mapping is lowered and warned (issue 17, bug 2)', () => {
    const annotated = identityFromServiceAccount(
      {
        namespace: 'ns',
        name: 'sa',
        annotations: {
          'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/r',
          'eks.amazonaws.com/token-expiration': '9223372036854775807',
        },
      },
      'eks.amazonaws.com',
      BUILTIN_IDENTITY_DEFAULTS,
    );
    assert.equal(annotated?.tokenExpirationSeconds, 2 ** 32);
    assert.match(
      annotated?.warnings?.[0] ?? '',
      /"9223372036854775807" \(annotation eks\.amazonaws\.com\/token-expiration\)/,
    );
    const { mapping } = parseIdentityMapping(
      '{"ns/sa": {"RoleARN": "arn:aws:iam::111122223333:role/r", "TokenExpiration": 9223372036854775807}}',
    );
    const entry = lookupMapping(mapping, 'ns', 'sa')!;
    const mapped = identityFromMappingEntry(entry.key, entry.entry, BUILTIN_IDENTITY_DEFAULTS);
    assert.equal(mapped.tokenExpirationSeconds, 2 ** 32);
    assert.match(mapped.warnings?.[0] ?? '', /identity mapping entry "ns\/sa"/);
    assert.equal(clampTokenExpiration(2 ** 32), 2 ** 32);
    assert.equal(clampTokenExpiration(599), 600);
  });
});

describe('webIdentityAnnotations', () => {
  test('the role alone when the trust asks for the default audience, or for several', () => {
    for (const audiences of [['sts.amazonaws.com'], ['sts.amazonaws.com', 'other'], []])
      assert.deepEqual(webIdentityAnnotations(ROLE('app'), audiences, 'eks.amazonaws.com'), {
        'eks.amazonaws.com/role-arn': ROLE('app'),
      });
    assert.deepEqual(webIdentityAnnotations(ROLE('app'), ['other'], 'irsa.example'), {
      'irsa.example/role-arn': ROLE('app'),
      'irsa.example/audience': 'other',
    });
  });

  test('a service account carrying them resolves to that role, with a token audience the trust accepts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('eks.amazonaws.com', 'irsa.example.com'),
        fc.array(fc.constantFrom('sts.amazonaws.com', 'vault', 'custom.example'), { maxLength: 3 }),
        (prefix, listed) => {
          const audiences: string[] = [...new Set(listed)];
          const identity = identityFromServiceAccount(
            {
              namespace: 'ns',
              name: 'sa',
              annotations: webIdentityAnnotations(ROLE('app'), audiences, prefix),
            },
            prefix,
            BUILTIN_IDENTITY_DEFAULTS,
          );
          assert.equal(identity?.roleArn, ROLE('app'));
          // With one audience, or the default among several, the projected one is listed. (Several without
          // the default are not covered: the webhook then projects the default, which the trust lacks.)
          if (audiences.length === 1 || audiences.includes('sts.amazonaws.com'))
            assert.ok(audiences.includes(identity!.audience), `${identity!.audience} not in ${audiences}`);
        },
      ),
    );
  });
});

describe('trimServiceAccount', () => {
  test('keeps name, namespace and only the prefixed annotations', () => {
    const view = trimServiceAccount(
      {
        metadata: {
          name: 'app',
          namespace: 'team-a',
          annotations: {
            'eks.amazonaws.com/role-arn': ROLE('app'),
            'kubectl.kubernetes.io/last-applied-configuration': '{"huge": true}',
            'eks.amazonaws.com.evil/role-arn': 'x',
          },
        },
      },
      'eks.amazonaws.com',
    );
    assert.deepEqual(view, {
      namespace: 'team-a',
      name: 'app',
      annotations: { 'eks.amazonaws.com/role-arn': ROLE('app') },
    });
  });
});

describe('region and session name (kirsa extensions)', () => {
  const base: IdentitySources = {
    namespace: 'ns',
    serviceAccountName: 'sa',
    serviceAccount: undefined,
    mapping: EMPTY_MAPPING,
    containerCredentials: undefined,
    annotationPrefix: 'eks.amazonaws.com',
    defaults: BUILTIN_IDENTITY_DEFAULTS,
  };
  const account = (annotations: Record<string, string>) => ({ namespace: 'ns', name: 'sa', annotations });

  test("the account's region annotation, else the mapping's Region; a bad one is warned about and ignored", () => {
    const { mapping, problems } = parseIdentityMapping(
      JSON.stringify({
        'ns/*': { RoleARN: ROLE('m'), Region: 'eu-west-1' },
        'bad/*': { RoleARN: ROLE('m'), Region: 'Europe' },
      }),
    );
    assert.deepEqual(problems, [
      'entry "bad/*" has a Region that is not an AWS region (like us-east-1); skipped',
    ]);
    assert.equal(resolveIdentity({ ...base, mapping })?.region, 'eu-west-1');
    const annotated = resolveIdentity({
      ...base,
      mapping,
      serviceAccount: account({ 'eks.amazonaws.com/region': 'ap-south-1' }),
    });
    assert.equal(annotated?.region, 'ap-south-1', 'the annotation beats a wildcard entry');
    const own = resolveIdentity({
      ...base,
      serviceAccount: account({
        'eks.amazonaws.com/role-arn': ROLE('a'),
        'eks.amazonaws.com/region': 'us-gov-west-1',
      }),
    });
    assert.equal(own?.region, 'us-gov-west-1');
    const bad = resolveIdentity({
      ...base,
      serviceAccount: account({
        'eks.amazonaws.com/role-arn': ROLE('a'),
        'eks.amazonaws.com/region': 'us east',
      }),
    });
    assert.equal(bad?.region, undefined);
    assert.match(
      bad?.warnings?.[0] ?? '',
      /annotation eks.amazonaws.com\/region "us east" is not an AWS region/,
    );
  });

  test("the account's role-session-name annotation is read as Go reads booleans", () => {
    const on = resolveIdentity({
      ...base,
      serviceAccount: account({
        'eks.amazonaws.com/role-arn': ROLE('a'),
        'eks.amazonaws.com/role-session-name': 'true',
      }),
    });
    assert.equal(on?.mode === 'web-identity' && on.sessionName, true);
    const { mapping } = parseIdentityMapping(JSON.stringify({ 'ns/sa': { RoleARN: ROLE('m') } }));
    const mapped = resolveIdentity({
      ...base,
      mapping,
      serviceAccount: account({ 'eks.amazonaws.com/role-session-name': 'False' }),
    });
    assert.equal(mapped?.mode === 'web-identity' && mapped.sessionName, false);
  });
});

describe('setMappingEntry (role create with a wildcard service account)', () => {
  const entry = mappingEntryFor(ROLE('team'), ['sts.amazonaws.com']);
  const where = 'the mapping';

  test('adds the entry, keeps the rest, reads back through the parser, and is idempotent', () => {
    const text = JSON.stringify({ 'other/app': { RoleARN: ROLE('other'), TokenExpiration: 3600 } });
    const written = setMappingEntry(text, 'team-a/*', entry, { overwrite: false, where });
    assert.equal(written.status, 'created');
    const { mapping } = parseIdentityMapping(written.text);
    assert.equal(lookupMapping(mapping, 'team-a', 'x')?.entry.roleArn, ROLE('team'));
    assert.equal(lookupMapping(mapping, 'other', 'app')?.entry.tokenExpirationSeconds, 3600);
    assert.equal(
      setMappingEntry(written.text, 'team-a/*', entry, { overwrite: false, where }).status,
      'unchanged',
    );
    assert.equal(
      setMappingEntry(undefined, 'team-a/*', entry, { overwrite: false, where }).status,
      'created',
    );
  });

  test('an audience other than the default is written; another role is refused unless overwrite', () => {
    assert.deepEqual(mappingEntryFor(ROLE('r'), ['my-aud']), { RoleARN: ROLE('r'), Audience: 'my-aud' });
    const text = JSON.stringify({ 'team-a/*': { RoleARN: ROLE('before') } });
    assert.throws(
      () => setMappingEntry(text, 'team-a/*', entry, { overwrite: false, where }),
      (error: KirsaError) => error.code === 'MAPPING_ENTRY_TAKEN' && /already names role/.test(error.message),
    );
    assert.equal(setMappingEntry(text, 'team-a/*', entry, { overwrite: true, where }).status, 'updated');
    const kept = setMappingEntry(
      JSON.stringify({ 'team-a/*': { RoleARN: ROLE('before'), TokenExpiration: 3600, Region: 'eu-west-1' } }),
      'team-a/*',
      entry,
      { overwrite: true, where },
    );
    assert.deepEqual(JSON.parse(kept.text)['team-a/*'], {
      RoleARN: ROLE('team'),
      TokenExpiration: 3600,
      Region: 'eu-west-1',
    });
    const same = JSON.stringify({ 'team-a/*': { RoleARN: ROLE('team'), TokenExpiration: 3600 } });
    assert.equal(setMappingEntry(same, 'team-a/*', entry, { overwrite: false, where }).status, 'unchanged');
    for (const broken of ['{', '[]', '"x"'])
      assert.throws(
        () => setMappingEntry(broken, 'team-a/*', entry, { overwrite: true, where }),
        (error: KirsaError) => error.code === 'MAPPING_INVALID',
      );
  });
});

describe('setMappingEntries (role create with several wildcard service accounts)', () => {
  const where = 'ConfigMap kirsa/kirsa-identities';
  const entry = mappingEntryFor(ROLE('ci'), ['sts.amazonaws.com']);

  test('every key gets the entry; created when any key is new, unchanged on a rerun', () => {
    const existing = JSON.stringify({ 'team-a/*': { RoleARN: ROLE('old') } });
    const written = setMappingEntries(existing, ['team-a/*', 'team-b/*'], entry, { overwrite: true, where });
    assert.equal(written.status, 'created');
    assert.deepEqual(Object.keys(JSON.parse(written.text)), ['team-a/*', 'team-b/*']);
    const again = setMappingEntries(written.text, ['team-a/*', 'team-b/*'], entry, {
      overwrite: false,
      where,
    });
    assert.deepEqual(again, { status: 'unchanged', text: written.text });
  });

  test('updated when keys only changed; no keys leaves the text as it was', () => {
    const existing = JSON.stringify({ 'team-a/*': { RoleARN: ROLE('old') } });
    assert.equal(
      setMappingEntries(existing, ['team-a/*'], entry, { overwrite: true, where }).status,
      'updated',
    );
    assert.deepEqual(setMappingEntries(undefined, [], entry, { overwrite: false, where }), {
      status: 'unchanged',
      text: '',
    });
  });
});

describe('annotatedServiceAccounts (role create -o)', () => {
  test('one manifest per account named, carrying the annotations; a wildcard names no object', () => {
    const annotations = webIdentityAnnotations(ROLE('app'), ['sts.amazonaws.com'], 'eks.amazonaws.com');
    assert.deepEqual(
      annotatedServiceAccounts(
        [
          { namespace: 'shop', name: 'app' },
          { namespace: 'team-*', name: 'ci' },
        ],
        annotations,
      ),
      [
        {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: 'app', namespace: 'shop', annotations },
        },
      ],
    );
  });
});

describe('parseIdentityMapping', () => {
  test('bad keys and entries are reported and skipped, the rest applies', () => {
    const { mapping, problems } = parseIdentityMapping(
      JSON.stringify({
        'no-slash': { RoleARN: ROLE('a') },
        'a/b/c': { RoleARN: ROLE('a') },
        'ns/no-role': { Audience: 'x' },
        'ns/bad-sts': { RoleARN: ROLE('a'), UseRegionalSTS: 'yes' },
        'ns/good': { rolearn: ROLE('good') },
      }),
    );
    assert.equal(problems.length, 4);
    assert.match(problems[0]!, /key "no-slash" is not "namespace\/serviceaccount"; skipped/);
    assert.equal(mapping.size, 1);
    assert.equal(lookupMapping(mapping, 'ns', 'good')?.entry.roleArn, ROLE('good'));
  });

  test('an exact key beats a namespace glob, which beats the bare *', () => {
    const { mapping } = parseIdentityMapping(
      JSON.stringify({
        '*/app': { RoleARN: ROLE('any') },
        'team-*/app': { RoleARN: ROLE('team') },
        'team-a*/app': { RoleARN: ROLE('team-a') },
        'team-a1/app': { RoleARN: ROLE('exact') },
      }),
    );
    assert.equal(lookupMapping(mapping, 'team-a1', 'app')?.entry.roleArn, ROLE('exact'));
    assert.equal(lookupMapping(mapping, 'team-a2', 'app')?.entry.roleArn, ROLE('team-a'));
    assert.equal(lookupMapping(mapping, 'team-b', 'app')?.entry.roleArn, ROLE('team'));
    assert.equal(lookupMapping(mapping, 'other', 'app')?.entry.roleArn, ROLE('any'));
    assert.equal(lookupMapping(mapping, 'other', 'web'), undefined);
    assert.equal(
      lookupMapping(mapping, 'team.x', 'app')?.entry.roleArn,
      ROLE('any'),
      'a dot in a namespace is literal',
    );
  });

  test('wildcard accounts: exact > ns/account-glob > ns-glob/account > both globs, most literal first', () => {
    const { mapping, problems } = parseIdentityMapping(
      JSON.stringify({
        '*/*': { RoleARN: ROLE('anything') },
        'team-*/*': { RoleARN: ROLE('team-any') },
        '*/app': { RoleARN: ROLE('any-app') },
        'team-*/app': { RoleARN: ROLE('team-app') },
        'team-a/*': { RoleARN: ROLE('team-a-any') },
        'team-a/ci-*': { RoleARN: ROLE('team-a-ci') },
        'team-a/app': { RoleARN: ROLE('exact') },
      }),
    );
    assert.deepEqual(problems, []);
    const role = (namespace: string, account: string) =>
      lookupMapping(mapping, namespace, account)?.entry.roleArn;
    assert.equal(role('team-a', 'app'), ROLE('exact'));
    assert.equal(role('team-a', 'ci-runner'), ROLE('team-a-ci'), 'the more literal account glob');
    assert.equal(role('team-a', 'web'), ROLE('team-a-any'), 'an exact namespace beats a namespace glob');
    assert.equal(role('team-b', 'app'), ROLE('team-app'));
    assert.equal(role('other', 'app'), ROLE('any-app'));
    assert.equal(role('team-b', 'web'), ROLE('team-any'));
    assert.equal(role('other', 'web'), ROLE('anything'));
    assert.deepEqual(
      mapping.patterns.map((pattern) => pattern.key),
      ['team-a/ci-*', 'team-a/*', 'team-*/app', '*/app', 'team-*/*', '*/*'],
    );
  });

  test('wildcard precedence, property: the documented rule over any mapping, in any order', () => {
    // The rule as the docs state it, by brute force: every matching key, ranked by tier, then literal
    // characters, then the key; globs by a regular expression (fine at these sizes).
    const matches = (glob: string, text: string) =>
      new RegExp(
        `^${glob
          .split('*')
          .map((piece) => piece.replace(/[.-]/g, '\\$&'))
          .join('.*')}$`,
      ).test(text);
    const expected = (keys: string[], namespace: string, account: string) => {
      const ranked = keys
        .filter((key) => {
          const [ns, sa] = key.split('/') as [string, string];
          return matches(ns, namespace) && matches(sa, account);
        })
        .map((key) => {
          const [ns, sa] = key.split('/') as [string, string];
          const tier = ns.includes('*') ? (sa.includes('*') ? 3 : 2) : sa.includes('*') ? 1 : 0;
          return { key, tier, literal: key.replaceAll('*', '').length };
        })
        .sort((a, b) => a.tier - b.tier || b.literal - a.literal || (a.key < b.key ? -1 : 1));
      return ranked[0]?.key;
    };
    const part = fc.stringMatching(/^[ab*-]{1,5}$/);
    const name = fc.stringMatching(/^[ab-]{1,6}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.tuple(part, part).map(([ns, sa]) => `${ns}/${sa}`),
          { maxLength: 12 },
        ),
        name,
        name,
        fc.integer(),
        (keys, namespace, account, seed) => {
          const shuffled = [...keys].sort((a, b) => ((a.length * seed) % 7) - ((b.length * seed) % 7));
          const { mapping } = parseIdentityMapping(
            JSON.stringify(
              Object.fromEntries(
                shuffled.map((key) => [key, { RoleARN: ROLE(key.replaceAll(/[*/]/g, 'x')) }]),
              ),
            ),
          );
          assert.equal(lookupMapping(mapping, namespace, account)?.key, expected(keys, namespace, account));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('not JSON, or not an object, throws', () => {
    assert.throws(() => parseIdentityMapping('{'), /not valid JSON/);
    assert.throws(() => parseIdentityMapping('[]'), /expected a JSON object/);
    assert.throws(() => parseIdentityMapping(' "ns/sa" '), /expected a JSON object/);
    assert.throws(() => parseIdentityMapping(' \n'), /not valid JSON: the text is empty/);
    assert.throws(() => parseIdentityMapping('{"ns/a": {"RoleARN": "x"},}'), /not valid JSON/);
    assert.throws(() => parseIdentityMapping('{} {}'), /not valid JSON/);
    assert.throws(() => parseIdentityMapping('{"ns/a": {"RoleARN": "x"}'), /not valid JSON/);
  });

  test('a repeated key keeps its last value, as JSON.parse does, even when that value is the bad one', () => {
    const text = `{"ns/a": {"RoleARN": "${ROLE('first')}"}, "ns/a": {"RoleARN": "${ROLE('last')}"},
      "ns/b": {"RoleARN": "${ROLE('good')}"}, "ns/b": {"Audience": "no role"},
      "t-*/c": {"RoleARN": "${ROLE('p1')}"}, "t-*/c": {"RoleARN": "${ROLE('p2')}"}}`;
    const { mapping, problems } = parseIdentityMapping(text);
    assert.equal(lookupMapping(mapping, 'ns', 'a')?.entry.roleArn, ROLE('last'));
    assert.equal(lookupMapping(mapping, 'ns', 'b'), undefined);
    assert.deepEqual(problems, ['entry "ns/b" has no RoleARN; skipped']);
    assert.equal(mapping.patterns.length, 1);
    assert.equal(lookupMapping(mapping, 't-1', 'c')?.entry.roleArn, ROLE('p2'));
    assert.equal(mapping.size, 2);
  });

  test('read in pieces cut anywhere, even inside a UTF-8 sequence, it reads as the whole text does', () => {
    const entry = fc.record(
      {
        RoleARN: fc.oneof(fc.constantFrom(ROLE('app'), ROLE('é-ü'), ''), fc.string({ unit: 'grapheme' })),
        Audience: fc.string({ unit: 'grapheme' }),
        UseRegionalSTS: fc.oneof(fc.boolean(), fc.constant('yes')),
        TokenExpiration: fc.oneof(fc.integer(), fc.double()),
      },
      { requiredKeys: [] },
    );
    const key = fc.oneof(
      fc
        .tuple(fc.constantFrom('ns', 'team-*', '*', 'ünï'), fc.constantFrom('app', 'web', 'sa*'))
        .map(([namespace, name]) => `${namespace}/${name}`),
      fc.string({ unit: 'grapheme' }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, entry), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        (entries, cuts, asBytes) => {
          const text = `{${entries.map(([name, value]) => `${JSON.stringify(name)}: ${JSON.stringify(value)}`).join(',\n')}}`;
          const whole = parseIdentityMapping(text);
          const input = asBytes ? new TextEncoder().encode(text) : text;
          const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].sort((a, b) => a - b);
          const reader = createMappingReader();
          let from = 0;
          for (const point of [...points, input.length]) {
            reader.write(input.slice(from, point));
            from = point;
          }
          const pieces = reader.finish();
          assert.deepEqual(pieces.problems, whole.problems);
          assert.deepEqual([...pieces.mapping.exact], [...whole.mapping.exact]);
          assert.deepEqual(
            pieces.mapping.patterns.map((pattern) => [pattern.key, pattern.entry]),
            whole.mapping.patterns.map((pattern) => [pattern.key, pattern.entry]),
          );
          // And the entries are those JSON.parse sees: the last value of each key that is a valid entry.
          const expected = JSON.parse(text) as Record<string, unknown>;
          for (const [name, entryValue] of whole.mapping.exact) {
            const raw = expected[name] as { RoleARN?: unknown; roleArn?: unknown };
            assert.equal(entryValue.roleArn, String(raw.RoleARN).trim());
          }
        },
      ),
      { numRuns: 300 },
    );
    // The cases a random cut seldom hits: between the halves of a surrogate pair, inside a UTF-8 sequence.
    const text = `{"ns/a": {"RoleARN": "${ROLE('x')}", "Audience": "😀é"}}`;
    const bytes = new TextEncoder().encode(text);
    for (const [input, cut] of [
      [text, text.indexOf('😀') + 1],
      [bytes, bytes.indexOf(0xf0) + 2],
      [bytes, bytes.indexOf(0xc3) + 1],
    ] as const) {
      const reader = createMappingReader();
      reader.write(input.slice(0, cut));
      reader.write(input.slice(cut));
      assert.equal(reader.finish().mapping.exact.get('ns/a')?.audience, '😀é');
    }
  });
});

describe('mapping limits', () => {
  const role = ROLE('x');
  // A mapping entry is four scalars; 1 MB of nesting in one entry grew the webhook by ~260 MB while the
  // parser built it (issue #12, finding 11). The limits stop the parser at the token that crosses them.
  test('an entry nested deeper than MAPPING_MAX_DEPTH refuses the text, naming the entry', () => {
    const deep = `{"ok/app": {"RoleARN": "${role}"}, "team-a/app": {"RoleARN": "${role}", "X": ${'['.repeat(500_000)}${']'.repeat(500_000)}}}`;
    assert.throws(
      () => parseIdentityMapping(deep),
      (error: Error) =>
        error instanceof SyntaxError &&
        error.message.startsWith(`entry "team-a/app" nests deeper than ${MAPPING_MAX_DEPTH} levels`),
    );
    // Read in slices as the webhook reads it: the same refusal.
    const reader = createMappingReader();
    for (let at = 0; at < deep.length; at += 4096) reader.write(deep.slice(at, at + 4096));
    assert.throws(() => reader.finish(), /entry "team-a\/app" nests deeper/);
  });

  test('an entry larger than MAPPING_ENTRY_MAX_BYTES refuses the text, naming the entry', () => {
    const wide = `{"team-b/app": {"RoleARN": "${role}", "X": [${Array.from({ length: 20_000 }, () => '{}').join(',')}]}}`;
    assert.throws(
      () => parseIdentityMapping(wide),
      new RegExp(`^SyntaxError: entry "team-b/app" is larger than ${MAPPING_ENTRY_MAX_BYTES} bytes`),
    );
  });

  test('within the limits, unknown nested fields are ignored as before, and many entries are fine', () => {
    const nested = { k: [1, { z: [2, { y: 3 }] }] };
    const entries = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [`ns-${i}/app`, { RoleARN: role, Extra: nested }]),
    );
    const { mapping, problems } = parseIdentityMapping(JSON.stringify(entries));
    assert.deepEqual(problems, []);
    assert.equal(mapping.size, 2000);
    assert.equal(lookupMapping(mapping, 'ns-1999', 'app')?.entry.roleArn, role);
  });
});

describe('resolveIdentity', () => {
  const base: IdentitySources = {
    namespace: 'ns',
    serviceAccountName: 'app',
    serviceAccount: undefined,
    mapping: EMPTY_MAPPING,
    containerCredentials: undefined,
    annotationPrefix: 'eks.amazonaws.com',
    defaults: { audience: 'sts.amazonaws.com', regionalSts: true, tokenExpirationSeconds: 7200 },
  };
  const annotated = (annotations: Record<string, string>) => ({ namespace: 'ns', name: 'app', annotations });
  const { mapping } = parseIdentityMapping(
    JSON.stringify({
      'ns/app': { RoleARN: ROLE('mapped'), TokenExpiration: 0 },
      '*/app': { RoleARN: ROLE('star'), TokenExpiration: 60, UseRegionalSTS: false },
    }),
  );

  test('no sources: no identity', () => assert.equal(resolveIdentity(base), undefined));

  test('annotations with flag defaults; bad values fall back to them; lifetime raised to 600', () => {
    assert.deepEqual(
      resolveIdentity({
        ...base,
        serviceAccount: annotated({
          'eks.amazonaws.com/role-arn': ROLE('a'),
          'eks.amazonaws.com/sts-regional-endpoints': '',
          'eks.amazonaws.com/token-expiration': '100',
        }),
      }),
      {
        mode: 'web-identity',
        roleArn: ROLE('a'),
        audience: 'sts.amazonaws.com',
        regionalSts: true,
        tokenExpirationSeconds: 600,
        source: 'annotation eks.amazonaws.com/role-arn of service account ns/app',
      },
    );
  });

  test('--compose-role-arn completes a bare annotated name, keeps a full ARN, and leaves the mapping alone', () => {
    const defaults = { ...base.defaults, roleAccount: { partition: 'aws-cn', accountId: '444455556666' } };
    const roleOf = (identity: ReturnType<typeof resolveIdentity>) =>
      identity?.mode === 'web-identity' ? identity.roleArn : undefined;
    const bare = resolveIdentity({
      ...base,
      defaults,
      serviceAccount: annotated({ 'eks.amazonaws.com/role-arn': 'team/app' }),
    });
    assert.equal(roleOf(bare), 'arn:aws-cn:iam::444455556666:role/team/app');
    const full = resolveIdentity({
      ...base,
      defaults,
      serviceAccount: annotated({ 'eks.amazonaws.com/role-arn': ROLE('full') }),
    });
    assert.equal(roleOf(full), ROLE('full'));
    const { mapping: bareMapping } = parseIdentityMapping(JSON.stringify({ 'ns/app': { RoleARN: 'bare' } }));
    const mapped = resolveIdentity({
      ...base,
      defaults,
      mapping: bareMapping,
      serviceAccount: annotated({}),
    });
    assert.equal(roleOf(mapped), 'bare');
    // Without the flag a bare name stays as written (and the mutation then refuses it as not an ARN).
    const off = resolveIdentity({
      ...base,
      serviceAccount: annotated({ 'eks.amazonaws.com/role-arn': 'app' }),
    });
    assert.equal(roleOf(off), 'app');
  });

  test('a role annotation beats the mapping; without one the mapping applies with the same defaults', () => {
    const fromAnnotation = resolveIdentity({
      ...base,
      mapping,
      serviceAccount: annotated({ 'eks.amazonaws.com/role-arn': ROLE('sa') }),
    });
    assert.equal(fromAnnotation?.mode === 'web-identity' ? fromAnnotation.roleArn : undefined, ROLE('sa'));
    const fromMapping = resolveIdentity({ ...base, mapping, serviceAccount: annotated({}) });
    assert.deepEqual(fromMapping, {
      mode: 'web-identity',
      roleArn: ROLE('mapped'),
      audience: 'sts.amazonaws.com',
      regionalSts: true,
      tokenExpirationSeconds: 7200,
      source: 'identity mapping entry "ns/app"',
    });
    const star = resolveIdentity({ ...base, namespace: 'elsewhere', mapping });
    assert.equal(star?.tokenExpirationSeconds, 600, 'mapping lifetimes get the floor too');
    assert.equal(star?.regionalSts, false, 'an explicit false in the mapping is kept');
  });

  test('a container-credentials listing wins even over a role annotation', () => {
    const identity = resolveIdentity({
      ...base,
      serviceAccount: annotated({
        'eks.amazonaws.com/role-arn': ROLE('sa'),
        'eks.amazonaws.com/token-expiration': '10000',
      }),
      containerCredentials: { identities: new Set(['ns/app']), settings: BUILTIN_CONTAINER_CREDENTIALS },
    });
    assert.equal(identity?.mode, 'container-credentials');
    assert.equal(identity?.tokenExpirationSeconds, 10000);
  });

  test('container credentials for an unknown account take the mapping, then the flags', () => {
    const containerCredentials = {
      identities: new Set(['ns/app', 'x/app']),
      settings: BUILTIN_CONTAINER_CREDENTIALS,
    };
    assert.equal(resolveIdentity({ ...base, mapping, containerCredentials })?.tokenExpirationSeconds, 7200);
    assert.equal(
      resolveIdentity({ ...base, namespace: 'x', mapping: EMPTY_MAPPING, containerCredentials })?.regionalSts,
      true,
    );
  });
});

describe('parseContainerCredentialsList', () => {
  test('reads the identities; empty text is an empty list; junk throws', () => {
    assert.deepEqual(
      [
        ...parseContainerCredentialsList(
          '{"identities":[{"namespace":"a","serviceAccount":"b"},{"namespace":1}]}',
        ),
      ],
      ['a/b'],
    );
    assert.equal(parseContainerCredentialsList('  ').size, 0);
    assert.throws(() => parseContainerCredentialsList('{"x":1}'), /expected/);
  });
});
