import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { isKirsaError } from '../../errors.ts';
import {
  apiserverFlags,
  buildDiscoveryDocument,
  buildJwks,
  checkDiscoveryDocument,
  checkIssuerUrl,
  checkJwks,
  checkTokenClaims,
  type IssuerKeyMaterial,
  initialState,
  issuerUrlProblems,
  jwksUriFor,
  keyIdOf,
  kopsBase64,
  parseIssuerState,
  parseKeysPem,
  promoteStaged,
  publishedKeys,
  renderApiserverConfig,
  retirePrevious,
  stageKey,
} from './oidc.ts';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const first = rsa();
const second = rsa();
const firstPublicPem = first.publicKey.export({ format: 'pem', type: 'spki' }).toString();
const firstPrivatePem = first.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const secondPublicPem = second.publicKey.export({ format: 'pem', type: 'spki' }).toString();

function rejects(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isKirsaError(error), `expected a KirsaError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.ok(error.hint, 'every refusal carries a hint');
    return true;
  });
}

describe('issuer URL rules', () => {
  test('a plain https URL with a path passes', () => {
    assert.deepEqual(issuerUrlProblems('https://bucket.s3.eu-west-1.amazonaws.com/cluster-1'), []);
  });
  for (const [url, rule] of [
    ['http://example.com', /https/],
    ['https://example.com/path?x=1', /query/],
    ['https://example.com/path#f', /fragment/],
    ['https://example.com/', /slash/],
    ['https://example.com/cluster/', /slash/],
    ['https://user:pw@example.com', /password/],
    ['example.com', /absolute URL/],
  ] as const) {
    test(`${url} is refused, naming the rule`, () => {
      rejects(() => checkIssuerUrl(url), 'USAGE', rule);
    });
  }
  test('a port is only a warning: IAM refuses it, development issuers need it', () => {
    const { warnings } = checkIssuerUrl('https://127.0.0.1:8443');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /port/);
  });
});

describe('documents', () => {
  test('the discovery document has the fields kube-apiserver and kOps publish', () => {
    const issuer = 'https://issuer.example/c1';
    assert.deepEqual(buildDiscoveryDocument(issuer, jwksUriFor(issuer, 'openid/v1/jwks')), {
      issuer,
      jwks_uri: 'https://issuer.example/c1/openid/v1/jwks',
      authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['sub', 'iss'],
    });
  });

  test('kid is base64url(SHA-256(DER SPKI)) without padding', () => {
    const der = first.publicKey.export({ format: 'der', type: 'spki' });
    const expected = createHash('sha256')
      .update(der)
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    assert.equal(keyIdOf(first.publicKey), expected.replace(/=+$/, ''));
    assert.equal(keyIdOf(first.publicKey).length, 43);
  });

  test('the JWKS keeps order, drops duplicates, and adds empty-kid twins on request', () => {
    const plain = buildJwks([first.publicKey, second.publicKey, first.publicKey]);
    assert.deepEqual(
      plain.keys.map((key) => key.kid),
      [keyIdOf(first.publicKey), keyIdOf(second.publicKey)],
    );
    assert.deepEqual(Object.keys(plain.keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    const legacy = buildJwks([first.publicKey], { legacyEmptyKid: true });
    assert.deepEqual(
      legacy.keys.map((key) => key.kid),
      [keyIdOf(first.publicKey), ''],
    );
    assert.equal(legacy.keys[0]!.n, legacy.keys[1]!.n);
  });
});

describe('key parsing', () => {
  test('a private key gives the same kid as its public key', () => {
    const [fromPrivate] = parseKeysPem(firstPrivatePem, 'a.key');
    const [fromPublic] = parseKeysPem(firstPublicPem, 'a.pub');
    assert.equal(fromPrivate!.kid, fromPublic!.kid);
    assert.ok(fromPrivate!.privateKey);
    assert.equal(fromPublic!.privateKey, undefined);
  });
  test('a multi-key file yields every key', () => {
    assert.equal(parseKeysPem(firstPublicPem + secondPublicPem, 'bundle.pub').length, 2);
  });
  test('a PKCS#1 RSA private key is accepted', () => {
    const pkcs1 = first.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    assert.equal(parseKeysPem(pkcs1, 'sa.key')[0]!.kid, keyIdOf(first.publicKey));
  });
  test('an EC key is refused by name', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    rejects(() => parseKeysPem(ec.toString(), 'ec.pub'), 'INPUT_INVALID', /EC key; kirsa signs with RSA/);
  });
  test('a short RSA key is refused', () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    rejects(() => parseKeysPem(short.toString(), 'short.pub'), 'INPUT_INVALID', /1024 bits/);
  });
  test('OpenSSH formats get the conversion command', () => {
    rejects(() => parseKeysPem('ssh-rsa AAAAB3Nza user@host\n', 'id.pub'), 'INPUT_INVALID', /no PEM key/);
    assert.throws(
      () => parseKeysPem('ssh-rsa AAAAB3Nza user@host\n', 'id.pub'),
      (error: Error & { hint?: string }) => /ssh-keygen -e -m PKCS8/.test(error.hint ?? ''),
    );
    rejects(
      () =>
        parseKeysPem('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', 'id'),
      'INPUT_INVALID',
      /OpenSSH-format/,
    );
  });
  test('a damaged PEM block is refused, not crashed on', () => {
    rejects(
      () => parseKeysPem('-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n', 'bad.pub'),
      'INPUT_INVALID',
      /does not parse/,
    );
  });
});

describe('kOps base64', () => {
  test('never padded, and decodes back to the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const encoded = kopsBase64(bytes);
        assert.ok(!encoded.includes('='));
        assert.deepEqual(new Uint8Array(Buffer.from(encoded, 'base64')), bytes);
      }),
    );
  });
  test('a PEM whose standard base64 is padded loses only the padding', () => {
    const padded = Buffer.from(firstPublicPem).toString('base64');
    assert.equal(kopsBase64(firstPublicPem), padded.replace(/=+$/, ''));
  });
});

describe('rotation', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const hours = (n: number) => new Date(t0.getTime() + n * 3_600_000);
  const base = initialState(
    { issuer: 'https://i.example', jwksPath: 'keys.json', legacyEmptyKid: false, kid: 'A' },
    t0,
  );

  test('stage, promote, retire in order; retire waits for the longest token lifetime', () => {
    const staged = stageKey(base, 'B', hours(1));
    assert.deepEqual(
      publishedKeys(staged).map((key) => [key.kid, key.stage]),
      [
        ['A', 'active'],
        ['B', 'staged'],
      ],
    );
    const promoted = promoteStaged(staged, hours(2));
    assert.deepEqual(
      publishedKeys(promoted).map((key) => [key.kid, key.stage]),
      [
        ['B', 'active'],
        ['A', 'previous'],
      ],
    );
    rejects(
      () => retirePrevious(promoted, hours(25), 86_400),
      'CHECK_FAILED',
      /valid until 2026-01-02T02:00:00/,
    );
    const retired = retirePrevious(promoted, hours(26), 86_400);
    assert.deepEqual(
      publishedKeys(retired).map((key) => key.kid),
      ['B'],
    );
    assert.equal(retired.keys.find((key) => key.kid === 'A')!.stage, 'retired');
    assert.equal(parseIssuerState(JSON.stringify(retired), 'state.json').keys.length, 2);
  });
  test('one staged key at a time; promote needs one; retire needs a previous', () => {
    rejects(() => stageKey(stageKey(base, 'B', t0), 'C', t0), 'ALREADY_EXISTS', /already staged/);
    rejects(() => stageKey(base, 'A', t0), 'ALREADY_EXISTS', /already in this issuer/);
    rejects(() => promoteStaged(base, t0), 'NOT_FOUND', /no staged key/);
    rejects(() => retirePrevious(base, t0, 0), 'NOT_FOUND', /no previous key/);
  });
  test('a state without exactly one active key is refused', () => {
    rejects(
      () => parseIssuerState(JSON.stringify({ ...base, keys: [] }), 'state.json'),
      'INPUT_INVALID',
      /one active key/,
    );
  });
});

describe('kube-apiserver configuration', () => {
  const keys: IssuerKeyMaterial = {
    publicKeys: [
      { fileName: 'keys/sa-signer-2.pub', pem: secondPublicPem },
      { fileName: 'keys/sa-signer-1.pub', pem: firstPublicPem },
    ],
    bundleFileName: 'sa-published.pub',
    bundlePem: secondPublicPem + firstPublicPem,
    signingKeyFileName: 'sa-signer.key',
    signingKeyPem: firstPrivatePem,
  };
  const input = {
    issuer: 'https://i.example/c1',
    previousIssuers: [],
    apiAudiences: ['https://i.example/c1'],
    keys,
    keyDir: '/etc/kirsa',
    kopsPlainContent: false,
  };

  test('flags: one per line, the key file repeated per published key', () => {
    assert.deepEqual(
      renderApiserverConfig({ ...input, distribution: 'flags' })
        .text.trimEnd()
        .split('\n'),
      [
        '--service-account-issuer=https://i.example/c1',
        '--service-account-key-file=/etc/kirsa/keys/sa-signer-2.pub',
        '--service-account-key-file=/etc/kirsa/keys/sa-signer-1.pub',
        '--service-account-signing-key-file=/etc/kirsa/sa-signer.key',
        '--api-audiences=https://i.example/c1',
      ],
    );
    assert.deepEqual(
      apiserverFlags({
        issuer: 'https://new',
        previousIssuers: ['https://old'],
        apiAudiences: ['https://new', 'https://old'],
        publicKeyFiles: ['/a.pub'],
        signingKeyFile: '/a.key',
      }).filter((flag) => flag.startsWith('--service-account-issuer=')),
      ['--service-account-issuer=https://new', '--service-account-issuer=https://old'],
    );
  });

  test('kops: unpadded base64 file assets that decode to the PEM, and the existing key kept', () => {
    const config = parse(renderApiserverConfig({ ...input, distribution: 'kops' }).text);
    const assets = config.spec.fileAssets as Array<{ path: string; content: string; isBase64: boolean }>;
    assert.equal(assets.length, 3);
    for (const asset of assets) {
      assert.equal(asset.isBase64, true);
      assert.ok(!asset.content.includes('='));
      assert.match(Buffer.from(asset.content, 'base64').toString(), /^-----BEGIN (PUBLIC|PRIVATE) KEY-----/);
    }
    assert.deepEqual(config.spec.kubeAPIServer.serviceAccountKeyFile, [
      '/srv/kubernetes/kube-apiserver/service-account.pub',
      '/etc/kirsa/keys/sa-signer-2.pub',
      '/etc/kirsa/keys/sa-signer-1.pub',
    ]);
    assert.equal(config.spec.kubeAPIServer.serviceAccountSigningKeyFile, '/etc/kirsa/sa-signer.key');
    const plain = parse(
      renderApiserverConfig({ ...input, distribution: 'kops', kopsPlainContent: true }).text,
    );
    assert.equal(plain.spec.fileAssets[1].content, secondPublicPem);
    assert.equal(plain.spec.fileAssets[1].isBase64, undefined);
  });

  for (const distribution of ['k3s', 'rke2'] as const) {
    test(`${distribution}: one key-file value (the multi-key file), and a note saying why`, () => {
      const config = renderApiserverConfig({ ...input, distribution });
      const args = parse(config.text)['kube-apiserver-arg'] as string[];
      assert.equal(args.filter((arg) => arg.startsWith('service-account-key-file=')).length, 1);
      assert.ok(args.includes('service-account-key-file=/etc/kirsa/sa-published.pub'));
      assert.ok(config.notes.some((note) => /keeps only one value/.test(note)));
    });
  }

  test('kubeadm: v1beta4 list extraArgs, keeping sa.pub, with the v1beta3 caveat', () => {
    const config = renderApiserverConfig({ ...input, distribution: 'kubeadm' });
    const parsed = parse(config.text);
    assert.equal(parsed.apiVersion, 'kubeadm.k8s.io/v1beta4');
    assert.deepEqual(
      parsed.apiServer.extraArgs
        .filter((arg: { name: string }) => arg.name === 'service-account-key-file')
        .map((arg: { value: string }) => arg.value),
      ['/etc/kubernetes/pki/sa.pub', '/etc/kirsa/sa-published.pub'],
    );
    assert.ok(config.notes.some((note) => /v1beta3/.test(note)));
  });

  test('talos: the signing key as cluster.serviceAccount.key and the multi-key file on disk', () => {
    const parsed = parse(renderApiserverConfig({ ...input, distribution: 'talos' }).text);
    assert.equal(Buffer.from(parsed.cluster.serviceAccount.key, 'base64').toString(), firstPrivatePem);
    assert.equal(
      parsed.cluster.apiServer.extraArgs['service-account-key-file'],
      '/etc/kirsa/sa-published.pub',
    );
    assert.equal(parsed.machine.files[0].content, keys.bundlePem);
  });
});

describe('checks as STS makes them', () => {
  const issuer = 'https://i.example';
  test('discovery: issuer must match exactly, jwks_uri must be https', () => {
    const good = checkDiscoveryDocument(issuer, buildDiscoveryDocument(issuer, `${issuer}/keys.json`));
    assert.equal(good.jwksUri, `${issuer}/keys.json`);
    assert.ok(good.checks.every((check) => check.status === 'pass'));
    const slash = checkDiscoveryDocument(issuer, buildDiscoveryDocument(`${issuer}/`, `${issuer}/keys.json`));
    assert.ok(
      slash.checks.some((check) => check.status === 'fail' && /character for character/.test(check.message)),
    );
    const http = checkDiscoveryDocument(issuer, buildDiscoveryDocument(issuer, 'http://i.example/keys.json'));
    assert.equal(http.jwksUri, undefined);
  });
  test('JWKS: key_ops, missing kid among several, and no keys fail', () => {
    const jwks = buildJwks([first.publicKey, second.publicKey]);
    assert.ok(checkJwks(jwks).every((check) => check.status === 'pass'));
    assert.equal(checkJwks({ keys: [] })[0]!.status, 'fail');
    const { kid: _kid, ...noKid } = jwks.keys[0]!;
    assert.ok(checkJwks({ keys: [noKid, jwks.keys[1]] }).some((check) => /no kid/.test(check.message)));
    assert.ok(checkJwks({ keys: [noKid] }).every((check) => check.status !== 'fail'));
    assert.ok(
      checkJwks({ keys: [{ ...jwks.keys[0], key_ops: ['verify'] }] }).some((check) =>
        /key_ops/.test(check.message),
      ),
    );
  });
  test('token claims: iss, aud, exp with 5 minutes of skew, iat, kid', () => {
    const now = 1_800_000_000;
    const base = {
      header: { alg: 'RS256', kid: 'K1' },
      payload: {
        iss: issuer,
        aud: ['sts.amazonaws.com'],
        sub: 'system:serviceaccount:a:b',
        iat: now - 10,
        exp: now + 60,
      },
      issuer,
      audiences: ['sts.amazonaws.com'],
      jwksKids: ['K1'],
      nowSeconds: now,
      skewSeconds: 300,
    };
    const failures = (overrides: Partial<typeof base>) =>
      checkTokenClaims({ ...base, ...overrides })
        .filter((check) => check.status === 'fail')
        .map((check) => check.message);
    assert.deepEqual(failures({}), []);
    assert.match(failures({ payload: { ...base.payload, iss: `${issuer}/` } })[0]!, /iss is/);
    assert.match(failures({ audiences: ['amazonaws.com'] })[0]!, /Incorrect token audience/);
    assert.match(failures({ payload: { ...base.payload, aud: [] } })[0]!, /aud is missing/);
    assert.deepEqual(failures({ nowSeconds: now + 60 + 299 }), []);
    assert.match(failures({ nowSeconds: now + 60 + 301 })[0]!, /expired/);
    assert.match(failures({ jwksKids: ['K2'] })[0]!, /not in the published JWKS/);
    const { iat: _iat, ...noIat } = base.payload;
    assert.match(failures({ payload: noIat as typeof base.payload })[0]!, /iat is missing/);
  });
});
