import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BUILTIN_CONTAINER_CREDENTIALS,
  EMPTY_MAPPING,
  type IdentitySources,
  lookupMapping,
  parseContainerCredentialsList,
  parseGoBool,
  parseIdentityMapping,
  parseTokenExpiration,
  resolveIdentity,
  trimServiceAccount,
} from './identity.ts';

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

describe('parseIdentityMapping', () => {
  test('bad keys and entries are reported and skipped, the rest applies', () => {
    const { mapping, problems } = parseIdentityMapping(
      JSON.stringify({
        'no-slash': { RoleARN: ROLE('a') },
        'a/b/c': { RoleARN: ROLE('a') },
        'ns/sa*': { RoleARN: ROLE('a') },
        'ns/no-role': { Audience: 'x' },
        'ns/bad-sts': { RoleARN: ROLE('a'), UseRegionalSTS: 'yes' },
        'ns/good': { rolearn: ROLE('good') },
      }),
    );
    assert.equal(problems.length, 5);
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

  test('not JSON, or not an object, throws', () => {
    assert.throws(() => parseIdentityMapping('{'), /not valid JSON/);
    assert.throws(() => parseIdentityMapping('[]'), /expected a JSON object/);
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
