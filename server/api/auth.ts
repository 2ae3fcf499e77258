import { createHash } from 'node:crypto';

/**
 * Who a request speaks for. Everything the API does is scoped by `tenantId`, which comes
 * from the token alone, never from the body.
 */
export interface Principal {
  readonly tenantId: string;
  readonly roles: ReadonlySet<Role>;
}

/** Monasca's roles (monasca-api's default_authorized_roles, agent_, read_only_, delegate_). */
export const ROLES = ['admin', 'monasca-user', 'monasca-agent', 'monasca-read-only-user', 'monitoring-delegate'] as const;
export type Role = (typeof ROLES)[number];

/** The one place a token becomes a principal; Keystone and TokenReview come in behind it later. */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | undefined>;
}

export type Permission = 'write' | 'read' | 'delegate' | 'cross-tenant-read';

const GRANTS: Record<Permission, readonly Role[]> = {
  write: ['admin', 'monasca-user', 'monasca-agent', 'monitoring-delegate'],
  read: ['admin', 'monasca-user', 'monasca-read-only-user'],
  delegate: ['admin', 'monitoring-delegate'],
  'cross-tenant-read': ['admin'],
};

export function may(principal: Principal, permission: Permission): boolean {
  return GRANTS[permission].some((role) => principal.roles.has(role));
}

/**
 * Static tokens from `KANSOKU_AUTH_TOKENS`: `TOKEN:TENANT_ID:ROLE[+ROLE...]`, comma-separated.
 * Tokens are kept as SHA-256 digests and looked up by digest, so the lookup's timing says
 * nothing about how much of a guessed token was right.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private readonly byDigest = new Map<string, Principal>();

  constructor(entries: readonly { token: string; tenantId: string; roles: readonly Role[] }[]) {
    for (const { token, tenantId, roles } of entries) this.byDigest.set(digest(token), { tenantId, roles: new Set(roles) });
  }

  static parse(spec: string): StaticTokenAuthenticator {
    const entries = spec
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
      .map((item, index) => {
        const parts = item.split(':');
        const [token, tenantId, roleText] = parts;
        if (parts.length !== 3 || !token || !tenantId || !roleText) {
          throw new Error(`auth token entry ${index + 1} must be TOKEN:TENANT_ID:ROLE[+ROLE...]`);
        }
        const roles = roleText.split('+').map((role) => {
          if (!(ROLES as readonly string[]).includes(role)) throw new Error(`auth token entry ${index + 1} has unknown role "${role}" (known: ${ROLES.join(', ')})`);
          return role as Role;
        });
        return { token, tenantId, roles };
      });
    return new StaticTokenAuthenticator(entries);
  }

  authenticate(token: string): Promise<Principal | undefined> {
    return Promise.resolve(this.byDigest.get(digest(token)));
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
