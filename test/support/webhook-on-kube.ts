// `kirsa webhook` against a real kube-apiserver, the setup the webhook tests share: the API server and a
// serving certificate, the webhook started with a given user's kubeconfig, a wait for its readiness (its
// watches synced), RBAC for that user, and the MutatingWebhookConfiguration through which the API server
// itself calls the webhook for pods. One home, so a test that fails to get ready says why the same way.

import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { type KubeApiserver, type KubeApiserverOptions, startKubeApiserver } from './kube-apiserver.ts';
import { makeServingCertificate, type ServingCertificate } from './tls.ts';
import {
  eventually,
  httpsCall,
  type StartOptions,
  startWebhook,
  type WebhookProcess,
} from './webhook-harness.ts';

export interface WebhookCluster {
  kube: KubeApiserver;
  cert: ServingCertificate;
  /** The admin's clients. */
  config: KubeConfig;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  admission: AdmissionregistrationV1Api;
  /** Every webhook started through startWebhookAs, stopped by stop(). */
  webhooks: WebhookProcess[];
  /** `kirsa webhook` with `user`'s kubeconfig, its serving pair and no drain delay, then `extra`. */
  startWebhookAs(user: string, extra?: string[], options?: StartOptions): Promise<WebhookProcess>;
  /** Waits for /readyz to answer 200; the failure carries the last readiness reasons and log lines. */
  untilReady(webhook: WebhookProcess, timeoutMs?: number): Promise<void>;
  /** A ClusterRole with these rules, bound to the static-token user of the same name. */
  grant(user: string, rules: V1PolicyRule[]): Promise<void>;
  /** The API server calls `webhook` for pod creations in the namespaces named (one configuration, `name`). */
  register(webhook: WebhookProcess, namespaces: string[], name?: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the API server (with `options`, e.g. extra users) and a serving certificate for the webhook. */
export async function startWebhookCluster(options: KubeApiserverOptions = {}): Promise<WebhookCluster> {
  const kube = await startKubeApiserver(options);
  const cert = await makeServingCertificate();
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfigPath);
  const core = config.makeApiClient(CoreV1Api);
  const rbac = config.makeApiClient(RbacAuthorizationV1Api);
  const admission = config.makeApiClient(AdmissionregistrationV1Api);
  const webhooks: WebhookProcess[] = [];
  return {
    kube,
    cert,
    config,
    core,
    rbac,
    admission,
    webhooks,
    async startWebhookAs(user, extra = [], startOptions = {}) {
      const webhook = await startWebhook(
        [
          '--tls-cert',
          cert.certFile,
          '--tls-key',
          cert.keyFile,
          '--kubeconfig',
          await kube.kubeconfigFor(user),
          '--shutdown-drain-delay',
          '0s',
          ...extra,
        ],
        startOptions,
      );
      webhooks.push(webhook);
      return webhook;
    },
    async untilReady(webhook, timeoutMs = 40_000) {
      let last = '';
      try {
        await eventually(async () => {
          const ready = await httpsCall(webhook.port, { ca: cert.caPem, method: 'GET', path: '/readyz' });
          last = ready.body;
          return ready.status === 200 ? true : undefined;
        }, timeoutMs);
      } catch (error) {
        throw new Error(
          `${(error as Error).message}; readyz: ${last}; last log lines: ${JSON.stringify(webhook.logs.slice(-4))}`,
        );
      }
    },
    async grant(user, rules) {
      await rbac.createClusterRole({ body: { metadata: { name: user }, rules } });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: user },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: user },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
        },
      });
    },
    async register(webhook, namespaces, name = 'kirsa') {
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name },
          webhooks: [
            {
              name: 'pod-identity.kirsa.dev',
              clientConfig: {
                url: `https://127.0.0.1:${webhook.port}/mutate`,
                caBundle: Buffer.from(cert.caPem).toString('base64'),
              },
              rules: [
                {
                  apiGroups: [''],
                  apiVersions: ['v1'],
                  operations: ['CREATE'],
                  resources: ['pods'],
                  scope: 'Namespaced',
                },
              ],
              namespaceSelector: {
                matchExpressions: [
                  { key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces },
                ],
              },
              admissionReviewVersions: ['v1', 'v1beta1'],
              sideEffects: 'None',
              failurePolicy: 'Fail',
              reinvocationPolicy: 'IfNeeded',
              timeoutSeconds: 5,
            },
          ],
        },
      });
    },
    async stop() {
      for (const webhook of webhooks) await webhook.stop('SIGKILL');
      await kube.stop();
      await cert.cleanup();
    },
  };
}
