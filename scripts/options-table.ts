// Rewrites the README's agent flag table from the option table (src/agent/option-table.ts).
// test/unit/option-table.test.ts fails when they differ; run `npm run docs:options` then.
import { readFileSync, writeFileSync } from 'node:fs'
import { optionsMarkdown } from '../src/agent/option-table.js'

const README = new URL('../README.md', import.meta.url)
const BEGIN = /<!-- options:begin[^>]*-->\n/
const END = '<!-- options:end -->'

const text = readFileSync(README, 'utf8')
const begin = BEGIN.exec(text)
const end = text.indexOf(END)
if (begin === null || end < 0) throw new Error('README.md has no options:begin / options:end markers')
writeFileSync(README, text.slice(0, begin.index + begin[0].length) + optionsMarkdown() + '\n' + text.slice(end))
