import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from 'matrix-js-sdk';
import { registerSdkClient } from './register-sdk-client.js';
import type { Platform } from '../../homeserver/platform.js';
import { buildPlatform } from '../helpers/platform.js';

/** Threads, edits and reactions through matrix-js-sdk's own requests (what Element sends). */
let p: Platform;
let baseUrl: string;

async function registerClient(username: string): Promise<sdk.MatrixClient> {
  return registerSdkClient(baseUrl, username);
}

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
});
afterAll(() => p.close());

describe('matrix-js-sdk relations', () => {
  it('sees server-side threads, lists them, and pages relations with its own parser', async () => {
    const alice = await registerClient('alice');
    expect(await alice.doesServerSupportThread()).toEqual({
      threads: sdk.FeatureSupport.Stable,
      list: sdk.FeatureSupport.Stable,
      fwdPagination: sdk.FeatureSupport.Stable,
    });
    const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PrivateChat });
    const { event_id: root } = await alice.sendTextMessage(roomId, 'root');
    for (let i = 0; i < 3; i++)
      await alice.sendMessage(roomId, {
        msgtype: sdk.MsgType.Text,
        body: `reply ${i}`,
        'm.relates_to': { rel_type: sdk.THREAD_RELATION_TYPE.name, event_id: root },
      } as never);
    await alice.sendEvent(roomId, sdk.EventType.Reaction, {
      'm.relates_to': { rel_type: sdk.RelationType.Annotation, event_id: root, key: '👍' },
    } as never);

    const page1 = await alice.fetchRelations(roomId, root, sdk.THREAD_RELATION_TYPE.name, null, { dir: sdk.Direction.Backward, limit: 2 });
    expect(page1.chunk.map((e) => e.content.body)).toEqual(['reply 2', 'reply 1']);
    const page2 = await alice.fetchRelations(roomId, root, sdk.THREAD_RELATION_TYPE.name, null, {
      dir: sdk.Direction.Backward,
      limit: 2,
      from: page1.next_batch!,
    });
    expect(page2.chunk.map((e) => e.content.body)).toEqual(['reply 0']);
    expect(page2.next_batch).toBeUndefined();
    const reactions = await alice.fetchRelations(roomId, root, sdk.RelationType.Annotation, sdk.EventType.Reaction);
    expect(reactions.chunk).toHaveLength(1);

    // startClient() sets this from doesServerSupportThread(); this test does not sync.
    sdk.Thread.setServerSideListSupport(sdk.FeatureSupport.Stable);
    const threads = await alice.createThreadListMessagesRequest(roomId, null, 10, sdk.Direction.Backward, sdk.ThreadFilterType.All);
    expect(threads.chunk.map((e) => e.event_id)).toEqual([root]);
    const event = await alice.fetchRoomEvent(roomId, root);
    expect((event.unsigned as Record<string, any>)['m.relations']['m.thread'].count).toBe(3);
  });
});
