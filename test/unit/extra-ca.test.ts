// The TLS context HTTPS checks use for the certificates bin/murmur moved out of Node's way.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { extraCaContext } from '../../src/agent/extra-ca.js'
import { scratchDir } from '../helpers/scratch.js'

const { dir, file } = scratchDir('murmur-extra-ca-')

describe('extraCaContext', () => {
  it('builds one context, at the first call, from a file of PEM certificates', () => {
    const path = file('ok.pem', rootCertificates.slice(0, 2).join('\n'))
    const warnings: string[] = []
    const context = extraCaContext(path, w => warnings.push(w))
    rmSync(path)
    // Read at the first call, not before: the file is gone, so nothing is built.
    expect(context()).toBeUndefined()
    const again = extraCaContext(file('ok2.pem', rootCertificates.slice(0, 2).join('\n')), w => warnings.push(w))
    const first = again()
    expect(first).toBeDefined()
    expect(again()).toBe(first)
    expect(warnings).toHaveLength(1)
  })

  it("leaves Node's default when no file is named", () => {
    const warnings: string[] = []
    expect(extraCaContext(undefined, w => warnings.push(w))()).toBeUndefined()
    expect(extraCaContext('', w => warnings.push(w))()).toBeUndefined()
    expect(warnings).toEqual([])
  })

  it('warns once and leaves the default for a missing file or one without certificates', () => {
    for (const path of [join(dir, 'missing.pem'), file('junk.pem', 'not a certificate\n'), file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')]) {
      const warnings: string[] = []
      const context = extraCaContext(path, w => warnings.push(w))
      expect(context()).toBeUndefined()
      expect(context()).toBeUndefined()
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(path)
    }
  })
})
