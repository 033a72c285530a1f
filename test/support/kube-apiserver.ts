// The test tiers' real kube-apiserver and etcd: the local control plane that `kirsa demo --kube` uses too.
export {
  type KubeApiserver,
  type KubeApiserverOptions,
  kubeApiserverAvailable,
  startKubeApiserver,
} from '../../src/local/control-plane.ts';
