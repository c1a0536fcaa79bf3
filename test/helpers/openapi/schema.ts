import { Ajv2020, type ErrorObject, type Options as AjvOptions } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * OpenAPI schema -> Ajv schema conversion and the Ajv instance used for the Matrix spec.
 *
 * The v1.19 spec files are OpenAPI 3.1, i.e. their schemas are JSON Schema 2020-12 (several event
 * schemas even carry `$schema: https://json-schema.org/draft/2020-12/schema`), hence Ajv2020.
 * What still needs massaging:
 * - `example` (OpenAPI) and `examples` (JSON Schema annotation) are dropped: they are annotations,
 *   and the spec also uses `examples` in non-array forms that the meta-schema would reject;
 * - `x-*` extensions (`x-addedInMatrixVersion`, `x-changedInMatrixVersion`, `x-pattern-format`,
 *   `x-weight`, ...) are dropped;
 * - nested `$schema` keys (event schemas pulled in by `$ref`) are dropped: Ajv does not accept a
 *   `$schema` below the root of a resource;
 * - OpenAPI 3.0 leftovers, in case they reappear: `nullable: true` becomes a `"null"` type / enum
 *   member, `discriminator`/`xml`/`externalDocs` are dropped, a non-array `required` is dropped and
 *   an array-valued `items` becomes `prefixItems`.
 * Keywords are only interpreted where a *schema* is expected: the keys of `properties`,
 * `patternProperties`, ... are property names (the spec has properties called `format`, `type`,
 * `example`...) and `enum`/`const`/`default` values are copied verbatim.
 */

const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const SCHEMA_ARRAY_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_KEYWORDS = new Set([
  'additionalProperties',
  'items',
  'additionalItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
]);
const DROPPED_KEYWORDS = new Set(['example', 'examples', 'nullable', 'discriminator', 'xml', 'externalDocs', '$schema', '$comment']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns an Ajv-ready copy of an (already dereferenced) OpenAPI schema. Sub-schemas shared in the
 * input stay shared in the output. A circular reference (none in the v1.19 spec) is cut and
 * replaced by `true` (accept anything) since Ajv cannot compile an inline cycle.
 */
export function toAjvSchema(schema: unknown): unknown {
  const memo = new Map<object, unknown>();
  const inProgress = new Set<object>();

  const convert = (s: unknown): unknown => {
    if (!isPlainObject(s)) return s; // boolean schema (or garbage Ajv will report)
    if (memo.has(s)) return memo.get(s);
    if (inProgress.has(s)) return true;
    inProgress.add(s);
    let out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(s)) {
      if (key.startsWith('x-') || DROPPED_KEYWORDS.has(key)) continue;
      if (SCHEMA_MAP_KEYWORDS.has(key) && isPlainObject(value)) {
        out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, convert(sub)]));
      } else if (SCHEMA_ARRAY_KEYWORDS.has(key) && Array.isArray(value)) {
        out[key] = value.map(convert);
      } else if (key === 'items' && Array.isArray(value)) {
        out.prefixItems = value.map(convert); // draft-4 style tuple
      } else if (SCHEMA_KEYWORDS.has(key)) {
        out[key] = convert(value);
      } else if (key === 'required' && !Array.isArray(value)) {
        continue; // Swagger-2 style `required: true` on a property schema
      } else {
        out[key] = value;
      }
    }
    if (s.nullable === true) out = applyNullable(out);
    inProgress.delete(s);
    memo.set(s, out);
    return out;
  };

  return convert(schema);
}

function applyNullable(out: Record<string, unknown>): Record<string, unknown> {
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  if (Array.isArray(out.type)) return out.type.includes('null') ? out : { ...out, type: [...out.type, 'null'] };
  return { anyOf: [out, { type: 'null' }] };
}

/**
 * The Matrix-specific string formats of test/matrix-spec/string-formats.yaml.
 *
 * string-formats.yaml only gives (commented-out) sigil regexes: `^@`, `^\$`, `^!`, `^#`,
 * `^mxc:\/\/`, and none for server names and base64. The checks here follow the grammars of the
 * appendices they link to, still loose enough for every valid identifier:
 * - user IDs and room aliases need `sigil localpart ":" server_name`;
 * - room and event IDs only need the sigil and a non-empty rest: since room v3 event IDs, and since
 *   room v12 room IDs, have no server part;
 * - server names are `host[:port]` with host a DNS name, IPv4 or bracketed IPv6 literal;
 * - unpadded base64 is checked for its alphabet and the absence of `=` padding.
 * `uri` and `email` are standard formats, validated by ajv-formats (as is `int64`, `float`).
 */
export const MATRIX_STRING_FORMATS: Readonly<Record<string, RegExp>> = {
  'mx-user-id': /^@[^:]+:.+$/s,
  'mx-room-alias': /^#[^:]*:.+$/s,
  'mx-room-id': /^!.+$/s,
  'mx-event-id': /^\$.+$/s,
  'mx-server-name': /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::\d{1,5})?$/,
  'mx-mxc-uri': /^mxc:\/\/[^/]+\/[^/]+$/,
  'mx-unpadded-base64': /^[A-Za-z0-9+/]*$/,
  'mx-urlsafe-unpadded-base64': /^[A-Za-z0-9_-]*$/,
};

type AddFormats = (ajv: Ajv2020) => Ajv2020;
// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import is
// `module.exports`, while some loaders (vite) hand out `exports.default` directly.
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

export function createAjv(warn: (message: string) => void): Ajv2020 {
  const options: AjvOptions = {
    strict: false, // OpenAPI annotations such as `deprecated`/`readOnly` and any leftover unknown keyword
    allErrors: true, // report every mismatch, not only the first
    validateFormats: true,
    logger: {
      log: () => {},
      warn: (...args: unknown[]) => warn(args.map(String).join(' ')),
      error: (...args: unknown[]) => warn(args.map(String).join(' ')),
    },
  };
  const ajv = new Ajv2020(options);
  addFormats(ajv);
  for (const [name, regex] of Object.entries(MATRIX_STRING_FORMATS)) ajv.addFormat(name, regex);
  return ajv;
}

/** One line per Ajv error: `<instance path> <message> <relevant params>`. */
export function formatAjvErrors(errors: readonly ErrorObject[], max = 25): string[] {
  const lines: string[] = [];
  for (const e of errors) {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    let detail = '';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) detail = `: ${JSON.stringify(p.allowedValues)}`;
    else if (e.keyword === 'additionalProperties') detail = `: '${String(p.additionalProperty)}'`;
    else if (e.keyword === 'const') detail = `: ${JSON.stringify(p.allowedValue)}`;
    else if (e.keyword === 'propertyNames' || e.keyword === 'pattern') detail = ` (schema ${e.schemaPath})`;
    const line = `${where} ${e.message ?? e.keyword}${detail}`;
    if (!lines.includes(line)) lines.push(line);
  }
  if (lines.length > max) return [...lines.slice(0, max), `... and ${lines.length - max} more`];
  return lines;
}
