// murmur's web view: members, services and config of the cluster as the agent serving this page
// sees them, kept live by the sidecar's event streams (members, config) and a blocking query
// (services). Plain DOM code, no framework. Every value shown comes from the cluster, so text
// is only ever set with textContent, never parsed as HTML.
'use strict'

const state = { members: [], services: new Map(), config: new Map(), filter: '' }
const $ = sel => document.querySelector(sel)

/** An element with attributes and children (strings become text nodes). */
function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v)
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}

const badge = status => h('span', { class: `badge ${status}` }, status)

function ago (iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor(s % 3600 / 60)}m ago`
  return `${Math.floor(s / 86400)}d ago`
}

const when = iso => h('span', { class: 'since', 'data-t': iso, title: iso }, ago(iso))
const mib = bytes => `${(bytes / 1048576).toFixed(0)} MiB`

function fill (table, rows, count) {
  const body = $(`#${table} tbody`)
  body.replaceChildren(...rows)
  $(`#${table}-count`).textContent = `(${count})`
  applyFilter()
}

function renderMembers () {
  fill('members', state.members.map(m => h('tr', { 'data-member': m.name },
    h('td', {}, m.name, m.self ? h('span', { class: 'muted' }, ' (this agent)') : ''),
    h('td', {}, m.address),
    h('td', { class: 'status' }, badge(m.status)),
    h('td', {}, when(m.statusSince)),
    h('td', { class: 'num' }, m.generation),
    h('td', { class: 'num' }, m.metrics ? `${Math.round(m.metrics.cpu * 100)}%` : ''),
    h('td', { class: 'num' }, m.metrics ? m.metrics.load1.toFixed(2) : ''),
    h('td', { class: 'num' }, m.metrics ? mib(m.metrics.rss) : ''),
    h('td', { class: 'num' }, m.services)
  )), state.members.length)
}

function renderServices () {
  const rows = []
  let n = 0
  for (const [name, instances] of [...state.services].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
    n++
    if (instances.length === 0) rows.push(h('tr', { 'data-service': name }, h('td', {}, name), h('td', { class: 'muted', colspan: 6 }, 'no instances')))
    for (const i of instances) {
      rows.push(h('tr', { 'data-service': name, 'data-instance': i.id },
        h('td', {}, name),
        h('td', {}, i.id),
        h('td', {}, i.node, i.memberStatus !== 'alive' ? h('span', { class: 'muted' }, ` (${i.memberStatus})`) : ''),
        h('td', {}, `${i.address}:${i.port}`),
        h('td', { class: 'health' }, badge(i.health)),
        h('td', {}, i.tags.map(t => h('span', { class: 'tag' }, t))),
        h('td', { class: 'muted' }, i.output)
      ))
    }
  }
  fill('services', rows, n)
}

function renderConfig (changed) {
  const items = [...state.config.values()].sort((a, b) => a.key < b.key ? -1 : 1)
  fill('config', items.map(c => h('tr', { 'data-key': c.key, class: c.key === changed ? 'flash' : undefined },
    h('td', {}, c.key),
    h('td', { class: 'value' }, JSON.stringify(c.value)),
    h('td', { class: 'num', title: c.version.origin }, c.version.hlc),
    h('td', {}, c.version.originName ?? c.version.origin.slice(-8)),
    h('td', {}, when(c.updatedAt))
  )), items.length)
}

function applyFilter () {
  const q = state.filter
  for (const tr of document.querySelectorAll('tbody tr')) tr.classList.toggle('hidden', q !== '' && !tr.textContent.toLowerCase().includes(q))
}

// ---- live data ---------------------------------------------------------------------------

const streams = new Set()
function liveDot () { $('#live').classList.toggle('on', [...streams].every(s => s.readyState === EventSource.OPEN)) }

function stream (path, handlers) {
  const es = new EventSource(path)
  streams.add(es)
  for (const [event, fn] of Object.entries(handlers)) es.addEventListener(event, e => fn(JSON.parse(e.data)))
  es.onopen = liveDot
  es.onerror = liveDot
}

async function getJson (path, signal) {
  const res = await fetch(path, { signal })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return { body: await res.json(), index: res.headers.get('x-murmur-index') }
}

/** Services: a blocking query on the catalog, then each service's instances. */
async function followServices () {
  let index = 0
  for (;;) {
    try {
      const { body, index: next } = await getJson(`/v1/services?index=${index}&wait=55s`)
      index = next
      const lists = await Promise.all(body.map(s => getJson(`/v1/services/${encodeURIComponent(s.name)}`)))
      state.services = new Map(body.map((s, i) => [s.name, lists[i].body]))
      renderServices()
    } catch {
      index = 0
      await new Promise(resolve => setTimeout(resolve, 2000))
    }
  }
}

async function main () {
  $('#filter').addEventListener('input', e => { state.filter = e.target.value.trim().toLowerCase(); applyFilter() })
  getJson('/v1/agent/self').then(({ body }) => {
    $('#where').textContent = `${body.name} · cluster ${body.cluster}`
    document.title = `murmur · ${body.cluster}`
  }).catch(() => {})
  stream('/v1/watch/members', { members: list => { state.members = list; renderMembers() } })
  stream('/v1/watch/config', {
    snapshot: ({ items }) => { state.config = new Map(items.map(c => [c.key, c])); renderConfig() },
    put: c => { state.config.set(c.key, c); renderConfig(c.key) },
    delete: c => { state.config.delete(c.key); renderConfig() }
  })
  followServices()
  // Load figures ride on heartbeats, which the member stream does not resend: refresh them.
  setInterval(() => { getJson('/v1/members').then(({ body }) => { state.members = body; renderMembers() }).catch(() => {}) }, 5000)
  setInterval(() => { for (const el of document.querySelectorAll('.since')) el.textContent = ago(el.dataset.t) }, 1000)
}

main()
