/**
 * Test-only entry point: `causeway` with the fake network's connector registered, for tests that run
 * a bridge worker as a real process (`node --import tsx test/integration/cluster/fakenet-worker.ts
 * start --roles=bridges`). Production builds register only real networks; the fake stays under test/.
 *
 * The fake network is an in-process fake, so it lives here and the parent drives it over the IPC
 * channel (spawn with stdio 'ipc', serialization 'advanced'): a message { id, method, args } calls
 * that FakeNetwork method and is answered { id, result } or { id, error }. FAKENET_SEED (a JSON list
 * of { method, args }) is applied before the CLI starts, so a restarted worker meets the same users,
 * chats and session tokens, as a real network would still hold them after a restart of its bridge.
 */
import { registerConnector } from '../../../bridges/core/run-bridges.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';

export interface FakenetCall {
  method: keyof FakeNetwork;
  args: unknown[];
}

const net = new FakeNetwork();
const call = ({ method, args }: FakenetCall): unknown => (net[method] as (...a: unknown[]) => unknown).apply(net, args);

for (const seed of JSON.parse(process.env.FAKENET_SEED ?? '[]') as FakenetCall[]) call(seed);
registerConnector('fakenet', () => new FakenetConnector(net));

process.on('message', (msg: FakenetCall & { id: number }) => {
  Promise.resolve()
    .then(() => call(msg))
    .then(
      (result) => process.send!({ id: msg.id, result }),
      (err: unknown) => process.send!({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
    );
});

await import('../../../cli/main.js');
