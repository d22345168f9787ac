// The certificates of NODE_EXTRA_CA_CERTS for HTTPS health checks, when bin/murmur moved the
// variable out of Node's way: Node 20 parses them at every start (~40 ms of CPU) though the
// agent needs them only for these checks. bin/murmur passes the path as MURMUR_EXTRA_CA_CERTS,
// and the checks trust what Node would have: its root store plus that file. Built at the first
// HTTPS check, once: a TLS context made per connection would parse ~150 certificates each time.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as tls from 'node:tls'

export const EXTRA_CA_ENV = 'MURMUR_EXTRA_CA_CERTS'

/**
 * The TLS context for HTTPS checks, made on the first call: undefined for Node's default (no
 * file named, or one that cannot be loaded, which `warn` reports once; Node ignores such a
 * file with a warning too).
 */
export function extraCaContext (path: string | undefined, warn: (message: string) => void): () => tls.SecureContext | undefined {
  let made: { context?: tls.SecureContext } | undefined
  return () => {
    if (made !== undefined) return made.context
    made = {}
    if (path === undefined || path === '') return undefined
    try {
      const pems = readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
      if (pems.length === 0) throw new Error('no PEM certificate in it')
      // OpenSSL would skip a certificate it cannot parse without a word.
      const bad = pems.findIndex(pem => !parses(pem))
      if (bad >= 0) throw new Error(`certificate ${bad + 1} of ${pems.length} cannot be parsed`)
      made.context = tls.createSecureContext({ ca: [...defaultCertificates(), ...pems] })
    } catch (err) {
      warn(`HTTPS checks ignore the extra CA certificates of ${path} (from NODE_EXTRA_CA_CERTS): ${(err as Error).message}`)
    }
    return made.context
  }
}

/**
 * The certificates Node trusts by default: its own root store, or the system's under
 * --use-openssl-ca / --use-system-ca where Node (22.15+, 23.5+) can tell.
 */
function defaultCertificates (): readonly string[] {
  const get = (tls as { getCACertificates?: (type: 'default') => string[] }).getCACertificates
  return typeof get === 'function' ? get('default') : tls.rootCertificates
}

function parses (pem: string): boolean {
  try {
    return new X509Certificate(pem).raw.byteLength > 0
  } catch {
    return false
  }
}
