import type { Messaging } from '../rooms/messaging.js';
import type { Requester } from '../requester.js';
import type { Presence } from './presence.js';

/**
 * Makes sending events count as presence activity (Synapse bumps last_active on /send, /state and
 * redactions): wraps the instance's three send methods so that each success calls
 * {@link Presence.bumpActive} in the background. Requests of appservices are left out — a bridge
 * relaying a remote user's message says nothing about that user being at a Matrix client.
 *
 * Done as a wrapper so the rooms service needs no knowledge of presence.
 */
export function bumpPresenceOnSend(messaging: Messaging, presence: Presence, log: { warn(o: object, m: string): void }): Messaging {
  const bump = (requester: Requester) => {
    if (requester.appserviceId) return;
    presence.bumpActive(requester.userId).catch((err) => log.warn({ err }, 'presence activity update failed'));
  };
  const send = messaging.send.bind(messaging);
  const setState = messaging.setState.bind(messaging);
  const redact = messaging.redact.bind(messaging);
  messaging.send = async (requester, ...rest) => {
    const eventId = await send(requester, ...rest);
    bump(requester);
    return eventId;
  };
  messaging.setState = async (requester, ...rest) => {
    const eventId = await setState(requester, ...rest);
    bump(requester);
    return eventId;
  };
  messaging.redact = async (requester, ...rest) => {
    const eventId = await redact(requester, ...rest);
    bump(requester);
    return eventId;
  };
  return messaging;
}
