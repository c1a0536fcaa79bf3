import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Platform } from '../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../helpers/platform.js';
import type { RenderedMessage } from './hydrogen/app.js';
import { buildHydrogenPage } from './hydrogen/build.js';
import { serveStatic, type StaticServer } from './hydrogen/static-server.js';

/**
 * Hydrogen (hydrogen-view-sdk, bundled with esbuild and served from a local static server) in
 * Debian's headless Chromium, driven by playwright-core, against Causeway over real HTTP from
 * another origin (CORS). Hydrogen still calls the r0 paths.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Without it the test
 * fails: it is never skipped.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'hydrogen', 'screenshots');

let p: Platform;
let baseUrl: string;
let pageDir: string;
let site: StaticServer;
const cleanups: Array<() => Promise<unknown>> = [];

/** A port that was free a moment ago: well-known must name the real port, so it is chosen before the platform is built. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  // Hydrogen follows /.well-known/matrix/client, which answers with public_baseurl.
  p = await buildPlatform({ public_baseurl: baseUrl });
  await p.app.listen({ host: '127.0.0.1', port });
  pageDir = await buildHydrogenPage();
  site = await serveStatic(pageDir);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await site?.close();
  if (pageDir) await rm(pageDir, { recursive: true, force: true });
  await p?.close();
});

/** What the browser saw: console errors, page errors, failed requests and non-2xx homeserver responses. */
function watch(page: Page): string[] {
  const log: string[] = [];
  const strip = (url: string) => url.replace(baseUrl, '<hs>').replace(site.url, '<page>');
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') log.push(`console.${msg.type()}: ${msg.text()} (${strip(msg.location().url)})`);
  });
  page.on('pageerror', (err) => log.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => log.push(`requestfailed: ${req.method()} ${strip(req.url())} (${req.failure()?.errorText})`));
  page.on('response', async (res) => {
    if (!res.url().startsWith(baseUrl) || res.status() < 300) return;
    const body = await res.text().catch(() => '');
    log.push(`HTTP ${res.status()}: ${res.request().method()} ${strip(res.url())} ${body.slice(0, 200)}`);
  });
  return log;
}

async function messagesSeenBy(user: TestUser, roomId: string): Promise<Array<{ sender: string; body: unknown }>> {
  const res = await call(p, user, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`);
  expect(res.status).toBe(200);
  return (res.body.chunk as Array<{ type: string; sender: string; content: { body?: unknown } }>)
    .filter((e) => e.type === 'm.room.message')
    .map((e) => ({ sender: e.sender, body: e.content.body }));
}

describe('Hydrogen against Causeway', () => {
  it('logs in, opens a room, sends a message and shows the reply sent by another client', { timeout: 120_000 }, async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does this)`);
    }

    const alice = await makeUser(p, 'alice', 'alice hydrogen password');
    const bob = await makeUser(p, 'bob', 'bob password');
    const created = await call(p, bob, 'POST', '/_matrix/client/v3/createRoom', { name: 'Hydrogen room', preset: 'private_chat' });
    expect(created.status).toBe(200);
    const roomId: string = created.body.room_id;
    expect((await call(p, bob, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: alice.userId })).status).toBe(200);
    expect((await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, {})).status).toBe(200);
    const welcome = 'welcome to the room, alice';
    expect(
      (await call(p, bob, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: welcome }))
        .status,
    ).toBe(200);

    const userDataDir = await mkdtemp(join(tmpdir(), 'causeway-chromium-'));
    cleanups.push(() => rm(userDataDir, { recursive: true, force: true }));
    const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1000, height: 700 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    cleanups.push(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const seen = watch(page);
    await mkdir(SCREENSHOTS, { recursive: true });

    try {
      const query = new URLSearchParams({ hs: baseUrl, user: 'alice', password: 'alice hydrogen password', room: roomId });
      await page.goto(`${site.url}/index.html?${query}`);

      // Log in, first sync, room view mounted.
      await page.waitForFunction(() => ['room-open', 'failed'].includes(window.hydrogenTest?.phase), null, { timeout: 60_000 });
      const state = await page.evaluate(() => ({ phase: window.hydrogenTest.phase, error: window.hydrogenTest.error }));
      if (state.phase !== 'room-open') throw new Error(`Hydrogen did not open the room: ${state.error}`);
      expect(await page.locator('.RoomView .RoomHeader h2').textContent()).toBe('Hydrogen room');

      const timeline = () => page.evaluate((): RenderedMessage[] => window.hydrogenTest.timeline());
      await expect.poll(timeline, { timeout: 20_000 }).toContainEqual(expect.objectContaining({ sender: bob.userId, body: welcome }));

      // Alice sends from Hydrogen's composer, as a user would.
      const fromHydrogen = 'hello from Hydrogen';
      const composer = page.locator('.MessageComposer textarea');
      await composer.fill(fromHydrogen);
      await composer.press('Enter');
      await expect
        .poll(() => messagesSeenBy(bob, roomId), { timeout: 20_000 })
        .toContainEqual({ sender: alice.userId, body: fromHydrogen });
      await expect
        .poll(timeline, { timeout: 20_000 })
        .toContainEqual(expect.objectContaining({ sender: alice.userId, body: fromHydrogen }));

      // Bob answers from another client; Hydrogen's sync must render it.
      const reply = 'hi alice, bob here (not Hydrogen)';
      expect(
        (await call(p, bob, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t2`, { msgtype: 'm.text', body: reply }))
          .status,
      ).toBe(200);
      await expect.poll(timeline, { timeout: 30_000 }).toContainEqual(expect.objectContaining({ sender: bob.userId, body: reply }));
      const bodies = (await timeline()).map((m) => m.body);
      expect(bodies.indexOf(reply)).toBeGreaterThan(bodies.indexOf(fromHydrogen));

      const screenshot = join(SCREENSHOTS, 'hydrogen-room.png');
      await page.screenshot({ path: screenshot });
      console.log(`Hydrogen screenshot: ${screenshot}`);
      if (seen.length) console.log(`Hydrogen's browser reported (not fatal):\n  ${seen.join('\n  ')}`);
    } catch (err) {
      const screenshot = join(SCREENSHOTS, 'hydrogen-failure.png');
      await page.screenshot({ path: screenshot }).catch(() => undefined);
      console.error(`Hydrogen test failed; screenshot: ${screenshot}\nBrowser log:\n  ${seen.join('\n  ') || '(nothing)'}`);
      throw err;
    }
  });
});
