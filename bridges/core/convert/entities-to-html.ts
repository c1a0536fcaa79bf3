import type { FormattedText, TextEntity } from '../network/message-content.js';
import type { RemoteUserId } from '../network/ids.js';
import { escapeHtml, isSafeUrl } from './html-escape.js';

/** How a remote mention becomes a Matrix pill: the ghost's (or the user's own) mxid and a display name. */
export type MentionResolver = (userId: RemoteUserId) => { mxid: string; name: string } | undefined;

export interface MatrixTextContent {
  body: string;
  format?: 'org.matrix.custom.html';
  formatted_body?: string;
  'm.mentions': { user_ids?: string[] };
}

/**
 * Network entities -> Matrix `org.matrix.custom.html`. Offsets are UTF-16 code units, which is how
 * JS strings index, so emoji and other astral characters need no special care. Entities nest;
 * one that crosses the end of an enclosing one is split at that end so the HTML stays well formed.
 * Every piece of network text is escaped; links with unsafe schemes are dropped to plain text.
 */
export function entitiesToMatrix(text: FormattedText, mention: MentionResolver): MatrixTextContent {
  const mentioned = new Set<string>();
  const entities = (text.entities ?? [])
    .filter((e) => e.length > 0 && e.offset >= 0 && e.offset < text.text.length)
    .map((e) => ({ ...e, length: Math.min(e.length, text.text.length - e.offset) }));
  const content: MatrixTextContent = { body: text.text, 'm.mentions': {} };
  if (entities.length) {
    const html = render(text.text, entities, 0, text.text.length, false, mention, mentioned);
    content.format = 'org.matrix.custom.html';
    content.formatted_body = html;
  }
  if (mentioned.size) content['m.mentions'] = { user_ids: [...mentioned] };
  return content;
}

function render(
  text: string,
  entities: TextEntity[],
  start: number,
  end: number,
  inPre: boolean,
  mention: MentionResolver,
  mentioned: Set<string>,
): string {
  // Outermost first: earlier start, then longer span.
  const queue = entities.filter((e) => e.offset >= start && e.offset < end).sort((a, b) => a.offset - b.offset || b.length - a.length);
  let out = '';
  let pos = start;
  while (queue.length) {
    const e = queue.shift()!;
    if (e.offset < pos) {
      // Started inside a span already rendered and runs past it: keep its remainder.
      const rest = e.offset + e.length - pos;
      if (rest > 0) insertSorted(queue, { ...e, offset: pos, length: rest });
      continue;
    }
    const eEnd = Math.min(e.offset + e.length, end);
    out += plain(text.slice(pos, e.offset), inPre);
    const inner: TextEntity[] = [];
    for (let i = 0; i < queue.length;) {
      const x = queue[i]!;
      if (x.offset >= eEnd) break;
      queue.splice(i, 1);
      const xEnd = x.offset + x.length;
      inner.push({ ...x, length: Math.min(xEnd, eEnd) - x.offset });
      if (xEnd > eEnd) insertSorted(queue, { ...x, offset: eEnd, length: xEnd - eEnd });
    }
    const pre = inPre || e.type === 'pre' || e.type === 'code';
    out += wrap(e, render(text, inner, e.offset, eEnd, pre, mention, mentioned), text.slice(e.offset, eEnd), mention, mentioned);
    pos = eEnd;
  }
  return out + plain(text.slice(pos, end), inPre);
}

function insertSorted(queue: TextEntity[], e: TextEntity): void {
  const i = queue.findIndex((x) => x.offset > e.offset || (x.offset === e.offset && x.length < e.length));
  if (i < 0) queue.push(e);
  else queue.splice(i, 0, e);
}

/** Escaped text; newlines become <br> outside code blocks. */
function plain(s: string, inPre: boolean): string {
  const escaped = escapeHtml(s);
  return inPre ? escaped : escaped.replace(/\n/g, '<br>');
}

function wrap(e: TextEntity, inner: string, raw: string, mention: MentionResolver, mentioned: Set<string>): string {
  switch (e.type) {
    case 'bold':
      return `<strong>${inner}</strong>`;
    case 'italic':
      return `<em>${inner}</em>`;
    case 'underline':
      return `<u>${inner}</u>`;
    case 'strikethrough':
      return `<del>${inner}</del>`;
    case 'spoiler':
      return `<span data-mx-spoiler>${inner}</span>`;
    case 'code':
      return `<code>${inner}</code>`;
    case 'pre':
      return e.language && /^[\w+#.-]+$/.test(e.language)
        ? `<pre><code class="language-${e.language}">${inner}</code></pre>`
        : `<pre><code>${inner}</code></pre>`;
    case 'blockquote':
      return `<blockquote>${inner}</blockquote>`;
    case 'link':
      return isSafeUrl(e.url) ? `<a href="${escapeHtml(e.url)}">${inner}</a>` : inner;
    case 'mention': {
      const target = mention(e.userId);
      if (!target) return inner;
      mentioned.add(target.mxid);
      return `<a href="https://matrix.to/#/${escapeHtml(encodeURIComponent(target.mxid).replace(/%40/g, '@').replace(/%3A/g, ':'))}">${escapeHtml(raw)}</a>`;
    }
  }
}
