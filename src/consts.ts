// Every name, path, default and limit that kirsa shares with Kubernetes, AWS or the reference webhook, with
// the reason it has the value it has. Change a value here, never inline.

// --- Annotations and labels -------------------------------------------------------------------------------

/** Prefix of the service-account and pod annotations; the reference's default, so existing manifests work. */
export const DEFAULT_ANNOTATION_PREFIX = 'eks.amazonaws.com';
/** Annotation suffixes read under the prefix (`<prefix>/role-arn`, ...). */
export const ANNOTATION = {
  roleArn: 'role-arn',
  audience: 'audience',
  stsRegionalEndpoints: 'sts-regional-endpoints',
  tokenExpiration: 'token-expiration',
  skipContainers: 'skip-containers',
  // kirsa extensions (docs/webhook.md, "kirsa extensions"):
  /** Service account: the AWS region its pods get, over --aws-default-region and the role's partition. */
  region: 'region',
  /** Pod: only these containers (CSV, as skip-containers) get credentials; skip-containers still applies. */
  includeContainers: 'include-containers',
  /** Service account or pod: "true" injects AWS_ROLE_SESSION_NAME from the pod's name. */
  sessionName: 'role-session-name',
} as const;
/** Label added in container-credentials (EKS Pod Identity) mode; fixed, it ignores the prefix as in the reference. */
export const POD_IDENTITY_LABEL = 'eks.amazonaws.com/pod-identity';
export const POD_IDENTITY_LABEL_VALUE = 'enabled';
/**
 * Pods with the label `<annotation prefix>/` + this (any value) are not sent to the webhook: the reference's
 * objectSelector (under eks.amazonaws.com), which kirsa's install puts on its own pods as well.
 */
export const SKIP_POD_LABEL_NAME = 'skip-pod-identity-webhook';
/** The kubelet marks the API server's copy of a static pod with this annotation; kirsa admits it unchanged. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

// --- Environment variables injected into containers, in the order they are appended ----------------------

export const ENV = {
  stsRegionalEndpoints: 'AWS_STS_REGIONAL_ENDPOINTS',
  defaultRegion: 'AWS_DEFAULT_REGION',
  region: 'AWS_REGION',
  roleArn: 'AWS_ROLE_ARN',
  webIdentityTokenFile: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  containerCredentialsFullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  containerAuthorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  roleSessionName: 'AWS_ROLE_SESSION_NAME',
} as const;
/** The value the SDKs read in AWS_STS_REGIONAL_ENDPOINTS to use the regional STS endpoint. */
export const STS_REGIONAL_VALUE = 'regional';
/** Characters the API server appends to a pod's generateName (its names.SimpleNameGenerator). */
export const GENERATED_NAME_SUFFIX_LENGTH = 5;

// --- Web identity (IRSA) token ---------------------------------------------------------------------------

/** Audience STS expects by default; the IAM OIDC provider's client ID must list it. */
export const DEFAULT_TOKEN_AUDIENCE = 'sts.amazonaws.com';
/** Where the projected token is mounted; the reference's path, which SDK docs and users' scripts assume. */
export const DEFAULT_TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
/** Volume and file name of the projected token; fixed in the reference, so mutated pods look the same. */
export const TOKEN_VOLUME_NAME = 'aws-iam-token';
export const TOKEN_FILE_NAME = 'token';

// --- Token lifetime ----------------------------------------------------------------------------------------

/** Default projected-token lifetime (24 h), the reference's default. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 86_400;
/** kube-apiserver rejects projected tokens shorter than 10 minutes, so every lifetime is raised to this. */
export const MIN_TOKEN_EXPIRATION_SECONDS = 600;
/**
 * kube-apiserver rejects projected tokens longer than 2^32 s, so longer lifetimes are lowered to this (with a
 * warning). Without the ceiling, an int64 lifetime above 2^53 became a number no int64 field can hold.
 */
export const MAX_TOKEN_EXPIRATION_SECONDS = 2 ** 32;
/**
 * Container-credentials tokens at exactly the default lifetime get a random lifetime in [floor, default],
 * so pods created together do not all refresh at once (the reference's #260).
 */
export const JITTER_FLOOR_SECONDS = 79_200;

// --- Container credentials (EKS Pod Identity) mode -------------------------------------------------------

export const CONTAINER_CREDENTIALS_DEFAULTS = {
  audience: 'pods.eks.amazonaws.com',
  mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  volumeName: 'eks-pod-identity-token',
  tokenFileName: 'eks-pod-identity-token',
  fullUri: 'http://169.254.170.23/v1/credentials',
} as const;

// --- Windows ----------------------------------------------------------------------------------------------

/** nodeSelector keys that mark a Windows pod (the beta one is what older clusters still set). */
export const OS_NODE_SELECTOR_KEYS = ['kubernetes.io/os', 'beta.kubernetes.io/os'] as const;
/** Drive prefix of the token path on Windows nodes; the kubelet mounts volumes under C:. */
export const WINDOWS_DRIVE = 'C:';

// --- Kubernetes ---------------------------------------------------------------------------------------------

/** Set by the ServiceAccount admission plugin when a pod names none. */
export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const DEFAULT_NAMESPACE = 'default';

// --- OIDC issuer (kirsa issuer, provider, apiserver-config) ------------------------------------------------

/** Where `kirsa issuer init` writes when no --dir is given: beside the user, visible, easy to find again. */
export const DEFAULT_ISSUER_DIR = './kirsa-issuer';
/** The discovery document's path under the issuer, fixed by OpenID Connect Discovery; STS fetches it. */
export const DISCOVERY_PATH = '.well-known/openid-configuration';
/** JWKS path under the issuer; the self-hosted walkthrough's name. kOps uses KOPS_JWKS_PATH instead. */
export const DEFAULT_JWKS_PATH = 'keys.json';
/** The JWKS path kOps and kube-apiserver itself serve, for users moving from either. */
export const KOPS_JWKS_PATH = 'openid/v1/jwks';
/** What kube-apiserver puts in its own discovery document; kept so ours reads the same. */
export const KUBERNETES_AUTHORIZATION_ENDPOINT = 'urn:kubernetes:programmatic_authorization';
/** RSA-2048 with RS256: the kubeadm, kOps and k3s default, and what every STS region accepts. */
export const SIGNING_KEY_BITS = 2048;
export const SIGNING_ALGORITHM = 'RS256';
/** STS refuses a JWKS with more than 100 RSA keys, and then every RSA token fails. */
export const MAX_JWKS_RSA_KEYS = 100;
/** STS lets a token's exp, nbf and iat be off by 5 minutes (clock skew); the local STS, verify and doctor too. */
export const STS_CLOCK_SKEW_SECONDS = 300;
/** The JWS algorithms STS verifies web-identity tokens with (RSA and ECDSA; no HMAC, no none). */
export const STS_TOKEN_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
/** STS gives up fetching the discovery document or JWKS after about 5 s, so verify does too. */
export const STS_FETCH_TIMEOUT_MS = 5_000;
/** STS's WebIdentityToken length constraint (a ValidationError outside it). */
export const WEB_IDENTITY_TOKEN_LENGTH = { min: 4, max: 20_000 } as const;
/** IAM OIDC provider limits: up to 5 thumbprints and 100 client IDs (audiences) of at most 255 characters. */
export const IAM_MAX_THUMBPRINTS = 5;
export const IAM_MAX_CLIENT_IDS = 100;
export const IAM_MAX_CLIENT_ID_LENGTH = 255;
/**
 * How long a retired signing key must stay in the JWKS: the longest a token it signed can live. 24 h is the
 * webhook's default token lifetime; clusters that raise --service-account-max-token-expiration pass more.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** Sid of the bucket-policy statement kirsa owns: found and replaced by this name, other statements kept. */
export const ISSUER_BUCKET_POLICY_SID = 'KirsaPublicIssuerDocuments';
/**
 * Sid of the statement that lets only kirsa's CloudFront distribution read the two documents (a private
 * bucket); publishing through CloudFront removes the public statement above.
 */
export const ISSUER_CLOUDFRONT_POLICY_SID = 'KirsaCloudFrontIssuerDocuments';
/** Where the cluster's own service-account public key sits, per distribution, so it can stay trusted. */
export const EXISTING_SERVICE_ACCOUNT_KEY = {
  kops: '/srv/kubernetes/kube-apiserver/service-account.pub',
  kubeadm: '/etc/kubernetes/pki/sa.pub',
  k3s: '/var/lib/rancher/k3s/server/tls/service.current.key',
  rke2: '/var/lib/rancher/rke2/server/tls/service.current.key',
  talos: '/system/secrets/kubernetes/kube-apiserver/service-account.pub',
} as const;
/** Where the snippets tell each distribution to keep kirsa's key files on control-plane nodes. */
export const NODE_KEY_DIR = {
  kops: '/srv/kubernetes/kirsa',
  kubeadm: '/etc/kubernetes/pki/kirsa',
  k3s: '/var/lib/rancher/k3s/server/tls/kirsa',
  rke2: '/var/lib/rancher/rke2/server/tls/kirsa',
  talos: '/var/etc/kirsa',
} as const;

// --- The webhook server (`kirsa webhook`) --------------------------------------------------------------------

/** The --log-level values of the servers (pino's level names, which kirsa's logger kept), listed once for the flag's check and help. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/**
 * HTTPS port: the reference's 443, because its manifests (its deploy/ folder, the kOps addon) do not pass
 * --port and their Services target 443. kirsa's own chart and `kirsa manifests` pass 8443, which a non-root
 * container binds without CAP_NET_BIND_SERVICE.
 */
export const DEFAULT_WEBHOOK_PORT = 443;
/** Plain-HTTP port of /metrics; the reference's, so existing scrape configs keep working. */
export const DEFAULT_METRICS_PORT = 9999;
/** Where the reference mounts its certificate; the default of --tls-cert and --tls-key. */
export const DEFAULT_TLS_CERT_FILE = '/etc/webhook/certs/tls.crt';
export const DEFAULT_TLS_KEY_FILE = '/etc/webhook/certs/tls.key';
/** TLS below 1.2 is broken; the API server speaks 1.2 and 1.3. */
export const DEFAULT_TLS_MIN_VERSION = '1.2';
/** Namespace of the reference's ConfigMap (and of its in-cluster certificate Secret). */
export const DEFAULT_WEBHOOK_NAMESPACE = 'eks';
/** The reference's identity-mapping ConfigMap: this name in --namespace, JSON under this key. */
export const MAPPING_CONFIG_MAP_NAME = 'pod-identity-webhook';
export const MAPPING_CONFIG_MAP_KEY = 'config';
/**
 * A pod CREATE review carries one object (etcd caps objects near 1.5 MB) plus the envelope; 3 MiB leaves room
 * and refuses anything else early (controller-runtime allows 7 MiB, fastify 1 MiB).
 */
export const WEBHOOK_BODY_LIMIT_BYTES = 3 * 1024 * 1024;
/**
 * The API server keeps idle webhook connections for 90 s: staying open longer means the client, never us,
 * closes an idle connection, so no request races a server-side close.
 */
export const WEBHOOK_KEEP_ALIVE_MS = 95_000;
/** The API server allows a webhook call at most 30 s; no honest request needs longer to arrive. */
export const WEBHOOK_REQUEST_TIMEOUT_MS = 30_000;
/** Headers must arrive within this (controller-runtime's ReadHeaderTimeout is 32 s); slow-loris guard. */
export const WEBHOOK_HEADERS_TIMEOUT_MS = 30_000;
/**
 * A connection that has not finished its TLS handshake by then is closed (Node holds one 120 s): the API
 * server completes its handshake in milliseconds, a client that never starts TLS only holds a socket.
 */
export const WEBHOOK_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Connections the webhook port holds at once; more are closed on accept and counted. Each API server keeps
 * up to 25 idle ones (and opens more in a burst): 512 leaves room for several API servers and keeps an
 * attacker's idle connections from using up the file descriptors real requests need.
 */
export const WEBHOOK_MAX_CONNECTIONS = 512;
/**
 * Request body bytes held at once across every request of the webhook: a request that would go past it is
 * answered 503 at once (from its Content-Length when it has one) and counted. Five bodies of the 3 MiB
 * limit, or thousands of real reviews (a few KB each); 100 clients each sending 3 MiB less one byte took
 * the webhook from 105 to 419 MB without it, over the manifests' 256 Mi limit.
 */
export const WEBHOOK_IN_FLIGHT_BYTES_LIMIT = 16 * 1024 * 1024;
/**
 * Requests that declare at most WEBHOOK_SMALL_BODY_BYTES may use this much more than the limit above, so
 * that big bodies filling it do not shut out the small reviews the API server really sends.
 */
export const WEBHOOK_SMALL_BODY_BYTES = 64 * 1024;
export const WEBHOOK_SMALL_BODY_RESERVE_BYTES = 4 * 1024 * 1024;
/**
 * The longest review body (in characters) whose objects the webhook holds until the next admission, to keep
 * its compiled code through full collections (src/webhook/app.ts, "the last admission's objects"). A 20 KB
 * pod's review parses to about 33 KB of objects; one near the body limit would hold megabytes in an idle
 * webhook.
 */
export const SHAPES_KEPT_MAX_BODY_LENGTH = 64 * 1024;
/** The metrics port answers scrapers and probes: a few connections at a time, each short. */
export const METRICS_MAX_CONNECTIONS = 64;
/** Scrapes and probes send no body: their whole request arrives at once, or not at all. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Upper bound on deciding one admission once its body has arrived (only a cache miss waits at all); past it
 * the pod is admitted unchanged with a warning, far inside the API server's timeoutSeconds.
 */
export const ADMISSION_DEADLINE_MS = 2_000;
/**
 * Containers (init included) one admission works on. The work, the patch and the warnings grow with them:
 * a 1 MB review with 60,000 containers built a 39 MB patch and stalled every other admission for 3 s. Real
 * pods have a handful; 250 is far above any we know of and costs a few ms. Above it the pod is admitted
 * unchanged with a warning (never denied) and counted as outcome "over_limit".
 */
export const ADMISSION_MAX_CONTAINERS = 250;
/**
 * How long a cache miss may wait for the ServiceAccount (watch or direct GET) before admitting unchanged;
 * a few hundred ms finds an account created in the same apply (the reference's #174) without slowing bursts.
 */
export const DEFAULT_LOOKUP_GRACE_PERIOD = '300ms';
/** Direct ServiceAccount GETs on misses: at most this many per second, bursting to the second number. */
export const LOOKUP_RATE_PER_SECOND = 10;
export const LOOKUP_BURST = 20;
/** A ServiceAccount the API server said does not exist is not asked for again for this long. */
export const LOOKUP_NEGATIVE_CACHE_MS = 2_000;
/**
 * --read-env-from-config-maps: a ConfigMap's region keys are remembered this long (so a change to them is seen
 * at most this late), a failed read for the second time, and at most this many ConfigMaps (each a few bytes:
 * only keys that could become a region variable are kept).
 */
export const CONFIG_MAP_KEYS_TTL_MS = 30_000;
export const CONFIG_MAP_KEYS_FAILURE_TTL_MS = 5_000;
export const CONFIG_MAP_KEYS_MAX_ENTRIES = 10_000;
/**
 * ConfigMaps read for one pod at most: envFrom names are the pod's own text, and each distinct one may cost
 * a GET. Past this many the rest stay unknown (no region for their containers, a warning).
 */
export const CONFIG_MAP_READS_PER_POD = 16;
/**
 * A ConfigMap read not answered in this long leaves its containers without a region (with a warning); well
 * inside ADMISSION_DEADLINE_MS, so a slow API server costs the region, not the whole mutation.
 */
export const CONFIG_MAP_READ_TIMEOUT_MS = 500;
/**
 * Events on pods admitted without credentials: one per pod (or generateName prefix) and reason per minute, so
 * a controller recreating a failing pod does not flood the namespace; and at most 5 per second, bursting to
 * 20, across all of them, so a mass failure costs the API server little.
 */
export const POD_EVENT_INTERVAL_MS = 60_000;
export const POD_EVENT_RATE_PER_SECOND = 5;
export const POD_EVENT_BURST = 20;
/** An Event the API server has not answered in this long is given up (it is advice; nothing waits on it). */
export const POD_EVENT_POST_TIMEOUT_MS = 10_000;
/** After SIGTERM, keep answering (ready=false) this long so endpoints drop us before we stop listening. */
export const DEFAULT_SHUTDOWN_DRAIN_DELAY = '5s';
/** After the drain delay, requests still running get this long to finish before connections are cut. */
export const SHUTDOWN_FINISH_TIMEOUT_MS = 10_000;
/** The webhook logs one line per kind of its own trouble per this interval, and counts the lines left out. */
export const TROUBLE_LOG_INTERVAL_MS = 10_000;
/**
 * After this long without an admission the webhook may give memory back (webhook/idle-release.ts): short enough
 * that a webhook idle after a rollout is back near its idle size within 5-10 s, long enough that the pause
 * (20-45 ms) never falls inside a steady stream of admissions.
 */
export const IDLE_RELEASE_QUIET_MS = 5_000;
/**
 * RSS growth since the last release that makes one worth its pause: about a tenth of an idle webhook's RSS,
 * and well under what a minute at 1,000 admissions/s adds (30-50 MB), so a webhook that stays at its size is
 * never collected again and the malloc arenas glibc keeps (13-15 MB after such a minute) do not trigger it.
 */
export const IDLE_RELEASE_GROWTH_BYTES = 8 * 1024 * 1024;
/** Files (certificate, identities) are checked this often besides fs.watch, which misses some swaps. */
export const FILE_POLL_INTERVAL_MS = 1_000;
/**
 * A mapping text is read in slices of this many bytes (or characters), the event loop taking its turn
 * between them: a 4 MB mapping takes a few hundred ms to read, and admissions must not wait that long.
 */
export const MAPPING_READ_SLICE = 64 * 1024;
/**
 * A mapping entry is an object of four scalars: the document nests 2 levels (mapping, entry), a few more
 * leave room for fields kirsa ignores. Without a bound, 1 MB of `[[[[...` in one entry grew the webhook by
 * 204 MB while the parser built it.
 */
export const MAPPING_MAX_DEPTH = 8;
/** Bytes one entry (key and value) may take: a full one is ~200 bytes, a RoleARN at most 2,048 characters. */
export const MAPPING_ENTRY_MAX_BYTES = 16 * 1024;
/**
 * Page size of a list, when the API server refuses a watch-list (list-watch.ts). A page is read whole:
 * 1,000 of the benchmark's metadata-only ServiceAccounts (half with kubectl's last-applied annotation) are
 * 740-810 KB of JSON, 1.1 MB once parsed. Not smaller: kube-apiserver (1.37) serves each page from its watch
 * cache by fetching every object from the continue key on (apiserver_storage_list_fetched_objects_total), so
 * a list costs it O(n^2 / page size): for 50,001 accounts 2.4 s of its CPU with pages of 500, 0.9-1.5 s with
 * 1,000 (0.6-0.9 s with 5,000, whose 3.7 MB pages cost kirsa more to parse under the 1 MB young generation
 * than they save).
 */
export const LIST_PAGE_SIZE = 1000;
/** A list page that takes longer than this is abandoned and the list retried (with backoff). */
export const LIST_PAGE_TIMEOUT_MS = 60_000;
/** Reconnect backoff of a failed list or watch, doubling from the first to the second value. */
export const WATCH_BACKOFF_MIN_MS = 500;
export const WATCH_BACKOFF_MAX_MS = 30_000;
/**
 * A watch asks the API server to end it after this many seconds times 1-2 (random, so replicas spread out),
 * as client-go's reflector does; the next one resumes from the last resourceVersion.
 */
export const WATCH_TIMEOUT_SECONDS = 300;
/**
 * A watch that brings nothing (no event, no bookmark) for this long is ended and resumed: a connection cut
 * without a reset (a NAT entry dropped, a node gone) would otherwise hang it forever.
 */
export const WATCH_IDLE_TIMEOUT_MS = 60_000;
/**
 * Latency buckets (seconds) of the admission histogram: from 0.5 ms, where an admission from cache lands, to
 * 10 s; the reference started at 125 ms and could not show a healthy webhook.
 */
export const ADMISSION_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

// --- Trust policies and roles (IAM, STS) ------------------------------------------------------------------

/** The one action a web identity asks STS for; a trust policy must allow it for the pod's token. */
export const ASSUME_ROLE_WITH_WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity';
/** The policy language version; the only one under which IAM substitutes `${...}` policy variables. */
export const POLICY_VERSION_WITH_VARIABLES = '2012-10-17';
/** Kubernetes puts `system:serviceaccount:<namespace>:<name>` in a service-account token's `sub`. */
export const SERVICE_ACCOUNT_SUBJECT_PREFIX = 'system:serviceaccount:';
/** IAM's default role trust policy size quota, in characters (whitespace not counted); raisable on request. */
export const TRUST_POLICY_SIZE_QUOTA = 2048;
/** Warn when a trust policy reaches this share of the quota, before IAM refuses the next service account. */
export const TRUST_POLICY_SIZE_WARN_RATIO = 0.9;
/** IAM role names are at most 64 characters. */
export const ROLE_NAME_MAX_LENGTH = 64;
/** Name of the inline policy `kirsa role create --inline-policy` puts on the role, so a rerun replaces it. */
export const INLINE_POLICY_NAME = 'kirsa-inline';
/** IAM role path, description and tag limits, checked before any call. */
export const ROLE_PATH_MAX_LENGTH = 512;
export const ROLE_DESCRIPTION_MAX_LENGTH = 1000;
export const IAM_MAX_ROLE_TAGS = 50;
/** IAM's range for a role's maximum session: 1 hour (also what IAM reports when none was set) to 12 hours. */
export const ROLE_MIN_SESSION_SECONDS = 3600;
export const ROLE_MAX_SESSION_SECONDS = 43_200;
/**
 * Tags kirsa puts on the roles it manages, so `role delete` can tell its own from a user's: the key prefix
 * (refused in --tag), the mark of a role kirsa created, and the prefix of one tag per managed policy it
 * attached. IAM roles have no other place to keep such a record, and tags travel with the role into
 * Terraform and CloudFormation.
 */
export const KIRSA_TAG_PREFIX = 'kirsa/';
export const KIRSA_CREATED_TAG = 'kirsa/created-by';
export const KIRSA_CREATED_TAG_VALUE = 'kirsa';
export const KIRSA_ATTACHED_POLICY_TAG_PREFIX = 'kirsa/attached-policy-';
/** Label kirsa sets on the ServiceAccounts it creates, as eksctl does, so their owner is visible. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kirsa';
/** Region for IAM calls when none is configured: IAM is global, its endpoint lives in us-east-1. */
export const IAM_DEFAULT_REGION = 'us-east-1';
/** Discovery documents and JWKS are a few KB; a cap keeps verify from reading an unrelated large page. */
export const ISSUER_DOCUMENT_MAX_BYTES = 1_048_576;
/** `kirsa issuer serve` keeps idle connections this long: clients fetch two documents and leave. */
export const ISSUER_SERVER_KEEP_ALIVE_MS = 5_000;

// --- Self-managed webhook TLS ---------------------------------------------------------------------------------

/** The Service, Secret and MutatingWebhookConfiguration names kirsa's install manifests use. */
export const WEBHOOK_OBJECT_NAME = 'kirsa-webhook';
export const DEFAULT_TLS_SECRET_NAME = 'kirsa-webhook-tls';
/** The reference's default --service-name and --tls-secret, used with --in-cluster=true as it uses them. */
export const REFERENCE_OBJECT_NAME = 'pod-identity-webhook';
/**
 * The reference's CSR signer (pkg/cert/request.go), the default of --csr-signer-name. Only the
 * certificates.k8s.io/v1beta1 API accepted it, and that API is gone since Kubernetes 1.22: v1 answers 422.
 */
export const REFERENCE_CSR_SIGNER = 'kubernetes.io/legacy-unknown';
/** How often a self-managing replica re-checks its certificate and the caBundle (renewal, drift). */
export const SELF_MANAGED_TLS_CHECK_INTERVAL = '10m';

// --- Migrating from kube2iam and kiam (kirsa migrate) ---------------------------------------------------------

/**
 * The pod annotations kube2iam and kiam both read (the same keys, so a pod cannot say which agent serves it):
 * the role (a short name resolved against a base ARN, or a full ARN), kube2iam's external ID, and the session
 * name both agents accept.
 */
export const LEGACY_POD_ANNOTATION = {
  role: 'iam.amazonaws.com/role',
  externalId: 'iam.amazonaws.com/external-id',
  sessionName: 'iam.amazonaws.com/session-name',
} as const;
/**
 * The namespace annotations that restrict which roles its pods may take: kiam's `permitted` (a Go regular
 * expression, unanchored, matched against the role as the pod names it) and kube2iam's `allowed-roles` (a JSON
 * list of names or ARNs, globs by default) read when kube2iam runs with --namespace-restrictions.
 */
export const LEGACY_NAMESPACE_ANNOTATION = {
  permitted: 'iam.amazonaws.com/permitted',
  allowedRoles: 'iam.amazonaws.com/allowed-roles',
} as const;
/**
 * Pod-template annotation `kirsa migrate apply` sets to the role the workload now takes by web identity: the
 * template change is what rolls the workload's pods (the webhook only mutates pods when they are created), and
 * a rerun that finds it does nothing.
 */
export const MIGRATION_TEMPLATE_ANNOTATION = 'kirsa.dev/migrated-role-arn';
/** The longest Kubernetes object name kirsa proposes for a new ServiceAccount (a DNS label, safe everywhere). */
export const SERVICE_ACCOUNT_NAME_MAX_LENGTH = 63;
