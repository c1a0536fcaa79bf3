import type { LoginStep } from '../../../bridges/core/network/login-process.js';
import type { FakeNetwork } from './fake-network.js';
import { makeLoginId } from './ids.js';
import type { SignedIn } from './login-desk.js';
import { PTS_METADATA, SESSION_SECRET } from './client.js';

/** The `complete` step both flows end with: the session token goes in secrets, never metadata. */
export function completeStep(net: FakeNetwork, s: SignedIn): LoginStep {
  const user = net.user(s.userId);
  return {
    type: 'complete',
    stepId: 'fakenet.complete',
    instructions: `Logged in as ${user.name}`,
    complete: {
      loginId: makeLoginId(user.id),
      remoteName: user.name,
      // Where the client's update log starts: anything after the login is recovered even if the
      // first connect comes late (Telegram clients call updates.getState right after signing in).
      metadata: { phone: user.phone, [PTS_METADATA]: net.updates.state(user.id) },
      secrets: { [SESSION_SECRET]: new TextEncoder().encode(s.sessionToken) },
    },
  };
}
