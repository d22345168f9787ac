// Every error code is in the README's error table with the status the HTTP layer gives it.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ErrorCodes } from '../../src/core/errors.js'
import { STATUS } from '../../src/http/errors.js'

describe('error codes', () => {
  it('are listed in the README with their HTTP status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const rows = new Map([...readme.matchAll(/^\| `(MURMUR_ERR_[A-Z_]+)` \| (\d+) \|/gm)].map(m => [m[1], Number(m[2])]))
    for (const code of ErrorCodes) expect([code, rows.get(code)]).toEqual([code, STATUS[code]])
  })
})
