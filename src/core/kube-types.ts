// The slices of Kubernetes objects the core reads. Every type keeps an index signature: kirsa never
// re-serialises an object, it only adds to it by patch, so fields it does not know must stay untouched.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  env?: EnvVar[] | null;
  volumeMounts?: VolumeMount[] | null;
  [key: string]: unknown;
}

export interface ServiceAccountTokenProjection {
  audience?: string;
  expirationSeconds?: number;
  path: string;
}

export interface Volume {
  name: string;
  projected?: {
    sources?: Array<{ serviceAccountToken?: ServiceAccountTokenProjection; [key: string]: unknown }>;
  };
  [key: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  containers?: Container[] | null;
  initContainers?: Container[] | null;
  volumes?: Volume[] | null;
  nodeSelector?: Record<string, string> | null;
  os?: { name?: string } | null;
  [key: string]: unknown;
}

/** A Pod, or the pod template of a workload: both have the metadata and spec the mutation reads. */
export interface PodLike {
  metadata?: ObjectMeta | null;
  spec?: PodSpec | null;
  [key: string]: unknown;
}
