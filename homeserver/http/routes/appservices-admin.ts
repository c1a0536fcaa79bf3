import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { AppserviceRegistration, AppserviceRegistry } from '../../services/appservices/registry-port.js';
import { clientRoute } from './client-route.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });
const BASE = '/_causeway/admin/v1/appservices';

/** The view an admin gets of a registration; tokens are never echoed back. */
function describe(registry: AppserviceRegistry, reg: AppserviceRegistration) {
  return {
    id: reg.id,
    url: reg.url,
    sender_localpart: reg.senderLocalpart,
    rate_limited: reg.rateLimited,
    protocols: reg.protocols,
    receive_ephemeral: reg.receiveEphemeral,
    'org.matrix.msc3202': reg.msc3202,
    'io.element.msc4190': reg.msc4190 ?? false,
    namespaces: Object.fromEntries(
      Object.entries(reg.namespaces).map(([kind, list]) => [
        kind,
        list.map((ns) => ({ exclusive: ns.exclusive, regex: ns.source ?? ns.regex.source })),
      ]),
    ),
    source: registry.isRuntime?.(reg.id) ? 'runtime' : 'config',
  };
}

/**
 * Causeway's admin API for appservice registrations: `GET|POST /_causeway/admin/v1/appservices`,
 * `GET|PUT|DELETE /_causeway/admin/v1/appservices/{id}`. Server admins only. The POST body is the
 * registration document (the YAML file's content as JSON). Registrations from config files are
 * listed but can only be removed by editing the config.
 */
export async function appserviceAdminRoutes(app: FastifyInstance): Promise<void> {
  const registryOf = (req: FastifyRequest): AppserviceRegistry => {
    if (!req.requester.isAdmin) throw MatrixError.forbidden('You are not a server admin');
    const registry = app.services.appservices;
    if (!registry) throw MatrixError.unrecognized('Appservices are not enabled on this server');
    return registry;
  };

  /** `GET /_causeway/admin/v1/appservices` */
  clientRoute(app, 'GET', BASE, {}, async (req) => {
    const registry = registryOf(req);
    return { appservices: registry.all().map((reg) => describe(registry, reg)) };
  });

  /** `GET /_causeway/admin/v1/appservices/{id}` */
  clientRoute(app, 'GET', `${BASE}/:id`, { schema: { params: IdParams } }, async (req) => {
    const registry = registryOf(req);
    const reg = registry.byId((req.params as { id: string }).id);
    if (!reg) throw MatrixError.notFound('No such appservice');
    return describe(registry, reg);
  });

  /** `POST /_causeway/admin/v1/appservices` — validates (errors name the field) and stores a registration. */
  clientRoute(app, 'POST', BASE, { schema: { body: Type.Object({}, { additionalProperties: true }) } }, async (req) => {
    const registry = registryOf(req);
    if (!registry.add) throw MatrixError.unrecognized('This server cannot add appservices at runtime');
    return describe(registry, await registry.add(req.body));
  });

  /** `PUT /_causeway/admin/v1/appservices/{id}` — replaces a runtime registration (new url, tokens or namespaces); delivery resumes where it was. */
  clientRoute(
    app,
    'PUT',
    `${BASE}/:id`,
    { schema: { params: IdParams, body: Type.Object({}, { additionalProperties: true }) } },
    async (req) => {
      const registry = registryOf(req);
      const { id } = req.params as { id: string };
      if (!registry.byId(id)) throw MatrixError.notFound('No such appservice');
      if (!registry.isRuntime?.(id) || !registry.replace)
        throw MatrixError.invalidParam('This appservice comes from a config file: edit the file and restart');
      return describe(registry, await registry.replace(id, req.body));
    },
  );

  /** `DELETE /_causeway/admin/v1/appservices/{id}` */
  clientRoute(app, 'DELETE', `${BASE}/:id`, { schema: { params: IdParams } }, async (req) => {
    const registry = registryOf(req);
    const { id } = req.params as { id: string };
    if (!registry.byId(id)) throw MatrixError.notFound('No such appservice');
    if (!registry.isRuntime?.(id) || !registry.remove)
      throw MatrixError.invalidParam('This appservice comes from a config file: remove it from appservices.registration_files');
    await registry.remove(id);
    return {};
  });
}
