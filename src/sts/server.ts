// kirsa's local STS: AssumeRoleWithWebIdentity judged as AWS judges it (provider by `iss`, signature against
// the issuer's published JWKS, audience, lifetimes, the role's trust policy), and GetCallerIdentity for
// credentials it issued, verified by SigV4. The AWS SDKs and CLI reach it through AWS_ENDPOINT_URL_STS.

import { createHash, randomBytes as cryptoRandomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { STS_TOKEN_ALGORITHMS } from '../consts.ts';
import { assumedRoleArn, buildProviderArn, issuerHostPath, roleArnParts } from '../core/iam/arn.ts';
import { contextFromClaims, evaluateTrustPolicy } from '../core/iam/policy-evaluate.ts';
import { closestFailures } from '../core/iam/policy-explain.ts';
import {
  type AssumeRoleWithWebIdentityOutput,
  acceptTokenClaims,
  decideSessionSeconds,
  isStsError,
  mintCredentials,
  parseQueryParameters,
  renderAssumeRoleWithWebIdentity,
  renderError,
  renderGetCallerIdentity,
  roleUniqueId,
  STS_API_VERSION,
  type StsError,
  stsError,
  validateAssumeRoleWithWebIdentity,
} from '../core/sts/protocol.ts';
import { keyForToken } from '../core/sts/token-checks.ts';
import { listen } from '../io/listen.ts';
import { createServer as createHttpServer } from '../io/node-http.ts';
import { capConnections, deadlineOptions, type ServerLimits } from '../io/server-limits.ts';
import { DEFAULT_STS_REGION, type StsConfig } from './config.ts';
import type { IssuerKeySource } from './issuer-keys.ts';
import { type SigningSecret, verifySigV4 } from './sigv4.ts';

export interface StsCallRecord {
  action: string;
  status: number;
  code?: string;
  roleArn?: string;
  subject?: string;
}

export interface StsServerOptions {
  config: StsConfig;
  keySource: IssuerKeySource;
  host?: string;
  port?: number;
  tls?: { cert: string; key: string };
  now?: () => Date;
  randomBytes?: (size: number) => Uint8Array;
  /** Called once per call, for logs; never given tokens or secrets. */
  onCall?: (record: StsCallRecord) => void;
}

export interface RunningSts {
  url: string;
  close(): Promise<void>;
}

interface SessionRecord extends SigningSecret {
  arn: string;
  userId: string;
  account: string;
}

const BODY_LIMIT = 64 * 1024;

/**
 * The request body, or undefined when it is over BODY_LIMIT: refused from Content-Length before reading
 * anything, else as soon as the bytes read pass the limit (a chunked body has no length to check).
 */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > BODY_LIMIT) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createStsHandler(options: StsServerOptions) {
  const now = options.now ?? (() => new Date());
  const randomBytes = options.randomBytes ?? ((size: number) => cryptoRandomBytes(size));
  const sessions = new Map<string, SessionRecord>();
  const region = options.config.region ?? DEFAULT_STS_REGION;

  function rememberSession(accessKeyId: string, record: SessionRecord): void {
    const instant = now().getTime();
    for (const [key, session] of sessions) if (session.expiration.getTime() <= instant) sessions.delete(key);
    sessions.set(accessKeyId, record);
  }

  async function verifiedClaims(token: string, issuerUrl: string): Promise<StsError | undefined> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return stsError('InvalidIdentityToken', 'The web identity token is not a valid JWT');
    }
    let keys = await options.keySource.getKeys(issuerUrl);
    if (isStsError(keys)) return keys;
    const find = (set: { keys: Array<Record<string, unknown>> }) => keyForToken(header.kid, set.keys);
    let jwk = find(keys);
    if (!jwk) {
      // A key rotated in since the cache was filled: look once more before refusing.
      keys = await options.keySource.getKeys(issuerUrl, { refresh: true });
      if (isStsError(keys)) return keys;
      jwk = find(keys);
    }
    if (!jwk) {
      return stsError(
        'InvalidIdentityToken',
        `Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements (no key with kid "${header.kid ?? ''}" in the issuer's JWKS)`,
      );
    }
    try {
      const key = await importJWK(jwk as JWK, header.alg);
      await compactVerify(token, key, { algorithms: [...STS_TOKEN_ALGORITHMS] });
      return undefined;
    } catch {
      return stsError(
        'InvalidIdentityToken',
        `The web identity token's signature does not verify with the issuer's key "${String(jwk.kid ?? '')}"`,
      );
    }
  }

  async function assumeRoleWithWebIdentity(
    params: Record<string, string>,
    record: StsCallRecord,
  ): Promise<string | StsError> {
    const input = validateAssumeRoleWithWebIdentity(params);
    if (isStsError(input)) return input;
    record.roleArn = input.roleArn;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(input.webIdentityToken);
    } catch {
      return stsError('InvalidIdentityToken', 'The web identity token is not a valid JWT');
    }
    const provider = options.config.providers.find((candidate) => candidate.url === claims.iss);
    if (!provider)
      return stsError(
        'InvalidIdentityToken',
        `No OpenIDConnect provider found in your account for ${String(claims.iss)}`,
      );
    const signatureProblem = await verifiedClaims(input.webIdentityToken, provider.url);
    if (signatureProblem) return signatureProblem;
    const accepted = acceptTokenClaims(claims, provider.clientIds, Math.floor(now().getTime() / 1000));
    if (isStsError(accepted)) return accepted;
    record.subject = accepted.subject;

    const role = options.config.roles.find((candidate) => candidate.arn === input.roleArn);
    const arn = roleArnParts(input.roleArn);
    if (!role || !arn) {
      return stsError(
        'AccessDenied',
        `Not authorized to perform sts:AssumeRoleWithWebIdentity (kirsa: no role ${input.roleArn} is configured in this STS)`,
      );
    }
    // Unlike IAM, the local STS accepts an issuer with a port (a loopback issuer in a demo or test).
    const hostPath = issuerHostPath(provider.url);
    const evaluation = evaluateTrustPolicy(role.trustPolicy, {
      principalFederated: buildProviderArn({ partition: arn.partition, accountId: arn.accountId, hostPath }),
      action: 'sts:AssumeRoleWithWebIdentity',
      context: contextFromClaims(hostPath, claims),
    });
    if (evaluation.decision === 'deny') {
      // The message is what kirsa explain would print, on one line: the verdict, then the failed condition.
      const details = closestFailures(evaluation).map(
        (failure) => `${failure.message}${failure.fix ? `; fix: ${failure.fix}` : ''}`,
      );
      return stsError(
        'AccessDenied',
        `Not authorized to perform sts:AssumeRoleWithWebIdentity. kirsa: ${[evaluation.reasons[0], ...details].join('; ')}`,
      );
    }
    const seconds = decideSessionSeconds(input.durationSeconds, role.maxSessionDurationSeconds);
    if (isStsError(seconds)) return seconds;

    const credentials = mintCredentials(now(), seconds, randomBytes);
    const roleId = roleUniqueId(role.arn, (text) => createHash('sha256').update(text).digest());
    const output: AssumeRoleWithWebIdentityOutput = {
      credentials,
      assumedRoleArn: assumedRoleArn(arn, input.roleSessionName),
      assumedRoleId: `${roleId}:${input.roleSessionName}`,
      subject: accepted.subject,
      audience: accepted.audience,
      provider: provider.url,
    };
    rememberSession(credentials.accessKeyId, {
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: credentials.expiration,
      arn: output.assumedRoleArn,
      userId: output.assumedRoleId,
      account: arn.accountId,
    });
    return renderAssumeRoleWithWebIdentity(output, randomUUID());
  }

  async function getCallerIdentity(
    req: IncomingMessage,
    body: Uint8Array,
    url: URL,
  ): Promise<string | StsError> {
    const verified = await verifySigV4(
      {
        method: req.method ?? 'POST',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
      },
      (accessKeyId) => sessions.get(accessKeyId),
      now(),
      { region, service: 'sts' },
    );
    if (isStsError(verified)) return verified;
    const session = sessions.get(verified.accessKeyId)!;
    return renderGetCallerIdentity(
      { arn: session.arn, userId: session.userId, account: session.account },
      randomUUID(),
    );
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: StsCallRecord = { action: '', status: 200 };
    let answer: string | StsError;
    let tooLarge = false;
    try {
      const bytes = await readBody(req);
      tooLarge = bytes === undefined;
      const url = new URL(req.url ?? '/', 'http://sts.local');
      const params = bytes === undefined ? {} : parseQueryParameters(bytes.toString('utf8'), url.search);
      record.action = params.Action ?? '';
      if (bytes === undefined)
        answer = stsError('ValidationError', `The request body exceeds ${BODY_LIMIT} bytes`);
      else if (params.Version !== undefined && params.Version !== STS_API_VERSION)
        answer = stsError(
          'InvalidAction',
          `Could not find operation ${record.action} for version ${params.Version}`,
        );
      else if (record.action === 'AssumeRoleWithWebIdentity')
        answer = await assumeRoleWithWebIdentity(params, record);
      else if (record.action === 'GetCallerIdentity') answer = await getCallerIdentity(req, bytes, url);
      else
        answer = stsError(
          'InvalidAction',
          `Could not find operation ${record.action || '(none)'} for version ${STS_API_VERSION}`,
        );
    } catch (error) {
      answer = stsError('InternalFailure', `kirsa's STS failed: ${(error as Error).message}`);
    }
    const requestId = randomUUID();
    const xml = isStsError(answer) ? renderError(answer, requestId) : answer;
    record.status = isStsError(answer) ? answer.status : 200;
    if (isStsError(answer)) record.code = answer.code;
    res.writeHead(record.status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
      // The rest of an over-limit body is never read, so the connection cannot carry another request: say so
      // and close it, rather than leave the client waiting on a connection whose parser is stuck mid-body.
      ...(tooLarge ? { connection: 'close' } : {}),
    });
    res.end(xml);
    options.onCall?.(record);
  };
}

/**
 * The local STS's resource model, the webhook's: a call is a few KB sent at once, so 30 s for the whole
 * request (an endless chunked body was held past 100 s) and a bounded number of connections.
 */
export const STS_LIMITS: ServerLimits = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  maxConnections: 256,
};

export async function startStsServer(options: StsServerOptions): Promise<RunningSts> {
  const handle = createStsHandler(options);
  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const deadlines = deadlineOptions(STS_LIMITS);
  const server: Server = options.tls
    ? createHttpsServer({ ...options.tls, ...deadlines, handshakeTimeout: 10_000 }, listener)
    : createHttpServer(deadlines, listener);
  // The STS has no metrics port; a refused connection is seen by its client as a reset.
  capConnections(server, STS_LIMITS, () => {});
  await listen(server, { port: options.port ?? 0, host: options.host ?? '127.0.0.1', what: 'the STS' });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
