// The sidecar's request-duration histogram: what it exposes through prom-client's Registry is
// a Prometheus histogram (cumulative buckets up to +Inf, _sum, _count) per method, route
// pattern and status class.
import { Registry, type Metric } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { RequestDurations } from '../../src/http/request-durations.js'

describe('RequestDurations', () => {
  it('bins durations by method, route and status class, exposed as Prometheus text', async () => {
    const d = new RequestDurations('x_seconds', 'Durations.', [0.001, 0.01, 1])
    const registry = new Registry()
    registry.registerMetric(d as unknown as Metric)
    d.observe('GET', '/v1/services/:name', 200, 0.0005)
    d.observe('GET', '/v1/services/:name', 204, 0.001) // on a bound: counted in that bucket
    d.observe('GET', '/v1/services/:name', 200, 0.5)
    d.observe('GET', '/v1/services/:name', 200, 5) // above every bound: +Inf only
    d.observe('GET', '/v1/services/:name', 404, 0.002)
    d.observe('PUT', '/v1/config/*key', 503, 0.02)
    d.observe('GET', 'none', 999, 0.02)
    const text = await registry.metrics()
    const line = (s: string): number => {
      const m = text.split('\n').find(l => l.startsWith(s + ' '))
      if (m === undefined) throw new Error(`no line ${s} in\n${text}`)
      return Number(m.slice(s.length + 1))
    }
    expect(text).toContain('# HELP x_seconds Durations.\n# TYPE x_seconds histogram\n')
    const s2 = 'method="GET",route="/v1/services/:name",status="2xx"'
    expect(line(`x_seconds_bucket{le="0.001",${s2}}`)).toBe(2)
    expect(line(`x_seconds_bucket{le="0.01",${s2}}`)).toBe(2)
    expect(line(`x_seconds_bucket{le="1",${s2}}`)).toBe(3)
    expect(line(`x_seconds_bucket{le="+Inf",${s2}}`)).toBe(4)
    expect(line(`x_seconds_count{${s2}}`)).toBe(4)
    expect(line(`x_seconds_sum{${s2}}`)).toBeCloseTo(5.5015, 6)
    expect(line('x_seconds_count{method="GET",route="/v1/services/:name",status="4xx"}')).toBe(1)
    expect(line('x_seconds_bucket{le="0.01",method="PUT",route="/v1/config/*key",status="5xx"}')).toBe(0)
    expect(line('x_seconds_count{method="PUT",route="/v1/config/*key",status="5xx"}')).toBe(1)
    expect(line('x_seconds_count{method="GET",route="none",status="other"}')).toBe(1)
    const json = await registry.getMetricsAsJSON()
    const values = (json.find(m => m.name === 'x_seconds') as unknown as { values: Array<{ labels: Record<string, unknown>, value: number, metricName: string }> }).values
    expect(values.find(v => v.metricName === 'x_seconds_count' && v.labels.status === '2xx')?.labels).toEqual({ method: 'GET', route: '/v1/services/:name', status: '2xx' })
    registry.resetMetrics()
    expect(await registry.metrics()).not.toContain('x_seconds_count')
  })
})
