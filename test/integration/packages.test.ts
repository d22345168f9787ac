// The two npm packages as a user gets them: `npm pack` of each, installed from the tarball into a
// scratch project outside the repository, then used there. The client package has no
// dependencies, so it installs with --offline; the agent's dependencies come from the npm cache
// (filled by `npm ci`) or the registry.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, type AgentProc } from '../helpers/agents.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const pkg = (dir: string): { name: string, version: string, dependencies?: Record<string, string> } =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
const agentPkg = pkg(ROOT)
const clientPkg = pkg(join(ROOT, 'packages', 'client'))

/** npm with a deadline; output kept for the failure message. */
async function npm (args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  try {
    const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 })
    return stdout
  } catch (err) {
    const e = err as { message: string, stdout?: string, stderr?: string }
    throw new Error(`npm ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

/** A scratch project that installs `tarball`. */
async function installInto (dir: string, tarball: string, offline: boolean): Promise<void> {
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }))
  await npm(['install', offline ? '--offline' : '--prefer-offline', tarball], dir)
}

const cluster = new Cluster()
let scratch: string
let agent: AgentProc
const tarballs: Record<string, string> = {}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'murmur-pack-'))
  // The client is packed as published: its `prepack` compiles it. The agent's dist/ was compiled
  // by the global setup, and other test files run agents from it: packed as it is, not rebuilt.
  for (const args of [['--workspace', clientPkg.name], ['--ignore-scripts']]) {
    const out = await npm(['pack', '--pack-destination', scratch, ...args], ROOT)
    const file = out.trim().split('\n').at(-1) as string
    tarballs[file.startsWith(clientPkg.name) ? 'client' : 'agent'] = join(scratch, file)
  }
  agent = await cluster.start({ name: 'packed' })
})

afterAll(async () => {
  await cluster.stopAll()
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
})

describe('npm packages', () => {
  it('the client package declares no dependencies and ships only its compiled code', async () => {
    expect(clientPkg.dependencies ?? {}).toEqual({})
    const listing = await npm(['pack', '--dry-run', '--json', '--ignore-scripts', '--workspace', clientPkg.name], ROOT)
    const files = (JSON.parse(listing) as Array<{ files: Array<{ path: string }> }>)[0].files.map(f => f.path)
    expect(files).toContain('dist/client/index.js')
    expect(files).toContain('dist/client/index.d.ts')
    expect(files.filter(f => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md')).toEqual([])
    // Nothing of the agent came along: only the client and the one helper it imports.
    expect(files.filter(f => f.startsWith('dist/') && !f.startsWith('dist/client/'))).toEqual(['dist/core/duration.d.ts', 'dist/core/duration.js'])
  })

  it('installs the client alone, offline, and it works against a running agent', async () => {
    const app = join(scratch, 'app')
    await installInto(app, tarballs.client, true)
    expect(readdirSync(join(app, 'node_modules')).filter(d => !d.startsWith('.'))).toEqual([clientPkg.name])
    writeFileSync(join(app, 'main.js'), `
      import { Murmur } from '${clientPkg.name}'
      const murmur = new Murmur()
      await murmur.config.set('pkg/answer', 42)
      const reg = await murmur.register({ name: 'packed-svc', port: 9000 }, { ttl: '10s' })
      const instances = await murmur.instances('packed-svc')
      const item = await murmur.config.get('pkg/answer')
      await reg.deregister()
      console.log(JSON.stringify({ value: item.value, ports: instances.map(i => i.port) }))
    `)
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: app, timeout: 60_000, env: { ...process.env, MURMUR_HTTP_ADDR: agent.http } })
    expect(JSON.parse(stdout)).toEqual({ value: 42, ports: [9000] })
    expect((await agent.get('/v1/config/pkg/answer')).body.value).toBe(42)

    // Its types: a strict TypeScript consumer without @types/node compiles against them.
    writeFileSync(join(app, 'check.ts'), `
      import { Murmur, MurmurClientError, type Instance } from '${clientPkg.name}'
      const m = new Murmur({ http: '127.0.0.1:7401' })
      export const first: Promise<Instance | undefined> = m.pick('web')
      export const isError = (e: unknown): boolean => e instanceof MurmurClientError && e.code === 'MURMUR_ERR_NOT_FOUND'
    `)
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] },
      files: ['check.ts']
    }))
    await run(process.execPath, [TSC, '-p', app], { cwd: app, timeout: 120_000 })
  })

  it('installs the agent from its tarball, and its bin runs there', async () => {
    const dir = join(scratch, 'agent')
    await installInto(dir, tarballs.agent, false)
    const { stdout, stderr } = await run('npx', ['--no-install', 'murmur', 'agent', '--help'], { cwd: dir, timeout: 60_000 }).catch(err => err)
    expect(`${stdout}${stderr}`).toMatch(/--no-mdns/)
    // It brings the client code it uses, but not the repository's tests or sources.
    const installed = join(dir, 'node_modules', agentPkg.name)
    expect(readdirSync(installed).sort()).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json']))
    expect(readdirSync(installed)).not.toContain('src')
    expect(readdirSync(installed)).not.toContain('test')
    // The bundle bin/murmur runs, with the web view's files beside its chunks.
    expect(readdirSync(join(installed, 'dist', 'bundle'))).toEqual(expect.arrayContaining(['main.js', 'agent.cjs', 'static']))
    expect(readdirSync(join(installed, 'dist', 'bundle', 'static')).sort()).toEqual(readdirSync(join(ROOT, 'src', 'http', 'ui', 'static')).sort())
  })

  it('bin/murmur runs the bundle, or tsc\'s output when the bundle is missing or was built before it', async () => {
    const dir = mkdtempSync(join(scratch, 'bin-'))
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true })
    const fake = (rel: string, which: string): string => {
      mkdirSync(join(dir, 'dist', rel), { recursive: true })
      const file = join(dir, 'dist', rel, 'main.js')
      writeFileSync(file, `export async function main () { process.stdout.write('${which}'); return 0 }\n`)
      return file
    }
    const ran = async (...args: string[]): Promise<string> => (await run(process.execPath, [join(dir, 'bin', 'murmur'), ...args], { timeout: 30_000 })).stdout
    const tsc = fake('cli', 'tsc')
    expect(await ran()).toBe('tsc')
    const bundle = fake('bundle', 'bundle')
    // Each bundle step touches this stamp, and leaves the files it did not change as they were.
    const built = join(dir, 'dist', 'bundle', 'built')
    writeFileSync(built, '')
    utimesSync(bundle, new Date(Date.now() - 600_000), new Date(Date.now() - 600_000))
    utimesSync(tsc, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    expect(await ran()).toBe('bundle')
    // A bare `tsc` after the last build: the newer compiled code wins over the stale bundle.
    utimesSync(built, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000))
    expect(await ran()).toBe('tsc')
    // An installed package: npm gives every file in its tarball the same time.
    const packed = new Date('1985-10-26T08:15:00Z')
    for (const f of [tsc, bundle, built]) utimesSync(f, packed, packed)
    expect(await ran()).toBe('bundle')
    // `murmur agent` runs the CommonJS twin (through the code cache) when there is one; with
    // source maps on, or without the twin, the ES module bundle.
    const twin = join(dir, 'dist', 'bundle', 'agent.cjs')
    writeFileSync(twin, 'exports.main = async () => { process.stdout.write(`twin ${typeof __murmurModuleUrl}`); return 0 }\n')
    utimesSync(twin, packed, packed)
    expect(await ran('agent')).toBe('twin string')
    expect(await ran('status')).toBe('bundle')
    expect((await run(process.execPath, ['--enable-source-maps', join(dir, 'bin', 'murmur'), 'agent'], { timeout: 30_000 })).stdout).toBe('bundle')
    rmSync(twin)
    expect(await ran('agent')).toBe('bundle')
  })
})
