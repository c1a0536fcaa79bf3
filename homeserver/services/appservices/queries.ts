import type { AppserviceDeliveryPort } from './delivery-port.js';

/**
 * "Does this user / alias exist?" with the appservice fallback of the spec: when a client touches
 * a local user or alias this server does not know, the appservices whose namespaces hold it are
 * asked (`GET /_matrix/app/v1/users/{userId}`, `/rooms/{alias}`); one that answers positively has
 * created it meanwhile, so the lookup is repeated. Appservices whose namespaces do not match are
 * never asked (the port filters), so this costs nothing for ordinary users.
 */
export class AppserviceQueries {
  constructor(
    /** The delivery port once the composition root has started it (absent: no queries). */
    private port: () => AppserviceDeliveryPort | undefined,
  ) {}

  /** `lookup()` again after an appservice created the user; undefined when it still does not exist. */
  async user<T>(userId: string, lookup: () => Promise<T | undefined>): Promise<T | undefined> {
    const found = await lookup();
    if (found !== undefined) return found;
    const port = this.port();
    if (!port || !(await port.queryUser(userId))) return undefined;
    return lookup();
  }

  /** Same for a room alias. */
  async alias<T>(alias: string, lookup: () => Promise<T | undefined>): Promise<T | undefined> {
    const found = await lookup();
    if (found !== undefined) return found;
    const port = this.port();
    if (!port || !(await port.queryAlias(alias))) return undefined;
    return lookup();
  }
}
