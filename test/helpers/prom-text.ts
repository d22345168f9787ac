// A strict reader of the Prometheus text exposition format (0.0.4), for tests: every line must
// be a HELP, a TYPE or a sample; each family has HELP (and TYPE) once, before its samples; samples
// belong to the family announced (histograms: _bucket, _sum, _count); names, labels and values
// are checked against the format's grammar. Throws on the first violation, naming the line.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample { name: string, labels: Record<string, string>, value: number }

export interface Family { name: string, help: string, type: MetricType, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

export function parseExposition (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  let current: Family | undefined
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
      if (m === null) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`malformed ${where}`)
        return // a comment
      }
      const [, kind, name, rest] = m
      if (!NAME.test(name)) throw new Error(`bad metric name in ${where}`)
      let f = families.get(name)
      if (f === undefined) {
        f = { name, help: '', type: 'untyped', samples: [] }
        families.set(name, f)
        current = f
      } else if (f !== current || f.samples.length > 0) throw new Error(`family ${name} split or announced after its samples: ${where}`)
      if (kind === 'HELP') {
        if (f.help !== '') throw new Error(`second HELP: ${where}`)
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      } else {
        if (!TYPES.has(rest)) throw new Error(`unknown type: ${where}`)
        f.type = rest as MetricType
      }
      return
    }
    const sample = parseSample(line, where)
    if (current === undefined || !belongs(current, sample.name)) throw new Error(`sample outside its family: ${where}`)
    current.samples.push(sample)
  })
  for (const f of families.values()) {
    if (f.help === '') throw new Error(`family ${f.name} has no HELP`)
  }
  return families
}

function belongs (f: Family, name: string): boolean {
  if (f.type === 'histogram') return [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(name)
  if (f.type === 'summary') return [f.name, `${f.name}_sum`, `${f.name}_count`].includes(name)
  return name === f.name
}

function parseSample (line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line)
  if (m === null) throw new Error(`malformed sample ${where}`)
  const labels: Record<string, string> = {}
  if (m[2] !== undefined) {
    let s = m[2].slice(1, -1)
    while (s !== '') {
      const l = /^([^=]+)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(s)
      if (l === null || !LABEL.test(l[1])) throw new Error(`malformed labels in ${where}`)
      if (l[1] in labels) throw new Error(`label ${l[1]} twice in ${where}`)
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
      s = s.slice(l[0].length)
    }
  }
  const raw = m[3]
  // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case
  // (prom-client writes an event-loop lag with no sample yet as `Nan`).
  const value = /^\+?inf$/i.test(raw) ? Infinity : /^-inf$/i.test(raw) ? -Infinity : /^nan$/i.test(raw) ? NaN : Number(raw)
  if (!/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf)$|^nan$/i.test(raw)) throw new Error(`bad value in ${where}`)
  return { name: m[1], labels, value }
}
