import * as sdk from 'matrix-js-sdk';

/** Registers `username` through the real /register UIA flow (dummy stage) and returns a matrix-js-sdk client logged in as it (not started). */
export async function registerSdkClient(baseUrl: string, username: string): Promise<sdk.MatrixClient> {
  const anon = sdk.createClient({ baseUrl });
  let session: string | undefined;
  try {
    await anon.registerRequest({ username, password: `${username} password` });
  } catch (err) {
    session = (err as sdk.MatrixError).data.session as string;
  }
  const res = await anon.registerRequest({ username, password: `${username} password`, auth: { type: 'm.login.dummy', session } });
  return sdk.createClient({ baseUrl, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
}
