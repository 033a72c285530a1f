import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { terminalWrites } from '../../test/support/terminal-writes.ts';
import { ISSUER_FILES } from '../issuer/store.ts';
import { createIssuerFolder } from './issuer-init.ts';
import { issuerIacPlan, type PublishInput, preparePublish, publishAsIac } from './issuer-publish.ts';

const root = await mkdtemp(join(tmpdir(), 'kirsa-wf-publish-'));
after(() => rm(root, { recursive: true, force: true }));
const dir = join(root, 'issuer');
await createIssuerFolder(
  {
    dir,
    issuerUrl: 'https://kirsa-issuer.s3.eu-west-1.amazonaws.com/c1',
    jwksPath: 'keys.json',
    legacyEmptyKid: false,
  },
  { warn: () => {} },
);

const input: PublishInput = {
  dir,
  jwksPath: 'openid/v1/jwks',
  hosting: 's3',
  bucket: 'kirsa-issuer',
  verify: true,
  caFile: [],
};

describe('issuer publish as a workflow, before AWS', () => {
  test("the folder's two documents, under the issuer URL's prefix, read without a word on the terminal", async () => {
    const { result, written } = await terminalWrites(() => preparePublish(input, { warn: () => {} }));
    assert.deepEqual(written, []);
    assert.equal(result.source.issuerUrl, 'https://kirsa-issuer.s3.eu-west-1.amazonaws.com/c1');
    assert.deepEqual(
      result.objects.map((object) => object.key),
      ['c1/.well-known/openid-configuration', 'c1/keys.json'],
    );
    assert.equal(result.objects[1]!.body, await readFile(join(dir, ISSUER_FILES.jwks), 'utf8'));
  });

  test('the IaC plan of publish and of kirsa stack are the same', async () => {
    const prepared = await preparePublish({ ...input, region: 'eu-west-1' }, { warn: () => {} });
    const stack = await issuerIacPlan({ dir, bucket: 'kirsa-issuer', region: 'eu-west-1' });
    assert.deepEqual(publishAsIac(prepared), stack.plan);
  });

  test('IaC output refuses CloudFront hosting: only AWS knows the distribution', async () => {
    const prepared = await preparePublish({ ...input, hosting: 'cloudfront' }, { warn: () => {} });
    assert.throws(() => publishAsIac(prepared), { code: 'IAC_OUTPUT_INVALID' });
  });

  test('a folder publish refuses --issuer-url and --kubeconfig, which go with --from-cluster', async () => {
    await assert.rejects(preparePublish({ ...input, kubeconfig: 'kubeconfig' }, { warn: () => {} }), {
      code: 'FLAG_CONFLICT',
    });
  });
});
