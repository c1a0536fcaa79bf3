/**
 * The few parts of hydrogen-view-sdk (0.3.x) that the Hydrogen e2e page uses. The package ships
 * .d.ts files but no `types` entry in its `exports`, so TypeScript cannot find them; its README
 * asks SDK users to declare the module themselves.
 */
declare module 'hydrogen-view-sdk' {
  export interface AssetPaths {
    downloadSandbox: string;
    worker: string;
    olm?: { wasm: string; legacyBundle: string; wasmBundle: string };
    serviceWorker?: string;
  }

  export interface Observable<T> {
    get(): T;
    subscribe(handler: (value: T) => void): () => void;
    waitFor(predicate: (value: T) => boolean): { promise: Promise<T> };
  }

  export class Platform {
    constructor(options: {
      container: HTMLElement;
      assetPaths: AssetPaths;
      config: Record<string, unknown>;
      options?: { development?: boolean };
    });
    init(): Promise<void>;
    setNavigation(navigation: Navigation): void;
    readonly history: unknown;
    readonly settingsStorage: unknown;
  }

  export const LoadStatus: {
    readonly NotLoading: string;
    readonly Login: string;
    readonly LoginFailed: string;
    readonly Loading: string;
    readonly SessionSetup: string;
    readonly FirstSync: string;
    readonly Error: string;
    readonly Ready: string;
  };

  export interface LoginMethod {
    readonly homeserver: string;
  }

  export interface LoginOptions {
    homeserver: string;
    password?: (username: string, password: string) => LoginMethod;
  }

  export interface Room {
    readonly id: string;
    readonly name: string | null;
  }

  export interface Session {
    readonly userId: string;
    readonly rooms: { get(roomId: string): Room | undefined };
  }

  export class Client {
    constructor(platform: Platform);
    queryLogin(homeserver: string): { result: Promise<LoginOptions>; abort(): void };
    startWithLogin(method: LoginMethod): Promise<void>;
    readonly loadStatus: Observable<string>;
    readonly loginFailure: string | null;
    readonly loadError: Error | null;
    readonly session: Session;
  }

  export interface Navigation {
    push(type: string, value?: unknown): void;
  }
  export function createNavigation(): Navigation;
  export function createRouter(options: { navigation: Navigation; history: unknown }): { attach(): void };

  export class FeatureSet {
    static load(settingsStorage: unknown): Promise<FeatureSet>;
  }

  export class ComposerViewModel {
    sendMessage(text: string): Promise<boolean>;
  }

  export class RoomViewModel {
    constructor(options: {
      room: Room;
      ownUserId: string;
      platform: Platform;
      urlRouter: unknown;
      navigation: Navigation;
      features: FeatureSet;
      session?: Session;
    });
    load(): Promise<void>;
    readonly timelineViewModel: unknown;
    readonly composerViewModel: ComposerViewModel | null;
  }

  export type ViewClassForTile = (tileViewModel: unknown) => unknown;
  export const viewClassForTile: ViewClassForTile;

  export interface MountableView {
    mount(): HTMLElement;
  }
  export class RoomView implements MountableView {
    constructor(viewModel: RoomViewModel, viewClassForTile: ViewClassForTile);
    mount(): HTMLElement;
  }
  export class TimelineView implements MountableView {
    constructor(timelineViewModel: unknown, viewClassForTile: ViewClassForTile);
    mount(): HTMLElement;
  }
}
