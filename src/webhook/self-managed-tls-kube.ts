// The Kubernetes side of self-managed TLS: the Secret that holds the CA and serving pair, and the caBundle
// of the MutatingWebhookConfiguration, on @kubernetes/client-node.

import type { KubeConfig } from '@kubernetes/client-node';
import { kubeError } from '../kube/client.ts';
import type { CaBundleTarget, TlsMaterial, TlsSecretStore } from './self-managed-tls.ts';

const FIELD_MANAGER = 'kirsa';

/** Secret keys: the usual kubernetes.io/tls pair plus the CA, so cert-manager users recognise the layout. */
const KEYS = { caPem: 'ca.crt', caKeyPem: 'ca.key', certPem: 'tls.crt', keyPem: 'tls.key' } as const;

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export async function kubeTlsSecretStore(
  config: KubeConfig,
  namespace: string,
  name: string,
): Promise<TlsSecretStore> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const core = config.makeApiClient(CoreV1Api);
  const body = (material: TlsMaterial, resourceVersion?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name,
      namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'kirsa' },
    },
    data: Object.fromEntries(
      Object.entries(KEYS).map(([field, key]) => [
        key,
        Buffer.from(material[field as keyof TlsMaterial]).toString('base64'),
      ]),
    ),
  });
  return {
    async read() {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        const data = secret.data ?? {};
        const text = (key: string) => Buffer.from(data[key] ?? '', 'base64').toString('utf8');
        return {
          material: {
            caPem: text(KEYS.caPem),
            caKeyPem: text(KEYS.caKeyPem),
            certPem: text(KEYS.certPem),
            keyPem: text(KEYS.keyPem),
          },
          resourceVersion: secret.metadata?.resourceVersion ?? '',
        };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw kubeError(error, `reading Secret ${namespace}/${name}`);
      }
    },
    async create(material) {
      try {
        await core.createNamespacedSecret({ namespace, fieldManager: FIELD_MANAGER, body: body(material) });
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return false;
        throw kubeError(error, `creating Secret ${namespace}/${name}`);
      }
    },
    async replace(material, resourceVersion) {
      try {
        await core.replaceNamespacedSecret({
          namespace,
          name,
          fieldManager: FIELD_MANAGER,
          body: body(material, resourceVersion),
        });
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return false;
        throw kubeError(error, `replacing Secret ${namespace}/${name}`);
      }
    },
  };
}

export async function kubeCaBundleTarget(config: KubeConfig, name: string): Promise<CaBundleTarget> {
  const { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions } = await import(
    '@kubernetes/client-node'
  );
  const admission = config.makeApiClient(AdmissionregistrationV1Api);
  return {
    async read() {
      try {
        const configuration = await admission.readMutatingWebhookConfiguration({ name });
        return (configuration.webhooks ?? []).map((webhook) => webhook.clientConfig.caBundle ?? '');
      } catch (error) {
        throw kubeError(error, `reading MutatingWebhookConfiguration ${name}`);
      }
    },
    async write(caBundle) {
      try {
        const configuration = await admission.readMutatingWebhookConfiguration({ name });
        // A JSON patch guarded by the version read: it changes nothing but the caBundles.
        const patch = [
          { op: 'test', path: '/metadata/resourceVersion', value: configuration.metadata?.resourceVersion },
          ...(configuration.webhooks ?? []).map((_, index) => ({
            op: 'add',
            path: `/webhooks/${index}/clientConfig/caBundle`,
            value: caBundle,
          })),
        ];
        await admission.patchMutatingWebhookConfiguration(
          { name, fieldManager: FIELD_MANAGER, body: patch },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
      } catch (error) {
        throw kubeError(error, `setting the caBundle of MutatingWebhookConfiguration ${name}`);
      }
    },
  };
}
