/**
 * The homeserver's view of application services. The homeserver declares this port; appservice-api
 * implements it (the homeserver never imports appservice-api). Registrations follow the format
 * Synapse and every bridge generate.
 */
export interface Namespace {
  exclusive: boolean;
  /** Anchored to the whole string when matching (as Synapse does). */
  regex: RegExp;
  /** The regex as written in the registration file (unanchored). */
  source?: string;
}

export interface AppserviceRegistration {
  id: string;
  /** http(s)://… for remote appservices, inproc://<name> for bridges in this process, null for none. */
  url: string | null;
  asToken: string;
  hsToken: string;
  senderLocalpart: string;
  namespaces: { users: Namespace[]; aliases: Namespace[]; rooms: Namespace[] };
  rateLimited: boolean;
  protocols: string[];
  /** MSC2409: typing, receipts, presence and to-device in transactions. */
  receiveEphemeral: boolean;
  /** MSC3202: device list changes and one-time-key counts in transactions; device masquerading. */
  msc3202: boolean;
  /** MSC4190 (io.element.msc4190): the appservice creates and deletes its users' devices itself. */
  msc4190?: boolean;
}

export interface AppserviceRegistry {
  all(): AppserviceRegistration[];
  /** Constant-time comparison of the presented token against every registration's as_token. */
  byAsToken(token: string): AppserviceRegistration | undefined;
  byId(id: string): AppserviceRegistration | undefined;
  /** The appservice holding an exclusive namespace that matches, if any. */
  exclusiveOwnerOfUser(userId: string): AppserviceRegistration | undefined;
  exclusiveOwnerOfAlias(alias: string): AppserviceRegistration | undefined;
  /** Whether the user is the appservice's sender or in one of its user namespaces. */
  ownsUser(as: AppserviceRegistration, userId: string): boolean;
  onChange(listener: () => void): () => void;
  /** Whether the registration was added at runtime (admin API / CLI) rather than from a config file. */
  isRuntime?(id: string): boolean;
  /** Validates and stores a registration document (parsed YAML) at runtime; rejects with M_INVALID_PARAM naming the field. */
  add?(document: unknown): Promise<AppserviceRegistration>;
  /**
   * Replaces a runtime registration's document (same id; url, tokens, namespaces may change).
   * Delivery keeps its position: a new url or hs_token restarts that appservice's loop where it stopped.
   */
  replace?(id: string, document: unknown): Promise<AppserviceRegistration>;
  /** Removes a runtime registration; false when there is none with that id. */
  remove?(id: string): Promise<boolean>;
}
