import type { TSchema } from '@sinclair/typebox';
import { Kind, OptionalKind } from '@sinclair/typebox';
import YAML from 'yaml';

/**
 * Renders a schema as a commented YAML document: each key's description becomes a comment and its
 * default (or a commented-out placeholder for optional keys) the value. The output is what
 * `generate-config` writes, and a test checks that it loads back as a valid config.
 */
export function renderExampleConfig(schema: TSchema, header: string): string {
  const lines = header.split('\n').map((l) => `# ${l}`.trimEnd());
  renderObject(schema, 0, lines);
  return lines.join('\n') + '\n';
}

function renderObject(schema: TSchema, depth: number, out: string[]): void {
  const indent = '  '.repeat(depth);
  for (const [key, prop] of Object.entries((schema as { properties?: Record<string, TSchema> }).properties ?? {})) {
    if (prop.description) for (const line of wrap(prop.description)) out.push(`${indent}# ${line}`);
    const optional = prop[OptionalKind] === 'Optional';
    if (prop[Kind] === 'Object' && prop.properties && !optional) {
      out.push(`${indent}${key}:`);
      renderObject(prop, depth + 1, out);
      continue;
    }
    if (optional || prop.default === undefined) {
      out.push(`${indent}#${key}: `);
      continue;
    }
    const rendered = YAML.stringify({ [key]: prop.default })
      .trimEnd()
      .split('\n');
    for (const line of rendered) out.push(`${indent}${line}`);
  }
}

function wrap(text: string, width = 96): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
