// The Kubernetes side of --in-cluster=true TLS: CertificateSigningRequests (certificates.k8s.io/v1) and the
// kubernetes.io/tls Secret that keeps the issued pair, on @kubernetes/client-node. The Secret is written as
// the reference writes it (tls.crt and tls.key; created when missing, else updated), so its RBAC carries over.

import type { KubeConfig } from '@kubernetes/client-node';
import { kubeError } from '../kube/client.ts';
import type { CsrApi, ServingPair, ServingPairStore } from './csr-tls.ts';

const FIELD_MANAGER = 'kirsa';

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

const base64 = (text: string) => Buffer.from(text).toString('base64');
const text = (encoded: string | undefined) => Buffer.from(encoded ?? '', 'base64').toString('utf8');

export async function kubeCsrApi(config: KubeConfig): Promise<CsrApi> {
  const { CertificatesV1Api } = await import('@kubernetes/client-node');
  const certificates = config.makeApiClient(CertificatesV1Api);
  return {
    async create({ csrPem, signerName, usages }) {
      try {
        const created = await certificates.createCertificateSigningRequest({
          fieldManager: FIELD_MANAGER,
          body: {
            apiVersion: 'certificates.k8s.io/v1',
            kind: 'CertificateSigningRequest',
            // client-go's certificate manager names its requests the same way.
            metadata: { generateName: 'csr-', labels: { 'app.kubernetes.io/managed-by': 'kirsa' } },
            spec: { request: base64(csrPem), signerName, usages: [...usages] },
          },
        });
        return created.metadata?.name ?? '';
      } catch (error) {
        throw kubeError(error, 'creating a CertificateSigningRequest');
      }
    },
    async read(name) {
      try {
        const csr = await certificates.readCertificateSigningRequest({ name });
        const condition = (type: string) => {
          const found = (csr.status?.conditions ?? []).find(
            (entry) => entry.type === type && entry.status !== 'False',
          );
          return found ? `${found.reason ?? type}: ${found.message ?? ''}`.trim() : undefined;
        };
        const denied = condition('Denied');
        const failed = condition('Failed');
        return {
          approved: condition('Approved') !== undefined,
          ...(denied ? { denied } : {}),
          ...(failed ? { failed } : {}),
          ...(csr.status?.certificate ? { certificatePem: text(csr.status.certificate) } : {}),
        };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw kubeError(error, `reading CertificateSigningRequest ${name}`);
      }
    },
  };
}

export async function kubeServingPairStore(
  config: KubeConfig,
  namespace: string,
  name: string,
): Promise<ServingPairStore> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const core = config.makeApiClient(CoreV1Api);
  const data = (pair: ServingPair) => ({ 'tls.crt': base64(pair.certPem), 'tls.key': base64(pair.keyPem) });
  return {
    async read() {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        const certPem = text(secret.data?.['tls.crt']);
        const keyPem = text(secret.data?.['tls.key']);
        return certPem && keyPem ? { certPem, keyPem } : undefined;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw kubeError(error, `reading Secret ${namespace}/${name}`);
      }
    },
    async write(pair) {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        secret.data = data(pair);
        await core.replaceNamespacedSecret({ namespace, name, fieldManager: FIELD_MANAGER, body: secret });
      } catch (error) {
        if (statusOf(error) !== 404) throw kubeError(error, `updating Secret ${namespace}/${name}`);
        try {
          await core.createNamespacedSecret({
            namespace,
            fieldManager: FIELD_MANAGER,
            body: {
              apiVersion: 'v1',
              kind: 'Secret',
              type: 'kubernetes.io/tls',
              metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'kirsa' } },
              data: data(pair),
            },
          });
        } catch (createError) {
          throw kubeError(createError, `creating Secret ${namespace}/${name}`);
        }
      }
    },
  };
}
