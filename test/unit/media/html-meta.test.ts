import { describe, expect, it } from 'vitest';
import { extractOpenGraph } from '../../../homeserver/services/media/html-meta.js';

const page = new URL('https://example.org/articles/one');
const og = (head: string, body = '') => extractOpenGraph(`<html><head>${head}</head><body>${body}</body></html>`, page);

describe('extractOpenGraph image fallbacks (as Synapse)', () => {
  it('og:image wins over everything else', () => {
    expect(
      og('<meta property="og:image" content="/og.png"><link rel="icon" href="/i.ico">', '<img src="/big.png" width="900" height="900">'),
    ).toMatchObject({
      'og:image': 'https://example.org/og.png',
    });
  });

  it('then twitter:image and <link rel="image_src">', () => {
    expect(og('<meta name="twitter:image" content="tw.png">', '<img src="/big.png">')['og:image']).toBe(
      'https://example.org/articles/tw.png',
    );
    expect(og('<link rel="image_src" href="//cdn.example.org/s.png">')['og:image']).toBe('https://cdn.example.org/s.png');
  });

  it('then the largest <img> declared over 10x10, skipping pixels and spacers', () => {
    const body =
      '<img src="/1x1.gif" width="1" height="1"><img src="/small.png" width="40" height="40"><img src="/large.png" width="300" height="200"><img src="/nosize.png">';
    expect(og('', body)['og:image']).toBe('https://example.org/large.png');
  });

  it('then the first <img> when none declares a usable size', () => {
    expect(og('', '<img src="/a.png"><img src="/b.png" width="5" height="500">')['og:image']).toBe('https://example.org/a.png');
  });

  it('then the page icon, and nothing when there is none or it is not http(s)', () => {
    expect(og('<link rel="shortcut icon" href="/favicon.ico">')['og:image']).toBe('https://example.org/favicon.ico');
    expect(og('<link rel="icon" href="data:image/png;base64,AAAA">')['og:image']).toBeUndefined();
    expect(og('<title>x</title>')['og:image']).toBeUndefined();
  });
});
