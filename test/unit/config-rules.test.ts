import { describe, expect, it } from 'vitest'
import { checkKey, CONFIG_LIMITS, isEntry, isJsonValue, keyProblem, valueProblem } from '../../src/core/config.js'
import { MurmurError } from '../../src/core/errors.js'

function nestArrays (depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

function nestObjects (depth: number): unknown {
  let v: unknown = 'leaf'
  for (let i = 0; i < depth; i++) v = { x: v }
  return v
}

describe('keyProblem / checkKey', () => {
  it.each([
    ['a'],
    ['app/db/url'],
    ['app.db.url'],
    ['/leading/slash/'],
    ['a-b_c:d@e'],
    ['ünïcødé/ключ/鍵'],
    ['😀'],
    ['k'.repeat(CONFIG_LIMITS.keyBytes)],
    ['é'.repeat(CONFIG_LIMITS.keyBytes / 2)], // 2 bytes each: exactly 512 bytes
    ['😀'.repeat(CONFIG_LIMITS.keyBytes / 4)] // 4 bytes each: exactly 512 bytes
  ])('accepts %j', key => {
    expect(keyProblem(key)).toBeUndefined()
    expect(checkKey(key)).toBe(key)
  })

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an empty string', ''],
    ['513 ASCII bytes', 'k'.repeat(CONFIG_LIMITS.keyBytes + 1)],
    ['513 bytes in 257 characters', 'é'.repeat(CONFIG_LIMITS.keyBytes / 2) + 'a'],
    ['516 bytes in 172 characters', '€'.repeat(172)],
    ['a plain space (README: no whitespace)', 'a b'],
    ['a tab', 'a\tb'],
    ['a newline', 'a\nb'],
    ['a carriage return', 'a\rb'],
    ['a vertical tab', 'a\u000bb'],
    ['a form feed', 'a\u000cb'],
    ['NUL', 'a\u0000b'],
    ['ESC', 'a\u001b[31m'],
    ['unit separator', 'a\u001fb'],
    ['DEL', 'a\u007fb'],
    ['a no-break space', 'a\u00a0b'],
    ['an ideographic space', 'a\u3000b'],
    ['a line separator', 'a\u2028b'],
    ['a byte order mark', '\ufeffkey'],
    ['a right-to-left override (U+202E)', 'app/\u202egnp.exe'],
    ['a left-to-right embedding (U+202A)', 'a\u202ab'],
    ['a right-to-left isolate (U+2067)', 'a\u2067b'],
    ['a zero-width space', 'a\u200bb'],
    ['a zero-width joiner', 'a\u200db'],
    ['a zero-width non-joiner', 'a\u200cb'],
    ['a word joiner', 'a\u2060b'],
    ['a soft hyphen', 'a\u00adb'],
    ['a Hangul filler', 'a\u3164b'],
    ['a combining grapheme joiner', 'a\u034fb'],
    ['a lone surrogate', 'a\ud800b']
  ])('rejects %s', (_what, key) => {
    expect(keyProblem(key)).toBeTypeOf('string')
    let err: unknown
    try { checkKey(key) } catch (e) { err = e }
    expect(err).toBeInstanceOf(MurmurError)
    expect((err as MurmurError).code).toBe('MURMUR_ERR_BAD_KEY')
    expect((err as MurmurError).message).toBe(keyProblem(key))
  })

  it('counts the length limit in UTF-8 bytes, not characters', () => {
    expect(keyProblem('€'.repeat(170))).toBeUndefined() // 510 bytes
    expect(keyProblem('€'.repeat(171))).toMatch(/bytes/) // 513 bytes, 171 characters
  })
})

describe('valueProblem', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['true', true],
    ['0', 0],
    ['a negative float', -1.5e-10],
    ['an empty string', ''],
    ['an empty array', []],
    ['an empty object', {}],
    ['a nested document', { db: { hosts: ['a', 'b'], port: 5432, tls: true, extra: null } }],
    [`arrays nested ${CONFIG_LIMITS.depth} deep`, nestArrays(CONFIG_LIMITS.depth)],
    [`objects nested ${CONFIG_LIMITS.depth} deep`, nestObjects(CONFIG_LIMITS.depth)],
    ['a string of exactly the limit as JSON', 'x'.repeat(CONFIG_LIMITS.valueBytes - 2)],
    ['a multibyte string of exactly the limit as JSON', 'é'.repeat((CONFIG_LIMITS.valueBytes - 2) / 2)],
    ['a surrogate pair (an emoji)', '😀 and \ud83d\ude00'],
    ['keys that only look like __proto__', { __proto_: 1, ___proto__: 2, constructor: 3, prototype: 4 }]
  ])('accepts %s', (_what, v) => {
    expect(valueProblem(v)).toBeUndefined()
  })

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['NaN inside an object', { a: NaN }],
    ['Infinity inside an array', [1, Infinity]],
    ['undefined inside an object', { a: undefined }],
    [`arrays nested ${CONFIG_LIMITS.depth + 1} deep`, nestArrays(CONFIG_LIMITS.depth + 1)],
    [`objects nested ${CONFIG_LIMITS.depth + 1} deep`, nestObjects(CONFIG_LIMITS.depth + 1)],
    ['one byte over the limit as JSON', 'x'.repeat(CONFIG_LIMITS.valueBytes - 1)],
    ['over the limit in bytes but not in characters', 'é'.repeat((CONFIG_LIMITS.valueBytes - 2) / 2 + 1)],
    ['a large array', Array.from({ length: 20_000 }, (_, i) => i)],
    ['a bigint', 10n],
    ['a function', () => 1],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a Uint8Array', new Uint8Array(4)],
    ['an object without a prototype', Object.assign(Object.create(null), { a: 1 })],
    ['a lone high surrogate (msgpack would turn it into U+FFFD)', '\ud800'],
    ['a lone low surrogate in an object key', { 'a\udc00': 1 }],
    ['a lone surrogate deep in an array', [1, ['x', 'ok\ud83d']]],
    ['an object key __proto__ (msgpack would rename it)', JSON.parse('{"__proto__": 1}')],
    ['a nested __proto__ key', JSON.parse('{"a": [{"__proto__": {"x": 1}}]}')]
  ])('rejects %s', (_what, v) => {
    expect(valueProblem(v)).toBeTypeOf('string')
  })

  it('reports a missing value distinctly', () => {
    expect(valueProblem(undefined)).toBe('value is missing')
    expect(valueProblem(nestArrays(40))).toMatch(/deep/)
    expect(valueProblem('x'.repeat(CONFIG_LIMITS.valueBytes))).toMatch(/bytes/)
  })

  it('isJsonValue honours an explicit depth', () => {
    expect(isJsonValue([[1]], 2)).toBe(true)
    expect(isJsonValue([[1]], 1)).toBe(false)
    expect(isJsonValue('scalar', 0)).toBe(true)
  })
})

describe('isEntry', () => {
  const hlc = { wall: 1_700_000_000_000, logical: 2 }
  const value = { key: 'app/x', value: { a: 1 }, deleted: false, hlc, origin: 'peer-1' }
  const tomb = { key: 'app/x', deleted: true, hlc, origin: 'peer-1' }

  it.each<[string, unknown]>([
    ['a value entry', value],
    ['a value entry with a null value', { ...value, value: null }],
    ['a value entry with a falsy value', { ...value, value: 0 }],
    ['a tombstone', tomb],
    ['a tombstone with an explicit undefined value', { ...tomb, value: undefined }],
    ['an origin of 128 characters', { ...value, origin: 'o'.repeat(128) }]
  ])('accepts %s', (_what, x) => {
    expect(isEntry(x)).toBe(true)
  })

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'app/x=1'],
    ['an array', [value]],
    ['a tombstone that carries a value', { ...tomb, value: 1 }],
    ['a tombstone that carries a null value', { ...tomb, value: null }],
    ['a value entry without a value', { ...value, value: undefined }],
    ['a value entry with NaN', { ...value, value: NaN }],
    ['a value entry with a too-deep value', { ...value, value: nestArrays(CONFIG_LIMITS.depth + 1) }],
    ['a missing deleted flag', { key: 'k', value: 1, hlc, origin: 'o' }],
    ['a string deleted flag', { ...value, deleted: 'false' }],
    ['a bad key', { ...value, key: 'a b' }],
    ['an empty key', { ...value, key: '' }],
    ['a missing hlc', { ...value, hlc: undefined }],
    ['a negative wall', { ...value, hlc: { wall: -1, logical: 0 } }],
    ['a fractional logical', { ...value, hlc: { wall: 1, logical: 0.5 } }],
    ['an empty origin', { ...value, origin: '' }],
    ['an origin of 129 characters', { ...value, origin: 'o'.repeat(129) }],
    ['a numeric origin', { ...value, origin: 7 }]
  ])('rejects %s', (_what, x) => {
    expect(isEntry(x)).toBe(false)
  })
})
