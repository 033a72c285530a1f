// The issuer URL as IAM and kube-apiserver read it: the rules it must follow, and the URLs of the documents
// under it. Pure.

import { DISCOVERY_PATH } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

export interface IssuerUrlProblem {
  /** error: IAM or kube-apiserver refuses it; warning: works for development, not with IAM. */
  severity: 'error' | 'warning';
  rule: string;
  /** What to write instead, when there is one answer (the bucket-name rules have one). */
  fix?: string;
  /** `bucket` for a broken S3 bucket-name rule, so the caller can raise BUCKET_NAME_INVALID. */
  kind?: 'bucket';
}

// --- S3 buckets in issuer URLs -------------------------------------------------------------------------------

/**
 * An S3 endpoint host: `s3.REGION.amazonaws.com`, `s3-REGION.amazonaws.com`, `s3.dualstack.REGION...`, the
 * global `s3.amazonaws.com`, China's `.amazonaws.com.cn`; with `BUCKET.` in front when virtual-hosted.
 */
const S3_HOST = /^(?:(.+)\.)?s3[.-](?:[a-z0-9-]+\.)*amazonaws\.com(?:\.cn)?$/i;

export interface S3IssuerLocation {
  /** The bucket as written in the URL (case kept: URL parsing lowercases hosts, S3 would not). */
  bucket: string;
  style: 'virtual-hosted' | 'path';
  /** The key prefix the issuer's path maps to in the bucket, without leading or trailing slashes. */
  keyPrefix: string;
}

/** Where an issuer URL on an S3 endpoint lives, read from the text as typed; undefined for other hosts. */
export function s3IssuerLocation(text: string): S3IssuerLocation | undefined {
  const parts = /^https?:\/\/([^/?#]*)([^?#]*)/i.exec(text);
  if (!parts) return undefined;
  const host = parts[1]!.replace(/^.*@/, '').replace(/:\d*$/, '');
  const path = parts[2]!.replace(/^\/+|\/+$/g, '');
  const s3 = S3_HOST.exec(host);
  if (!s3) return undefined;
  if (s3[1] !== undefined) return { bucket: s3[1], style: 'virtual-hosted', keyPrefix: path };
  const [bucket = '', ...rest] = path.split('/');
  return { bucket, style: 'path', keyPrefix: rest.join('/') };
}

/**
 * The S3 general-purpose bucket naming rules a name breaks, each with its fix. Checked where the name comes
 * in (issuer init through the issuer URL, publish through --bucket), so both say the same thing.
 */
export function bucketNameProblems(name: string): Array<{ rule: string; fix: string }> {
  const problems: Array<{ rule: string; fix: string }> = [];
  const lower = name.toLowerCase();
  if (name.length < 3 || name.length > 63)
    problems.push({
      rule: `it is ${name.length} characters long; S3 bucket names are 3 to 63`,
      fix: 'pick a bucket name of 3 to 63 characters',
    });
  if (/[A-Z]/.test(name))
    problems.push({
      rule: 'it has capital letters; S3 bucket names are lowercase (and URL hosts are read lowercased)',
      fix: `use the lowercase name ${lower} (create that bucket if it does not exist)`,
    });
  if (/[^a-zA-Z0-9.-]/.test(name))
    problems.push({
      rule: 'it has characters other than letters, digits, dots and hyphens',
      fix: 'keep to lowercase letters, digits and hyphens',
    });
  if (!/^[a-zA-Z0-9].*[a-zA-Z0-9]$/.test(name) && name.length > 0)
    problems.push({
      rule: 'it must begin and end with a letter or digit',
      fix: `drop the leading or trailing punctuation: ${name.replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, '')}`,
    });
  if (name.includes('..'))
    problems.push({ rule: 'it has two dots in a row', fix: 'use single dots, or better hyphens' });
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name))
    problems.push({ rule: 'it is formatted as an IP address', fix: 'pick a name with letters' });
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-'])
    if (lower.startsWith(prefix))
      problems.push({
        rule: `S3 reserves the prefix ${prefix}`,
        fix: `pick a name not starting with ${prefix}`,
      });
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'])
    if (lower.endsWith(suffix))
      problems.push({
        rule: `S3 reserves the suffix ${suffix}`,
        fix: `pick a name not ending with ${suffix}`,
      });
  return problems;
}

/** The bucket name if it follows the S3 rules; else BUCKET_NAME_INVALID naming each rule and its fix. */
export function checkBucketName(name: string, flag = '--bucket'): string {
  const problems = bucketNameProblems(name);
  if (problems.length > 0)
    throw new KirsaError(
      'BUCKET_NAME_INVALID',
      `${flag} ${name}: ${problems.map((problem) => problem.rule).join('; ')}`,
      { hint: problems.map((problem) => problem.fix).join('; ') },
    );
  return name;
}

/** Where the documents are served from: a public-read bucket, or a private bucket read only by CloudFront. */
export const ISSUER_HOSTINGS = ['s3', 'cloudfront'] as const;
export type IssuerHosting = (typeof ISSUER_HOSTINGS)[number];

export function checkHosting(text: string): IssuerHosting {
  if (!(ISSUER_HOSTINGS as readonly string[]).includes(text))
    throw new KirsaError('FLAG_INVALID', `--hosting takes ${ISSUER_HOSTINGS.join(' or ')}, not "${text}"`);
  return text as IssuerHosting;
}

/** The bucket-name problems of an issuer URL on S3 (none for other hosts). */
function s3IssuerProblems(text: string): IssuerUrlProblem[] {
  const location = s3IssuerLocation(text);
  if (!location) return [];
  const problems: IssuerUrlProblem[] = bucketNameProblems(location.bucket).map((problem) => ({
    severity: 'error',
    kind: 'bucket',
    rule: `bucket "${location.bucket}": ${problem.rule}`,
    fix: problem.fix,
  }));
  if (location.style === 'virtual-hosted' && location.bucket.includes('.'))
    // S3's certificate is *.s3.REGION.amazonaws.com: a wildcard covers one label, so a.b.s3... fails TLS and
    // STS (which checks certificates) cannot fetch the documents.
    problems.push({
      severity: 'error',
      kind: 'bucket',
      rule: `bucket "${location.bucket}" has dots: S3's wildcard certificate does not match ${location.bucket}.s3..., so HTTPS (and STS) fails on this virtual-hosted URL`,
      fix: `use a bucket name with hyphens instead of dots, the path-style URL ${pathStyleUrl(text, location)}, or CloudFront in front of the bucket`,
    });
  return problems;
}

function pathStyleUrl(text: string, location: S3IssuerLocation): string {
  const url = new URL(text);
  const host = url.host.slice(location.bucket.length + 1);
  return `https://${host}/${location.bucket}${location.keyPrefix ? `/${location.keyPrefix}` : ''}`;
}

/** Every rule the issuer URL breaks, in the words of the rule (IAM's and kube-apiserver's). */
export function issuerUrlProblems(text: string): IssuerUrlProblem[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [{ severity: 'error', rule: 'it is not an absolute URL (write https://host/path)' }];
  }
  const problems: IssuerUrlProblem[] = [];
  const error = (rule: string) => problems.push({ severity: 'error', rule });
  if (url.protocol !== 'https:') error(`it must use https, not ${url.protocol.replace(':', '')}`);
  if (url.username || url.password) error('it must not carry a user name or password');
  if (text.includes('?')) error('it must not have a query string');
  if (text.includes('#')) error('it must not have a fragment');
  if (text.replace(/[?#].*$/, '').endsWith('/'))
    error('it must not end with a slash (the token iss must match exactly, and kube-apiserver adds none)');
  problems.push(...s3IssuerProblems(text));
  if (url.port)
    problems.push({
      severity: 'warning',
      rule: `IAM refuses issuer URLs with a port (:${url.port}); fine for a development issuer only`,
    });
  return problems;
}

/** The issuer URL if it has no error; warnings are returned for the caller to print. */
export function checkIssuerUrl(text: string, flag = '--issuer-url'): { url: string; warnings: string[] } {
  const problems = issuerUrlProblems(text);
  const errors = problems.filter((problem) => problem.severity === 'error');
  if (errors.length > 0) {
    const fixes = errors.flatMap((problem) => (problem.fix ? [problem.fix] : []));
    throw new KirsaError(
      errors.every((problem) => problem.kind === 'bucket') ? 'BUCKET_NAME_INVALID' : 'ISSUER_URL_INVALID',
      `${flag} ${text}: ${errors.map((problem) => problem.rule).join('; ')}`,
      {
        hint:
          fixes.length > 0
            ? fixes.join('; ')
            : 'use the public https URL the documents will be served from, e.g. https://my-bucket.s3.eu-west-1.amazonaws.com/cluster-1',
      },
    );
  }
  return { url: text, warnings: problems.map((problem) => `${flag} ${text}: ${problem.rule}`) };
}

/** One segment of a JWKS path: URL-safe characters that need no escaping, and that a bucket key keeps. */
const JWKS_PATH_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The JWKS path under the issuer, as stored and joined to the issuer URL: without leading slashes. A query or
 * fragment would not survive the join into jwks_uri, and an empty path would put the JWKS at the issuer itself.
 * `.` and `..` segments (and escapes that spell them) would leave the issuer's prefix or land elsewhere once a
 * browser, S3 or `issuer serve` resolves them, and the discovery document's own path would be overwritten by
 * the JWKS: all refused.
 */
export function checkJwksPath(text: string, flag = '--jwks-path'): string {
  const path = text.replace(/^\/+/, '');
  const segments = path.split('/');
  const plain =
    path !== '' && segments.every((segment) => JWKS_PATH_SEGMENT.test(segment) && !/^\.{1,2}$/.test(segment));
  if (!plain)
    throw new KirsaError('JWKS_PATH_INVALID', `${flag} ${text} must be a plain path such as keys.json`, {
      hint: 'give the path under the issuer URL, e.g. keys.json or openid/v1/jwks: letters, digits, . _ ~ -, no . or .. segments',
    });
  if (path.toLowerCase() === DISCOVERY_PATH)
    throw new KirsaError(
      'JWKS_PATH_INVALID',
      `${flag} ${text} is where the discovery document is published`,
      {
        hint: 'give the JWKS its own path, e.g. keys.json or openid/v1/jwks',
      },
    );
  return path;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function discoveryUrlFor(issuer: string): string {
  return joinUrl(issuer, DISCOVERY_PATH);
}

export function jwksUriFor(issuer: string, jwksPath: string): string {
  return joinUrl(issuer, jwksPath);
}
