// The mutation flags `kirsa mutate` and `kirsa webhook` share, with the reference's names and defaults so
// an installation can switch by changing its image.

import type { Command } from 'commander';
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  DEFAULT_TOKEN_MOUNT_PATH,
} from '../consts.ts';
import { clampTokenExpiration, type IdentityDefaults } from '../core/identity/identity.ts';
import type { MutationOptions } from '../core/mutation/mutate-pod.ts';
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

export function addMutationFlags(command: Command): Command {
  return command
    .option(
      '--annotation-prefix <prefix>',
      'prefix of the service-account and pod annotations',
      DEFAULT_ANNOTATION_PREFIX,
    )
    .option('--token-audience <audience>', 'default audience of the projected token', DEFAULT_TOKEN_AUDIENCE)
    .option('--token-mount-path <path>', 'where the projected token is mounted', DEFAULT_TOKEN_MOUNT_PATH)
    .option(
      '--token-expiration <seconds>',
      'default token lifetime in seconds (raised to at least 600)',
      parseIntegerFlag('token-expiration'),
      DEFAULT_TOKEN_EXPIRATION_SECONDS,
    )
    .option('--aws-default-region <region>', 'inject AWS_DEFAULT_REGION and AWS_REGION with this value', '')
    .option(
      '--sts-regional-endpoint [bool]',
      'inject AWS_STS_REGIONAL_ENDPOINTS=regional unless the service account says otherwise',
      parseBooleanFlag('sts-regional-endpoint'),
      false,
    )
    .option(
      '--inject-region-without-role [bool]',
      'kirsa: also give --aws-default-region to pods whose service account has no role',
      parseBooleanFlag('inject-region-without-role'),
      false,
    )
    .option(
      '--inject-role-session-name [bool]',
      "kirsa: inject AWS_ROLE_SESSION_NAME from the pod's name (annotation role-session-name overrides)",
      parseBooleanFlag('inject-role-session-name'),
      false,
    )
    .option(
      '--inject-fs-group <gid>',
      'kirsa: give mutated pods that set no fsGroup this one, so non-root containers can read the token',
      parseIntegerFlag('inject-fs-group', { min: 0 }),
    );
}

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
