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
} as const;
/** Label added in container-credentials (EKS Pod Identity) mode; fixed, it ignores the prefix as in the reference. */
export const POD_IDENTITY_LABEL = 'eks.amazonaws.com/pod-identity';
export const POD_IDENTITY_LABEL_VALUE = 'enabled';
/** Pods with this label (any value) are not sent to the webhook: the objectSelector the reference ships. */
export const SKIP_POD_LABEL = 'eks.amazonaws.com/skip-pod-identity-webhook';

// --- Environment variables injected into containers, in the order they are appended ----------------------

export const ENV = {
  stsRegionalEndpoints: 'AWS_STS_REGIONAL_ENDPOINTS',
  defaultRegion: 'AWS_DEFAULT_REGION',
  region: 'AWS_REGION',
  roleArn: 'AWS_ROLE_ARN',
  webIdentityTokenFile: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  containerCredentialsFullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  containerAuthorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
} as const;
/** The value the SDKs read in AWS_STS_REGIONAL_ENDPOINTS to use the regional STS endpoint. */
export const STS_REGIONAL_VALUE = 'regional';

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
/** Label kirsa sets on the ServiceAccounts it creates, as eksctl does, so their owner is visible. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kirsa';
/** Region for IAM calls when none is configured: IAM is global, its endpoint lives in us-east-1. */
export const IAM_DEFAULT_REGION = 'us-east-1';
