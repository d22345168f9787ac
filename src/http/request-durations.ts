// The sidecar's request-duration histogram, kept in typed arrays and turned into Prometheus
// series only when scraped. prom-client's Histogram checks and hashes the label set on every
// observation (even through a bound `labels(...).observe`): in a profile under load that was a
// third of murmur's own CPU per read (Node's HTTP stack aside), as much as routing. Here an observation is two Map lookups by
// strings the router already holds (route pattern, method), one array index by status class,
// and a short scan of the bucket bounds: no allocation, no string building.
//
// Registered in a prom-client Registry as a metric of type histogram; the text it exposes is
// the one prom-client's own Histogram wrote (same names, label order and cumulative buckets).

const STATUS_CLASS = ['other', '1xx', '2xx', '3xx', '4xx', '5xx']

interface Series {
  labels: { method: string, route: string, status: string }
  /** Observations per bucket (not cumulative), the last slot for those above every bound. */
  counts: Float64Array
  sum: number
  count: number
}

interface Value {
  labels: Record<string, string | number>
  sharedLabels?: Record<string, string>
  value: number
  metricName: string
}

export class RequestDurations {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  /** route pattern → method → series by status class (index: status / 100, 0 for other). */
  private readonly series = new Map<string, Map<string, Array<Series | undefined>>>()

  constructor (readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  /** Record one answer; labels must be bounded (route patterns, HTTP methods Node accepts). */
  observe (method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route)
    if (byMethod === undefined) this.series.set(route, byMethod = new Map())
    let byClass = byMethod.get(method)
    if (byClass === undefined) byMethod.set(method, byClass = [])
    const c = status >= 100 && status < 600 ? Math.floor(status / 100) : 0
    let s = byClass[c]
    if (s === undefined) {
      s = byClass[c] = { labels: { method, route, status: STATUS_CLASS[c] }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }
    }
    const b = this.bounds
    let i = 0
    while (i < b.length && seconds > b[i]) i++
    s.counts[i]++
    s.sum += seconds
    s.count++
  }

  /** What prom-client's Registry formats: cumulative buckets up to +Inf, then _sum and _count. */
  getForPromString (): { name: string, help: string, type: string, aggregator: string, values: Value[] } {
    const values: Value[] = []
    const bucket = `${this.name}_bucket`
    for (const byMethod of this.series.values()) {
      for (const byClass of byMethod.values()) {
        for (const s of byClass) {
          if (s === undefined) continue
          let acc = 0
          for (let i = 0; i < this.bounds.length; i++) {
            acc += s.counts[i]
            values.push({ labels: { le: this.bounds[i] }, sharedLabels: s.labels, value: acc, metricName: bucket })
          }
          values.push(
            { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket },
            { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
            { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` })
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** The same values with each series' labels merged in (prom-client's JSON form). */
  get (): ReturnType<RequestDurations['getForPromString']> {
    const data = this.getForPromString()
    data.values = data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }))
    return data
  }

  reset (): void {
    this.series.clear()
  }
}
