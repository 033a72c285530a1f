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
 * Of the category names only USAGE (Commander's own parse errors) and INTERNAL (a crash) are codes; every
 * failure kirsa raises itself names what failed, and a test (src/errors.test.ts) keeps it so.
 */
export const ERROR_CATALOGUE = {
  USAGE: {
    category: 'USAGE',
    meaning: 'the command line parser refused it (an unknown option, a missing option value or argument)',
  },
  INTERNAL: { category: 'INTERNAL', meaning: 'an unexpected crash: a bug in kirsa, please report it' },

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

  // IAM roles and OIDC providers (src/core/iam/, src/workflows/role-*.ts, src/workflows/provider-*.ts).
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

  // Manifests given to kirsa mutate (src/io/read-manifests.ts).
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
  // kirsa migrate (src/core/migration, src/workflows/migrate.ts).
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

  // The command line (src/cli/, and the core rules that read flag values).
  FLAG_INVALID: {
    category: 'USAGE',
    meaning:
      'a flag or argument value is not one it takes (a number, duration, choice, format or cipher suite)',
  },
  FLAG_CONFLICT: {
    category: 'USAGE',
    meaning:
      'flags that exclude each other were given together, or a flag was given without the one it goes with',
  },
  FLAG_REQUIRED: {
    category: 'USAGE',
    meaning: 'a flag the command needs is missing, or one of a pair (--tls-cert, --tls-key) was given alone',
  },
  FLAG_UNSUPPORTED: {
    category: 'USAGE',
    meaning: "a flag kirsa knows but refuses on purpose, or a value this Node's OpenSSL cannot serve",
  },
  PHASE_UNKNOWN: { category: 'USAGE', meaning: '--skip-phases names a phase the command does not have' },
  CLUSTER_ACCESS_REQUIRED: {
    category: 'USAGE',
    meaning: 'a webhook option needs the Kubernetes API and there is no kubeconfig nor in-cluster access',
  },
  NO_IDENTITY_SOURCE: {
    category: 'USAGE',
    meaning:
      'nothing would give pods a role: no --role-arn, mapping or ServiceAccount, or every identity source is off',
  },
  ARN_INVALID: {
    category: 'USAGE',
    meaning: 'a role, provider or managed policy ARN, or an account ID, is malformed',
  },
  ROLE_NAME_INVALID: { category: 'USAGE', meaning: "a role name breaks IAM's rules (length, characters)" },
  SERVICE_ACCOUNT_INVALID: {
    category: 'USAGE',
    meaning: 'a service account is not namespace/name in lowercase (* allowed)',
  },
  PROVIDER_OPTION_INVALID: {
    category: 'USAGE',
    meaning: 'an OIDC provider setting (--audience, --thumbprint) breaks IAM rules',
  },
  ISSUER_URL_INVALID: {
    category: 'USAGE',
    meaning:
      'an issuer URL is not one IAM and STS accept (https, a host, no query, fragment or port for IAM)',
  },
  ISSUER_URL_MISMATCH: {
    category: 'USAGE',
    meaning: '--issuer-url differs from the issuer the --dir folder was made for',
  },
  JWKS_PATH_INVALID: {
    category: 'USAGE',
    meaning: "--jwks-path is not a plain relative path, or is the discovery document's path",
  },
  BUCKET_MISMATCH: {
    category: 'USAGE',
    meaning: 'the issuer URL or the CloudFront distribution names another bucket than --bucket',
  },
  KUBE_CONTEXT_NOT_FOUND: { category: 'USAGE', meaning: '--context names no context of the kubeconfig' },

  // Files kirsa reads.
  FILE_UNREADABLE: {
    category: 'INPUT_UNREADABLE',
    meaning: 'a file or folder kirsa must read could not be read (missing, no permission)',
  },
  FILE_SYNTAX: { category: 'INPUT_UNREADABLE', meaning: 'a file is not valid YAML or JSON' },
  KUBECONFIG_UNREADABLE: { category: 'INPUT_UNREADABLE', meaning: 'the kubeconfig could not be loaded' },
  KUBECONFIG_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'the kubeconfig loads but names no cluster, or cannot be used',
  },
  KEY_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'a key file holds no usable RSA PEM key (none, several, encrypted, OpenSSH, not RSA, too short)',
  },
  CERTIFICATE_INVALID: {
    category: 'INPUT_INVALID',
    meaning:
      'a certificate or CA bundle holds no PEM certificate, or a certificate and key do not load together',
  },
  TOKEN_MALFORMED: {
    category: 'INPUT_INVALID',
    meaning: 'a token is not a compact JWT of base64url JSON, or lacks the iss claim',
  },
  POLICY_INVALID: { category: 'INPUT_INVALID', meaning: 'an IAM policy document breaks the policy grammar' },
  TRUST_POLICY_TOO_LARGE: {
    category: 'INPUT_INVALID',
    meaning: "the merged trust policy would be over IAM's size limit; nothing was changed",
  },
  IDENTITIES_FILE_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'an identities file (--identities-file) is not a mapping of namespace/name to a role',
  },
  STACK_FILE_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'a stack file is not a roles: list of role create flags',
  },
  STS_CONFIG_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'the local STS configuration breaks its format (docs/sts.md)',
  },
  MANIFEST_NOT_OBJECT: {
    category: 'INPUT_INVALID',
    meaning: 'a manifest document is a list or a scalar, not a Kubernetes object',
  },
  ISSUER_STATE_INVALID: {
    category: 'INPUT_INVALID',
    meaning:
      "the issuer folder's state file is not JSON kirsa wrote, or a key file it records is missing or changed",
  },
  JWKS_TOO_MANY_KEYS: {
    category: 'INPUT_INVALID',
    meaning: 'the JWKS would hold more RSA keys than STS accepts',
  },
  DISCOVERY_NO_ISSUER: { category: 'INPUT_INVALID', meaning: 'a discovery document names no issuer' },
  CLUSTER_JWKS_UNUSABLE: {
    category: 'INPUT_INVALID',
    meaning: "the cluster's /openid/v1/jwks would not work with STS",
  },
  KUBE_RESPONSE_INVALID: {
    category: 'INPUT_INVALID',
    meaning: 'the API server answered with something that is not JSON',
  },
  BUCKET_POLICY_INVALID: { category: 'INPUT_INVALID', meaning: 'the bucket policy S3 returned is not JSON' },

  // Things that exist already, or do not exist.
  ISSUER_EXISTS: {
    category: 'ALREADY_EXISTS',
    meaning: '--dir already holds an issuer key; kirsa refuses to overwrite it',
  },
  DIR_NOT_EMPTY: { category: 'ALREADY_EXISTS', meaning: '--dir is a file, or a folder that is not empty' },
  KEY_ALREADY_STAGED: {
    category: 'ALREADY_EXISTS',
    meaning: 'issuer rotate: a key is already staged; promote or drop it first',
  },
  KEY_ALREADY_PRESENT: {
    category: 'ALREADY_EXISTS',
    meaning: 'issuer rotate: the key is already in the issuer',
  },
  SERVICE_ACCOUNT_ROLE_TAKEN: {
    category: 'ALREADY_EXISTS',
    meaning: 'the ServiceAccount already names another role (pass --overwrite to replace it)',
  },
  NO_STAGED_KEY: { category: 'NOT_FOUND', meaning: 'issuer rotate --promote: no key is staged' },
  NO_PREVIOUS_KEY: { category: 'NOT_FOUND', meaning: 'issuer rotate --retire: no previous key to retire' },
  CLOUDFRONT_NOT_FOUND: {
    category: 'NOT_FOUND',
    meaning: "no CloudFront distribution serves the issuer's host",
  },
  REAL_PARTS_MISSING: {
    category: 'NOT_FOUND',
    meaning: 'the local control plane or node parts are not built on this machine (tools/realparts/build.sh)',
  },
  IMAGE_NOT_BUILT: {
    category: 'NOT_FOUND',
    meaning: 'demo --node: the s3-echoer image is not built on this machine (tools/image/build.sh)',
  },

  // The environment, and checks kirsa ran.
  WRITE_DENIED: {
    category: 'PERMISSION',
    meaning: 'kirsa may not write the folder or file it was given (file mode, read-only file system)',
  },
  NODE_NEEDS_ROOT: {
    category: 'PERMISSION',
    meaning: 'demo --node runs a kubelet, which mounts volumes and makes cgroups: it needs root',
  },
  BUCKET_PUBLIC_ACCESS_BLOCKED: {
    category: 'PERMISSION',
    meaning: 'S3 Block Public Access (bucket or account) would keep the issuer documents private',
  },
  PROVIDER_THUMBPRINTS_FULL: {
    category: 'CHECK_FAILED',
    meaning: 'adding the thumbprints would go over the number IAM keeps for a provider',
  },
  PUBLISH_MISMATCH: {
    category: 'CHECK_FAILED',
    meaning: 'an object read back after upload differs from what kirsa uploaded (content or type)',
  },
  CHECKS_FAILED: {
    category: 'CHECK_FAILED',
    meaning: 'issuer verify or status ran its checks and some failed (they are listed)',
  },
  RETIRE_TOO_EARLY: {
    category: 'CHECK_FAILED',
    meaning: 'issuer rotate --retire: tokens signed by the previous key may still be valid',
  },
  ISSUER_JWKS_URI_INVALID: {
    category: 'CHECK_FAILED',
    meaning: "the issuer's discovery document has no usable https jwks_uri",
  },

  // Bugs, or failures kirsa cannot explain.
  AWS_EMPTY_RESPONSE: {
    category: 'INTERNAL',
    meaning: 'an AWS call succeeded but returned none of what it must (a role, an account)',
  },
  PHASE_FAILED_UNEXPLAINED: {
    category: 'INTERNAL',
    meaning: 'a phase failed without an error saying why: please report it',
  },
  WRITE_FAILED: {
    category: 'INTERNAL',
    meaning: 'writing a file failed for a reason other than permission (the message says which)',
  },
  METRICS_MISUSE: {
    category: 'INTERNAL',
    meaning:
      'a metric registered or updated against the exposition format (a bad name, a wrong label count, a falling counter): a bug',
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
