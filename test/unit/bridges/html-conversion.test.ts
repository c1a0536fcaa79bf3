import { describe, expect, it } from 'vitest';
import { entitiesToMatrix } from '../../../bridges/core/convert/entities-to-html.js';
import { htmlToEntities } from '../../../bridges/core/convert/html-to-entities.js';
import { fromMatrix, stripReplyFallback } from '../../../bridges/core/convert/from-matrix.js';
import { editContent } from '../../../bridges/core/convert/to-matrix.js';
import type { RemoteUserId } from '../../../bridges/core/network/ids.js';
import type { TextEntity } from '../../../bridges/core/network/message-content.js';

const uid = (s: string) => s as RemoteUserId;
const mention = (id: RemoteUserId) => ({ mxid: `@net_${id}:example.org`, name: id });
const pill = (mxid: string) => (/^@net_(.+):example\.org$/.exec(mxid)?.[1] as RemoteUserId | undefined) ?? undefined;

describe('network entities -> Matrix HTML', () => {
  it('leaves plain text unformatted', () => {
    expect(entitiesToMatrix({ text: 'just <text> & more' }, mention)).toEqual({ body: 'just <text> & more', 'm.mentions': {} });
  });

  it('escapes every piece of network text, including inside entities and attributes', () => {
    const c = entitiesToMatrix(
      {
        text: '<script>alert("x")</script> & <b>',
        entities: [
          { type: 'bold', offset: 0, length: 8 },
          { type: 'link', offset: 30, length: 3, url: 'https://e.org/?a=1&b="2"' },
        ],
      },
      mention,
    );
    expect(c.formatted_body).toBe(
      '<strong>&lt;script&gt;</strong>alert(&quot;x&quot;)&lt;/script&gt; &amp; <a href="https://e.org/?a=1&amp;b=&quot;2&quot;">&lt;b&gt;</a>',
    );
  });

  it('drops links with unsafe schemes to plain text', () => {
    const c = entitiesToMatrix({ text: 'click', entities: [{ type: 'link', offset: 0, length: 5, url: 'javascript:alert(1)' }] }, mention);
    expect(c.formatted_body).toBe('click');
  });

  it('nests entities and splits one that crosses the end of another', () => {
    // "bold italic" where bold covers 0..9 and italic 5..11: italic is split at the bold's end.
    const c = entitiesToMatrix(
      {
        text: 'bold italic',
        entities: [
          { type: 'bold', offset: 0, length: 9 },
          { type: 'italic', offset: 5, length: 6 },
        ],
      },
      mention,
    );
    expect(c.formatted_body).toBe('<strong>bold <em>ital</em></strong><em>ic</em>');
  });

  it('counts offsets in UTF-16 code units around emoji', () => {
    const text = '👋🏽 hi 🇫🇮 bold';
    const offset = text.indexOf('bold'); // 12: the flag and the skin tone are surrogate pairs
    const c = entitiesToMatrix({ text, entities: [{ type: 'bold', offset, length: 4 }] }, mention);
    expect(c.formatted_body).toBe('👋🏽 hi 🇫🇮 <strong>bold</strong>');
  });

  it('turns mentions into matrix.to pills and m.mentions', () => {
    const c = entitiesToMatrix({ text: 'hi @bob!', entities: [{ type: 'mention', offset: 3, length: 4, userId: uid('u2') }] }, mention);
    expect(c.formatted_body).toBe('hi <a href="https://matrix.to/#/@net_u2:example.org">@bob</a>!');
    expect(c['m.mentions']).toEqual({ user_ids: ['@net_u2:example.org'] });
  });

  it('renders code and pre blocks without <br> and with a language class', () => {
    const text = 'see\nline1\nline2';
    const c = entitiesToMatrix({ text, entities: [{ type: 'pre', offset: 4, length: 11, language: 'ts' }] }, mention);
    expect(c.formatted_body).toBe('see<br><pre><code class="language-ts">line1\nline2</code></pre>');
    const odd = entitiesToMatrix({ text: 'x', entities: [{ type: 'pre', offset: 0, length: 1, language: '"><script>' }] }, mention);
    expect(odd.formatted_body).toBe('<pre><code>x</code></pre>');
  });
});

describe('Matrix HTML -> network entities', () => {
  it('parses nested formatting with correct offsets', () => {
    const r = htmlToEntities('<b>bold <i>both</i></b> plain <code>x&lt;y</code>', pill);
    expect(r.text).toBe('bold both plain x<y');
    expect(r.entities).toEqual<TextEntity[]>([
      { type: 'bold', offset: 0, length: 9 },
      { type: 'italic', offset: 5, length: 4 },
      { type: 'code', offset: 16, length: 3 },
    ]);
  });

  it('maps pills back to remote users and other links to links', () => {
    const r = htmlToEntities(
      'hi <a href="https://matrix.to/#/%40net_u7%3Aexample.org">Bob</a>, see <a href="https://e.org">this</a>',
      pill,
    );
    expect(r.text).toBe('hi Bob, see this');
    expect(r.entities).toEqual([
      { type: 'mention', offset: 3, length: 3, userId: 'u7' },
      { type: 'link', offset: 12, length: 4, url: 'https://e.org' },
    ]);
  });

  it('drops the reply fallback, scripts and unsafe links, and keeps text of unknown tags', () => {
    const r = htmlToEntities(
      '<mx-reply><blockquote>quoted <b>old</b></blockquote></mx-reply>new <script>evil()</script><a href="javascript:x">link</a> <marquee>ok</marquee>',
      pill,
    );
    expect(r).toEqual({ text: 'new link ok' });
  });

  it('tolerates broken HTML: unclosed and stray tags', () => {
    expect(htmlToEntities('a</i><b>b', pill)).toEqual({ text: 'ab', entities: [{ type: 'bold', offset: 1, length: 1 }] });
    expect(htmlToEntities('<b>x<i>y</b>z', pill)).toEqual({
      text: 'xyz',
      entities: [
        { type: 'bold', offset: 0, length: 2 },
        { type: 'italic', offset: 1, length: 1 },
      ],
    });
  });

  it('makes lines from <br> and blocks, and keeps pre text verbatim with its language', () => {
    const r = htmlToEntities('<p>one</p><p>two<br>three</p><pre><code class="language-py">a\n  b</code></pre>', pill);
    expect(r.text).toBe('one\ntwo\nthree\na\n  b');
    expect(r.entities).toEqual([{ type: 'pre', offset: 14, length: 5, language: 'py' }]);
  });

  it('keeps emoji offsets in UTF-16 code units', () => {
    const r = htmlToEntities('🎉🎉 <b>yay</b>', pill);
    expect(r.entities).toEqual([{ type: 'bold', offset: 5, length: 3 }]);
    expect(r.text.slice(5, 8)).toBe('yay');
  });

  it('decodes entities exactly once', () => {
    expect(htmlToEntities('&amp;lt; &#x1F600; &#128512; &bogus;', pill).text).toBe('&lt; 😀 😀 &bogus;');
  });

  it('round-trips formatted text', () => {
    const original = {
      text: 'Hello @bob, *look*: code & <tags>',
      entities: [
        { type: 'mention', offset: 6, length: 4, userId: uid('u2') },
        { type: 'bold', offset: 12, length: 6 },
        { type: 'code', offset: 20, length: 4 },
      ] as TextEntity[],
    };
    const html = entitiesToMatrix(original, mention).formatted_body!;
    expect(htmlToEntities(html, pill)).toEqual(original);
  });
});

describe('Matrix content -> network content', () => {
  const deps = { pill, openMxc: async () => undefined as never };

  it('strips the plain-text reply fallback', () => {
    expect(stripReplyFallback('> <@a:b> quoted\n> more\n\nreal text', true)).toBe('real text');
    expect(stripReplyFallback('> not a reply', false)).toBe('> not a reply');
  });

  it('reads notices, emotes, locations and media with captions', () => {
    expect(fromMatrix('m.room.message', { msgtype: 'm.notice', body: 'n' }, deps)).toEqual({
      kind: 'text',
      text: { text: 'n' },
      notice: true,
    });
    expect(fromMatrix('m.room.message', { msgtype: 'm.location', body: 'Location: Home', geo_uri: 'geo:60.17,24.94' }, deps)).toEqual({
      kind: 'location',
      location: { latitude: 60.17, longitude: 24.94, name: 'Home' },
    });
    const media = fromMatrix(
      'm.room.message',
      {
        msgtype: 'm.image',
        body: 'look at this',
        filename: 'a.png',
        url: 'mxc://s/x',
        info: { mimetype: 'image/png', size: 3, w: 1, h: 2 },
      },
      deps,
    );
    expect(media).toMatchObject({
      kind: 'media',
      media: { kind: 'image', mimeType: 'image/png', fileName: 'a.png', size: 3, width: 1, height: 2, caption: { text: 'look at this' } },
    });
    expect(() => fromMatrix('m.room.message', { msgtype: 'm.image', body: 'x', file: {} }, deps)).toThrow(/encrypted/);
  });

  it('builds edits with m.new_content and a fallback', () => {
    expect(editContent('$e', { msgtype: 'm.text', body: 'new' })).toEqual({
      msgtype: 'm.text',
      body: '* new',
      'm.new_content': { msgtype: 'm.text', body: 'new' },
      'm.relates_to': { rel_type: 'm.replace', event_id: '$e' },
    });
  });
});
