// The web view in a real headless Chromium (Debian's, driven by playwright-core) against a real
// three-agent cluster: members appear, a config write on another agent shows up within 1 s
// without a reload, the filter box filters, and a killed member turns failed.
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, type AgentProc } from '../helpers/agents.js'

const CHROMIUM = '/usr/bin/chromium'
// CI installs chromium (.ci/run) and must run this; elsewhere it says why it is skipped.
const runnable = existsSync(CHROMIUM) || process.env.CI === 'true'

describe.skipIf(!runnable)(`web view in headless Chromium (${CHROMIUM})`, () => {
  const cluster = new Cluster()
  let agents: AgentProc[]
  let browser: BrowserContext
  let page: Page

  beforeAll(async () => {
    const u1 = await cluster.start({ name: 'u1' })
    agents = [u1, await cluster.start({ name: 'u2', join: [u1.listen] }), await cluster.start({ name: 'u3', join: [u1.listen] })]
    await cluster.converged(['u1', 'u2', 'u3'])
    await agents[0].req('PUT', '/v1/agent/services', { name: 'web', id: 'web-1', port: 8081, tags: ['v1'] })
    await agents[1].req('PUT', '/v1/agent/services', { name: 'web', id: 'web-2', port: 8082, tags: ['v1'], check: { ttl: '1h' } })
    await agents[2].req('PUT', '/v1/agent/services', { name: 'api', id: 'api-1', port: 9090, tags: ['v2'] })
    await agents[1].req('PUT', '/v1/config/app/db.url', 'postgres://db:5432/app')
    await agents[2].req('PUT', '/v1/config/app/limits', { rps: 50, burst: 100 })
    // A fresh profile (playwright passes it as --user-data-dir), and nothing that phones home.
    browser = await chromium.launchPersistentContext(cluster.tempDir(), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 820 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']
    })
    page = await browser.newPage()
    await page.goto(`http://${agents[0].http}/ui`)
  })

  afterAll(async () => {
    await browser?.close()
    await cluster.stopAll()
  })

  const statusOf = (name: string) => page.locator(`#members tr[data-member="${name}"] td.status`)

  it('shows the three members alive, the services with their health, and the config', async () => {
    for (const n of ['u1', 'u2', 'u3']) await expectText(statusOf(n), 'alive')
    await expectText(page.locator('#services tr[data-instance="web-2"] td.health'), 'critical')
    await expectText(page.locator('#services tr[data-instance="api-1"] td.health'), 'passing')
    await expectText(page.locator('#config tr[data-key="app/limits"] td.value'), '{"rps":50,"burst":100}')
    expect(await page.locator('#config tr[data-key="app/db.url"]').textContent()).toContain('u2')
  })

  it('shows a config write made on another agent within 1 s, and a health change, without a reload', async () => {
    // From the moment the write is acknowledged on u3 to the row on the page u1 serves.
    expect((await agents[2].req('PUT', '/v1/config/app/feature', { on: true })).status).toBe(200)
    const t0 = Date.now()
    await page.locator('#config tr[data-key="app/feature"]').waitFor({ timeout: 10_000 })
    expect(Date.now() - t0).toBeLessThan(1000)
    await agents[1].req('PUT', '/v1/agent/services/web-2/ttl', { status: 'pass', output: 'ready' })
    await expectText(page.locator('#services tr[data-instance="web-2"] td.health'), 'passing')
  })

  it('filters rows by the text in the filter box', async () => {
    await page.fill('#filter', 'api')
    await expectVisible(page.locator('#services tr[data-instance="api-1"]'), true)
    await expectVisible(page.locator('#services tr[data-instance="web-1"]'), false)
    await page.fill('#filter', '')
    await expectVisible(page.locator('#services tr[data-instance="web-1"]'), true)
  })

  it('turns a killed member failed', async () => {
    agents[2].kill('SIGKILL')
    await expectText(statusOf('u3'), 'failed', 60_000)
    await expectText(statusOf('u2'), 'alive')
    const shot = process.env.MURMUR_UI_SCREENSHOT ?? join(tmpdir(), `murmur-ui-${process.pid}.png`)
    await page.screenshot({ path: shot, fullPage: true })
    expect(existsSync(shot)).toBe(true)
  })

  async function expectText (loc: ReturnType<Page['locator']>, text: string, timeout = 15_000): Promise<void> {
    await loc.filter({ hasText: text }).waitFor({ timeout })
  }

  async function expectVisible (loc: ReturnType<Page['locator']>, visible: boolean): Promise<void> {
    await loc.waitFor({ state: visible ? 'visible' : 'hidden', timeout: 5000 })
  }
})
