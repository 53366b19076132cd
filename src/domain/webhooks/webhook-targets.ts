import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

// Where a webhook may send (OWASP's SSRF rules): only public unicast
// addresses, unless the operator allows more (WEBHOOK_ALLOWED_CIDRS). A
// host name is resolved here and the connection made to the very address
// that was checked (the `lookup` of the request), so a name that resolves
// to a public address when checked and to a private one when connecting
// (DNS rebinding) cannot get through.

/** The ranges that are not public unicast (IANA special-purpose registries). */
const NOT_PUBLIC: [string, number, "ipv4" | "ipv6", string][] = [
  ["0.0.0.0", 8, "ipv4", "an unspecified"],
  ["10.0.0.0", 8, "ipv4", "a private"],
  ["100.64.0.0", 10, "ipv4", "a shared (carrier NAT)"],
  ["127.0.0.0", 8, "ipv4", "a loopback"],
  ["169.254.0.0", 16, "ipv4", "a link-local"],
  ["172.16.0.0", 12, "ipv4", "a private"],
  ["192.0.0.0", 24, "ipv4", "a reserved"],
  ["192.0.2.0", 24, "ipv4", "a documentation"],
  ["192.168.0.0", 16, "ipv4", "a private"],
  ["198.18.0.0", 15, "ipv4", "a benchmarking"],
  ["198.51.100.0", 24, "ipv4", "a documentation"],
  ["203.0.113.0", 24, "ipv4", "a documentation"],
  ["224.0.0.0", 4, "ipv4", "a multicast"],
  ["240.0.0.0", 4, "ipv4", "a reserved"],
  ["::", 128, "ipv6", "an unspecified"],
  ["::1", 128, "ipv6", "a loopback"],
  // NAT64, 6to4 and Teredo addresses carry an IPv4 address that may be a
  // private one. (IPv4-mapped ones, ::ffff:a.b.c.d, need no rule: BlockList
  // checks them against the IPv4 rules, and a subnet of them here would
  // match every IPv4 address.)
  ["64:ff9b::", 96, "ipv6", "a NAT64"],
  ["64:ff9b:1::", 48, "ipv6", "a NAT64"],
  ["100::", 64, "ipv6", "a discard"],
  ["2001::", 32, "ipv6", "a Teredo"],
  ["2001:db8::", 32, "ipv6", "a documentation"],
  ["2002::", 16, "ipv6", "a 6to4"],
  ["fc00::", 7, "ipv6", "a unique local (private)"],
  ["fe80::", 10, "ipv6", "a link-local"],
  ["fec0::", 10, "ipv6", "a site-local"],
  ["ff00::", 8, "ipv6", "a multicast"],
];

const familyOf = (address: string) => (isIP(address) === 6 ? "ipv6" : "ipv4");

/** An `address` or `address/prefix` of the allow-list, as BlockList takes it; undefined if it is neither. */
export function parseCidr(
  entry: string,
): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const [address = "", prefixText, ...rest] = entry.split("/");
  if (rest.length > 0 || isIP(address) === 0) return undefined;
  const family = familyOf(address);
  const max = family === "ipv4" ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  return prefix <= max ? { address, prefix, family } : undefined;
}

/** Thrown (through the lookup) when a host resolves to an address webhooks may not reach. */
export class RefusedTargetError extends Error {
  readonly code = "ERR_WEBHOOK_TARGET_REFUSED";
}

export interface TargetPolicy {
  /** Why webhooks may not reach `address` (an IP address), or undefined when they may. */
  refusal(address: string): string | undefined;
  /** A `lookup` for http.request that resolves the name and refuses it unless every address is allowed. */
  lookup: LookupFunction;
}

/** The policy of this deployment: public unicast addresses, and those in `allowedCidrs`. */
export function targetPolicy(allowedCidrs: readonly string[]): TargetPolicy {
  const notPublic = new BlockList();
  const kinds: { list: BlockList; kind: string }[] = [];
  for (const [address, prefix, family, kind] of NOT_PUBLIC) {
    notPublic.addSubnet(address, prefix, family);
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    kinds.push({ list, kind });
  }
  const allowed = new BlockList();
  for (const entry of allowedCidrs) {
    const cidr = parseCidr(entry);
    if (!cidr) throw new Error(`not an IP address or CIDR: ${entry}`);
    allowed.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }

  function refusal(address: string): string | undefined {
    const family = familyOf(address);
    if (isIP(address) === 0) return `${address} is not an IP address`;
    if (allowed.check(address, family) || !notPublic.check(address, family)) return undefined;
    const kind = kinds.find(({ list }) => list.check(address, family))?.kind ?? "a non-public";
    return `${address} is ${kind} address, which webhooks may not reach`;
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const refused = addresses.map(({ address }) => refusal(address)).find(Boolean);
      const first = addresses[0];
      if (refused || !first) {
        const message = refused ? `${hostname} resolves to ${refused}` : `${hostname} has no address`;
        return callback(Object.assign(new RefusedTargetError(message), { hostname }), "", 0);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };
  return { refusal, lookup };
}

/** The host of a URL as an address when it is one (`[::1]` -> `::1`), else undefined (a name). */
export function addressOfUrl(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) === 0 ? undefined : host;
}
