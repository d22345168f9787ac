// Sidecar token rules, table-driven: which requests need which token, and how it is sent.
import { describe, expect, it } from 'vitest'
import { authorizer, presentedToken } from '../../src/http/auth.js'

const W = 'write-token-0123456789'
const R = 'read-token-0123456789a'

function outcome (check: ReturnType<typeof authorizer>, method: string, headers: Record<string, string>): string {
  try {
    check?.(method, headers)
    return 'ok'
  } catch (err) {
    return (err as { code: string }).code
  }
}

describe('presentedToken', () => {
  it.each([
    [{ authorization: `Bearer ${W}` }, W],
    [{ authorization: `bearer   ${W}  ` }, W],
    [{ 'x-consul-token': W }, W],
    [{ authorization: `Basic ${W}` }, undefined],
    [{ authorization: 'Bearer' }, undefined],
    [{ 'x-consul-token': '' }, undefined],
    [{}, undefined]
  ])('%j → %s', (headers, want) => {
    expect(presentedToken(headers)).toBe(want)
  })

  it("takes Consul's ?token= when no header carries one", () => {
    expect(presentedToken({}, new URLSearchParams(`token=${W}`))).toBe(W)
    expect(presentedToken({ 'x-consul-token': R }, new URLSearchParams(`token=${W}`))).toBe(R)
    expect(presentedToken({}, new URLSearchParams('token='))).toBeUndefined()
  })
})

describe('authorizer', () => {
  it('is off without tokens', () => {
    expect(authorizer({})).toBeUndefined()
  })

  it.each<[string, string, Record<string, string>, string]>([
    ['write token only: reads stay open', 'GET', {}, 'ok'],
    ['write token only: a write without a token', 'PUT', {}, 'MURMUR_ERR_UNAUTHORIZED'],
    ['write token only: a write with a wrong token', 'DELETE', { authorization: `Bearer ${R}` }, 'MURMUR_ERR_FORBIDDEN'],
    ['write token only: a write with the token', 'PUT', { 'x-consul-token': W }, 'ok']
  ])('%s', (_what, method, headers, want) => {
    expect(outcome(authorizer({ write: W }), method, headers)).toBe(want)
  })

  it.each<[string, string, Record<string, string>, string]>([
    ['a read without a token', 'GET', {}, 'MURMUR_ERR_UNAUTHORIZED'],
    ['a read with the read token', 'GET', { authorization: `Bearer ${R}` }, 'ok'],
    ['a read with the write token', 'HEAD', { authorization: `Bearer ${W}` }, 'ok'],
    ['a read with a wrong token', 'GET', { authorization: `Bearer ${R}x` }, 'MURMUR_ERR_FORBIDDEN'],
    ['a write with the read token', 'PUT', { authorization: `Bearer ${R}` }, 'MURMUR_ERR_FORBIDDEN'],
    ['a write with the write token', 'POST', { authorization: `Bearer ${W}` }, 'ok']
  ])('read and write tokens: %s', (_what, method, headers, want) => {
    expect(outcome(authorizer({ write: W, read: R }), method, headers)).toBe(want)
  })
})
