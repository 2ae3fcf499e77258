import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound } from './errors.js';

/** Monasca's version document; v2.0 is the only version, as in monasca-api. */
const VERSIONS = [{ id: 'v2.0', status: 'CURRENT', updated: '2014-07-18T03:25:02.423Z' }] as const;

function base(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

function versionElement(request: FastifyRequest, version: (typeof VERSIONS)[number]) {
  return { id: version.id, links: [{ rel: 'self', href: `${base(request)}/${version.id}` }], status: version.status, updated: version.updated };
}

export async function versionRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', async (request) => ({
    links: [{ rel: 'self', href: `${base(request)}/` }],
    elements: VERSIONS.map((v) => versionElement(request, v)),
  }));
  app.get<{ Params: { version: string } }>('/:version', async (request) => {
    const version = VERSIONS.find((v) => v.id === request.params.version);
    if (!version) throw notFound(`There is no API version ${JSON.stringify(request.params.version.slice(0, 32))}.`);
    return versionElement(request, version);
  });
}
