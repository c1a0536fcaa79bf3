import { describe, expect, it } from 'vitest';
import type { RemoteEvent, RemoteMessage } from '../../../bridges/core/network/remote-event.js';
import { NetworkError } from '../../../bridges/core/network/network-client.js';
import { remoteChatId, remoteMessageId } from '../../../bridges/core/network/ids.js';
import type { MatrixMessage } from '../../../bridges/core/network/matrix-action.js';
import { Readable } from 'node:stream';
import { connectedLogin } from './helpers.js';

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function matrixMessage(chatId: string, text: string, idempotencyKey: string, extra: Partial<MatrixMessage> = {}): MatrixMessage {
  return {
    portal: { chatId: remoteChatId(chatId) },
    eventId: `$${idempotencyKey}`,
    sender: '@me:test',
    timestamp: 1,
    content: { kind: 'text', text: { text } },
    idempotencyKey,
    ...extra,
  };
}

describe('fakenet messaging', () => {
  it('turns remote activity into RemoteEvents in network order, DMs keyed by the receiving login', async () => {
    const { net, me, t } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const dm = net.dm(alice.id, me.id);
    const id = net.send(alice.id, dm, { text: 'hi **', entities: [{ type: 'bold', offset: 0, length: 2 }] });
    const reply = net.send(alice.id, dm, 'second', { replyTo: id });
    net.edit(alice.id, dm, id, 'hi (edited)');
    net.react(alice.id, dm, id, '👍');
    net.unreact(alice.id, dm, id, '👍');
    net.markRead(alice.id, dm, reply);
    net.typing(alice.id, dm, 3000);
    net.delete(alice.id, dm, reply);
    await net.idle();

    expect(t.events.map((e) => e.type)).toEqual([
      'message',
      'message',
      'edit',
      'reaction',
      'reaction_remove',
      'read_receipt',
      'typing',
      'delete',
    ]);
    const first = t.events[0] as RemoteMessage;
    expect(first).toMatchObject({
      portal: { chatId: dm, receiver: me.id },
      sender: { userId: alice.id },
      id,
      content: { kind: 'text', text: { text: 'hi **', entities: [{ type: 'bold', offset: 0, length: 2 }] } },
    });
    expect(first.sender.isFromMe).toBeUndefined();
    expect(t.events[1]).toMatchObject({ replyTo: id });
    expect(t.events[2]).toMatchObject({ targetId: id, content: { kind: 'text', text: { text: 'hi (edited)' } } });
    expect(t.events[3]).toMatchObject({ targetId: id, key: '👍' });
    expect(t.events[5]).toMatchObject({ upToId: reply });
    expect(t.events[6]).toMatchObject({ timeoutMs: 3000 });
    const stamps = t.events.map((e) => e.timestamp);
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
  });

  it('groups are shared portals; member, rename and own-device messages arrive', async () => {
    const { net, me, t } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const bob = net.addUser({ name: 'Bob' });
    const g = net.createGroup(alice.id, 'Team', [me.id]);
    net.renameChat(alice.id, g, 'Team 2');
    net.addMember(alice.id, g, bob.id);
    net.send(me.id, g, 'from my phone');
    net.removeMember(alice.id, g, me.id);
    net.send(alice.id, g, 'after I left');
    await net.idle();

    const types = t.events.map((e) => e.type);
    expect(types).toEqual(['member_change', 'chat_info_change', 'member_change', 'message', 'member_change']);
    expect(t.events.every((e) => e.portal.receiver === undefined && e.portal.chatId === g)).toBe(true);
    expect(t.events[1]).toMatchObject({ change: { name: 'Team 2' } });
    expect(t.events[3]).toMatchObject({ sender: { userId: me.id, isFromMe: true } });
    expect(t.events[4]).toMatchObject({ members: [{ userId: me.id, membership: 'leave' }] });
  });

  it('Matrix-side actions reach the network and are not echoed back to the acting client', async () => {
    const { net, me, t, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const dm = net.dm(alice.id, me.id);
    const theirs = net.send(alice.id, dm, 'question');
    await t.nextEvent();

    const sent = await client.handleMatrixMessage(matrixMessage(dm, 'answer', 'txn1', { replyTo: remoteMessageId(theirs) }));
    await client.handleMatrixEdit({ ...matrixMessage(dm, 'answer!', 'e'), targetId: sent.remoteId });
    await client.handleMatrixReaction({ ...matrixMessage(dm, '', 'r'), targetId: remoteMessageId(theirs), key: '❤️' });
    await client.handleMatrixReadReceipt({
      portal: { chatId: remoteChatId(dm) },
      sender: '@me:test',
      timestamp: 2,
      upToId: remoteMessageId(theirs),
    });
    await client.handleMatrixTyping({
      portal: { chatId: remoteChatId(dm) },
      sender: '@me:test',
      timestamp: 3,
      typing: true,
      timeoutMs: 4000,
    });

    const mine = net.message(dm, sent.remoteId);
    expect(net.textOf(mine)).toBe('answer!');
    expect(mine).toMatchObject({ senderId: me.id, replyTo: theirs, editCount: 1 });
    expect(net.reactions(dm, theirs)).toEqual([{ userId: me.id, emoji: '❤️' }]);
    expect(net.receipts(dm).get(me.id)).toBe(theirs);
    expect(net.typingOf(dm, me.id)).toBe(4000);

    await client.handleMatrixRedaction({
      ...matrixMessage(dm, '', 'x'),
      target: { kind: 'reaction', messageId: remoteMessageId(theirs), key: '❤️' },
    });
    await client.handleMatrixRedaction({ ...matrixMessage(dm, '', 'y'), target: { kind: 'message', id: sent.remoteId } });
    expect(net.reactions(dm, theirs)).toEqual([]);
    expect(net.messages(dm).map((m) => m.id)).toEqual([theirs]);

    await net.idle();
    expect(t.events).toHaveLength(1); // only Alice's question
  });

  it('a send retried with the same idempotency key returns the original message (also after a lost ack)', async () => {
    const { net, me, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const dm = net.dm(alice.id, me.id);

    const a = await client.handleMatrixMessage(matrixMessage(dm, 'once', 'txn-a'));
    const again = await client.handleMatrixMessage(matrixMessage(dm, 'once', 'txn-a'));
    expect(again.remoteId).toBe(a.remoteId);

    net.failNextSend(me.id, 'lost_ack');
    const lost = await client.handleMatrixMessage(matrixMessage(dm, 'twice?', 'txn-b')).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(NetworkError);
    expect(lost).toMatchObject({ retryable: true });
    const retried = await client.handleMatrixMessage(matrixMessage(dm, 'twice?', 'txn-b'));
    expect(net.messages(dm).map((m) => net.textOf(m))).toEqual(['once', 'twice?']);
    expect(retried.remoteId).toBe(net.messages(dm)[1]!.id);

    net.failNextSend(me.id, 'permanent');
    await expect(client.handleMatrixMessage(matrixMessage(dm, 'never', 'txn-c'))).rejects.toMatchObject({ retryable: false });
    net.failNextSend(me.id, 'transient');
    await expect(client.handleMatrixMessage(matrixMessage(dm, 'later', 'txn-d'))).rejects.toMatchObject({ retryable: true });
    expect(net.messages(dm)).toHaveLength(2);
  });

  it('media bytes travel as streams both ways', async () => {
    const { net, me, t, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice', avatar: { bytes: new Uint8Array([9, 9, 9]), mimeType: 'image/png' } });
    const dm = net.dm(alice.id, me.id);
    const photo = Buffer.alloc(40_000, 7);
    net.send(alice.id, dm, {
      media: { bytes: photo, mimeType: 'image/jpeg', kind: 'image', width: 10, height: 20 },
      caption: { text: 'look' },
    });
    const ev = await t.nextEvent<RemoteMessage>();
    if (ev.content.kind !== 'media') throw new Error('expected media');
    expect(ev.content.media).toMatchObject({ kind: 'image', mimeType: 'image/jpeg', size: 40_000, width: 10, caption: { text: 'look' } });
    expect((await readAll(await ev.content.media.open())).equals(photo)).toBe(true);

    const upload = Buffer.from('a file from matrix');
    const sent = await client.handleMatrixMessage({
      ...matrixMessage(dm, '', 'm1'),
      content: {
        kind: 'media',
        media: { kind: 'file', mimeType: 'text/plain', fileName: 'a.txt', open: async () => Readable.from([upload]) },
      },
    });
    const stored = net.message(dm, sent.remoteId).content;
    if (stored.kind !== 'media') throw new Error('expected media');
    expect(stored).toMatchObject({ fileName: 'a.txt', mediaKind: 'file' });
    expect(Buffer.from(net.media(stored.mediaId).bytes).equals(upload)).toBe(true);

    const info = await client.getUserInfo(alice.id as never);
    expect(info).toMatchObject({ name: 'Alice', identifiers: [alice.phone] });
    expect([...(await readAll(await info.avatar!.open()))]).toEqual([9, 9, 9]);
  });

  it('chat info, contacts and resolve_identifier', async () => {
    const { net, me, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice', phone: '+15550100' });
    const dm = net.dm(alice.id, me.id);
    const g = net.createGroup(alice.id, 'Team', [me.id]);
    expect(await client.getChatInfo(remoteChatId(dm))).toMatchObject({ type: 'dm', otherUserId: alice.id });
    expect(await client.getChatInfo(remoteChatId(g))).toMatchObject({
      type: 'group',
      name: 'Team',
      members: expect.arrayContaining([{ userId: alice.id, membership: 'join', powerLevel: 100 }]),
    });
    expect(await client.getContacts()).toEqual([expect.objectContaining({ userId: alice.id, chatId: dm })]);

    const carol = net.addUser({ name: 'Carol', phone: '+15550200' });
    const found = await client.resolveIdentifier('+1 555 0200', false);
    expect(found).toMatchObject({ userId: carol.id, info: { name: 'Carol' } });
    expect(found?.chatId).toBeUndefined();
    const created = await client.resolveIdentifier(carol.id, true);
    expect(created?.chatId).toBe(net.findDm(me.id, carol.id));
    expect(await client.resolveIdentifier('+19999999', false)).toBeUndefined();
  });

  it('refusals become NetworkErrors; calls while disconnected are retryable', async () => {
    const { net, me, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const bob = net.addUser({ name: 'Bob' });
    const notMine = net.dm(alice.id, bob.id);
    await expect(client.handleMatrixMessage(matrixMessage(notMine, 'x', 'k'))).rejects.toMatchObject({
      code: 'fakenet-forbidden',
      retryable: false,
    });
    net.dropConnections(me.id);
    await expect(client.handleMatrixMessage(matrixMessage(net.dm(alice.id, me.id), 'x', 'k2'))).rejects.toMatchObject({
      code: 'fakenet-not-connected',
      retryable: true,
    });
  });
});

describe('fakenet history', () => {
  it('pages newest first, strictly older than `before`, skipping deleted messages', async () => {
    const { net, me, client } = await connectedLogin();
    const alice = net.addUser({ name: 'Alice' });
    const dm = net.dm(alice.id, me.id);
    const ids = Array.from({ length: 7 }, (_, i) => net.send(i % 2 ? me.id : alice.id, dm, `m${i + 1}`));
    net.delete(alice.id, dm, ids[4]!); // m5

    const page1 = await client.fetchMessages({ chatId: remoteChatId(dm), limit: 3 });
    expect(page1.messages.map(textOf)).toEqual(['m7', 'm6', 'm4']);
    expect(page1.hasMore).toBe(true);
    expect(page1.messages[1]).toMatchObject({ sender: { userId: me.id, isFromMe: true }, portal: { receiver: me.id } });

    const page2 = await client.fetchMessages({ chatId: remoteChatId(dm), before: page1.messages[2]!.id, limit: 3 });
    expect(page2.messages.map(textOf)).toEqual(['m3', 'm2', 'm1']);
    expect(page2.hasMore).toBe(false);

    net.delete(alice.id, dm, ids[0]!);
    const page3 = await client.fetchMessages({ chatId: remoteChatId(dm), before: ids[3] as never, limit: 2 });
    expect(page3.messages.map(textOf)).toEqual(['m3', 'm2']);
    expect(page3.hasMore).toBe(false); // only the deleted m1 is older
  });
});

function textOf(e: RemoteEvent): string | undefined {
  return e.type === 'message' && e.content.kind === 'text' ? e.content.text.text : undefined;
}
