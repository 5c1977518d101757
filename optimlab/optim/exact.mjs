/**
 * 浏览器里与 torch / Python 逐位一致所需的算术（optimlab/optim/rules.mjs 用它，也从那里再导出）：
 *
 *   fma(a, b, c)   a·b + c 只舍入一次。torch 的 add(alpha=)、addcmul、lerp 与 2-范数在 CPU 上被编译成 FMA，
 *                  JS 没有 FMA 指令：用 Dekker 拆分得到精确的 a·b，再按 Boldo & Melquiond (2008) 的"舍入到奇数"
 *                  求和（正确舍入）；上溢、下溢附近改用 BigInt 精确计算。
 *   pow(x, y)      正确舍入的 x^y（Python 的 x ** y；Math.pow 常差 1 ulp，glibc 的 pow 误差 ≤ 0.52 ulp）。
 *   f32(x)         float32 舍入（torch 的 float32 标量状态）。
 *   pyFloat(x)     Python 的 str(float)（torch 报错信息里数值的写法）。
 */

// ------------------------------------------------------------------------------------------------
// 数值基础：FMA、正确舍入的 pow、float32 舍入、Python 的浮点数格式
// ------------------------------------------------------------------------------------------------

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer); // 小端：U32[0] 是低 32 位
const SPLIT = 134217729; // 2^27 + 1：Veltkamp 拆分
const BIG = 2 ** 996;
const TINY = 2 ** -960;

/** float32 舍入（torch 的 float32 标量状态：step、mu_product、ASGD 的 eta 与 mu）。 */
export const f32 = Math.fround;

/** a·b + c 只舍入一次。a·b 用 Dekker 拆分精确表示，再按 Boldo & Melquiond (2008) 的"舍入到奇数"求和；
 *  超出安全范围（上溢、下溢附近）时改用 BigInt 精确计算。 */
export function fma(a, b, c) {
  const p = a * b;
  const ap = Math.abs(p);
  if (!(ap < BIG && ap > TINY && Math.abs(a) < BIG && Math.abs(b) < BIG && Math.abs(c) < BIG)) return exactFma(a, b, c, p);
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  const e = ((ah * bh - p) + ah * bl + al * bh) + al * bl; // a·b = p + e
  const th = c + p; // c + p = th + tl
  let z = th - c;
  const tl = (c - (th - z)) + (p - z);
  const s = tl + e; // 舍入到奇数：RO(tl + e)
  z = s - tl;
  const err = (tl - (s - z)) + (e - z);
  if (err !== 0) {
    F64[0] = s;
    if ((U32[0] & 1) === 0) {
      if ((err > 0) === (s > 0)) U32[0] += 1;
      else if (U32[0] === 0) { U32[0] = 0xffffffff; U32[1] -= 1; } else U32[0] -= 1;
      return th + F64[0];
    }
  }
  return th + s;
}

function decompose(x) { // x = m · 2^e（m 为 BigInt）
  F64[0] = x;
  const hi = U32[1], lo = U32[0];
  const exp = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp) m |= 1n << 52n;
  if (hi >>> 31) m = -m;
  return [m, (exp || 1) - 1075];
}

function exactFma(a, b, c, p) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || !Number.isFinite(c) || a === 0 || b === 0) return p + c;
  const [ma, ea] = decompose(a), [mb, eb] = decompose(b), [mc, ec] = decompose(c);
  let e = Math.min(ea + eb, ec);
  let n = ((ma * mb) << BigInt(ea + eb - e)) + (mc << BigInt(ec - e));
  if (n === 0n) return p + c;
  const negative = n < 0n;
  if (negative) n = -n;
  const bits = n.toString(2).length;
  if (e + bits - 1 < -1022 && e < -1074) { // 结果是次正规数：在 2^−1074 那一位上舍入到最近的偶数
    const shift = BigInt(-1074 - e), rest = n & ((1n << shift) - 1n), half = 1n << (shift - 1n);
    n >>= shift;
    if (rest > half || (rest === half && (n & 1n))) n += 1n;
    e = -1074;
  } else if (bits > 64) { // 留 64 位加粘滞位，Number() 再正确舍入
    const shift = BigInt(bits - 64);
    n = (n >> shift) | ((n & ((1n << shift) - 1n)) !== 0n ? 1n : 0n);
    e += bits - 64;
  }
  let r = Number(n);
  for (; e > 0; e -= Math.min(e, 1000)) r *= 2 ** Math.min(e, 1000);
  for (; e < 0; e += Math.min(-e, 1000)) r *= 2 ** -Math.min(-e, 1000);
  return negative ? -r : r;
}

// 双倍精度（double-double）运算，只供 pow 使用
function twoProd(a, b) {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  return [p, ((ah * bh - p) + ah * bl + al * bh) + al * bl];
}
function ddAdd(ah, al, bh, bl) {
  const s = ah + bh, z = s - ah;
  const e = (ah - (s - z)) + (bh - z) + al + bl;
  const h = s + e;
  return [h, e - (h - s)];
}
function ddMul(ah, al, bh, bl) {
  const [p, e] = twoProd(ah, bh);
  const t = e + (ah * bl + al * bh);
  const h = p + t;
  return [h, t - (h - p)];
}
function ddDivByNumber(ah, al, d) {
  const q = ah / d;
  const [p, e] = twoProd(q, d);
  const r = (ah - p - e + al) / d;
  const h = q + r;
  return [h, r - (h - q)];
}
const LN2 = [0.6931471805599453, 2.3190468138462996e-17];
function ddExp(ah, al) {
  if (ah > 709.8) return [Infinity, 0];
  if (ah < -745.2) return [0, 0];
  const k = Math.round(ah / LN2[0]);
  let [rh, rl] = ddAdd(ah, al, ...ddMul(LN2[0], LN2[1], -k, 0));
  rh /= 1024; rl /= 1024;
  let sh = rh, sl = rl, th = rh, tl = rl; // expm1(r) 的 Taylor 级数
  for (let i = 2; i <= 11; i++) {
    [th, tl] = ddDivByNumber(...ddMul(th, tl, rh, rl), i);
    [sh, sl] = ddAdd(sh, sl, th, tl);
  }
  for (let i = 0; i < 10; i++) [sh, sl] = ddAdd(2 * sh, 2 * sl, ...ddMul(sh, sl, sh, sl)); // expm1(2r) = 2s + s²
  [sh, sl] = ddAdd(sh, sl, 1, 0);
  return [sh * 2 ** k, sl * 2 ** k];
}
function ddLog(x) { // 一次牛顿迭代：l + x·e^(−l) − 1
  const l = Math.log(x);
  const [mh, ml] = ddMul(...ddExp(-l, 0), x, 0);
  return ddAdd(l, 0, ...ddAdd(mh, ml, -1, 0));
}

/** 正确舍入的 x^y（Python 的 x ** y 调用 C 库的 pow，glibc 的误差 ≤ 0.52 ulp，极少数情况与此差 1 ulp；
 *  Math.pow 则常差 1 ulp）。整数指数用双倍精度的二进制幂，其余用双倍精度的 exp(y·log x)。 */
export function pow(x, y) {
  if (y === 0.5 && x >= 0) return Math.sqrt(x);
  if (!(x > 0) || !Number.isFinite(x) || !Number.isFinite(y) || y === 0 || x === 1) return Math.pow(x, y);
  let row = POWERS.get(x); // 同一组 (x, y) 在收敛图的各格、各步反复出现（βᵗ、0.96^{tψ}）：算一次
  if (row === undefined) {
    if (POWERS.size > 4096) POWERS.clear();
    row = new Map();
    POWERS.set(x, row);
  }
  let v = row.get(y);
  if (v === undefined) {
    v = exactPow(x, y);
    if (row.size < 100000) row.set(y, v);
  }
  return v;
}
const POWERS = new Map();

function exactPow(x, y) {
  let h, l;
  if (Number.isInteger(y) && Math.abs(y) <= 2 ** 20) {
    let bh = x, bl = 0;
    h = 1; l = 0;
    for (let k = Math.abs(y); k > 0; k = Math.floor(k / 2)) {
      if (k & 1) [h, l] = ddMul(h, l, bh, bl);
      if (k > 1) [bh, bl] = ddMul(bh, bl, bh, bl);
    }
    if (y < 0) {
      const q = 1 / h;
      const [p, e] = twoProd(q, h);
      const r = (1 - p - e - q * l) / h;
      [h, l] = [q, r];
    }
  } else {
    [h, l] = ddExp(...ddMul(...ddLog(x), y, 0));
  }
  return h + l;
}

/** Python 的 str(float)：0.001、1e-05、-1.0、nan、inf（torch 的报错信息里数值的写法）。 */
export function pyFloat(x) {
  if (typeof x !== "number") return String(x);
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, exp] = x.toExponential().split("e");
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  const s = String(x);
  return s.includes(".") ? s : `${s}.0`;
}
