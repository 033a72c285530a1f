import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWildcardRef, parseServiceAccountRef, serviceAccountSubject } from './service-account-ref.ts';

describe('service account references', () => {
  test('a wildcard in the namespace or the name makes a wildcard reference', () => {
    assert.equal(isWildcardRef({ namespace: 'team-a', name: 'app' }), false);
    assert.equal(isWildcardRef({ namespace: 'team-a', name: 'ci-*' }), true);
    assert.equal(isWildcardRef({ namespace: 'team-*', name: 'app' }), true);
  });

  test('NS/NAME, NS:NAME and a bare NAME in the default namespace; anything else is refused', () => {
    assert.deepEqual(parseServiceAccountRef('s3-echoer', 'default'), {
      namespace: 'default',
      name: 's3-echoer',
    });
    assert.deepEqual(parseServiceAccountRef('team-a/app', 'default'), { namespace: 'team-a', name: 'app' });
    assert.deepEqual(parseServiceAccountRef('team-*:*', 'default'), { namespace: 'team-*', name: '*' });
    assert.throws(() => parseServiceAccountRef('Bad_Name', 'default'), {
      code: 'SERVICE_ACCOUNT_INVALID',
      message: /not a service account/,
    });
  });

  test("the subject is the one Kubernetes writes in the account's tokens", () => {
    assert.equal(serviceAccountSubject({ namespace: 'a', name: 'b' }), 'system:serviceaccount:a:b');
  });
});
