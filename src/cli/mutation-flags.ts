// The mutation flags `kirsa mutate` and `kirsa webhook` share, with the reference's names and defaults so
// an installation can switch by changing its image.

import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  DEFAULT_TOKEN_MOUNT_PATH,
} from '../consts.ts';
import { clampTokenExpiration, type IdentityDefaults } from '../core/identity/identity.ts';
import type { MutationOptions } from '../core/mutation/mutate-pod.ts';
import type { FlagSpec } from './flag-specs.ts';
import { parseBooleanFlag, parseIntegerFlag } from './flags.ts';

export interface MutationFlagValues {
  annotationPrefix: string;
  tokenAudience: string;
  tokenMountPath: string;
  tokenExpiration: number;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  injectRegionWithoutRole: boolean;
  injectRoleSessionName: boolean;
  injectFsGroup?: number;
}

/** The mutation flags, declared once for both verbs (`kirsa mutate` adds them to its commander command). */
export const MUTATION_FLAGS: readonly FlagSpec[] = [
  {
    flags: '--annotation-prefix <prefix>',
    description: 'prefix of the service-account and pod annotations',
    default: DEFAULT_ANNOTATION_PREFIX,
  },
  {
    flags: '--token-audience <audience>',
    description: 'default audience of the projected token',
    default: DEFAULT_TOKEN_AUDIENCE,
  },
  {
    flags: '--token-mount-path <path>',
    description: 'where the projected token is mounted',
    default: DEFAULT_TOKEN_MOUNT_PATH,
  },
  {
    flags: '--token-expiration <seconds>',
    description: 'default token lifetime in seconds (raised to at least 600)',
    parse: parseIntegerFlag('token-expiration'),
    default: DEFAULT_TOKEN_EXPIRATION_SECONDS,
  },
  {
    flags: '--aws-default-region <region>',
    description: 'inject AWS_DEFAULT_REGION and AWS_REGION with this value',
    default: '',
  },
  {
    flags: '--sts-regional-endpoint [bool]',
    description: 'inject AWS_STS_REGIONAL_ENDPOINTS=regional unless the service account says otherwise',
    parse: parseBooleanFlag('sts-regional-endpoint'),
    default: false,
  },
  {
    flags: '--inject-region-without-role [bool]',
    description: 'kirsa: also give --aws-default-region to pods whose service account has no role',
    parse: parseBooleanFlag('inject-region-without-role'),
    default: false,
  },
  {
    flags: '--inject-role-session-name [bool]',
    description:
      "kirsa: inject AWS_ROLE_SESSION_NAME from the pod's name (annotation role-session-name overrides)",
    parse: parseBooleanFlag('inject-role-session-name'),
    default: false,
  },
  {
    flags: '--inject-fs-group <gid>',
    description:
      'kirsa: give mutated pods that set no fsGroup this one, so non-root containers can read the token',
    parse: parseIntegerFlag('inject-fs-group', { min: 0 }),
  },
];

export function identityDefaultsFrom(values: MutationFlagValues): IdentityDefaults {
  return {
    audience: values.tokenAudience,
    regionalSts: values.stsRegionalEndpoint,
    tokenExpirationSeconds: clampTokenExpiration(values.tokenExpiration),
  };
}

export function mutationOptionsFrom(
  values: MutationFlagValues,
  random: () => number = Math.random,
): MutationOptions {
  return {
    annotationPrefix: values.annotationPrefix,
    tokenMountPath: values.tokenMountPath,
    defaultRegion: values.awsDefaultRegion,
    random,
    ...(values.injectRegionWithoutRole ? { regionWithoutRole: true } : {}),
    ...(values.injectRoleSessionName ? { roleSessionName: true } : {}),
    ...(values.injectFsGroup !== undefined ? { fsGroup: values.injectFsGroup } : {}),
  };
}
