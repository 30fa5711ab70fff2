// Student t tail probabilities for the Welch test. Written here because none of the installed packages
// has them, and a whole statistics library for one function would be a heavy dependency for the page.
//   two-sided p(t, df) = I_x(df/2, 1/2) with x = df / (df + t^2)     (regularized incomplete beta)
// I_x(a, b) is evaluated by its continued fraction (modified Lentz), switching to 1 - I_{1-x}(b, a)
// where the fraction converges slowly, as in Numerical Recipes section 6.4.

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(z) for z > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function lnGamma(z: number): number {
  if (!(z > 0)) throw new Error(`lnGamma: argument must be positive (got ${z}).`);
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z); // reflection
  const x = z - 1;
  let a = LANCZOS[0];
  const t = x + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for I_x(a, b) (without the prefactor); converges fast for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2)); // even step
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2)); // odd step
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta: continued fraction did not converge for a=${a}, b=${b}, x=${x}.`);
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function regularizedIncompleteBeta(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0)) throw new Error(`regularizedIncompleteBeta: a and b must be positive (got a=${a}, b=${b}).`);
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedIncompleteBeta: x must be in [0, 1] (got ${x}).`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  // Prefactor x^a (1-x)^b / (a B(a, b)) in logs, so tiny tails (p ~ 1e-300) do not underflow early.
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom (df may be fractional, as in Welch's test). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) throw new Error('studentTTwoSidedP: t is NaN.');
  if (!(df > 0 && Number.isFinite(df))) throw new Error(`studentTTwoSidedP: degrees of freedom must be positive and finite (got ${df}).`);
  if (!Number.isFinite(t)) return 0;
  // x = df / (df + t^2), written so large t does not lose precision.
  const x = 1 / (1 + (t * t) / df);
  return Math.min(1, regularizedIncompleteBeta(df / 2, 0.5, x));
}
