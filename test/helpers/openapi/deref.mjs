// Plain JS (not TS) because it is also loaded by deref-worker.mjs, which runs in a bare
// worker thread outside vitest's TypeScript transform. Types: deref.d.mts.
import $RefParser from '@apidevtools/json-schema-ref-parser';
import YAML from 'yaml';

/**
 * YAML parser plugin for json-schema-ref-parser.
 *
 * The parser bundled with ref-parser (js-yaml 5) rejects nearly every file of the Matrix spec with
 * "deficient indentation": the spec writes examples as JSON flow mappings whose closing `}` sits at
 * the indentation of the parent key, e.g.
 *
 *     example: {
 *       "reason": "..."
 *     }
 *
 * The `yaml` package accepts these (as PyYAML, which the spec's own tooling uses, does).
 * YAML 1.2 core schema, like ref-parser's default: `yes`/`on` stay strings, no timestamps.
 */
export const yamlParserPlugin = {
  order: 100,
  allowEmpty: true,
  canParse: ['.yaml', '.yml'],
  parse(file) {
    const text = Buffer.isBuffer(file.data) ? file.data.toString('utf8') : file.data;
    if (typeof text !== 'string') return text;
    return YAML.parse(text);
  },
};

/**
 * Fully dereferences one spec file (relative `$ref`s resolve against its own location). Shared
 * targets stay shared JS objects; the Matrix spec has no circular refs, but if one appeared it would
 * become an object cycle (spec-validator's schema conversion cuts cycles).
 */
export async function dereferenceSpecFile(absPath) {
  const parser = new $RefParser();
  return parser.dereference(absPath, {
    parse: { yaml: yamlParserPlugin },
    resolve: { http: false },
    dereference: { circular: true },
  });
}
