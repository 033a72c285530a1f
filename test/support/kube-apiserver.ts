// The test tiers' real kube-apiserver and etcd: the local control plane that `kirsa demo --kube` uses too.
import { kubeApiserverAvailable } from '../../src/local/control-plane.ts';

export {
  type KubeApiserver,
  type KubeApiserverOptions,
  kubeApiserverAvailable,
  startKubeApiserver,
} from '../../src/local/control-plane.ts';

/**
 * Why kube-apiserver cannot run here, or undefined when it can (as motoUnavailable does for moto): test
 * files skip on the reason outside CI; in CI a missing part must fail, so this throws there.
 */
export async function kubeApiserverUnavailable(): Promise<string | undefined> {
  if (await kubeApiserverAvailable()) return undefined;
  const message = 'kube-apiserver or etcd is not built: run bash tools/realparts/build.sh (or npm test)';
  if (process.env.CI === 'true') throw new Error(message);
  return message;
}
