// bin/code-cache.mjs: a CommonJS bundle run through V8's code cache. The cache may only ever
// save CPU: a start without one, with a stale or damaged one, or with a directory it must not
// use (unwritable, or writable by others) runs the bundle all the same. Each case runs in a
// child process (the early cache is saved 3 s after the start, the full one 20 s after, from
// unref'd timers).
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const LOADER = fileURLToPath(new URL('../../bin/code-cache.mjs', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'murmur-code-cache-test-'))
afterAll(() => { rmSync(scratch, { recursive: true, force: true }) })

const bundle = join(scratch, 'bundle.cjs')
// What the bundle sees: require, __filename, the URL standing for import.meta.url, strict mode.
writeFileSync(bundle, '"use strict";\nexports.main = () => `${typeof require} ${__filename} ${__murmurModuleUrl} ${(function () { return this })() === undefined}`\n')

/** Loads the bundle in a child that stays `aliveMs` (so the cache can be saved), with this cache directory. */
async function load (cacheDir: string, aliveMs = 0): Promise<string> {
  const script = `const { loadBundle } = await import(${JSON.stringify(LOADER)}); console.log(loadBundle(process.argv[1]).main()); setTimeout(() => {}, ${aliveMs})`
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, bundle], { env: { ...process.env, MURMUR_CODE_CACHE: cacheDir }, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(stdout.trim())
    })
  })
}

const EXPECTED = `function ${bundle} file://${bundle} true`
const cacheFiles = (dir: string): string[] => readdirSync(dir).filter(f => f.endsWith('.bin'))

describe.concurrent('code cache', () => {
  it('runs the bundle as strict CommonJS with its URL, saves the cache once the start is over, and uses it', async () => {
    const dir = join(scratch, 'ok')
    expect(await load(dir)).toBe(EXPECTED)
    expect(cacheFiles(dir)).toEqual([]) // gone before the save
    expect(await load(dir, 3500)).toBe(EXPECTED)
    const [file] = cacheFiles(dir)
    const saved = statSync(join(dir, file)).mtimeMs
    // Accepted by V8, so not saved again.
    expect(await load(dir, 3500)).toBe(EXPECTED)
    expect(cacheFiles(dir)).toEqual([file])
    expect(statSync(join(dir, file)).mtimeMs).toBe(saved)
  })

  it('saves the full cache 20 s after the start in place of the early one, and a start with it uses it', async () => {
    const dir = join(scratch, 'full')
    await load(dir, 3500)
    const [early] = cacheFiles(dir)
    expect(early).toMatch(/-early\.bin$/)
    // A start with the early cache saves the full one (and drops the early one).
    expect(await load(dir, 21_000)).toBe(EXPECTED)
    const [full] = cacheFiles(dir)
    expect(cacheFiles(dir)).toEqual([early.replace(/-early\.bin$/, '.bin')])
    const saved = statSync(join(dir, full)).mtimeMs
    // Accepted: no early cache saved at 3 s either.
    expect(await load(dir, 3500)).toBe(EXPECTED)
    expect(cacheFiles(dir)).toEqual([full])
    expect(statSync(join(dir, full)).mtimeMs).toBe(saved)
  }, 45_000)

  it('runs the bundle with a damaged cache, and replaces it', async () => {
    const dir = join(scratch, 'damaged')
    await load(dir, 3500)
    const [file] = cacheFiles(dir)
    writeFileSync(join(dir, file), 'not bytecode')
    expect(await load(dir, 3500)).toBe(EXPECTED)
    expect(cacheFiles(dir)).toEqual([file])
    expect(readFileSync(join(dir, file), 'utf8')).not.toBe('not bytecode')
    expect(readdirSync(dir).filter(f => f.endsWith('.tmp'))).toEqual([])
  })

  it('runs the bundle when the directory cannot be made, or others can write to it (and then neither reads nor writes it)', async () => {
    const blocker = join(scratch, 'file')
    writeFileSync(blocker, '')
    expect(await load(join(blocker, 'cache'), 3500)).toBe(EXPECTED)
    expect(await load(join(scratch, 'no', 'parent'))).toBe(EXPECTED)
    // (Node 20's recursive mkdirSync hangs there.)
    expect(await load('/proc/murmur-code-cache')).toBe(EXPECTED)
    const open = join(scratch, 'open')
    await load(open, 3500)
    chmodSync(open, 0o777)
    const [file] = cacheFiles(open)
    writeFileSync(join(open, file), 'planted')
    expect(await load(open, 3500)).toBe(EXPECTED)
    expect(readFileSync(join(open, file), 'utf8')).toBe('planted') // not read, not rewritten
  })
})

describe('the agent bundle', () => {
  it('is ASCII only: one other character makes V8 hold all 1.4 MB of it as a two-byte string, slower to decode and scan at every start', () => {
    const source = readFileSync(fileURLToPath(new URL('../../dist/bundle/agent.cjs', import.meta.url)), 'latin1')
    const at = source.search(/[^\x00-\x7f]/)
    expect(at === -1 ? 'ASCII only' : `not ASCII at offset ${at}: ${source.slice(Math.max(0, at - 60), at + 20)}`).toBe('ASCII only')
  })
})
