// One doctor run: the cluster, IAM (when credentials resolve) and the issuer fetcher assembled, the facts
// gathered, the checklist run and its verdict. The CLI maps flags to a DiagnoseInput and prints the result.

import { readFile } from 'node:fs/promises';
import { createIamRoles, type IamRoles } from '../aws/iam-role.ts';
import { KirsaError } from '../errors.ts';
import { createClusterReader, type KubeAccess, loadKubeConfig } from '../kube/client.ts';
import { type CheckResult, type DoctorVerdict, doctorVerdict, runChecks } from './checks.ts';
import { type DoctorTarget, gatherFacts, httpsJsonFetcher } from './gather.ts';

export interface DiagnoseInput {
  target: DoctorTarget;
  kube: KubeAccess;
  /** The IAM endpoint and region, or false to skip the AWS checks (--no-aws). */
  aws: { endpointUrl?: string; region?: string } | false;
  /** An extra CA to trust when fetching the issuer documents (private issuers). */
  issuerCaFile?: string | undefined;
}

export interface Diagnosis {
  results: CheckResult[];
  verdict: DoctorVerdict;
  passed: number;
  failed: number;
  skipped: number;
  /** Why the AWS checks did not run, when they did not. */
  awsSkipped: string | undefined;
}

/** IAM when credentials resolve, else why not: the doctor then skips the AWS checks instead of failing. */
async function iamOrReason(aws: DiagnoseInput['aws']): Promise<IamRoles | { unavailable: string }> {
  if (aws === false) return { unavailable: 'skipped: --no-aws' };
  const iam = createIamRoles(aws);
  try {
    // A read of a role that cannot exist proves the credentials resolve and IAM answers, and changes nothing.
    await iam.getRole('kirsa-doctor-credentials-probe');
    return iam;
  } catch (error) {
    const reason = error instanceof KirsaError ? error.message : String(error);
    return { unavailable: `skipped: AWS not usable (${reason})` };
  }
}

async function readCa(path: string | undefined): Promise<Buffer | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path);
  } catch (error) {
    throw new KirsaError('FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`);
  }
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnosis> {
  const ca = await readCa(input.issuerCaFile);
  const config = await loadKubeConfig(input.kube);
  const cluster = await createClusterReader(config);
  const iam = await iamOrReason(input.aws);
  const facts = await gatherFacts(input.target, { cluster, iam, fetchJson: httpsJsonFetcher(ca) });
  const results = runChecks(facts);
  const awsSkipped = 'unavailable' in iam ? iam.unavailable : undefined;
  return { results, ...doctorVerdict(results, awsSkipped === undefined), awsSkipped };
}
