/** The power levels a new room starts with (what Synapse and Element expect), before overrides. */
export function defaultPowerLevels(creator: string, preset: string, invitees: string[]): Record<string, unknown> {
  const users: Record<string, number> = { [creator]: 100 };
  // trusted_private_chat: "all invitees are given the same power level as the room creator".
  if (preset === 'trusted_private_chat') for (const u of invitees) users[u] = 100;
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    historical: 100,
  };
}
