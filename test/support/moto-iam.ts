// The set-up the role tests share: moto on a free port, an IAM client on it, a scratch folder, managed
// policies to attach, and `kirsa` run against moto. Start it in before() (after checking motoUnavailable),
// stop it in after().

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreatePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { type MotoServer, motoClientEnv, startMoto } from './moto.ts';
import { type KirsaRun, runKirsa } from './run-kirsa.ts';

/** moto's default account: every ARN moto makes is in it. */
export const MOTO_ACCOUNT = '123456789012';

export interface MotoIam {
  moto: MotoServer;
  iam: IAMClient;
  /** A scratch folder, removed by stop(). */
  dir: string;
  /** The environment of a kirsa process talking to moto. */
  env: NodeJS.ProcessEnv;
  /** `kirsa ARGS --endpoint-url <moto>`. */
  kirsa(args: string[]): Promise<KirsaRun>;
  /** A customer managed policy; returns its ARN. */
  createPolicy(name: string, document: string): Promise<string>;
  stop(): Promise<void>;
}

/** A permissions policy allowing one action on a resource, as JSON text. */
export function allowDocument(action: string, resource = '*'): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: action, Resource: resource }],
  });
}

export async function startMotoIam(prefix: string): Promise<MotoIam> {
  const moto = await startMoto();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const iam = new IAMClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const env = motoClientEnv();
  return {
    moto,
    iam,
    dir,
    env,
    kirsa: (args) => runKirsa([...args, '--endpoint-url', moto.endpoint], { env }),
    async createPolicy(name, document) {
      const created = await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: document }));
      return created.Policy!.Arn!;
    },
    async stop() {
      iam.destroy();
      await moto.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A phased verb's table (`role  created  ...`) as phase name to status. */
export function phaseLines(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [phase = '', status = ''] = line.trim().split(/\s+/);
        return [phase, status];
      }),
  );
}
