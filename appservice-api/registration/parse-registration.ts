import { parse as parseYaml } from 'yaml';
import type { AppserviceRegistration, Namespace } from '../../homeserver/services/appservices/registry-port.js';

/** One problem in a registration, named by its field path (`namespaces.users[0].regex`). */
export interface RegistrationIssue {
  path: string;
  message: string;
}

/** A registration that cannot be used; `message` lists every issue with its field path. */
export class RegistrationError extends Error {
  constructor(
    readonly issues: RegistrationIssue[],
    source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}invalid appservice registration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'RegistrationError';
  }
}

const NAMESPACE_KINDS = ['users', 'aliases', 'rooms'] as const;

/** Parses registration YAML (or JSON, which is YAML) text; throws RegistrationError. */
export function parseRegistrationText(text: string, source?: string): AppserviceRegistration {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RegistrationError([{ path: '(file)', message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` }], source);
  }
  return parseRegistration(doc, source);
}

/**
 * Validates a registration document in the format Synapse and every bridge generate and returns
 * the homeserver's view of it. Every problem is collected, then all are thrown together.
 */
export function parseRegistration(doc: unknown, source?: string): AppserviceRegistration {
  const issues: RegistrationIssue[] = [];
  const fail = (path: string, message: string) => issues.push({ path, message });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new RegistrationError([{ path: '(root)', message: 'must be a mapping' }], source);
  const d = doc as Record<string, unknown>;

  const str = (key: string, opts: { required: boolean }): string | undefined => {
    const v = d[key];
    if (v === undefined || v === null) {
      if (opts.required) fail(key, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') {
      fail(key, 'must be a non-empty string');
      return undefined;
    }
    return v;
  };
  const bool = (key: string): boolean => {
    const v = d[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') {
      fail(key, 'must be true or false');
      return false;
    }
    return v;
  };

  const id = str('id', { required: true });
  if (id !== undefined && !/^[A-Za-z0-9._~-]{1,255}$/.test(id)) fail('id', 'may only contain letters, digits and ._~- (at most 255)');
  const asToken = str('as_token', { required: true });
  const hsToken = str('hs_token', { required: true });
  if (asToken !== undefined && asToken === hsToken) fail('hs_token', 'must differ from as_token');
  const senderLocalpart = str('sender_localpart', { required: true });
  if (senderLocalpart !== undefined && !/^[a-z0-9._=\-/+]+$/.test(senderLocalpart))
    fail('sender_localpart', 'may only contain a-z, 0-9 and ._=-/+');

  // `url: null` (or absent) is an appservice that receives nothing (Synapse allows it).
  let url: string | null = null;
  if (d.url !== undefined && d.url !== null) {
    if (typeof d.url !== 'string') fail('url', 'must be a string or null');
    else if (/^inproc:\/\/[A-Za-z0-9._-]+$/.test(d.url)) url = d.url;
    else {
      try {
        const u = new URL(d.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('url', 'must be http(s)://…, inproc://<name> or null');
        else url = d.url.replace(/\/+$/, '');
      } catch {
        fail('url', 'must be http(s)://…, inproc://<name> or null');
      }
    }
  }

  const namespaces: AppserviceRegistration['namespaces'] = { users: [], aliases: [], rooms: [] };
  if (d.namespaces !== undefined && d.namespaces !== null) {
    if (typeof d.namespaces !== 'object' || Array.isArray(d.namespaces)) fail('namespaces', 'must be a mapping');
    else {
      const ns = d.namespaces as Record<string, unknown>;
      for (const kind of NAMESPACE_KINDS) {
        const list = ns[kind];
        if (list === undefined || list === null) continue;
        if (!Array.isArray(list)) {
          fail(`namespaces.${kind}`, 'must be a list');
          continue;
        }
        list.forEach((entry, i) => {
          const path = `namespaces.${kind}[${i}]`;
          if (typeof entry !== 'object' || entry === null) return fail(path, 'must be a mapping with regex and exclusive');
          const e = entry as Record<string, unknown>;
          if (typeof e.regex !== 'string' || e.regex === '') return fail(`${path}.regex`, 'is required (a non-empty string)');
          if (e.exclusive !== undefined && typeof e.exclusive !== 'boolean') return fail(`${path}.exclusive`, 'must be true or false');
          let regex: RegExp;
          try {
            // Synapse matches with re.match on the whole id; anchoring both ends is what every bridge expects.
            regex = new RegExp(`^(?:${e.regex})$`);
          } catch (err) {
            return fail(`${path}.regex`, `is not a valid regular expression (${(err as Error).message})`);
          }
          namespaces[kind].push({ exclusive: e.exclusive === true, regex, source: e.regex });
        });
      }
    }
  }

  let protocols: string[] = [];
  if (d.protocols !== undefined && d.protocols !== null) {
    if (!Array.isArray(d.protocols) || d.protocols.some((p) => typeof p !== 'string')) fail('protocols', 'must be a list of strings');
    else protocols = d.protocols as string[];
  }

  // rate_limited defaults to true, as in Synapse.
  let rateLimited = true;
  if (d.rate_limited !== undefined && d.rate_limited !== null) {
    if (typeof d.rate_limited !== 'boolean') fail('rate_limited', 'must be true or false');
    else rateLimited = d.rate_limited;
  }
  const receiveEphemeral = bool('receive_ephemeral') || bool('de.sorunome.msc2409.push_ephemeral');
  const msc3202 = bool('org.matrix.msc3202');
  const msc4190 = bool('io.element.msc4190');

  if (issues.length) throw new RegistrationError(issues, source);
  return {
    id: id!,
    url,
    asToken: asToken!,
    hsToken: hsToken!,
    senderLocalpart: senderLocalpart!,
    namespaces,
    rateLimited,
    protocols,
    receiveEphemeral,
    msc3202,
    msc4190,
  };
}

/** The regex text a namespace was written with (kept beside the compiled, anchored RegExp). */
export function regexSource(ns: Namespace): string {
  return ns.source ?? ns.regex.source;
}

/**
 * Checks a candidate against registrations already in force: duplicate id, duplicate as_token or
 * hs_token, and overlapping exclusive namespaces. Returns the issues (empty when compatible).
 *
 * Regex overlap is undecidable in general, so it is detected conservatively: two exclusive
 * namespaces of the same kind overlap when their regexes are identical, or when one regex matches
 * a literal example of the other — the other appservice's sender user id (for user namespaces)
 * or the other regex's own text with its escapes removed (e.g. `@telegram_.*:example.org` yields
 * the example `@telegram_.*:example.org`, which `@tele.*` would match). Overlaps that need a
 * cleverer witness are not caught.
 */
export function conflictsWith(
  candidate: AppserviceRegistration,
  existing: AppserviceRegistration[],
  serverName: string,
): RegistrationIssue[] {
  const issues: RegistrationIssue[] = [];
  for (const other of existing) {
    if (other.id === candidate.id) {
      issues.push({ path: 'id', message: `is already used by another registration` });
      continue;
    }
    if (other.asToken === candidate.asToken) issues.push({ path: 'as_token', message: `is already used by appservice ${other.id}` });
    if (other.hsToken === candidate.hsToken) issues.push({ path: 'hs_token', message: `is already used by appservice ${other.id}` });
    if (other.asToken === candidate.hsToken || other.hsToken === candidate.asToken)
      issues.push({ path: 'as_token', message: `tokens are shared with appservice ${other.id}` });
    const otherSender = `@${other.senderLocalpart}:${serverName}`;
    const mySender = `@${candidate.senderLocalpart}:${serverName}`;
    if (otherSender === mySender) issues.push({ path: 'sender_localpart', message: `is already the sender of appservice ${other.id}` });
    for (const kind of NAMESPACE_KINDS) {
      candidate.namespaces[kind].forEach((mine, i) => {
        if (!mine.exclusive) return;
        if (kind === 'users' && mine.regex.test(otherSender))
          issues.push({ path: `namespaces.users[${i}].regex`, message: `claims ${otherSender}, the sender of appservice ${other.id}` });
        for (const theirs of other.namespaces[kind]) {
          if (!theirs.exclusive) continue;
          if (namespacesOverlap(mine, theirs))
            issues.push({
              path: `namespaces.${kind}[${i}].regex`,
              message: `overlaps the exclusive namespace ${regexSource(theirs)} of appservice ${other.id}`,
            });
        }
      });
    }
  }
  return issues;
}

function namespacesOverlap(a: Namespace, b: Namespace): boolean {
  const sa = regexSource(a);
  const sb = regexSource(b);
  return sa === sb || a.regex.test(literalExample(sb)) || b.regex.test(literalExample(sa));
}

/** The regex text with escapes resolved (`\.` -> `.`): a plausible id the regex's author meant. */
function literalExample(source: string): string {
  return source.replace(/^\^/, '').replace(/\$$/, '').replace(/\\(.)/g, '$1');
}
