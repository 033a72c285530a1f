// IAM role ARNs: the one grammar the webhook (which refuses to inject anything else), the local STS and
// the IAM calls share.

export interface RoleArnParts {
  partition: string;
  accountId: string;
  /** The role name, without its path. */
  name: string;
}

/** `arn:<partition>:iam::<12 digits>:role/<optional path/>name`, with IAM's allowed name characters. */
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;

/** The parts of an IAM role ARN, or undefined when the text is not one. */
export function roleArnParts(arn: string): RoleArnParts | undefined {
  const match = ROLE_ARN.exec(arn);
  return match ? { partition: match[1]!, accountId: match[2]!, name: match[3]! } : undefined;
}
