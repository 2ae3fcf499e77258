import { describe, expect, it } from 'vitest';
import { containerFileInfo } from './containerFile.js';

const ID = 'a'.repeat(16) + '0123456789abcdef'.repeat(3);

describe('containerFileInfo', () => {
  const cases: [string, string, ReturnType<typeof containerFileInfo>][] = [
    ['a /var/log/containers symlink', `/var/log/containers/web-7d4b9c-xk2lp_shop_nginx-${ID}.log`, { namespace: 'shop', podName: 'web-7d4b9c-xk2lp', containerName: 'nginx', containerId: ID }],
    ['a container name with dashes', `/var/log/containers/p_ns_side-car-x-${ID}.log`, { namespace: 'ns', podName: 'p', containerName: 'side-car-x', containerId: ID }],
    ['a /var/log/pods file', '/var/log/pods/shop_web-1_0c7a-11ee/nginx/0.log', { namespace: 'shop', podName: 'web-1', containerName: 'nginx', podUid: '0c7a-11ee' }],
    ['a rotated /var/log/pods file', '/var/log/pods/shop_web-1_uid/nginx/3.log.20240101-120000', { namespace: 'shop', podName: 'web-1', containerName: 'nginx', podUid: 'uid' }],
    ['some other file', '/var/log/syslog', undefined],
    ['a short container id', '/var/log/containers/p_ns_c-abc.log', undefined],
  ];
  it.each(cases)('%s', (_name, path, expected) => {
    expect(containerFileInfo(path)).toEqual(expected);
  });
});
