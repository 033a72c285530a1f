import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { terminalWrites } from '../../test/support/terminal-writes.ts';
import { type ProviderInput, providerPlan } from './provider-create.ts';

const thumbprint = 'a'.repeat(40);

async function planOf(input: ProviderInput) {
  const warnings: string[] = [];
  const told: string[] = [];
  const { result, written } = await terminalWrites(() =>
    providerPlan(input, { warn: (line) => warnings.push(line), inform: (line) => told.push(line) }).catch(
      (error: unknown) => error,
    ),
  );
  assert.deepEqual(written, [], 'the workflow writes nothing to the terminal');
  return { result, warnings, told };
}

describe('provider create as a workflow', () => {
  test('the plan: the default audience, the thumbprints given without repeats, nothing fetched or told', async () => {
    const { result, warnings, told } = await planOf({
      issuerUrl: 'https://issuer.example/c1',
      audience: [],
      thumbprint: [thumbprint, thumbprint],
      caFile: [],
    });
    assert.deepEqual(result, {
      url: 'https://issuer.example/c1',
      clientIds: ['sts.amazonaws.com'],
      thumbprints: [thumbprint],
    });
    assert.deepEqual([warnings, told], [[], []]);
  });

  test("the URL's warning comes through warn before the plan refuses it", async () => {
    const { result, warnings } = await planOf({
      issuerUrl: 'https://issuer.example:8443/c1',
      audience: [],
      thumbprint: [thumbprint],
      caFile: [],
    });
    assert.equal((result as { code?: string }).code, 'ISSUER_URL_INVALID');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^--issuer-url https:\/\/issuer\.example:8443\/c1: IAM refuses issuer URLs with a port/,
    );
  });
});
