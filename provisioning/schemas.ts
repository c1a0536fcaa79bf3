import { Type, type TSchema } from '@sinclair/typebox';

/**
 * The wire shapes of the provisioning API, in mautrix's v3 field names (bridgev2
 * `matrix/provisioning.go` and `provisioning.yaml`), so Beeper-style clients work unchanged.
 * Routes validate their inputs with these schemas and the OpenAPI document is built from the
 * same objects, so the description cannot drift from what the server does.
 */

const Str = (description: string, extra: Record<string, unknown> = {}) => Type.String({ description, ...extra });
const OptStr = (description: string) => Type.Optional(Str(description));

export const ErrorBody = Type.Object(
  {
    errcode: Str('A Matrix-style error code: M_* where one fits, FI.MAU.* as mautrix, IO.CAUSEWAY_* otherwise'),
    error: Str('Human-readable message'),
    retryable: Type.Optional(
      Type.Boolean({
        description: 'For login and network errors: whether the same request may be tried again (the login process still exists)',
      }),
    ),
  },
  { description: 'A Matrix-style error' },
);

export const LoginFlow = Type.Object({
  id: Str('Passed to /login/start/{flowId}'),
  name: Str('Human-readable name'),
  description: Str('Human-readable description'),
});

export const LoginFlowsResponse = Type.Object({ flows: Type.Array(LoginFlow) });

const InputField = Type.Object({
  type: Type.Union(
    ['phone_number', 'email', 'username', 'password', '2fa_code', 'token', 'url', 'domain'].map((t) => Type.Literal(t)),
    { description: 'Kind of value' },
  ),
  id: Str('Key of this field in the submitted object'),
  name: Str('Label shown to the user'),
  description: OptStr('Longer help text'),
  pattern: OptStr('A regular expression the value must match'),
});

export const LoginStep = Type.Object(
  {
    login_id: Str('The login process id: pass it to /login/step and /login/cancel'),
    type: Type.Union([Type.Literal('user_input'), Type.Literal('display_and_wait'), Type.Literal('complete')]),
    step_id: Str('Stable id of this kind of step; echoed back in the step URL'),
    instructions: Str('Human-readable instructions'),
    user_input: Type.Optional(Type.Object({ fields: Type.Array(InputField) }, { description: 'Present when type is user_input' })),
    display_and_wait: Type.Optional(
      Type.Object(
        {
          type: Type.Union([Type.Literal('qr'), Type.Literal('emoji'), Type.Literal('code')]),
          data: Str('The QR payload, emoji or code to display'),
        },
        { description: 'Present when type is display_and_wait: show it, then POST the display_and_wait step (it blocks)' },
      ),
    ),
    complete: Type.Optional(
      Type.Object({ user_login_id: Str('The id of the new (or renewed) login') }, { description: 'Present when type is complete' }),
    ),
  },
  { description: 'The next step of a login process' },
);

export const BridgeState = Type.Object({
  state_event: Str('CONNECTING, CONNECTED, BACKFILLING, TRANSIENT_DISCONNECT, BAD_CREDENTIALS, LOGGED_OUT or UNKNOWN_ERROR'),
  timestamp: Type.Number({ description: 'Seconds since the epoch' }),
  error: OptStr('Stable error code set by the connector'),
  message: OptStr('Human-readable message'),
  info: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const WhoamiLogin = Type.Object({
  id: Str('Login id'),
  name: Str('Remote account name (phone number, username)'),
  profile: Type.Record(Type.String(), Type.Unknown(), { description: 'Remote profile (phone, email, username, name, avatar) when known' }),
  state: BridgeState,
  state_event: Str('Deprecated copy of state.state_event'),
  state_ts: Type.Number({ description: 'Deprecated copy of state.timestamp' }),
  state_reason: OptStr('Deprecated copy of state.error'),
  state_info: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Deprecated copy of state.info' })),
});

export const WhoamiResponse = Type.Object({
  network: Type.Object({
    displayname: Str('Network name'),
    network_id: Str('Network id, e.g. telegram'),
    network_url: Str('Network website'),
    network_icon: Str('mxc:// URI of the network icon, or empty'),
    beeper_bridge_type: Str('Bridge software identifier'),
  }),
  login_flows: Type.Array(LoginFlow),
  homeserver: Str('The server name the bridge runs on'),
  bridge_bot: Str('Matrix user id of the bridge bot'),
  command_prefix: Str('Command prefix of the bridge bot'),
  logins: Type.Array(WhoamiLogin),
});

export const LoginsResponse = Type.Object({ login_ids: Type.Array(Type.String()) });

export const EmptyObject = Type.Object({}, { description: 'Empty object' });

export const ResolvedIdentifier = Type.Object({
  id: Str('The remote user id'),
  name: OptStr('Remote display name'),
  identifiers: Type.Optional(Type.Array(Type.String(), { description: 'Phone numbers, usernames' })),
  mxid: OptStr('Matrix user id of the ghost standing for the user'),
  dm_room_mxid: OptStr('Matrix room id of the DM portal, when it exists'),
});

export const ContactsResponse = Type.Object({ contacts: Type.Array(ResolvedIdentifier) });

export const UserInputBody = Type.Record(Type.String(), Type.String(), {
  description: 'The values the user entered, keyed by the field ids of the user_input step',
});

export const LoginIdQuery = Type.Object({
  login_id: Type.Optional(Str('Act through this login (default: the user’s first login)')),
  user_id: Type.Optional(Str('With the shared secret: the Matrix user to act for')),
});

export const UserIdQuery = Type.Object({
  user_id: Type.Optional(Str('With the shared secret: the Matrix user to act for')),
});

export const ProcessParams = Type.Object({ processId: Str('The login_id returned by /login/start') });
export const StepParams = Type.Object({
  processId: Str('The login_id returned by /login/start'),
  stepId: Str('The step_id of the current step'),
});

/** Every JSON-schema object above may carry TypeBox's symbol keys; JSON copies drop them. */
export function plainSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
