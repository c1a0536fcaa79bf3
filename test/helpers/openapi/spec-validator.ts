import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { bestMatches, buildRouteIndex, matchPath, normalizeRequestPath, type RouteEntry, type RouteMatch } from './route-index.js';
import { createAjv, formatAjvErrors, toAjvSchema } from './schema.js';
import { SyncDereferencer } from './sync-deref.js';

/**
 * Validates homeserver HTTP responses against the OpenAPI definitions of the Matrix spec vendored
 * in test/matrix-spec.
 *
 *   const spec = await specValidator();   // once per test file; cached per process
 *   spec.assertResponse('GET', '/_matrix/client/v3/rooms/!r:test/messages?dir=b', 200, res.body);
 *
 * Cost model: `specValidator()` only scans the yaml files for their paths (a few ms). A spec file
 * is dereferenced the first time one of its operations is validated (~5-50 ms, in a worker thread,
 * see sync-deref.ts), and each (operation, status) response schema is compiled once.
 */

export interface SpecOperation {
  operationId: string;
  /** Spec file relative to the spec root, e.g. `api/client-server/room_send.yaml`. */
  file: string;
  /** Full path template, e.g. `/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`. */
  pathTemplate: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Decoded path parameters of the concrete URL, e.g. `{ roomId: '!r:x', ... }`. */
  params: Record<string, string>;
  /**
   * Other operations the spec documents for the same method and path (rare: POST .../invite is both
   * inviteUser and inviteBy3PID, GET /events is both getEvents and peekEvents). A response is
   * accepted if it matches any of them.
   */
  alternatives: { operationId: string; file: string }[];
}

export type SpecValidationResult =
  | {
      ok: true;
      operation: SpecOperation;
      /** The `responses` key used (`"200"`, or `"4XX"` / `"default"` when that is what the spec has). */
      responseKey: string;
      /** False when the documented response has no JSON schema (only the status was checked). */
      bodyChecked: boolean;
    }
  | {
      ok: false;
      kind: 'unknown-operation' | 'undocumented-status' | 'body-mismatch';
      operation?: SpecOperation;
      /** Ajv errors, one per line (body mismatches only). */
      errors: string[];
      /** Complete human-readable explanation. */
      message: string;
    };

export interface SpecValidator {
  /** The spec operation for a concrete request, or undefined. Query strings are ignored; r0 maps to v3. */
  findOperation(method: string, url: string): SpecOperation | undefined;
  /** Throws a {@link SpecResponseError} unless `status` is documented and `body` matches its schema. */
  assertResponse(method: string, url: string, status: number | string, body: unknown): void;
  /** Same checks as assertResponse, returned instead of thrown. */
  validateResponse(method: string, url: string, status: number | string, body: unknown): SpecValidationResult;
  /** Documented response statuses (keys of `responses`) of the operation; throws for an unknown operation. */
  documentedStatuses(method: string, url: string): string[];
  /** Every operation of the loaded API directories (`params` is empty). */
  operations(): readonly SpecOperation[];
}

export interface SpecValidatorOptions {
  /** Directory holding `api/`, `event-schemas/`, ... Defaults to test/matrix-spec. */
  specRoot?: string;
  /** Sub-directories of `api/` to load. Defaults to every one (client-server, server-server, ...). */
  apiDirs?: readonly string[];
}

export class SpecResponseError extends Error {
  constructor(readonly result: Extract<SpecValidationResult, { ok: false }>) {
    super(result.message);
    this.name = 'SpecResponseError';
  }
}

const DEFAULT_SPEC_ROOT = fileURLToPath(new URL('../../matrix-spec/', import.meta.url));
const cache = new Map<string, Promise<SpecValidator>>();

/** The validator for the vendored spec; created once per process (per distinct options). */
export function specValidator(options: SpecValidatorOptions = {}): Promise<SpecValidator> {
  const specRoot = resolve(options.specRoot ?? DEFAULT_SPEC_ROOT);
  const apiDirs = [...(options.apiDirs ?? listApiDirs(specRoot))].sort();
  const key = JSON.stringify([specRoot, apiDirs]);
  let v = cache.get(key);
  if (!v) {
    v = Promise.resolve().then(() => new MatrixSpecValidator(specRoot, apiDirs));
    v.catch(() => cache.delete(key));
    cache.set(key, v);
  }
  return v;
}

function listApiDirs(specRoot: string): string[] {
  const api = join(specRoot, 'api');
  return readdirSync(api).filter((d) => statSync(join(api, d)).isDirectory());
}

const MAX_BODY_CHARS = 1500;

class MatrixSpecValidator implements SpecValidator {
  private readonly routes: RouteEntry[];
  private readonly docs = new Map<string, Record<string, unknown>>();
  /** null = documented response without a JSON schema. */
  private readonly validators = new Map<string, ValidateFunction | null>();
  private readonly deref = new SyncDereferencer();
  private readonly warned = new Set<string>();
  private readonly ajv = createAjv((msg) => {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    console.warn(`spec-validator: ${msg}`);
  });

  constructor(specRoot: string, apiDirs: readonly string[]) {
    this.routes = buildRouteIndex(specRoot, apiDirs);
  }

  operations(): readonly SpecOperation[] {
    return this.routes.map((r) => toOperation([{ route: r, params: {} }]));
  }

  findOperation(method: string, url: string): SpecOperation | undefined {
    const found = this.find(method, url);
    return found.length ? toOperation(found) : undefined;
  }

  documentedStatuses(method: string, url: string): string[] {
    const found = this.find(method, url);
    if (!found.length) throw new SpecResponseError(this.unknownOperation(method, url));
    return [...new Set(found.flatMap((m) => Object.keys(this.responsesOf(m.route))))];
  }

  assertResponse(method: string, url: string, status: number | string, body: unknown): void {
    const result = this.validateResponse(method, url, status, body);
    if (!result.ok) throw new SpecResponseError(result);
  }

  validateResponse(method: string, url: string, status: number | string, body: unknown): SpecValidationResult {
    const found = this.find(method, url);
    if (!found.length) return this.unknownOperation(method, url);
    const request = `  request: ${method.toUpperCase()} ${url}\n`;

    const documenting = found.flatMap((match) => {
      const responses = this.responsesOf(match.route);
      const responseKey = pickResponseKey(responses, String(status));
      return responseKey === undefined ? [] : [{ match, responseKey, response: responses[responseKey] }];
    });
    if (!documenting.length) {
      const operation = toOperation(found);
      return {
        ok: false,
        kind: 'undocumented-status',
        operation,
        errors: [],
        message:
          `HTTP ${status} is not a documented response of ${describe(operation)}.\n` +
          request +
          `  documented statuses: ${this.documentedStatuses(method, url).join(', ') || '(none)'}\n` +
          `  body: ${preview(body)}`,
      };
    }

    const failures: { operation: SpecOperation; responseKey: string; errors: string[] }[] = [];
    for (const { match, responseKey, response } of documenting) {
      const operation = toOperation([match, ...found.filter((m) => m !== match)]);
      const validate = this.validatorFor(match.route, responseKey, response);
      if (!validate) return { ok: true, operation, responseKey, bodyChecked: false };
      if (validate(body)) return { ok: true, operation, responseKey, bodyChecked: true };
      failures.push({ operation, responseKey, errors: formatAjvErrors(validate.errors ?? []) });
    }
    const first = failures[0]!;
    const errors = failures.length === 1 ? first.errors : failures.flatMap((f) => f.errors.map((e) => `[${f.operation.operationId}] ${e}`));
    const what =
      failures.length === 1
        ? `${describe(first.operation)}, status ${first.responseKey}`
        : `any of: ${failures.map((f) => `${describe(f.operation)}, status ${f.responseKey}`).join('; ')}`;
    return {
      ok: false,
      kind: 'body-mismatch',
      operation: first.operation,
      errors,
      message:
        `Response body does not match the spec for ${what}.\n` +
        request +
        `  errors:\n${errors.map((e) => `    - ${e}`).join('\n')}\n` +
        `  body: ${preview(body)}`,
    };
  }

  // --- internals -------------------------------------------------------------------------------

  /** Best matches for the method (normally exactly one; empty when unknown). */
  private find(method: string, url: string): RouteMatch[] {
    const m = method.toLowerCase();
    const { segments } = normalizeRequestPath(url);
    return bestMatches(
      this.routes.filter((r) => r.method === m),
      segments,
    );
  }

  private unknownOperation(method: string, url: string): Extract<SpecValidationResult, { ok: false }> {
    const { path, segments } = normalizeRequestPath(url);
    const samePath = matchPath(this.routes, segments);
    let hint: string;
    if (samePath.length > 0) {
      const byTemplate = new Map<string, string[]>();
      for (const { route } of samePath) {
        const list = byTemplate.get(route.pathTemplate) ?? [];
        list.push(`${route.method.toUpperCase()} (${route.operationId})`);
        byTemplate.set(route.pathTemplate, list);
      }
      hint = [...byTemplate].map(([tpl, ms]) => `  ${tpl} documents only: ${ms.join(', ')}`).join('\n');
    } else {
      const near = this.nearestTemplates(segments);
      hint = near.length ? `  closest path templates:\n${near.map((t) => `    ${t}`).join('\n')}` : '  no similar path template';
    }
    return {
      ok: false,
      kind: 'unknown-operation',
      errors: [],
      message: `No operation of the Matrix spec matches ${method.toUpperCase()} ${url} (path ${path}).\n${hint}`,
    };
  }

  /** Templates sharing the longest matching prefix with the requested path (for error messages). */
  private nearestTemplates(segs: readonly string[]): string[] {
    let best = 0;
    let out = new Set<string>();
    for (const r of this.routes) {
      let n = 0;
      while (n < segs.length && n < r.segments.length) {
        const t = r.segments[n]!;
        if (t.kind === 'literal' ? t.text !== segs[n] : segs[n] === '') break;
        n++;
      }
      if (n > best) {
        best = n;
        out = new Set();
      }
      if (n === best && n > 0) out.add(`${r.method.toUpperCase()} ${r.pathTemplate}`);
    }
    return [...out].slice(0, 8);
  }

  private document(route: RouteEntry): Record<string, unknown> {
    let doc = this.docs.get(route.absFile);
    if (!doc) {
      doc = this.deref.dereference(route.absFile);
      this.docs.set(route.absFile, doc);
    }
    return doc;
  }

  private responsesOf(route: RouteEntry): Record<string, unknown> {
    const doc = this.document(route);
    const op = getObject(getObject(getObject(doc, 'paths'), route.rawPath), route.method);
    const responses = getObject(op, 'responses');
    if (!responses) {
      throw new Error(
        `spec-validator: ${route.file} has no responses for ${route.method.toUpperCase()} ${route.rawPath} (route index out of sync with the file?)`,
      );
    }
    return responses;
  }

  private validatorFor(route: RouteEntry, responseKey: string, response: unknown): ValidateFunction | null {
    const key = `${route.file}\0${route.method}\0${route.rawPath}\0${responseKey}`;
    const cached = this.validators.get(key);
    if (cached !== undefined) return cached;
    const schema = jsonSchemaOf(response);
    let validate: ValidateFunction | null = null;
    if (schema !== undefined) {
      try {
        validate = this.ajv.compile(toAjvSchema(schema) as object);
      } catch (e) {
        throw new Error(
          `spec-validator: cannot compile the ${responseKey} response schema of ${route.operationId} (${route.file}): ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    this.validators.set(key, validate);
    return validate;
  }
}

/** The first match is the operation; further (equally ranked) matches become its alternatives. */
function toOperation(matches: readonly RouteMatch[]): SpecOperation {
  const [{ route, params }, ...rest] = matches as [RouteMatch, ...RouteMatch[]];
  return {
    operationId: route.operationId,
    file: route.file,
    pathTemplate: route.pathTemplate,
    method: route.method.toUpperCase(),
    params,
    alternatives: rest.map((m) => ({ operationId: m.route.operationId, file: m.route.file })),
  };
}

function describe(op: SpecOperation): string {
  return `operation ${op.operationId} (${op.method} ${op.pathTemplate}, ${op.file})`;
}

function getObject(v: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const child = (v as Record<string, unknown>)[key];
  return typeof child === 'object' && child !== null && !Array.isArray(child) ? (child as Record<string, unknown>) : undefined;
}

/** Exact status first, then an OpenAPI range key (`4XX`), then `default`. */
function pickResponseKey(responses: Record<string, unknown>, status: string): string | undefined {
  if (status in responses) return status;
  const range = `${status[0]}XX`;
  for (const k of Object.keys(responses)) if (k.toUpperCase() === range) return k;
  return 'default' in responses ? 'default' : undefined;
}

/**
 * The JSON schema of a response object, if any. Responses without `content` (e.g. redirects) or
 * with only non-JSON content (media downloads, thumbnails) have none: only the status is checked.
 */
function jsonSchemaOf(response: unknown): unknown {
  const content = getObject(response, 'content');
  if (!content) return undefined;
  const key =
    'application/json' in content ? 'application/json' : Object.keys(content).find((k) => /^application\/([\w.-]+\+)?json\b/.test(k));
  if (key === undefined) return undefined;
  const media = getObject(content, key);
  return media && 'schema' in media ? media.schema : undefined;
}

function preview(body: unknown): string {
  let s: string;
  try {
    s = body === undefined ? 'undefined' : JSON.stringify(body);
  } catch {
    s = String(body);
  }
  return s.length > MAX_BODY_CHARS ? `${s.slice(0, MAX_BODY_CHARS)}... (${s.length} chars)` : s;
}
