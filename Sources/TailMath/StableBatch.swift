/// A vectorised Float32 sampler of SαS(α, 1) (Chambers–Mallows–Stuck, method doc §3) for
/// noise type 2 and `tailsweep sample`: sixteen lanes at a time with `SIMD16<Float>`, with its own
/// polynomial sin/log/exp (no libm calls), so that a release build with `-target-cpu haswell`
/// runs it as AVX2 code.
///
/// Stream use: sample i of a call consumes the i-th 64-bit word the generator returns, and
/// nothing else: its low 32 bits give V, its high 32 bits give W. Filling n values therefore
/// advances the generator by exactly n words, and filling n₁ then n₂ values gives the same
/// numbers as filling n₁ + n₂ at once. Each lane is computed by the same IEEE operations (plain
/// multiplies and adds, no fused multiply-add, no libm), so the values depend only on the seed
/// and α, not on the buffer's alignment or length; they are bit-identical across builds that do
/// not contract floating-point operations (Swift does not).
///
/// Per word (lanes independent):
/// - V: the sign bit of the low half is the sign of V; its 31 other bits m give the distance of
///   V from the nearer endpoint in half-turns, d = (m + ½)·2⁻³² ∈ (0, ½] (rounded to Float; ½
///   exactly only when it rounds there), V = ±π(½ − d). Working with d instead of V keeps full
///   relative precision where cos V → 0 (the heavy tail): cos V = sin(πd) exactly as written.
/// - W: the top 31 bits j of the high half give U = (j + ½)·2⁻³¹, clamped to ≤ 1 − 2⁻²⁴ (the
///   largest Float below 1), and W = −log U ∈ [5.96·10⁻⁸, 22.2] ~ Exp(1).
///
/// Then X = sign · sin(π·a) · exp(L) with a = α(½ − d) (or its complement 1 − a when a > ½,
/// computed as (1 − α/2) + αd so that α = 2 keeps relative precision), and the log-domain form of
/// `chambersMallowsStuck`:
/// L = −(1/α)·log sin(πd) + ((1 − α)/α)·log(sin(πb)/W) with b = (1 − |1 − α|)/2 + |1 − α|·d, since
/// cos((1 − α)V) = sin(πb). α = 1 needs no special case: the W term has the factor 0 and
/// sin(πb) = 1, so X = sin(π(½ − d))/sin(πd) = tan V (Cauchy); α = 2 gives 2·sin V·√W ~ N(0, 2).
///
/// Resolution: the tails are truncated only where the 32-bit uniforms run out, |V| ≤
/// π(½ − 2⁻³³) and W ≤ 22.2 (probability ≈ 5·10⁻¹⁰ per draw beyond the largest value), e.g.
/// |X| < 2.7·10⁹ at α = 1. The largest |X| at α = 0.5 is about 10²⁷, so every value is finite.
extension Xoshiro256 {
  /// The α range of the Float32 batch sampler (`fillSymmetricStable`, `addSymmetricStable`).
  public static let batchStableAlphaRange: ClosedRange<Float> = 0.5...2

  /// Fills `out` with independent draws of `scale`·X, X ~ SαS(α, 1) (characteristic function
  /// exp(−|t|^α)), in Float32, sixteen at a time.
  ///
  /// - Parameters:
  ///   - alpha: α ∈ [0.5, 2] (precondition). α = 1 is Cauchy, α = 2 is N(0, 2).
  ///   - scale: a finite factor (precondition) applied to every draw.
  ///   - out: the values to overwrite; any length and alignment.
  /// - Note: consumes exactly `out.count` words of the stream (see the type's documentation).
  ///   Relative error against the exact CMS transform of the same (d, W), before the final
  ///   multiplication by `scale`: at most 2⁻²³·(8 + L₁ + L₂) with L₁ = |log cos V|/α and
  ///   L₂ = |(1 − α)/α|·|log(cos((1 − α)V)/W)|, i.e. ≤ 1.0·10⁻⁶ in the bulk and ≤ 8.1·10⁻⁶ for
  ///   any input (measured maxima: 1.6·10⁻⁶ for α ∈ [1, 2], 4.1·10⁻⁶ for α ∈ [0.5, 1);
  ///   `StableBatchTests`). Never NaN; ±∞ only if |scale·X| overflows Float.
  public mutating func fillSymmetricStable(
    alpha: Float, scale: Float = 1, into out: UnsafeMutableBufferPointer<Float>
  ) {
    stableBatch(alpha: alpha, scale: scale, out: out, accumulate: false)
  }

  /// Adds `scale`·X to every element of `values`, X ~ SαS(α, 1) drawn as in
  /// `fillSymmetricStable` (the same numbers for the same stream position): noise type 2
  /// without a temporary buffer.
  ///
  /// - Parameters:
  ///   - alpha: α ∈ [0.5, 2] (precondition).
  ///   - scale: a finite factor (precondition).
  ///   - values: updated in place; any length and alignment.
  /// - Note: consumes exactly `values.count` words of the stream. Each element becomes
  ///   `values[i] + scale·X_i` rounded once to Float, with `scale·X_i` the value
  ///   `fillSymmetricStable` would have written.
  public mutating func addSymmetricStable(
    alpha: Float, scale: Float, to values: UnsafeMutableBufferPointer<Float>
  ) {
    stableBatch(alpha: alpha, scale: scale, out: values, accumulate: true)
  }

  private mutating func stableBatch(
    alpha: Float, scale: Float, out: UnsafeMutableBufferPointer<Float>, accumulate: Bool
  ) {
    precondition(
      Xoshiro256.batchStableAlphaRange.contains(alpha),
      "fillSymmetricStable: alpha must be in [0.5, 2], got \(alpha)")
    precondition(scale.isFinite, "fillSymmetricStable: scale must be finite, got \(scale)")
    guard let base = out.baseAddress, out.count > 0 else { return }
    let p = StableKernel.Parameters(alpha: alpha, scale: scale)
    let n = out.count
    let lanes = StableKernel.lanes
    let raw = UnsafeMutableRawPointer(base)
    var g = self  // a local copy keeps the generator state in registers
    defer { self = g }
    var i = 0
    while i + lanes <= n {
      let words = StableKernel.StreamWords(
        g.next(), g.next(), g.next(), g.next(), g.next(), g.next(), g.next(), g.next(),
        g.next(), g.next(), g.next(), g.next(), g.next(), g.next(), g.next(), g.next())
      let x = StableKernel.sample(words, p)
      let offset = i * MemoryLayout<Float>.stride
      if accumulate {
        let old = raw.loadUnaligned(fromByteOffset: offset, as: StableKernel.Floats.self)
        raw.storeBytes(of: old + x, toByteOffset: offset, as: StableKernel.Floats.self)
      } else {
        raw.storeBytes(of: x, toByteOffset: offset, as: StableKernel.Floats.self)
      }
      i += lanes
    }
    if i < n {
      // The last n mod 16 values: draw only as many words as values, pad the lanes with 0.
      var words = StableKernel.StreamWords()
      for lane in 0..<(n - i) { words[lane] = g.next() }
      let x = StableKernel.sample(words, p)
      for lane in 0..<(n - i) {
        base[i + lane] = accumulate ? base[i + lane] + x[lane] : x[lane]
      }
    }
  }
}

/// The lane arithmetic of the batch sampler: polynomial approximations in `SIMD16<Float>`.
///
/// Coefficients: discrete minimax fits (linear programming on 20 000–40 000 points of the
/// domain, in Double), rounded to Float. The error bounds stated on each function are the
/// maxima measured in Float32 arithmetic against Foundation's Double functions on a dense grid
/// (`StableBatchTests`), so they include the coefficient rounding and the rounding of every
/// operation.
enum StableKernel {
  /// Lanes per step: two AVX2 registers, so that two independent dependency chains of the
  /// polynomials overlap (≈ 15 % faster than eight lanes).
  static let lanes = 16
  typealias Floats = SIMD16<Float>
  typealias Words = SIMD16<UInt32>
  typealias StreamWords = SIMD16<UInt64>

  /// Per-call constants of the CMS transform.
  struct Parameters {
    /// α.
    var alpha: Float
    /// −1/α.
    var minusInverseAlpha: Float
    /// (1 − α)/α.
    var exponent: Float
    /// 1 − α/2.
    var oneMinusHalfAlpha: Float
    /// c = |1 − α|.
    var c: Float
    /// (1 − c)/2.
    var halfOneMinusC: Float
    /// The factor applied to every sample.
    var scale: Float

    init(alpha: Float, scale: Float) {
      self.alpha = alpha
      minusInverseAlpha = -1 / alpha
      exponent = (1 - alpha) / alpha
      oneMinusHalfAlpha = 1 - alpha / 2
      c = abs(1 - alpha)
      halfOneMinusC = (1 - c) / 2
      self.scale = scale
    }
  }

  @inline(__always) static func bits(_ x: Floats) -> Words { unsafeBitCast(x, to: Words.self) }
  @inline(__always) static func floats(_ x: Words) -> Floats { unsafeBitCast(x, to: Floats.self) }

  /// Exact conversion of lanes below 2³¹ (read as signed 32-bit integers) to Float, rounded to
  /// nearest.
  @inline(__always) static func float(_ x: Words) -> Floats {
    Floats(unsafeBitCast(x, to: SIMD16<Int32>.self))
  }

  /// sin(πx) for x ∈ [0, ½] (used slightly beyond ½ by rounding): x·P(x²) with P of degree 4
  /// (sine of degree 9). Relative error ≤ 2.5·10⁻⁷ on [2⁻³⁴, ½] (measured 1.95·10⁻⁷; fit
  /// alone 5.3·10⁻⁹), so sin(πx) keeps full relative precision as x → 0.
  @inline(__always) static func sinPi(_ x: Floats) -> Floats {
    let z = x * x
    var p = Floats(repeating: 0.077_560_39)
    p = p * z + Floats(repeating: -0.598_242_1)
    p = p * z + Floats(repeating: 2.550_069_8)
    p = p * z + Floats(repeating: -5.167_709_8)
    p = p * z + Floats(repeating: 3.141_592_7)
    return x * p
  }

  /// Natural logarithm of positive normal Floats (every input here is ≥ 1.7·10⁻¹¹).
  /// x = 2^k·m with m ∈ [√½, √2), f = m − 1 (exact), log(1 + f) = f − f²/2 + f³·Q(f) with Q of
  /// degree 6, then k·ln2 in two parts (Cody–Waite). Absolute error ≤ 1.0·10⁻⁷ for x ∈ [½, 2]
  /// (measured 5.3·10⁻⁸) and relative error ≤ 1.5·10⁻⁷ for x ∈ [10⁻¹², ½) ∪ (2, 40]
  /// (measured 1.01·10⁻⁷), about one Float ulp of the result; fit alone: relative 3.1·10⁻⁸
  /// for log(1 + f).
  @inline(__always) static func log(_ x: Floats) -> Floats {
    var ix = bits(x) &+ Words(repeating: 0x3F80_0000 - 0x3F35_04F3)
    let k = unsafeBitCast(ix &>> 23, to: SIMD16<Int32>.self) &- 0x7F
    ix = (ix & Words(repeating: 0x007F_FFFF)) &+ Words(repeating: 0x3F35_04F3)
    let f = floats(ix) - 1
    var q = Floats(repeating: 0.087_004_378)
    q = q * f + Floats(repeating: -0.142_674_88)
    q = q * f + Floats(repeating: 0.149_147_67)
    q = q * f + Floats(repeating: -0.165_775_85)
    q = q * f + Floats(repeating: 0.199_630_63)
    q = q * f + Floats(repeating: -0.250_013_38)
    q = q * f + Floats(repeating: 0.333_339_1)
    let f2 = f * f
    let logM = f - 0.5 * f2 + f2 * f * q
    let kf = Floats(k)
    return kf * 0.693_359_375 + (kf * -2.121_944_4e-4 + logM)
  }

  /// e^x. x is clamped to [−87, 88] (never reached by the sampler: its exponents lie in
  /// [−12, 62]); x = n·ln2 + r with |r| ≤ ln2/2 (+ rounding), e^r = 1 + r + r²·R(r) with R of
  /// degree 4, times 2ⁿ built in the exponent bits. Relative error ≤ 1.5·10⁻⁷ on [−87, 88]
  /// (measured 1.18·10⁻⁷; fit alone 3.1·10⁻⁹).
  @inline(__always) static func exp(_ x: Floats) -> Floats {
    let y = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
    let magic = Floats(repeating: 12_582_912)  // 1.5·2²³: adding it rounds to an integer
    let t = y * 1.442_695_04 + magic
    let n = t - magic
    let r = (y - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p = Floats(repeating: 0.001_380_686)
    p = p * r + Floats(repeating: 0.008_368_787)
    p = p * r + Floats(repeating: 0.041_668_493)
    p = p * r + Floats(repeating: 0.166_665_2)
    p = p * r + Floats(repeating: 0.499_999_94)
    let er = 1 + r + (r * r) * p
    let twoToN = floats((bits(t) &- 0x4B40_0000 &+ 127) &<< 23)
    return er * twoToN
  }

  /// `lanes` samples of scale·X from as many stream words (see
  /// `Xoshiro256.fillSymmetricStable`).
  @inline(__always) static func sample(_ words: StreamWords, _ p: Parameters) -> Floats {
    let low = Words(truncatingIfNeeded: words)
    let high = Words(truncatingIfNeeded: words &>> 32)
    let sign = low & 0x8000_0000
    let d = (float(low & 0x7FFF_FFFF) + 0.5) * 0x1p-32
    let a = p.alpha * (0.5 - d)
    let complement = p.oneMinusHalfAlpha + p.alpha * d
    let angle = a.replacing(with: complement, where: a .> 0.5)
    let b = p.halfOneMinusC + p.c * d
    let uniform = (float(high &>> 1) + 0.5) * 0x1p-31
    let u = uniform.replacing(with: 0x1.FFFFFEp-1, where: uniform .> 0x1.FFFFFEp-1)
    let w = -log(u)
    let l = p.minusInverseAlpha * log(sinPi(d)) + p.exponent * log(sinPi(b) / w)
    let x = (sinPi(angle) * exp(l)) * p.scale
    return floats(bits(x) ^ sign)
  }
}
