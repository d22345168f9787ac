// The part of autocannon's API the bench uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number, mean: number, p50: number, p99: number, max: number, total: number }
  interface Result { requests: Histogram, latency: Histogram, throughput: Histogram, errors: number, timeouts: number, non2xx: number }
  interface Options { url: string, connections?: number, pipelining?: number, duration?: number, amount?: number, method?: string }
  function autocannon (opts: Options): Promise<Result>
  export default autocannon
}
