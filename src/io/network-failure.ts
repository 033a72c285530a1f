// What a failed connection means, in words a user can act on: refused, DNS, timeout, TLS. Both the AWS SDK
// and the Kubernetes client wrap the socket's error (fetch's "fetch failed" TypeError, the SDK's own
// error), so the Node system error is looked for down the cause chain. Classified by the error's code only,
// never its message.

export type NetworkFailureKind = 'refused' | 'dns' | 'timeout' | 'reset' | 'no-route' | 'tls';

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** The system or TLS error code, e.g. ECONNREFUSED, EAI_AGAIN, DEPTH_ZERO_SELF_SIGNED_CERT. */
  code: string;
  /** One phrase: "connection refused", "DNS lookup of iam.amazonaws.com failed (EAI_AGAIN)". */
  reason: string;
}

const KINDS: Record<string, NetworkFailureKind> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  TimeoutError: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  EHOSTUNREACH: 'no-route',
  ENETUNREACH: 'no-route',
};

/** OpenSSL's certificate verification codes and Node's TLS error codes. */
const TLS_CODE =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/;

function describe(kind: NetworkFailureKind, code: string, host: string | undefined): string {
  switch (kind) {
    case 'refused':
      return `connection refused (${code}): nothing listens there, or the server is down`;
    case 'dns':
      return code === 'ENOTFOUND'
        ? `DNS: ${host ?? 'the host name'} does not resolve (${code})`
        : `DNS lookup of ${host ?? 'the host'} failed (${code}): no network, or no DNS server answers`;
    case 'timeout':
      return `the connection timed out (${code})`;
    case 'reset':
      return `the connection was reset (${code})`;
    case 'no-route':
      return `no route to the host (${code}): no network, or a firewall`;
    case 'tls':
      return `TLS: the server's certificate is not trusted or does not match (${code})`;
  }
}

/** The network failure inside this error, if it is one. */
export function networkFailure(error: unknown): NetworkFailure | undefined {
  let at: unknown = error;
  for (let depth = 0; depth < 6 && at !== null && typeof at === 'object'; depth += 1) {
    const value = at as {
      code?: unknown;
      name?: unknown;
      hostname?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    const host = typeof value.hostname === 'string' ? value.hostname : undefined;
    if (typeof value.code === 'string') {
      const kind = KINDS[value.code] ?? (TLS_CODE.test(value.code) ? 'tls' : undefined);
      if (kind) return { kind, code: value.code, reason: describe(kind, value.code, host) };
    }
    if (typeof value.name === 'string' && KINDS[value.name]) {
      const kind = KINDS[value.name]!;
      return { kind, code: value.name, reason: describe(kind, value.name, host) };
    }
    // A connection tried on several addresses fails as an AggregateError of each attempt.
    at = value.cause ?? (Array.isArray(value.errors) ? value.errors[0] : undefined);
  }
  return undefined;
}
