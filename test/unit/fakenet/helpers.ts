import { saveLoginSecrets } from '../../../bridges/core/crypto-store/login-secrets.js';
import { FakeNetwork, FakenetConnector, makeLoginId, testLoginContext } from '../../fakes/fakenet/index.js';

/** A network, its connector, and a connected client for a fresh user `me` (skipping the login flow). */
export async function connectedLogin(net = new FakeNetwork(), name = 'Me') {
  const connector = new FakenetConnector(net);
  const me = net.addUser({ name });
  const token = net.createSession(me.id);
  const t = testLoginContext({ loginId: makeLoginId(me.id) });
  await saveLoginSecrets(t.ctx.keys, { session: new TextEncoder().encode(token) });
  const client = connector.loadLogin(t.ctx);
  await client.connect(t.ctx.signal);
  return { net, connector, me, token, t, client };
}
