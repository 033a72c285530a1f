// The EC2 instance identity document from the instance metadata service (IMDS): what --compose-role-arn
// needs to complete a bare role name, as the reference webhook does (account ID and region of the node the
// webhook runs on, the partition from the region). IMDSv2 first (a session token, then the document); an
// IMDS that refuses tokens (IMDSv1 only) is asked without one, as the AWS SDKs fall back.
// The endpoint follows the SDKs' AWS_EC2_METADATA_SERVICE_ENDPOINT, and AWS_EC2_METADATA_DISABLED=true turns
// it off; every call is bounded, since a webhook must not hang at start-up off EC2.

import { partitionOfRegion, type RoleAccount } from '../core/iam/arn.ts';
import { KirsaError } from '../errors.ts';

const DEFAULT_ENDPOINT = 'http://169.254.169.254';
const TOKEN_TTL_SECONDS = '60';
const CALL_TIMEOUT_MS = 2_000;

export interface InstanceIdentity extends RoleAccount {
  region: string;
}

function unreachable(endpoint: string, why: string, cause?: unknown): KirsaError {
  return new KirsaError(
    'AWS_UNREACHABLE',
    `--compose-role-arn needs the EC2 instance identity document, and the instance metadata service at ${endpoint} ${why}`,
    {
      hint: 'run on EC2 with IMDS reachable from pods (hop limit 2 for IMDSv2), or annotate full role ARNs and drop --compose-role-arn',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Reads the document and derives the partition; throws AWS_UNREACHABLE when IMDS cannot be asked. */
export async function fetchInstanceIdentity(env: NodeJS.ProcessEnv = process.env): Promise<InstanceIdentity> {
  const endpoint = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  if (env.AWS_EC2_METADATA_DISABLED?.toLowerCase() === 'true') {
    throw unreachable(endpoint, 'is disabled (AWS_EC2_METADATA_DISABLED=true)');
  }
  const call = async (path: string, init: RequestInit) => {
    try {
      return await fetch(`${endpoint}${path}`, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    } catch (error) {
      throw unreachable(endpoint, `did not answer (${(error as Error).message})`, error);
    }
  };
  const tokenAnswer = await call('/latest/api/token', {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS },
  });
  const headers: Record<string, string> = {};
  if (tokenAnswer.ok) headers['X-aws-ec2-metadata-token'] = await tokenAnswer.text();
  else if (![403, 404, 405].includes(tokenAnswer.status)) {
    throw unreachable(endpoint, `answered ${tokenAnswer.status} to the IMDSv2 token request`);
  }
  const answer = await call('/latest/dynamic/instance-identity/document', { headers });
  if (!answer.ok) throw unreachable(endpoint, `answered ${answer.status} for the identity document`);
  let document: { accountId?: unknown; region?: unknown };
  try {
    document = (await answer.json()) as typeof document;
  } catch (error) {
    throw unreachable(endpoint, 'sent an identity document that is not JSON', error);
  }
  const { accountId, region } = document;
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId) || typeof region !== 'string' || !region) {
    throw unreachable(endpoint, 'sent an identity document without a 12-digit accountId and a region');
  }
  return { accountId, region, partition: partitionOfRegion(region) };
}
