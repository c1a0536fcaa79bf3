/**
 * OpenGraph metadata of an HTML page, for URL previews. A tolerant tag scanner rather than a full
 * HTML parser: previews only need `<meta>` tags and `<title>`, which sit in the document head, and
 * a scanner cannot be made to build a huge DOM. Values are entity-decoded, whitespace-collapsed and
 * length-capped.
 *
 * Result keys are the `og:*` properties found (first occurrence wins), with fallbacks as in
 * Synapse: `og:title` from `<title>`, `og:description` from `<meta name="description">`, and
 * `og:image` from `twitter:image` or `<link rel="image_src">`, else the page's largest `<img>`
 * whose declared size is over 10x10 (else its first `<img>`), else its icon (`<link rel="icon">`).
 * Relative image URLs are resolved against the page's URL.
 */
export function extractOpenGraph(html: string, pageUrl: URL): Record<string, string> {
  const og: Record<string, string> = {};
  const named: Record<string, string> = {};
  let imageSrc: string | undefined;
  let icon: string | undefined;
  const images: { src: string; area: number }[] = [];

  for (const m of html.matchAll(/<(meta|link|img)\b([^>]*)>/gi)) {
    const attrs = parseAttributes(m[2]!);
    const tag = m[1]!.toLowerCase();
    if (tag === 'img') {
      if (attrs.src && images.length < 200) images.push({ src: attrs.src, area: declaredArea(attrs) });
      continue;
    }
    if (tag === 'link') {
      if (/(^|\s)image_src(\s|$)/i.test(attrs.rel ?? '') && attrs.href) imageSrc ??= attrs.href;
      if (/(^|\s)icon(\s|$)/i.test(attrs.rel ?? '') && attrs.href) icon ??= attrs.href;
      continue;
    }
    const content = attrs.content;
    if (content === undefined) continue;
    const property = (attrs.property ?? '').toLowerCase();
    const name = (attrs.name ?? '').toLowerCase();
    if (property.startsWith('og:') && !(property in og)) og[property] = clean(content, property === 'og:description' ? 500 : 1000);
    if (name && !(name in named)) named[name] = clean(content, 1000);
  }

  if (!og['og:title']) {
    const title = /<title\b[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
    const text = title === undefined ? '' : clean(title, 1000);
    if (text) og['og:title'] = text;
    else delete og['og:title'];
  }
  if (!og['og:description']) {
    const description = named.description ?? named['twitter:description'];
    if (description) og['og:description'] = clean(description, 500);
    else delete og['og:description'];
  }
  const image =
    og['og:image'] || og['og:image:url'] || og['og:image:secure_url'] || named['twitter:image'] || imageSrc || bodyImage(images) || icon;
  delete og['og:image'];
  if (image) {
    const resolved = resolveHttpUrl(decodeEntities(image).trim(), pageUrl);
    if (resolved) og['og:image'] = resolved;
  }
  return og;
}

/** Synapse's choice among a page's `<img>` tags: the largest declared size over 10x10 (first wins ties), else the first one. */
function bodyImage(images: { src: string; area: number }[]): string | undefined {
  let best: { src: string; area: number } | undefined;
  for (const img of images) if (img.area > 0 && (!best || img.area > best.area)) best = img;
  return (best ?? images[0])?.src;
}

/** width x height when both are declared as numbers over 10 (tracking pixels and spacers are 1x1), else 0. */
function declaredArea(attrs: Record<string, string>): number {
  const w = Number.parseInt(attrs.width ?? '', 10);
  const h = Number.parseInt(attrs.height ?? '', 10);
  return w > 10 && h > 10 ? w * h : 0;
}

/** The charset an HTML document declares in a `<meta charset>` or http-equiv tag, if any. */
export function declaredCharset(head: string): string | undefined {
  const m = /<meta\b[^>]*charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)/i.exec(head);
  return m?.[1];
}

function resolveHttpUrl(value: string, base: URL): string | undefined {
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function parseAttributes(text: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of text.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    const key = m[1]!.toLowerCase();
    if (!(key in attrs)) attrs[key] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

function clean(value: string, max: number): string {
  const text = decodeEntities(value.replace(/<[^>]*>/g, ''))
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#39': "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (whole, ref: string) => {
    const lower = ref.toLowerCase();
    if (lower.startsWith('#')) {
      const code = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[lower] ?? whole;
  });
}
