// Address parsing for flags: HOST:PORT or a multiaddr, with or without a peer id.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isIP } from 'node:net'
import { MurmurError } from '../core/errors.js'

export interface HostPort { host: string, port: number }

export function parseHostPort (s: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) {
    throw new MurmurError('MURMUR_ERR_CONFIG', `${what} must be HOST:PORT (got '${s}')`)
  }
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]), port }
}

export function hostPortToMultiaddr ({ host, port }: HostPort): Multiaddr {
  const proto = isIP(host) === 4 ? 'ip4' : isIP(host) === 6 ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${host}/tcp/${port}`)
}

/** A --join value: a multiaddr (peer id optional) or HOST:PORT. */
export function parseJoin (s: string): Multiaddr {
  if (s.startsWith('/')) {
    try {
      return multiaddr(s)
    } catch (err) {
      throw new MurmurError('MURMUR_ERR_CONFIG', `--join '${s}' is not a valid multiaddr: ${(err as Error).message}`)
    }
  }
  return hostPortToMultiaddr(parseHostPort(s, '--join'))
}

/** True for addresses only this host can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** The TCP port of the first multiaddr that has one. */
export function tcpPort (addrs: readonly string[]): number | undefined {
  for (const a of addrs) {
    const m = /\/tcp\/(\d+)/.exec(a)
    if (m !== null) return Number(m[1])
  }
  return undefined
}
