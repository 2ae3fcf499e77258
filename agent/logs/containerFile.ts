import { basename, dirname } from 'node:path';

/** What the kubelet's file names say about a container log. */
export interface ContainerFileInfo {
  readonly namespace: string;
  readonly podName: string;
  readonly containerName: string;
  /** Only in `/var/log/containers` names. */
  readonly containerId?: string;
  /** Only in `/var/log/pods` paths. */
  readonly podUid?: string;
}

/** A pod name and a namespace are DNS labels/subdomains: no `_`, which is what makes the names split cleanly. */
const CONTAINERS_NAME = /^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$/;
const PODS_DIR = /^([^_]+)_([^_]+)_([^_]+)$/;

/**
 * Reads the kubelet's two layouts:
 * - `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log` (the symlinks);
 * - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log[.<rotation>]`.
 * Any other file gives undefined: it belongs to the configured default tenant.
 */
export function containerFileInfo(path: string): ContainerFileInfo | undefined {
  const name = basename(path);
  const containers = CONTAINERS_NAME.exec(name);
  if (containers) {
    const [, podName, namespace, containerName, containerId] = containers as unknown as [string, string, string, string, string];
    return { namespace, podName, containerName, containerId };
  }
  const containerDir = dirname(path);
  const pods = PODS_DIR.exec(basename(dirname(containerDir)));
  if (pods && /^\d+\.log(\..+)?$/.test(name)) {
    const [, namespace, podName, podUid] = pods as unknown as [string, string, string, string];
    return { namespace, podName, containerName: basename(containerDir), podUid };
  }
  return undefined;
}
