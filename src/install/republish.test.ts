import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ISSUER_DISCOVERY_CLUSTER_ROLE, renderRepublishManifests } from './republish.ts';

const settings = {
  namespace: 'kirsa',
  image: 'example/kirsa:1',
  schedule: '*/30 * * * *',
  bucket: 'my-bucket',
  issuerUrl: 'https://my-bucket.s3.eu-west-1.amazonaws.com/c1',
  region: 'eu-west-1',
  jwksPath: 'keys.json',
  hosting: 's3',
};

test('the job publishes from the cluster as the bound service account, one run at a time', () => {
  // Walked as plain JSON, as the API server reads them.
  const [account, binding, cronJob] = JSON.parse(JSON.stringify(renderRepublishManifests(settings)));
  assert.equal(binding!.roleRef.name, ISSUER_DISCOVERY_CLUSTER_ROLE);
  assert.deepEqual(binding!.subjects, [
    { kind: 'ServiceAccount', name: account!.metadata.name, namespace: 'kirsa' },
  ]);
  const pod = cronJob!.spec.jobTemplate.spec.template.spec;
  assert.equal(pod.serviceAccountName, account!.metadata.name);
  assert.equal(cronJob!.spec.concurrencyPolicy, 'Forbid');
  assert.deepEqual(pod.containers[0].args, [
    'issuer',
    'publish',
    '--from-cluster',
    '--bucket',
    'my-bucket',
    '--issuer-url',
    settings.issuerUrl,
    '--region',
    'eu-west-1',
    '--jwks-path',
    'keys.json',
    '--hosting',
    's3',
  ]);
  assert.equal(account!.metadata.annotations, undefined);
  const [withRole] = JSON.parse(
    JSON.stringify(renderRepublishManifests({ ...settings, roleArn: 'arn:aws:iam::1:role/r' })),
  );
  assert.equal(withRole!.metadata.annotations['eks.amazonaws.com/role-arn'], 'arn:aws:iam::1:role/r');
});
