// Least squares for the seed's model of a config change's effect, Δy = β0 + β1·Δx + ε: each
// past change of a key gives one point (Δx = new − old value, Δy = the metric after − before).
// Returns the fit, R², and a 95 % confidence interval for β1 from Student's t with n − 2
// degrees of freedom. Pure arithmetic; advisory only (nothing acts on it).

/** Below this many points the fit is reported as insufficient. */
export const MIN_POINTS = 5

export type Fit =
  | { n: number, insufficient: true, reason: string }
  | { n: number, insufficient?: false, beta0: number, beta1: number, r2: number, beta1Ci95: [number, number], beta1StdErr: number }

export function fitLine (xs: readonly number[], ys: readonly number[], minPoints = MIN_POINTS): Fit {
  const n = Math.min(xs.length, ys.length)
  if (n < Math.max(3, minPoints)) return { n, insufficient: true, reason: `${n} changes with samples before and after, need ${Math.max(3, minPoints)}` }
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) { mx += xs[i]; my += ys[i] }
  mx /= n
  my /= n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx
    const dy = ys[i] - my
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  if (!(sxx > 0)) return { n, insufficient: true, reason: 'every change moved the key by the same amount: no spread in Δx to fit a slope' }
  const beta1 = sxy / sxx
  const beta0 = my - beta1 * mx
  let sse = 0
  for (let i = 0; i < n; i++) {
    const e = ys[i] - beta0 - beta1 * xs[i]
    sse += e * e
  }
  const r2 = syy > 0 ? Math.max(0, 1 - sse / syy) : 1
  const se = Math.sqrt(sse / (n - 2) / sxx)
  const t = studentTQuantile(0.975, n - 2)
  return { n, beta0, beta1, r2, beta1Ci95: [beta1 - t * se, beta1 + t * se], beta1StdErr: se }
}

/** ln Γ(x), Lanczos approximation (g = 7, n = 9), |error| < 1e-13 for x > 0. */
function lnGamma (x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x)
  x -= 1
  let a = c[0]
  const t = x + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (x + i)
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a)
}

/** Continued fraction of the regularised incomplete beta function (Numerical Recipes, betacf). */
function betaCf (a: number, b: number, x: number): number {
  const tiny = 1e-300
  let c = 1
  let d = 1 - (a + b) * x / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-14) break
  }
  return h
}

/** Regularised incomplete beta I_x(a, b). */
function incBeta (x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? front * betaCf(a, b, x) / a : 1 - front * betaCf(b, a, 1 - x) / b
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentTCdf (t: number, df: number): number {
  const tail = 0.5 * incBeta(df / (df + t * t), df / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/** The t such that P(T <= t) = p, by bisection (monotone CDF; 200 halvings are plenty). */
export function studentTQuantile (p: number, df: number): number {
  let lo = -1e6
  let hi = 1e6
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2
    if (studentTCdf(mid, df) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}
