/**
 * Third-party network lookups (spec: "Third-party Networks"), answered by the appservices that
 * declare the protocol in their registration's `protocols` (implemented by appservice-api).
 */
export type ThirdPartyRequest =
  /** `GET /thirdparty/protocols`: every declared protocol's merged metadata. */
  | { kind: 'protocols' }
  /** `GET /thirdparty/protocol/{protocol}`. */
  | { kind: 'protocol'; protocol: string }
  /** `GET /thirdparty/location/{protocol}` and `/user/{protocol}`: search by protocol fields. */
  | { kind: 'location' | 'user'; protocol: string; fields: Record<string, string> }
  /** `GET /thirdparty/location?alias=` and `/user?userid=`: reverse lookups, asked of every appservice with protocols. */
  | { kind: 'location-by-alias'; alias: string }
  | { kind: 'user-by-id'; userId: string };

export interface ThirdPartyPort {
  /** The merged answer; rejects with M_NOT_FOUND (404) for a protocol no appservice declares. */
  thirdParty(request: ThirdPartyRequest): Promise<unknown>;
}
