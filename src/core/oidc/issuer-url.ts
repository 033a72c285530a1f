// The issuer URL as IAM and kube-apiserver read it: the rules it must follow, and the URLs of the documents
// under it. Pure.

import { DISCOVERY_PATH } from '../../consts.ts';
import { KirsaError } from '../../errors.ts';

export interface IssuerUrlProblem {
  /** error: IAM or kube-apiserver refuses it; warning: works for development, not with IAM. */
  severity: 'error' | 'warning';
  rule: string;
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
    throw new KirsaError('USAGE', `${flag} ${text}: ${errors.map((problem) => problem.rule).join('; ')}`, {
      hint: 'use the public https URL the documents will be served from, e.g. https://my-bucket.s3.eu-west-1.amazonaws.com/cluster-1',
    });
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
    throw new KirsaError('USAGE', `${flag} ${text} must be a plain path such as keys.json`, {
      hint: 'give the path under the issuer URL, e.g. keys.json or openid/v1/jwks: letters, digits, . _ ~ -, no . or .. segments',
    });
  if (path.toLowerCase() === DISCOVERY_PATH)
    throw new KirsaError('USAGE', `${flag} ${text} is where the discovery document is published`, {
      hint: 'give the JWKS its own path, e.g. keys.json or openid/v1/jwks',
    });
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
