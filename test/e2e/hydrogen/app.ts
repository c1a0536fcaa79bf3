/**
 * Browser page for the Hydrogen e2e test: Hydrogen (hydrogen-view-sdk) logs in with a password,
 * finishes its first sync, then mounts the room view (header, timeline, composer) of one room.
 * Bundled by build.ts with esbuild; the query string carries `hs`, `user`, `password` and `room`.
 *
 * The test drives it through the DOM and `window.hydrogenTest` (see HydrogenTestApi).
 */
import {
  Client,
  FeatureSet,
  LoadStatus,
  Platform,
  RoomView,
  RoomViewModel,
  createNavigation,
  createRouter,
  viewClassForTile,
} from 'hydrogen-view-sdk';

export interface RenderedMessage {
  /** The sender's user id (from the tile's sender title; carried over continuation tiles). */
  sender: string | null;
  body: string;
  eventId: string | null;
}

export interface HydrogenTestApi {
  /** `starting` → Hydrogen LoadStatus values → `room-open` (or `failed` with `error`). */
  phase: string;
  error?: string;
  /** Text messages as Hydrogen rendered them, oldest first, read from the DOM. */
  timeline(): RenderedMessage[];
  /** Sends through the room's composer view model (the same path as pressing Enter in the composer). */
  sendText(text: string): Promise<boolean>;
}

declare global {
  interface Window {
    hydrogenTest: HydrogenTestApi;
  }
}

const assetPaths = {
  downloadSandbox: 'assets/download-sandbox.html',
  worker: 'assets/main.js',
  olm: { wasm: 'olm/olm.wasm', legacyBundle: 'olm/olm_legacy.js', wasmBundle: 'olm/olm.js' },
  serviceWorker: 'sw.js',
};

function renderedTimeline(root: ParentNode): RenderedMessage[] {
  const messages: RenderedMessage[] = [];
  let sender: string | null = null;
  for (const tile of Array.from(root.querySelectorAll<HTMLElement>('.Timeline_message'))) {
    const senderEl = tile.querySelector<HTMLElement>('.Timeline_messageSender');
    if (senderEl) sender = senderEl.title || senderEl.textContent;
    const bodyEl = tile.querySelector('.Timeline_messageBody');
    if (!bodyEl) continue;
    const body = bodyEl.cloneNode(true) as HTMLElement;
    body.querySelectorAll('time, .ReplyPreviewView').forEach((el) => el.remove());
    messages.push({ sender, body: (body.textContent ?? '').trim(), eventId: tile.dataset.eventId ?? null });
  }
  return messages;
}

async function main(api: HydrogenTestApi): Promise<void> {
  const params = new URLSearchParams(location.search);
  const need = (name: string): string => {
    const value = params.get(name);
    if (!value) throw new Error(`missing query parameter ${name}`);
    return value;
  };
  const homeserver = need('hs');
  const username = need('user');
  const password = need('password');
  const roomId = need('room');

  const container = document.getElementById('app')!;
  const platform = new Platform({ container, assetPaths, config: {}, options: { development: true } });
  const navigation = createNavigation();
  platform.setNavigation(navigation);
  await platform.init();
  const urlRouter = createRouter({ navigation, history: platform.history });
  urlRouter.attach();

  const client = new Client(platform);
  client.loadStatus.subscribe((status) => {
    api.phase = status;
  });
  const loginOptions = await client.queryLogin(homeserver).result;
  if (!loginOptions.password) throw new Error(`${homeserver} offers no password login`);
  void client.startWithLogin(loginOptions.password(username, password));
  await client.loadStatus.waitFor((s) => s === LoadStatus.Ready || s === LoadStatus.Error || s === LoadStatus.LoginFailed).promise;
  if (client.loginFailure) throw new Error(`login failed: ${client.loginFailure}`);
  if (client.loadError) throw new Error(`load failed: ${client.loadError.message}`);

  const { session } = client;
  const room = session.rooms.get(roomId);
  if (!room) throw new Error(`${roomId} is not among Hydrogen's rooms after the first sync`);
  const features = await FeatureSet.load(platform.settingsStorage);
  const vm = new RoomViewModel({ room, ownUserId: session.userId, platform, urlRouter, navigation, features, session });
  await vm.load();
  container.appendChild(new RoomView(vm, viewClassForTile).mount());

  api.sendText = async (text) => {
    if (!vm.composerViewModel) throw new Error('the room has no composer (no permission to send?)');
    return vm.composerViewModel.sendMessage(text);
  };
  api.phase = 'room-open';
}

const api: HydrogenTestApi = {
  phase: 'starting',
  timeline: () => renderedTimeline(document),
  sendText: async () => {
    throw new Error('the room is not open yet');
  },
};
window.hydrogenTest = api;
main(api).catch((err: unknown) => {
  api.phase = 'failed';
  api.error = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
  console.error('hydrogen e2e page failed:', err);
});
