import type { AppserviceRegistration } from './registry-port.js';
import type { ThirdPartyPort } from './thirdparty-port.js';

/**
 * The homeserver's view of appservice delivery (implemented by appservice-api/delivery, given by
 * the composition root): the queries, MSC2659 ping and third-party lookups the client API needs.
 */
export interface AppserviceDeliveryPort extends ThirdPartyPort {
  /** `GET /_matrix/app/v1/users/{userId}` on the appservices whose namespaces match: whether one created the user. */
  queryUser(userId: string): Promise<boolean>;
  /** `GET /_matrix/app/v1/rooms/{alias}` on the appservices whose namespaces match: whether one created the alias. */
  queryAlias(alias: string): Promise<boolean>;
  /** `POST /_matrix/client/v1/appservice/{appserviceId}/ping` for the authenticated appservice `caller`. */
  ping(
    caller: AppserviceRegistration,
    appserviceId: string,
    transactionId?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}
