// The web view at /ui: three static files (static/), read once and served from memory. They
// sit beside this module in src/ and are copied beside the compiled module in dist/ and beside
// the bundle's chunks in dist/bundle/ by `npm run build`, so the same relative path works from a
// checkout (tsx), tsc's output, the bundle and a package.
import { readFileSync } from 'node:fs'
import type { Reply, Route } from '../server.js'

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

const cache = new Map<string, string>()

function asset (name: string): Reply {
  let text = cache.get(name)
  if (text === undefined) {
    const url = new URL(`./static/${name}`, import.meta.url)
    try {
      text = readFileSync(url, 'utf8')
    } catch (err) {
      throw new Error(`web view file ${url.pathname} is missing (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}): run \`npm run build\``)
    }
    cache.set(name, text)
  }
  return {
    text,
    headers: {
      'content-type': TYPES[name],
      'cache-control': 'no-cache',
      // The page only talks to the agent that serves it.
      'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff'
    }
  }
}

export function uiRoutes (): Route[] {
  return [
    { method: 'GET', pattern: '/ui', handler: () => asset('index.html') },
    { method: 'GET', pattern: '/ui/', handler: () => asset('index.html') },
    ...Object.keys(TYPES).map(name => ({ method: 'GET', pattern: `/ui/${name}`, handler: () => asset(name) }))
  ]
}
