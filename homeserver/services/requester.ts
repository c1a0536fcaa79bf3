/** Who is making a request: a user with a device, possibly an appservice acting as that user. */
export interface Requester {
  userId: string;
  deviceId?: string;
  isAdmin?: boolean;
  appserviceId?: string;
  /** The raw access token, for logout (never logged). */
  accessToken?: string;
}
