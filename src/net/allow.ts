// The --allow list: CIDR blocks (IPv4 or IPv6; a bare address is one host) outside which no
// connection is made or accepted. Parsed once at start; a bad block stops the agent.
import { BlockList, isIP } from 'node:net'
import { MurmurError } from '../core/errors.js'

export type AddressCheck = (ip: string) => boolean

export function parseAllowList (cidrs: readonly string[]): AddressCheck | undefined {
  if (cidrs.length === 0) return undefined
  const list = new BlockList()
  for (const c of cidrs) {
    const [addr, bits, extra] = c.split('/')
    const family = isIP(addr)
    const max = family === 4 ? 32 : 128
    const prefix = bits === undefined ? max : Number(bits)
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new MurmurError('MURMUR_ERR_CONFIG', `--allow '${c}' must be a CIDR block like 10.0.0.0/8 or fd00::/8, or one address`)
    }
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  return ip => {
    // IPv4 peers on a dual-stack socket show up as ::ffff:a.b.c.d.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1]
    const family = isIP(v4 ?? ip)
    return family !== 0 && list.check(v4 ?? ip, family === 4 ? 'ipv4' : 'ipv6')
  }
}
