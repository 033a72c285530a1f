import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKirsaError } from '../../errors.ts';
import { checkProviderInput, providerAudiences, thumbprintChoices } from './oidc-provider.ts';

const usage = (error: unknown) => isKirsaError(error) && error.code === 'PROVIDER_OPTION_INVALID';

describe('provider audiences', () => {
  test('sts.amazonaws.com unless given; repeats dropped, order kept', () => {
    assert.deepEqual(providerAudiences([]), ['sts.amazonaws.com']);
    assert.deepEqual(providerAudiences(['b', 'a', 'b']), ['b', 'a']);
  });
});

describe('thumbprint choices', () => {
  test('none, the default, is an empty list; none with others is refused', () => {
    assert.deepEqual(thumbprintChoices([]), []);
    assert.deepEqual(thumbprintChoices(['none']), []);
    assert.throws(() => thumbprintChoices(['none', 'auto']), usage);
  });

  test('hex as openssl prints it is written as IAM stores it; auto stays in its place', () => {
    const colons = '9E:99:A4:8A:99:60:B1:49:26:BB:7F:3B:02:E2:2D:A2:B0:AB:72:80';
    assert.deepEqual(thumbprintChoices(['auto', colons]), [
      'auto',
      '9e99a48a9960b14926bb7f3b02e22da2b0ab7280',
    ]);
  });
});

describe('IAM limits', () => {
  const hex = (digit: string) => digit.repeat(40);

  test('one to 100 audiences of 1-255 characters, up to five 40-hex thumbprints', () => {
    checkProviderInput(['sts.amazonaws.com'], ['1', '2', '3', '4', '5'].map(hex));
    assert.throws(() => checkProviderInput([], []), usage);
    assert.throws(
      () =>
        checkProviderInput(
          Array.from({ length: 101 }, (_, index) => `a${index}`),
          [],
        ),
      usage,
    );
    assert.throws(() => checkProviderInput([''], []), usage);
    assert.throws(() => checkProviderInput(['x'.repeat(256)], []), usage);
    assert.throws(() => checkProviderInput(['a'], ['1', '2', '3', '4', '5', '6'].map(hex)), usage);
    assert.throws(() => checkProviderInput(['a'], ['A'.repeat(40)]), usage, 'IAM stores lower case');
    assert.throws(() => checkProviderInput(['a'], ['abc']), usage);
  });

  test('what thumbprintChoices writes passes the hex rule', () => {
    const [written] = thumbprintChoices(['AB:'.repeat(19) + 'AB']);
    checkProviderInput(['a'], [written!]);
  });
});
