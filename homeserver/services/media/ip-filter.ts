import { BlockList, isIP } from 'node:net';

/**
 * Decides which addresses the URL previewer may connect to: anything in `blacklist` is refused
 * unless `whitelist` covers it. `0.0.0.0` and `::` are always refused (they reach the local host on
 * most systems), whatever the lists say — as in Synapse.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4 address they carry, so a
 * DNS answer cannot slip a blacklisted IPv4 address past the IPv4 ranges.
 */
export class IpFilter {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  constructor(blacklist: readonly string[], whitelist: readonly string[]) {
    for (const cidr of blacklist) addCidr(this.blocked, cidr);
    for (const cidr of whitelist) addCidr(this.allowed, cidr);
  }

  /** True when a connection to `address` (an IP literal) is permitted. */
  allows(address: string): boolean {
    const ip = unmapIpv4(address.replace(/^\[|\]$/g, ''));
    const family = isIP(ip);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (ip === '0.0.0.0' || ip === '::' || /^0*:(0*:)*0*$/.test(ip)) return false;
    if (this.allowed.check(ip, type)) return true;
    return !this.blocked.check(ip, type);
  }
}

/** Adds `a.b.c.d/n`, `x::y/n` or a bare address; throws on anything else (config errors surface at start-up). */
function addCidr(list: BlockList, cidr: string): void {
  const [addr = '', prefixText] = cidr.trim().split('/');
  const family = isIP(addr);
  if (family === 0) throw new Error(`invalid IP range ${JSON.stringify(cidr)}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`invalid IP range ${JSON.stringify(cidr)}`);
  list.addSubnet(addr, prefix, type);
}

/** `::ffff:1.2.3.4` (or its hex spelling `::ffff:102:304`) → `1.2.3.4`; anything else unchanged. */
export function unmapIpv4(ip: string): string {
  const lower = ip.toLowerCase();
  const dotted = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^(?:0*:)*:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return ip;
}
