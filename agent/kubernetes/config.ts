import { KubeConfig } from '@kubernetes/client-node';
import { Type, type Static } from '@sinclair/typebox';
import { section } from '../../core/config.js';

/** The `kubernetes` section of the agent. */
export const KubernetesSectionSchema = section(
  {
    enabled: Type.Boolean({ default: false }),
    kubeconfig: Type.Optional(Type.String({ minLength: 1, description: "a kubeconfig file; absent, the pod's ServiceAccount token and CA (in-cluster)" })),
    node_name: Type.Optional(Type.String({ minLength: 1, description: "the node whose pods are watched; defaults to the agent's hostname (set it from spec.nodeName through the downward API)" })),
    pod_labels: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'pod label keys copied as dimensions (an allow-list: labels are unbounded)' }),
    pod_annotations: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'pod annotation keys copied as dimensions' }),
    wait_for_metadata_ms: Type.Integer({ minimum: 0, default: 2_000, description: "how long a sample of a pod not known yet waits for the pod's metadata" }),
    resync_timeout_ms: Type.Integer({ minimum: 1, default: 10_000, description: 'how long start-up waits for the first lists; the agent runs on without them' }),
  },
  'Kubernetes metadata from the API server: pods of this node and all namespaces, by informers',
);

export type KubernetesSection = Static<typeof KubernetesSectionSchema>;

/** The API server's address and credentials: the kubeconfig file when given, else in-cluster. */
export function kubeConfigOf(section: Pick<KubernetesSection, 'kubeconfig'>): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (section.kubeconfig !== undefined) kubeConfig.loadFromFile(section.kubeconfig);
  else {
    // Outside a pod client-node would build https://undefined:undefined and fail on the first request; fail at start-up instead.
    if (!process.env['KUBERNETES_SERVICE_HOST'] || !process.env['KUBERNETES_SERVICE_PORT']) {
      throw new Error('kubernetes: not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset) and no kubernetes.kubeconfig given');
    }
    kubeConfig.loadFromCluster();
  }
  return kubeConfig;
}
