// The local STS's configuration: which OIDC providers it trusts (as IAM providers would be) and which roles
// exist with their trust policies and session limits. Read from YAML; every mistake names its place.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { isRegionName, roleArnParts } from '../core/iam/arn.ts';
import { type PolicyDocument, parsePolicyDocument } from '../core/iam/policy-grammar.ts';
import { MAX_SESSION_SECONDS } from '../core/sts/protocol.ts';
import { KirsaError } from '../errors.ts';
import { readInputText } from '../io/read-input.ts';

export interface StsProvider {
  /** The issuer URL exactly as tokens carry it in `iss`. */
  url: string;
  /** The provider's client IDs: a token's audience must be one of them. */
  clientIds: string[];
}

export interface StsRole {
  arn: string;
  /** The role's MaxSessionDuration (3,600 to 43,200 s in IAM; default 1 h). */
  maxSessionDurationSeconds: number;
  trustPolicy: PolicyDocument;
}

export interface StsConfig {
  providers: StsProvider[];
  roles: StsRole[];
  /** PEM text of CAs to trust, besides the system's, when fetching issuers' keys. */
  extraCaPem: string[];
  /** The region signed calls must be scoped to (DEFAULT_STS_REGION when absent). */
  region?: string;
}

/**
 * The region of STS's global endpoint (sts.amazonaws.com): SDKs sign for it unless told a region. A regional
 * STS accepts only signatures scoped to its own region, and so does the local one.
 */
export const DEFAULT_STS_REGION = 'us-east-1';

const DEFAULT_MAX_SESSION_SECONDS = 3600;

function invalid(source: string, message: string): KirsaError {
  return new KirsaError('STS_CONFIG_INVALID', `${source}: ${message}`, {
    hint: 'see docs/sts.md for the format: providers: [{url, clientIds}], roles: [{arn, trustPolicy}]',
  });
}

/** Checks a parsed configuration document; file references are resolved against `baseDir`. */
export async function buildStsConfig(document: unknown, source: string, baseDir: string): Promise<StsConfig> {
  const root = (document ?? {}) as {
    providers?: unknown;
    roles?: unknown;
    extraCaFiles?: unknown;
    region?: unknown;
  };
  const region = root.region ?? DEFAULT_STS_REGION;
  if (typeof region !== 'string' || !isRegionName(region))
    throw invalid(source, 'region must be an AWS region name such as us-east-1 or eu-west-1');
  if (!Array.isArray(root.providers) || root.providers.length === 0)
    throw invalid(source, 'providers must be a non-empty list');
  if (!Array.isArray(root.roles)) throw invalid(source, 'roles must be a list');
  const providers = root.providers.map((raw, index) => {
    const provider = (raw ?? {}) as { url?: unknown; clientIds?: unknown };
    const where = `providers[${index}]`;
    if (typeof provider.url !== 'string' || !provider.url.startsWith('https://'))
      throw invalid(source, `${where}.url must be an https URL`);
    if (
      !Array.isArray(provider.clientIds) ||
      provider.clientIds.some((id) => typeof id !== 'string') ||
      provider.clientIds.length === 0
    ) {
      throw invalid(
        source,
        `${where}.clientIds must be a non-empty list of strings (e.g. [sts.amazonaws.com])`,
      );
    }
    return { url: provider.url, clientIds: provider.clientIds as string[] };
  });
  const roles: StsRole[] = [];
  for (const [index, raw] of root.roles.entries()) {
    const role = (raw ?? {}) as {
      arn?: unknown;
      maxSessionDuration?: unknown;
      trustPolicy?: unknown;
      trustPolicyFile?: unknown;
    };
    const where = `roles[${index}]`;
    if (typeof role.arn !== 'string' || !roleArnParts(role.arn))
      throw invalid(source, `${where}.arn must be an IAM role ARN`);
    const max = role.maxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS;
    if (
      typeof max !== 'number' ||
      !Number.isInteger(max) ||
      max < DEFAULT_MAX_SESSION_SECONDS ||
      max > MAX_SESSION_SECONDS
    ) {
      throw invalid(source, `${where}.maxSessionDuration must be whole seconds from 3600 to 43200`);
    }
    let trustPolicy = role.trustPolicy;
    if (typeof role.trustPolicyFile === 'string') {
      const path = resolve(baseDir, role.trustPolicyFile);
      const text = await readFile(path, 'utf8').catch(() => {
        throw invalid(source, `${where}.trustPolicyFile ${path} cannot be read`);
      });
      try {
        trustPolicy = JSON.parse(text);
      } catch {
        throw invalid(source, `${where}.trustPolicyFile ${path} is not JSON`);
      }
    }
    if (trustPolicy === undefined) throw invalid(source, `${where} needs a trustPolicy or trustPolicyFile`);
    let document: PolicyDocument;
    try {
      document = parsePolicyDocument(trustPolicy);
    } catch (error) {
      throw invalid(source, `${where}: ${(error as Error).message}`);
    }
    roles.push({ arn: role.arn, maxSessionDurationSeconds: max, trustPolicy: document });
  }
  const caFiles = Array.isArray(root.extraCaFiles) ? root.extraCaFiles : [];
  const extraCaPem = await Promise.all(
    caFiles.map((file) =>
      readFile(resolve(baseDir, String(file)), 'utf8').catch(() => {
        throw invalid(source, `extraCaFiles entry ${String(file)} cannot be read`);
      }),
    ),
  );
  return { providers, roles, extraCaPem, region };
}

export async function loadStsConfig(path: string): Promise<StsConfig> {
  const text = await readInputText(path, 'STS configuration');
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new KirsaError(
      'FILE_SYNTAX',
      `${path}: not valid YAML: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return buildStsConfig(document, path, dirname(resolve(path)));
}
