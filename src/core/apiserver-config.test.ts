import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { rsaTestKey } from '../../test/support/keys-and-refusals.ts';
import {
  apiAudiencesFor,
  apiserverFlags,
  checkDistribution,
  currentIssuerNotice,
  defaultKeyDir,
  type IssuerKeyMaterial,
  kopsBase64,
  previousIssuersFor,
  renderApiserverConfig,
} from './apiserver-config.ts';

const first = rsaTestKey();
const second = rsaTestKey();

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
    const padded = Buffer.from(first.publicPem).toString('base64');
    assert.equal(kopsBase64(first.publicPem), padded.replace(/=+$/, ''));
  });
});

const keys: IssuerKeyMaterial = {
  publicKeys: [
    { fileName: 'keys/sa-signer-2.pub', pem: second.publicPem },
    { fileName: 'keys/sa-signer-1.pub', pem: first.publicPem },
  ],
  bundleFileName: 'sa-published.pub',
  bundlePem: second.publicPem + first.publicPem,
  signingKeyFileName: 'sa-signer.key',
  signingKeyPem: first.privatePem,
};
const input = {
  issuer: 'https://i.example/c1',
  previousIssuers: [],
  apiAudiences: ['https://i.example/c1'],
  keys,
  keyDir: '/etc/kirsa',
  kopsPlainContent: false,
};

describe('kube-apiserver configuration', () => {
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
    assert.equal(plain.spec.fileAssets[1].content, second.publicPem);
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
    assert.equal(Buffer.from(parsed.cluster.serviceAccount.key, 'base64').toString(), first.privatePem);
    assert.equal(
      parsed.cluster.apiServer.extraArgs['service-account-key-file'],
      '/etc/kirsa/sa-published.pub',
    );
    assert.equal(parsed.machine.files[0].content, keys.bundlePem);
  });
});

describe('defaults', () => {
  test('--for takes the distributions only, naming them when refused', () => {
    for (const distribution of ['kops', 'kubeadm', 'k3s', 'rke2', 'talos', 'flags'])
      assert.equal(checkDistribution(distribution), distribution);
    assert.throws(() => checkDistribution('eks'), {
      code: 'FLAG_INVALID',
      message: '--for takes kops, kubeadm, k3s, rke2, talos, flags, not "eks"',
    });
  });

  test('the API audiences are the issuers unless given, without repeats', () => {
    assert.deepEqual(apiAudiencesFor([], 'https://new', ['https://old', 'https://new']), [
      'https://new',
      'https://old',
    ]);
    assert.deepEqual(apiAudiencesFor(['a', 'b', 'a'], 'https://new', ['https://old']), ['a', 'b']);
  });

  test('the key folder is the issuer folder for plain flags, else the distribution node folder', () => {
    assert.equal(defaultKeyDir('flags', '/home/me/issuer'), '/home/me/issuer');
    for (const distribution of ['kops', 'kubeadm', 'k3s', 'rke2', 'talos'] as const) {
      const dir = defaultKeyDir(distribution, '/home/me/issuer');
      assert.ok(dir.startsWith('/') && dir !== '/home/me/issuer', `${distribution}: ${dir}`);
    }
  });

  test("the cluster's current issuer is kept unless told not to, never the new one, without repeats", () => {
    const base = { issuer: 'https://new/c1', given: ['https://old/a'] };
    assert.deepEqual(
      previousIssuersFor({ ...base, current: 'https://kubernetes.default.svc', keepCurrent: true }),
      ['https://old/a', 'https://kubernetes.default.svc'],
    );
    assert.deepEqual(
      previousIssuersFor({ ...base, current: 'https://kubernetes.default.svc', keepCurrent: false }),
      ['https://old/a'],
    );
    assert.deepEqual(previousIssuersFor({ ...base, current: 'https://new/c1', keepCurrent: true }), [
      'https://old/a',
    ]);
    assert.deepEqual(previousIssuersFor({ ...base, current: 'https://old/a', keepCurrent: true }), [
      'https://old/a',
    ]);
  });

  test('the published JWKS URL goes in --service-account-jwks-uri, and in kOps serviceAccountJWKSURI', () => {
    const jwksUri = 'https://i.example/c1/keys.json';
    const flags = renderApiserverConfig({ ...input, jwksUri, distribution: 'flags' }).text.split('\n');
    assert.ok(flags.includes(`--service-account-jwks-uri=${jwksUri}`));
    const kops = parse(renderApiserverConfig({ ...input, jwksUri, distribution: 'kops' }).text);
    assert.equal(kops.spec.kubeAPIServer.serviceAccountJWKSURI, jwksUri);
    const kubeadm = parse(renderApiserverConfig({ ...input, jwksUri, distribution: 'kubeadm' }).text);
    assert.ok(
      kubeadm.apiServer.extraArgs.some(
        (pair: { name: string; value: string }) =>
          pair.name === 'service-account-jwks-uri' && pair.value === jwksUri,
      ),
    );
  });

  test('flags: the current key file is kept trusted after kirsa keys; without it a note asks for it', () => {
    const previous = { ...input, previousIssuers: ['https://kubernetes.default.svc'] };
    const without = renderApiserverConfig({ ...previous, distribution: 'flags' });
    assert.ok(without.notes.some((note) => /--current-key-file/.test(note)));
    const withKey = renderApiserverConfig({
      ...previous,
      distribution: 'flags',
      currentKeyFiles: ['/k/sa.pub'],
    });
    assert.deepEqual(withKey.notes, []);
    assert.ok(withKey.text.split('\n').includes('--service-account-key-file=/k/sa.pub'));
  });

  for (const distribution of ['k3s', 'rke2', 'talos'] as const) {
    test(`${distribution}: a previous issuer it cannot keep is a warning, not a note`, () => {
      const none = renderApiserverConfig({ ...input, distribution });
      assert.deepEqual(none.warnings, []);
      const config = renderApiserverConfig({ ...input, previousIssuers: ['https://old/a'], distribution });
      assert.equal(config.warnings.length, 1);
      assert.match(config.warnings[0]!, /https:\/\/old\/a is NOT kept.*401.*80% of its requested lifetime/);
    });
  }

  test("the cluster's current issuer: nothing to keep, kept (a note), or dropped on request (a warning)", () => {
    const issuer = 'https://new/c1';
    assert.deepEqual(currentIssuerNotice({ issuer, current: issuer, keepCurrent: false }), {
      level: 'note',
      text: 'the cluster already uses https://new/c1; no previous issuer to keep.',
    });
    const kept = currentIssuerNotice({ issuer, current: 'https://old', keepCurrent: true });
    assert.equal(kept.level, 'note');
    assert.match(kept.text, /^the cluster's current issuer https:\/\/old is kept as a previous issuer/);
    const dropped = currentIssuerNotice({ issuer, current: 'https://old', keepCurrent: false });
    assert.equal(dropped.level, 'warning');
    assert.match(dropped.text, /^--no-keep-current-issuer: tokens issued under https:\/\/old are rejected/);
  });
});
