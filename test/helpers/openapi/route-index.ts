import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

/** One operation of the spec, as found in a `paths` section. */
export interface RouteEntry {
  /** Lower-case HTTP method. */
  method: string;
  /** basePath + paths key, e.g. `/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`. */
  pathTemplate: string;
  /** The key under `paths` in the yaml file, verbatim (may end with a disambiguating space). */
  rawPath: string;
  /** Default of the `basePath` server variable, e.g. `/_matrix/client/v3`. */
  basePath: string;
  /** `operationId`, or `"<METHOD> <pathTemplate>"` if the spec gives none. */
  operationId: string;
  /** Spec file relative to the spec root, posix separators: `api/client-server/room_send.yaml`. */
  file: string;
  /** Absolute path of the spec file. */
  absFile: string;
  /** Decoded template segments (without the leading empty one). */
  segments: readonly TemplateSegment[];
}

type TemplateSegment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string }
  /** A segment mixing literal text and parameters, e.g. `{name}.json` (none in v1.19, kept for safety). */
  | { kind: 'pattern'; regex: RegExp; names: string[] };

/**
 * Path parameters that may be empty, in which case the trailing slash is optional too.
 * The spec says so in prose only (rooms.yaml / room_state.yaml, `stateKey`: "When an empty string,
 * the trailing slash on this endpoint is optional"), so this is kept as an explicit list.
 */
const OPTIONAL_TRAILING_PARAMS = new Set(['stateKey']);

/**
 * Builds the route table by *scanning* the yaml files line by line instead of parsing them: parsing
 * all ~110 top-level API files with a YAML parser costs ~0.8 s per process, scanning costs a few ms.
 * The spec files are machine-formatted (2-space indentation, `paths:` / `servers:` top-level keys),
 * and a unit test cross-checks this scanner against a real YAML parse of every file.
 */
export function buildRouteIndex(specRoot: string, apiDirs: readonly string[]): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const dir of apiDirs) {
    const absDir = join(specRoot, 'api', dir);
    const files = readdirSync(absDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    for (const f of files) {
      const absFile = join(absDir, f);
      routes.push(...scanApiFile(readFileSync(absFile, 'utf8'), `api/${dir}/${f}`, absFile));
    }
  }
  return routes;
}

export interface ScannedOperation {
  method: string;
  rawPath: string;
  operationId: string | undefined;
}

/** Extracts `basePath` default and `(method, path, operationId)` triples from one OpenAPI yaml text. */
export function scanApiText(text: string): { basePath: string; operations: ScannedOperation[] } {
  let section = '';
  let basePath = '';
  let inBasePathVar = false;
  let currentPath: string | undefined;
  let current: ScannedOperation | undefined;
  const operations: ScannedOperation[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || /^\s*#/.test(line)) continue;
    const top = /^([A-Za-z_$][\w$-]*):/.exec(line);
    if (top) {
      section = top[1]!;
      currentPath = undefined;
      current = undefined;
      continue;
    }
    if (section === 'servers') {
      if (/^\s+basePath:\s*$/.test(line)) inBasePathVar = true;
      else if (inBasePathVar) {
        const d = /^\s+default:\s*["']?([^"'\s]+)["']?\s*$/.exec(line);
        if (d) {
          basePath = d[1]!;
          inBasePathVar = false;
        }
      }
      continue;
    }
    if (section !== 'paths') continue;
    const pathKey = /^ {2}(?:"([^"]+)"|'([^']+)'|(\/[^\s:]*)):\s*$/.exec(line);
    if (pathKey) {
      currentPath = pathKey[1] ?? pathKey[2] ?? pathKey[3];
      current = undefined;
      continue;
    }
    const method = /^ {4}([a-z]+):\s*$/.exec(line);
    if (method) {
      current = undefined;
      if (currentPath !== undefined && (HTTP_METHODS as readonly string[]).includes(method[1]!)) {
        current = { method: method[1]!, rawPath: currentPath, operationId: undefined };
        operations.push(current);
      }
      continue;
    }
    const opId = /^ {6}operationId:\s*["']?([^"'\s]+)["']?\s*$/.exec(line);
    if (opId && current) current.operationId = opId[1];
  }
  return { basePath, operations };
}

function scanApiFile(text: string, file: string, absFile: string): RouteEntry[] {
  const { basePath, operations } = scanApiText(text);
  return operations.map((op) => {
    // trim(): the spec disambiguates two operations on one path with a trailing space in the key,
    // e.g. inviting.yaml's `"/rooms/{roomId}/invite "` next to third_party_membership.yaml's.
    const pathTemplate = joinPath(basePath, op.rawPath.trim());
    return {
      method: op.method,
      pathTemplate,
      rawPath: op.rawPath,
      basePath,
      operationId: op.operationId ?? `${op.method.toUpperCase()} ${pathTemplate}`,
      file,
      absFile,
      segments: pathTemplate.split('/').slice(1).map(parseTemplateSegment),
    };
  });
}

function joinPath(basePath: string, path: string): string {
  return `${basePath.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function parseTemplateSegment(seg: string): TemplateSegment {
  const whole = /^\{([^{}]+)\}$/.exec(seg);
  if (whole) return { kind: 'param', name: whole[1]! };
  if (!seg.includes('{')) return { kind: 'literal', text: seg };
  const names: string[] = [];
  const source = seg
    .split(/(\{[^{}]+\})/)
    .map((part) => {
      const p = /^\{([^{}]+)\}$/.exec(part);
      if (!p) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(p[1]!);
      return '(.+?)';
    })
    .join('');
  return { kind: 'pattern', regex: new RegExp(`^${source}$`), names };
}

/**
 * Turns a concrete request URL into decoded path segments:
 * - an absolute URL loses its origin, the query string is dropped;
 * - `#` is NOT treated as a fragment (a raw room alias like `#a:x` can appear in a test's path);
 * - legacy `r0` client/media paths are mapped onto the `v3` definitions;
 * - each segment is percent-decoded on its own, so `%2F` inside an id stays inside its segment.
 */
export function normalizeRequestPath(url: string): { path: string; segments: string[] } {
  let p = url.trim();
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(p);
  if (origin) p = p.slice(origin[0].length);
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  if (!p.startsWith('/')) p = `/${p}`;
  p = p.replace(/^\/_matrix\/(client|media)\/r0(?=\/|$)/, '/_matrix/$1/v3');
  const segments = p
    .split('/')
    .slice(1)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { path: p, segments };
}

export interface RouteMatch {
  route: RouteEntry;
  params: Record<string, string>;
}

/**
 * Matches decoded segments against one template. Returns a sortable score (lower is better):
 * per position 0 for a literal and 1 for a parameter (so literals win at the first position where
 * two candidates differ), then a penalty if an optional trailing parameter had to be omitted.
 */
function matchRoute(route: RouteEntry, segs: readonly string[]): { params: Record<string, string>; score: number[] } | undefined {
  const tpl = route.segments;
  let omitted = 0;
  if (segs.length !== tpl.length) {
    const last = tpl[tpl.length - 1];
    const canOmitLast = segs.length === tpl.length - 1 && last?.kind === 'param' && OPTIONAL_TRAILING_PARAMS.has(last.name);
    if (!canOmitLast) return undefined;
    omitted = 1;
  }
  const params: Record<string, string> = {};
  const score: number[] = [];
  for (let i = 0; i < tpl.length; i++) {
    const t = tpl[i]!;
    const s = segs[i];
    if (s === undefined) {
      // only reachable for the omitted optional trailing param
      if (t.kind === 'param') params[t.name] = '';
      score.push(1);
      continue;
    }
    if (t.kind === 'literal') {
      if (t.text !== s) return undefined;
      score.push(0);
    } else if (t.kind === 'param') {
      const mayBeEmpty = i === tpl.length - 1 && OPTIONAL_TRAILING_PARAMS.has(t.name);
      if (s === '' && !mayBeEmpty) return undefined;
      params[t.name] = s;
      score.push(1);
    } else {
      const m = t.regex.exec(s);
      if (!m) return undefined;
      t.names.forEach((name, j) => (params[name] = m[j + 1] ?? ''));
      score.push(0.5);
    }
  }
  score.push(omitted);
  return { params, score };
}

function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** All routes whose template matches the path (any method), best first. */
export function matchPath(routes: readonly RouteEntry[], segs: readonly string[]): RouteMatch[] {
  return rankedMatches(routes, segs).map((f) => f.m);
}

/**
 * The best-ranked matches only. Usually one; several when the spec documents the same method and
 * path twice (POST .../invite: inviteUser + inviteBy3PID; GET /events: getEvents + peekEvents).
 */
export function bestMatches(routes: readonly RouteEntry[], segs: readonly string[]): RouteMatch[] {
  const ranked = rankedMatches(routes, segs);
  const best = ranked[0];
  if (!best) return [];
  return ranked.filter((f) => compareScores(f.score, best.score) === 0).map((f) => f.m);
}

function rankedMatches(routes: readonly RouteEntry[], segs: readonly string[]): { m: RouteMatch; score: number[] }[] {
  const found: { m: RouteMatch; score: number[] }[] = [];
  for (const route of routes) {
    const r = matchRoute(route, segs);
    if (r) found.push({ m: { route, params: r.params }, score: r.score });
  }
  // Array.prototype.sort is stable: equal ranks keep file order (api dir, then file name).
  found.sort((a, b) => compareScores(a.score, b.score));
  return found;
}
