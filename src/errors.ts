// The one error type that crosses module boundaries, and the catalogue of every way kirsa fails on
// purpose. Each error carries a specific code from the catalogue (callers and tests branch on the code,
// never on message text), a message saying what went wrong, and a hint saying what to do next. A code's
// category decides the exit code. docs/errors.md lists every code with its category and meaning; a test
// keeps the two equal.

/** What kind of failure a code is; the category alone decides the exit code. */
export type ErrorCategory =
  | 'USAGE' // the command line itself is wrong
  | 'INPUT_UNREADABLE' // a file could not be read or parsed
  | 'INPUT_INVALID' // a file parsed but its content is not what we need
  | 'ALREADY_EXISTS' // refusing to overwrite something, or something else already holds it
  | 'NOT_FOUND' // a named thing (file, bucket, role, pod) does not exist
  | 'PERMISSION' // the environment denied an operation (file mode, S3/IAM AccessDenied)
  | 'UNREACHABLE' // a network peer did not answer as needed
  | 'CHECK_FAILED' // a verification ran and found a problem
  | 'DENIED' // a policy evaluation said no
  | 'INTERNAL'; // a bug in kirsa

/** Exit code per category: 2 for input the user must fix, 1 for everything else. */
const EXIT_CODES: Record<ErrorCategory, number> = {
  USAGE: 2,
  INPUT_UNREADABLE: 2,
  INPUT_INVALID: 2,
  ALREADY_EXISTS: 1,
  NOT_FOUND: 1,
  PERMISSION: 1,
  UNREACHABLE: 1,
  CHECK_FAILED: 1,
  DENIED: 1,
  INTERNAL: 1,
};

interface CatalogueEntry {
  category: ErrorCategory;
  /** One line for docs/errors.md: when kirsa raises it. */
  meaning: string;
}

/**
 * Every specific code. Add one here (and its line in docs/errors.md) rather than reusing an unrelated one.
 * The ten category names are also codes, for failures that have no more specific one yet.
 */
export const ERROR_CATALOGUE = {
  USAGE: { category: 'USAGE', meaning: 'the command line is wrong in a way no more specific code names' },
  INPUT_UNREADABLE: { category: 'INPUT_UNREADABLE', meaning: 'a file or input could not be read or parsed' },
  INPUT_INVALID: { category: 'INPUT_INVALID', meaning: 'an input parsed, but its content is not usable' },
  ALREADY_EXISTS: { category: 'ALREADY_EXISTS', meaning: 'refusing to overwrite something that exists' },
  NOT_FOUND: {
    category: 'NOT_FOUND',
    meaning: 'a named file, bucket, role, provider or object does not exist',
  },
  PERMISSION: { category: 'PERMISSION', meaning: 'the environment denied an operation' },
  UNREACHABLE: { category: 'UNREACHABLE', meaning: 'a network peer did not answer as needed' },
  CHECK_FAILED: { category: 'CHECK_FAILED', meaning: 'a verification ran and found a problem' },
  DENIED: { category: 'DENIED', meaning: 'a policy evaluation said no' },
  INTERNAL: { category: 'INTERNAL', meaning: 'a bug in kirsa: please report it' },

  // Listening sockets (the webhook, its metrics port, the local STS, issuer serve).
  PORT_IN_USE: {
    category: 'ALREADY_EXISTS',
    meaning: 'another process already listens on the address and port',
  },
  PORT_NOT_PERMITTED: {
    category: 'PERMISSION',
    meaning: 'the process may not bind the port (below 1024 without CAP_NET_BIND_SERVICE) or the address',
  },
  LISTEN_FAILED: {
    category: 'UNREACHABLE',
    meaning: 'the address cannot be listened on (not on this host, or another reason)',
  },

  // AWS, classified by the error's name and HTTP status only (src/aws/errors.ts).
  AWS_NO_CREDENTIALS: {
    category: 'PERMISSION',
    meaning: 'the AWS SDK found no credentials in its default chain',
  },
  AWS_ACCESS_DENIED: { category: 'PERMISSION', meaning: 'AWS refused the call for the credentials in use' },
  AWS_NOT_FOUND: {
    category: 'NOT_FOUND',
    meaning: 'AWS says the named bucket, role, policy or provider does not exist',
  },
  AWS_REJECTED_INPUT: {
    category: 'INPUT_INVALID',
    meaning: 'AWS refused what kirsa sent (a malformed policy, a value out of range)',
  },
  AWS_LIMIT_EXCEEDED: { category: 'INPUT_INVALID', meaning: 'the call would go over an AWS quota' },
  AWS_UNREACHABLE: {
    category: 'UNREACHABLE',
    meaning: 'the AWS endpoint did not answer (network, DNS, endpoint URL)',
  },
  AWS_FAILED: { category: 'CHECK_FAILED', meaning: 'AWS answered with an error no more specific code names' },

  // IAM roles and OIDC providers (src/core/iam/, src/cli/role.ts, src/cli/provider.ts).
  CLUSTER_NAME_INVALID: {
    category: 'USAGE',
    meaning: '--cluster is not a name kirsa can put in a role name (a DNS label of up to 40 characters)',
  },
  ROLE_OPTION_INVALID: {
    category: 'USAGE',
    meaning:
      'a role setting (--path, --tag, --max-session-duration, --permissions-boundary, --description) breaks IAM rules',
  },
  POLICY_NOT_TRUST: {
    category: 'INPUT_INVALID',
    meaning:
      'explain was given a permissions policy (no statement names a Principal) where a trust policy belongs',
  },
  PROVIDER_IN_USE: {
    category: 'ALREADY_EXISTS',
    meaning:
      'provider delete refused: roles still trust the provider (they are listed; --force deletes anyway)',
  },
  IAC_OUTPUT_INVALID: {
    category: 'USAGE',
    meaning:
      '-o names no IaC format kirsa writes, or the output needs a value only AWS could tell (the account)',
  },

  // The issuer folder (src/issuer/store.ts).
  ISSUER_DIR_INVALID: {
    category: 'USAGE',
    meaning: '--dir names a folder that holds no kirsa issuer (run kirsa issuer init first)',
  },
  ISSUER_KEYS_CLUSTER_OWNED: {
    category: 'USAGE',
    meaning:
      'rotate or apiserver-config on a folder made by issuer init --from-cluster: the cluster holds that signing key',
  },

  // Manifests given to kirsa mutate (src/cli/read-documents.ts).
  MANIFEST_NO_KIND: {
    category: 'INPUT_INVALID',
    meaning: 'a document has no kind (often a stray --- that split one object in two)',
  },
  MANIFEST_EMPTY: {
    category: 'INPUT_INVALID',
    meaning: 'the manifest file holds no Kubernetes object at all',
  },

  // The issuer's S3 bucket (src/core/oidc/issuer-url.ts).
  BUCKET_NAME_INVALID: {
    category: 'USAGE',
    meaning:
      'an S3 bucket name (in --bucket or the issuer URL) breaks the S3 naming rules, or has dots in a virtual-hosted issuer URL',
  },

  // A running cluster's own issuer (src/core/oidc/from-cluster.ts).
  CLUSTER_ISSUER_MISMATCH: {
    category: 'CHECK_FAILED',
    meaning:
      "publish or init --from-cluster: the cluster's --service-account-issuer is not the URL the documents would be published at",
  },

  // The Kubernetes API (src/kube/client.ts).
  KUBE_FORBIDDEN: { category: 'PERMISSION', meaning: 'the API server refused the call (401 or 403)' },
  KUBE_NOT_FOUND: {
    category: 'NOT_FOUND',
    meaning: 'the API server says the object or namespace does not exist',
  },
  KUBE_CONFLICT: { category: 'ALREADY_EXISTS', meaning: 'the API server reports a conflict (409)' },
  MAPPING_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'an identity mapping kirsa was asked to add an entry to is not a JSON object',
  },
  MAPPING_ENTRY_TAKEN: {
    category: 'ALREADY_EXISTS',
    meaning: 'the identity mapping already gives that key another role (pass --overwrite to replace it)',
  },
  KUBE_REJECTED: { category: 'INPUT_INVALID', meaning: 'the API server rejected the object (400 or 422)' },
  KUBE_UNREACHABLE: {
    category: 'UNREACHABLE',
    meaning: 'the API server did not answer (the message names its URL and why: refused, DNS, TLS)',
  },
  KUBECONFIG_NOT_FOUND: {
    category: 'NOT_FOUND',
    meaning: 'no kubeconfig: no --kubeconfig, KUBECONFIG unset, ~/.kube/config missing, not in a cluster',
  },

  // An issuer's discovery document and JWKS, read as STS reads them (src/issuer/https.ts).
  ISSUER_UNREACHABLE: {
    category: 'UNREACHABLE',
    meaning: 'the issuer host did not answer HTTPS (connection, DNS or a certificate STS would not trust)',
  },
  ISSUER_TIMEOUT: {
    category: 'UNREACHABLE',
    meaning: 'an issuer document did not arrive whole within the deadline STS allows',
  },
  ISSUER_TOO_LARGE: {
    category: 'UNREACHABLE',
    meaning: 'an issuer document is larger than the size cap, so STS would not read it',
  },
  ISSUER_REDIRECT: {
    category: 'CHECK_FAILED',
    meaning: 'an issuer document URL answers with a redirect, which STS does not follow',
  },
  ISSUER_HTTP_STATUS: {
    category: 'CHECK_FAILED',
    meaning: 'an issuer document URL answered a status other than 200',
  },
  ISSUER_NOT_JSON: {
    category: 'CHECK_FAILED',
    meaning: 'an issuer document is not JSON',
  },
  ISSUER_NOT_HTTPS: {
    category: 'CHECK_FAILED',
    meaning: 'an issuer document URL is not an https URL; STS fetches over HTTPS only',
  },
  // kirsa migrate (src/core/migration, src/cli/migrate.ts).
  MIGRATION_PLAN_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'the file given to migrate apply or cleanup is not a migration plan kirsa wrote',
  },
  MIGRATION_ROLE_MISSING: {
    category: 'NOT_FOUND',
    meaning: 'a role the migration plan names no longer exists in IAM',
  },
  MIGRATION_PLAN_STALE: {
    category: 'CHECK_FAILED',
    meaning: 'the cluster no longer matches the migration plan (a workload or ServiceAccount changed since)',
  },
  MIGRATION_NOT_SWITCHED: {
    category: 'CHECK_FAILED',
    meaning: 'migrate cleanup refused: a pod of the workload still runs without the web identity env',
  },
  MIGRATION_NO_NODE_ROLE: {
    category: 'USAGE',
    meaning: 'migrate cleanup --remove-node-trust was given a plan that names no node role',
  },
  MIGRATION_TRUST_MISSING: {
    category: 'CHECK_FAILED',
    meaning:
      'migrate cleanup refused to remove node trust from a role that does not trust its service accounts yet',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type KirsaErrorCode = keyof typeof ERROR_CATALOGUE;

export interface KirsaErrorDetails {
  /** What the user can do next, in one sentence. */
  hint?: string;
  cause?: unknown;
}

export class KirsaError extends Error {
  readonly code: KirsaErrorCode;
  readonly hint: string | undefined;

  constructor(code: KirsaErrorCode, message: string, details: KirsaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'KirsaError';
    this.code = code;
    this.hint = details.hint;
  }

  get category(): ErrorCategory {
    return ERROR_CATALOGUE[this.code].category;
  }

  get exitCode(): number {
    return EXIT_CODES[this.category];
  }
}

export function isKirsaError(value: unknown): value is KirsaError {
  return value instanceof KirsaError;
}
