import type { RemoteUserId } from '../network/ids.js';
import type { FormattedText, TextEntity } from '../network/message-content.js';
import { unescapeHtml } from './html-escape.js';

/** Maps a Matrix user id from a pill back to a remote user (ghosts, and the login's own user). */
export type PillResolver = (mxid: string) => RemoteUserId | undefined;

/** An entity without its span (distributed over the union so each kind keeps its fields). */
type EntityShape = TextEntity extends infer T ? (T extends TextEntity ? Omit<T, 'offset' | 'length'> : never) : never;
type Open = { tag: string; start: number; entity?: EntityShape };

const VOID = new Set(['br', 'hr', 'img', 'meta', 'link', 'input', 'wbr', 'source']);
const BLOCK = new Set(['p', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'ul', 'ol', 'li', 'table', 'tr']);
/** Content never shown: the reply fallback (a copy of the quoted message) and anything executable. */
const DROP = new Set(['mx-reply', 'script', 'style', 'head', 'title']);

/**
 * Matrix `org.matrix.custom.html` -> network text with entities (UTF-16 offsets). A small
 * tolerant tokenizer, not a full HTML parser: unknown tags keep their text, unclosed tags are
 * closed at the end, stray closing tags are ignored, and text is unescaped exactly once.
 * Newlines in text nodes are layout (as in mautrix's parser); <br> and block ends make the lines.
 */
export function htmlToEntities(html: string, pill: PillResolver): FormattedText {
  let text = '';
  const entities: TextEntity[] = [];
  const stack: Open[] = [];
  let dropDepth = 0;
  let preDepth = 0;
  const newline = () => {
    if (text.length && !text.endsWith('\n')) text += '\n';
  };

  const tokens = /<!--[\s\S]*?-->|<\/?([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|([^<]+|<)/g;
  for (let m = tokens.exec(html); m; m = tokens.exec(html)) {
    const [whole, rawName, attrText, textPart] = m;
    if (textPart !== undefined) {
      if (dropDepth) continue;
      let t = unescapeHtml(textPart);
      if (!preDepth) t = t.replace(/\n/g, '');
      text += t;
      continue;
    }
    if (!rawName) continue; // comment
    const tag = rawName.toLowerCase();
    const closing = whole.startsWith('</');
    if (DROP.has(tag)) {
      if (closing) dropDepth = Math.max(0, dropDepth - 1);
      else if (!whole.endsWith('/>')) dropDepth++;
      continue;
    }
    if (dropDepth) continue;
    if (!closing) {
      const attrs = parseAttrs(attrText ?? '');
      if (tag === 'br') {
        text += '\n';
        continue;
      }
      if (tag === 'img') {
        text += attrs.alt ?? attrs.title ?? '';
        continue;
      }
      if (VOID.has(tag)) continue;
      if (BLOCK.has(tag)) newline();
      if (tag === 'li') text += '• ';
      if (tag === 'pre') preDepth++;
      stack.push({ tag, start: text.length, entity: entityFor(tag, attrs, stack, pill) });
      continue;
    }
    // A closing tag closes the nearest open tag of that name and everything opened after it.
    const at = stack.map((o) => o.tag).lastIndexOf(tag);
    if (at < 0) continue;
    while (stack.length > at) close(stack.pop()!);
  }
  while (stack.length) close(stack.pop()!);

  function close(o: Open): void {
    if (o.tag === 'pre') preDepth = Math.max(0, preDepth - 1);
    if (o.entity && text.length > o.start) entities.push({ ...o.entity, offset: o.start, length: text.length - o.start } as TextEntity);
    if (BLOCK.has(o.tag)) newline();
  }

  // Trailing newlines from closing blocks are layout, not content.
  const trimmed = text.replace(/\n+$/, '');
  const kept = entities
    .map((e) => ({ ...e, length: Math.min(e.length, trimmed.length - e.offset) }))
    .filter((e) => e.length > 0)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  return kept.length ? { text: trimmed, entities: kept } : { text: trimmed };
}

function entityFor(tag: string, attrs: Record<string, string>, stack: Open[], pill: PillResolver): Open['entity'] {
  switch (tag) {
    case 'b':
    case 'strong':
    case 'h1':
    case 'h2':
    case 'h3':
    case 'h4':
    case 'h5':
    case 'h6':
      return { type: 'bold' };
    case 'i':
    case 'em':
      return { type: 'italic' };
    case 'u':
      return { type: 'underline' };
    case 'del':
    case 's':
    case 'strike':
      return { type: 'strikethrough' };
    case 'blockquote':
      return { type: 'blockquote' };
    case 'span':
      return 'data-mx-spoiler' in attrs ? { type: 'spoiler' } : undefined;
    case 'pre':
      return { type: 'pre' };
    case 'code': {
      // <pre><code class="language-x">: the language goes on the enclosing pre entity.
      const pre = stack[stack.length - 1];
      if (pre?.tag === 'pre' && pre.entity?.type === 'pre') {
        const lang = /(?:^|\s)language-([\w+#.-]+)/.exec(attrs.class ?? '')?.[1];
        if (lang) pre.entity = { type: 'pre', language: lang };
        return undefined;
      }
      return { type: 'code' };
    }
    case 'a': {
      const href = attrs.href ?? '';
      const m = /^https:\/\/matrix\.to\/#\/([^/?]+)/.exec(href);
      if (m) {
        let target = m[1]!;
        try {
          target = decodeURIComponent(target);
        } catch {
          /* malformed escapes: keep it as written */
        }
        const userId = target.startsWith('@') ? pill(target) : undefined;
        if (userId) return { type: 'mention', userId };
      }
      return href && /^(https?|mailto|tel):/i.test(href) ? { type: 'link', url: href } : undefined;
    }
    default:
      return undefined;
  }
}

function parseAttrs(s: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m = re.exec(s); m; m = re.exec(s)) attrs[m[1]!.toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  return attrs;
}
