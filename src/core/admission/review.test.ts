import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { add } from '../mutation/json-patch.ts';
import {
  admissionReply,
  admittedWithWarning,
  allowed,
  parseAdmissionReview,
  patched,
  podCreateReview,
  podToCreate,
  replyBytes,
  replyPatch,
} from './review.ts';

function review(overrides: Record<string, unknown> = {}, request: Record<string, unknown> = {}) {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'ns',
      object: { metadata: { name: 'p' }, spec: { containers: [] } },
      ...request,
    },
    ...overrides,
  });
}

describe('parseAdmissionReview', () => {
  test('reads v1 and v1beta1 reviews', () => {
    for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
      const parsed = parseAdmissionReview(review({ apiVersion }));
      assert.equal(parsed.ok, true);
      if (parsed.ok) {
        assert.equal(parsed.apiVersion, apiVersion);
        assert.equal(parsed.request.uid, 'u-1');
        assert.equal(parsed.request.namespace, 'ns');
      }
    }
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty body', '', /empty/],
    ['not JSON', '{"apiVersion":', /not JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['a JSON string', '"AdmissionReview"', /not a JSON object/],
    ['another kind', review({ kind: 'Pod' }), /kind is "Pod"/],
    ['no kind', review({ kind: undefined }), /kind is null/],
    [
      'unknown apiVersion',
      review({ apiVersion: 'admission.k8s.io/v2' }),
      /apiVersion is "admission.k8s.io\/v2"/,
    ],
    ['no request', review({ request: undefined }), /no request/],
    ['request is null', review({ request: null }), /no request/],
    ['no uid', review({}, { uid: undefined }), /uid/],
    ['empty uid', review({}, { uid: '' }), /uid/],
    ['numeric uid', review({}, { uid: 7 }), /uid/],
    ['no operation', review({}, { operation: undefined }), /operation/],
    ['request.kind is a string', review({}, { kind: 'Pod' }), /request.kind/],
  ];
  for (const [name, body, reason] of bad) {
    test(`refuses ${name} with a reason`, () => {
      const parsed = parseAdmissionReview(body);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    });
  }

  test('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const parsed = parseAdmissionReview(text);
        assert.equal(typeof parsed.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('podToCreate', () => {
  const parse = (request: Record<string, unknown>) => {
    const parsed = parseAdmissionReview(review({}, request));
    assert.ok(parsed.ok);
    return podToCreate(parsed.request);
  };

  test('returns the pod of a pod CREATE', () => {
    assert.deepEqual(parse({}), { metadata: { name: 'p' }, spec: { containers: [] } });
  });
  test('leaves other operations, kinds, groups, subresources and non-object objects alone', () => {
    assert.equal(parse({ operation: 'UPDATE' }), undefined);
    assert.equal(parse({ operation: 'DELETE', object: null }), undefined);
    assert.equal(parse({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), undefined);
    assert.equal(parse({ kind: { group: 'example.com', version: 'v1', kind: 'Pod' } }), undefined);
    assert.equal(parse({ subResource: 'ephemeralcontainers' }), undefined);
    assert.equal(parse({ object: 'a string' }), undefined);
    assert.equal(parse({ object: [] }), undefined);
  });
});

describe('admissionReply', () => {
  test('echoes apiVersion, kind and uid, allowed, and no patch when there is none', () => {
    assert.deepEqual(admissionReply('admission.k8s.io/v1beta1', 'u-9'), {
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      response: { uid: 'u-9', allowed: true },
    });
    assert.deepEqual(admissionReply('admission.k8s.io/v1', 'u-9', { patch: [], warnings: [] }).response, {
      uid: 'u-9',
      allowed: true,
    });
  });

  test('carries the patch as base64 JSON with patchType, and the warnings', () => {
    const patch = [add('/spec/volumes', [{ name: 'aws-iam-token' }]), add('/metadata/labels/a~1b', 'x')];
    const reply = admissionReply('admission.k8s.io/v1', 'u-2', { patch, warnings: ['careful'] });
    assert.equal(reply.response?.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(reply.response!.patch!, 'base64').toString('utf8')), patch);
    assert.deepEqual(reply.response?.warnings, ['careful']);
    assert.equal(reply.response?.allowed, true);
  });
});

describe('named replies', () => {
  const patch = [add('/spec/volumes', [{ name: 'aws-iam-token' }])];

  test('allowed: nothing but the echo; patched: the patch round-trips through replyPatch', () => {
    assert.deepEqual(allowed('admission.k8s.io/v1', 'u-1').response, { uid: 'u-1', allowed: true });
    const reply = patched('admission.k8s.io/v1', 'u-2', patch);
    assert.equal(reply.response?.patchType, 'JSONPatch');
    assert.equal(reply.response?.warnings, undefined);
    assert.deepEqual(replyPatch(reply.response), patch);
    assert.deepEqual(replyPatch(allowed('admission.k8s.io/v1', 'u-1').response), []);
  });

  test('admitted with a warning: allowed, no patch, the warnings in order', () => {
    const reply = admittedWithWarning('admission.k8s.io/v1beta1', 'u-3', ['one', 'two']);
    assert.equal(reply.apiVersion, 'admission.k8s.io/v1beta1');
    assert.deepEqual(reply.response, { uid: 'u-3', allowed: true, warnings: ['one', 'two'] });
  });

  test('podCreateReview builds what parseAdmissionReview and podToCreate accept', () => {
    const pod = { spec: { containers: [{ name: 'c' }] } };
    const parsed = parseAdmissionReview(
      JSON.stringify(podCreateReview(pod, { uid: 'u-4', namespace: 'ns' })),
    );
    assert.ok(parsed.ok);
    assert.equal(parsed.request.namespace, 'ns');
    assert.deepEqual(podToCreate(parsed.request), pod);
  });
});

describe('replyBytes', () => {
  test('are UTF-8 of the same JSON value as JSON.stringify of every kind of reply, whatever the uid, patch and warnings hold', () => {
    const text = fc.string({ unit: 'binary' });
    fc.assert(
      fc.property(
        fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1' as const),
        text,
        fc.array(fc.tuple(text, fc.jsonValue()), { maxLength: 4 }),
        fc.array(text, { maxLength: 3 }),
        fc.constantFrom('patched', 'warned', 'allowed'),
        (apiVersion, uid, operations, warnings, kind) => {
          const patch = operations.map(([path, value]) => add(`/${path}`, value));
          const reply =
            kind === 'patched'
              ? patched(apiVersion, uid, patch.length > 0 ? patch : [add('/x', 1)], warnings)
              : kind === 'warned'
                ? admittedWithWarning(apiVersion, uid, warnings)
                : allowed(apiVersion, uid);
          const text = new TextDecoder('utf-8', { fatal: true }).decode(replyBytes(reply));
          assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(reply)));
          assert.deepEqual(replyPatch(JSON.parse(text).response), replyPatch(reply.response));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('leaves a reply with fields it does not know to JSON.stringify', () => {
    const reply = { ...patched('admission.k8s.io/v1', 'u', [add('/a', 1)]), extra: true };
    assert.deepEqual(replyBytes(reply), Buffer.from(JSON.stringify(reply), 'utf8'));
  });
});
