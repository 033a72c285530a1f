// STS's rule for RoleSessionName. Its own home because two sides hold to it: kirsa's local STS refuses other
// names as AWS does, and the webhook checks a pod's name against it before injecting it as one (the webhook
// loads this rule alone, not the STS protocol).

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** Whether STS takes this as a RoleSessionName: 2 to 64 of `[\w+=,.@-]`. */
export function isRoleSessionName(text: string): boolean {
  return SESSION_NAME.test(text);
}
