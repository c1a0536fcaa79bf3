import { MatrixError } from '../homeserver/matrix/errors.js';
import type { Logger } from '../homeserver/runtime/logger.js';
import type { AppserviceRegistration, AppserviceRegistry } from '../homeserver/services/appservices/registry-port.js';
import type { ThirdPartyPort, ThirdPartyRequest } from '../homeserver/services/appservices/thirdparty-port.js';
import { transportFor } from './transports/transport.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Third-party lookups proxied to the appservices declaring the protocol, asked in parallel and
 * merged as Synapse does: protocol metadata from the first that answers with every answerer's
 * instances appended (each given an `instance_id` naming its appservice and network), location
 * and user results concatenated. An appservice that fails or answers garbage is left out rather
 * than failing the client's request.
 */
export class ThirdPartyLookup implements ThirdPartyPort {
  constructor(
    private registry: AppserviceRegistry,
    private opts: { timeoutMs?: number; log?: Logger } = {},
  ) {}

  async thirdParty(req: ThirdPartyRequest): Promise<unknown> {
    switch (req.kind) {
      case 'protocols': {
        const names = [...new Set(this.registry.all().flatMap((r) => r.protocols))];
        const out: Record<string, unknown> = {};
        for (const [i, info] of (await Promise.all(names.map((p) => this.protocol(p)))).entries()) if (info) out[names[i]!] = info;
        return out;
      }
      case 'protocol': {
        const info = await this.protocol(this.known(req.protocol));
        if (!info) throw MatrixError.notFound(`No application service answered for protocol ${req.protocol}`);
        return info;
      }
      case 'location':
      case 'user':
        return this.list(this.declaring(this.known(req.protocol)), `/${req.kind}/${encodeURIComponent(req.protocol)}`, req.fields);
      case 'location-by-alias':
        return this.list(this.withProtocols(), '/location', { alias: req.alias });
      case 'user-by-id':
        return this.list(this.withProtocols(), '/user', { userid: req.userId });
    }
  }

  private declaring(protocol: string): AppserviceRegistration[] {
    return this.registry.all().filter((r) => r.url && r.protocols.includes(protocol));
  }

  private withProtocols(): AppserviceRegistration[] {
    return this.registry.all().filter((r) => r.url && r.protocols.length);
  }

  /** The protocol, or M_NOT_FOUND when no registration declares it. */
  private known(protocol: string): string {
    if (!this.registry.all().some((r) => r.protocols.includes(protocol))) throw MatrixError.notFound(`Unknown protocol ${protocol}`);
    return protocol;
  }

  private async ask(reg: AppserviceRegistration, path: string, query: Record<string, string>): Promise<unknown> {
    const transport = transportFor(reg, { timeoutMs: this.opts.timeoutMs ?? 10_000 });
    if (!transport) return undefined;
    try {
      return await transport.thirdParty(path, query);
    } catch (err) {
      this.opts.log?.debug({ err, appservice: reg.id, path }, 'third-party lookup failed');
      return undefined;
    }
  }

  private async protocol(protocol: string): Promise<Record<string, unknown> | undefined> {
    const regs = this.declaring(protocol);
    const answers = await Promise.all(regs.map((r) => this.ask(r, `/protocol/${encodeURIComponent(protocol)}`, {})));
    let merged: Record<string, unknown> | undefined;
    const instances: unknown[] = [];
    answers.forEach((answer, i) => {
      if (!isObject(answer)) return;
      merged ??= { ...answer };
      for (const inst of Array.isArray(answer.instances) ? answer.instances : []) {
        if (!isObject(inst)) continue;
        // Unique per homeserver: publicRooms' third_party_instance_id names it.
        instances.push({ ...inst, instance_id: JSON.stringify({ appservice_id: regs[i]!.id, network_id: inst.network_id ?? null }) });
      }
    });
    return merged && { ...merged, instances };
  }

  private async list(regs: AppserviceRegistration[], path: string, query: Record<string, string>): Promise<unknown[]> {
    const answers = await Promise.all(regs.map((r) => this.ask(r, path, query)));
    return answers.flatMap((a) => (Array.isArray(a) ? a.filter(isObject) : []));
  }
}
