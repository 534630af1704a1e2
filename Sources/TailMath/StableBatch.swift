/// A vectorised Float32 sampler of SαS(α, 1) (Chambers–Mallows–Stuck, method doc §3) for
/// noise type 2 and `tailsweep sample`: sixteen lanes at a time with `SIMD16<Float>`, with its own
/// polynomial sin/log/exp (no libm calls), so that a release build with `-target-cpu haswell`
/// runs it as AVX2 code.
///
/// Stream use: sample i of a call consumes the i-th 64-bit word the generator returns, and
/// nothing else: its low 32 bits give V, its high 32 bits give W. Filling n values therefore
/// advances the generator by exactly n words, and filling n₁ then n₂ values gives the same
/// numbers as filling n₁ + n₂ at once. Each lane is computed by the same IEEE operations
/// (multiplies, adds, one division and explicit fused multiply-adds, each correctly rounded; no
/// libm), so the values depend only on the seed and α, not on the buffer's alignment or length;
/// they are bit-identical across builds: a fused multiply-add is one `vfmadd` with
/// `-target-cpu haswell` and a call to the C library's correctly rounded `fmaf` in a build
/// without FMA instructions, the same result by definition, and Swift never contracts a
/// separate multiply and add.
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
  /// - Returns: the largest magnitude among the updated values, +∞ if one of them is ∞ or NaN
  ///   (0 for an empty buffer): what a scan of `values` would find afterwards, measured in the
  ///   same pass.
  /// - Note: consumes exactly `values.count` words of the stream. Each element becomes
  ///   `values[i] + scale·X_i` rounded once to Float, with `scale·X_i` the value
  ///   `fillSymmetricStable` would have written.
  @discardableResult
  public mutating func addSymmetricStable(
    alpha: Float, scale: Float, to values: UnsafeMutableBufferPointer<Float>
  ) -> Float {
    let m = stableBatch(alpha: alpha, scale: scale, out: values, accumulate: true)
    return m >= 0x7F80_0000 ? .infinity : Float(bitPattern: m)
  }

  /// Fills or adds to `out`; when accumulating, returns the largest magnitude bit pattern
  /// (`bits & 0x7FFF_FFFF`, which orders non-negative Floats like their values and puts ∞ and
  /// NaN at ≥ 0x7F80_0000) of the results, else 0.
  @discardableResult
  private mutating func stableBatch(
    alpha: Float, scale: Float, out: UnsafeMutableBufferPointer<Float>, accumulate: Bool
  ) -> UInt32 {
    precondition(
      Xoshiro256.batchStableAlphaRange.contains(alpha),
      "fillSymmetricStable: alpha must be in [0.5, 2], got \(alpha)")
    precondition(scale.isFinite, "fillSymmetricStable: scale must be finite, got \(scale)")
    guard let base = out.baseAddress, out.count > 0 else { return 0 }
    let p = StableKernel.Parameters(alpha: alpha, scale: scale)
    let n = out.count
    let lanes = StableKernel.lanes
    let raw = UnsafeMutableRawPointer(base)
    var g = self  // a local copy keeps the generator state in registers
    defer { self = g }
    var largest = StableKernel.Words()
    // The words of the next full block, split into their low and high halves (the first 16
    // entries, then the next 16): drawn while the current block is computed, so that the
    // vector loads never wait for the scalar stores.
    let halves = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * lanes)
    defer { halves.deallocate() }
    @inline(__always) func drawBlock() {
      for lane in 0..<StableKernel.lanes {
        let word = g.next()
        halves[lane] = UInt32(truncatingIfNeeded: word)
        halves[StableKernel.lanes + lane] = UInt32(truncatingIfNeeded: word >> 32)
      }
    }
    let halvesRaw = UnsafeRawPointer(halves)
    var i = 0
    if lanes <= n { drawBlock() }
    while i + lanes <= n {
      let low = halvesRaw.loadUnaligned(as: StableKernel.Words.self)
      let high = halvesRaw.loadUnaligned(
        fromByteOffset: lanes * MemoryLayout<UInt32>.stride, as: StableKernel.Words.self)
      if i + 2 * lanes <= n { drawBlock() }
      let x = StableKernel.sample(low: low, high: high, p)
      let offset = i * MemoryLayout<Float>.stride
      if accumulate {
        let old = raw.loadUnaligned(fromByteOffset: offset, as: StableKernel.Floats.self)
        let sum = old + x
        raw.storeBytes(of: sum, toByteOffset: offset, as: StableKernel.Floats.self)
        largest = StableKernel.maxMagnitude(largest, sum)
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
        let value = accumulate ? base[i + lane] + x[lane] : x[lane]
        base[i + lane] = value
        if accumulate { largest[0] = max(largest[0], value.bitPattern & 0x7FFF_FFFF) }
      }
    }
    return accumulate ? largest.max() : 0
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
  typealias Ints = SIMD16<Int32>

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

  /// Lane-wise maximum of `m` and the magnitude bit patterns of `x`.
  @inline(__always) static func maxMagnitude(_ m: Words, _ x: Floats) -> Words {
    let magnitude = bits(x) & 0x7FFF_FFFF
    return m.replacing(with: magnitude, where: magnitude .> m)
  }
  @inline(__always) static func floats(_ x: Words) -> Floats { unsafeBitCast(x, to: Floats.self) }

  /// Exact conversion of lanes below 2³¹ (read as signed 32-bit integers) to Float, rounded to
  /// nearest.
  @inline(__always) static func float(_ x: Words) -> Floats {
    // Lane by lane (the generic SIMD conversion was left as a call with the halves in four
    // registers); the optimiser makes it one `vcvtdq2ps` per register.
    let signed = unsafeBitCast(x, to: Ints.self)
    var result = Floats()
    for lane in 0..<lanes { result[lane] = Float(signed[lane]) }
    return result
  }

  /// a·b + c rounded once (IEEE fused multiply-add): a `vfmadd` with `-target-cpu haswell`, a
  /// correctly rounded `fmaf` call elsewhere, the same bits either way.
  @inline(__always) static func fma(_ a: Floats, _ b: Floats, _ c: Floats) -> Floats {
    // On the halves of eight lanes, one AVX register each.
    Floats(
      lowHalf: c.lowHalf.addingProduct(a.lowHalf, b.lowHalf),
      highHalf: c.highHalf.addingProduct(a.highHalf, b.highHalf))
  }

  /// sin(πx) for x ∈ [0, ½] (used slightly beyond ½ by rounding): x·P(x²) with P of degree 4
  /// (sine of degree 9), Horner's scheme in fused multiply-adds. Relative error ≤ 2.5·10⁻⁷ on
  /// [2⁻³⁴, ½] (measured 1.6·10⁻⁷; fit alone 5.3·10⁻⁹), so sin(πx) keeps full relative
  /// precision as x → 0.
  @inline(__always) static func sinPi(_ x: Floats) -> Floats {
    let z = x * x
    var p = fma(Floats(repeating: 0.077_560_39), z, Floats(repeating: -0.598_242_1))
    p = fma(p, z, Floats(repeating: 2.550_069_8))
    p = fma(p, z, Floats(repeating: -5.167_709_8))
    p = fma(p, z, Floats(repeating: 3.141_592_7))
    return x * p
  }

  /// Natural logarithm of positive normal Floats (every input here is ≥ 1.7·10⁻¹¹).
  /// x = 2^k·m with m ∈ [√½, √2), f = m − 1 (exact), log(1 + f) = f − f²/2 + f³·Q(f) with Q of
  /// degree 6 (Estrin's scheme, so that its chain of dependent operations is 4 long instead of
  /// 6), then k·ln2 in two parts (Cody–Waite), all in fused multiply-adds. Absolute error
  /// ≤ 1.0·10⁻⁷ for x ∈ [½, 2] (measured 5.1·10⁻⁸) and relative error ≤ 1.5·10⁻⁷ for
  /// x ∈ [10⁻¹², ½) ∪ (2, 40] (measured 9.9·10⁻⁸), about one Float ulp of the result; fit alone:
  /// relative 3.1·10⁻⁸ for log(1 + f).
  @inline(__always) static func log(_ x: Floats) -> Floats {
    var ix = bits(x) &+ Words(repeating: 0x3F80_0000 - 0x3F35_04F3)
    // k + 127 = ix >> 23 ∈ [0, 255], made a Float exactly as 2²³ + (k + 127) − (2²³ + 127).
    let kf = floats((ix &>> 23) | 0x4B00_0000) - 8_388_735
    ix = (ix & Words(repeating: 0x007F_FFFF)) &+ Words(repeating: 0x3F35_04F3)
    let f = floats(ix) - 1
    let f2 = f * f
    let f4 = f2 * f2
    let q01 = fma(Floats(repeating: -0.250_013_38), f, Floats(repeating: 0.333_339_1))
    let q23 = fma(Floats(repeating: -0.165_775_85), f, Floats(repeating: 0.199_630_63))
    let q45 = fma(Floats(repeating: -0.142_674_88), f, Floats(repeating: 0.149_147_67))
    let q46 = fma(Floats(repeating: 0.087_004_378), f2, q45)
    let q = fma(f4, q46, fma(q23, f2, q01))
    let logM = fma(f2 * f, q, fma(Floats(repeating: -0.5), f2, f))
    return fma(
      kf, Floats(repeating: 0.693_359_375), fma(kf, Floats(repeating: -2.121_944_4e-4), logM))
  }

  /// e^x for x ∈ [−87, 88] (not clamped: outside, 2ⁿ wraps; the sampler's exponents lie in
  /// [−12, 62]); x = n·ln2 + r with |r| ≤ ln2/2 (+ rounding), e^r = 1 + (r + r²·R(r)) with R of
  /// degree 4 (Estrin's scheme), times 2ⁿ built in the exponent bits, in fused multiply-adds.
  /// Relative error ≤ 1.5·10⁻⁷ on [−87, 88] (measured 8.4·10⁻⁸; fit alone 3.1·10⁻⁹).
  @inline(__always) static func exp(_ x: Floats) -> Floats {
    let magic = Floats(repeating: 12_582_912)  // 1.5·2²³: adding it rounds to an integer
    let t = fma(x, Floats(repeating: 1.442_695_04), magic)
    let n = t - magic
    let r = fma(n, Floats(repeating: 2.121_944_4e-4), fma(n, Floats(repeating: -0.693_359_375), x))
    let r2 = r * r
    let p01 = fma(Floats(repeating: 0.166_665_2), r, Floats(repeating: 0.499_999_94))
    let p23 = fma(Floats(repeating: 0.008_368_787), r, Floats(repeating: 0.041_668_493))
    let p = fma(r2, fma(Floats(repeating: 0.001_380_686), r2, p23), p01)
    let er = 1 + fma(r2, p, r)
    let twoToN = floats((bits(t) &- 0x4B40_0000 &+ 127) &<< 23)
    return er * twoToN
  }

  /// `lanes` samples of scale·X from as many stream words (see
  /// `Xoshiro256.fillSymmetricStable`).
  @inline(__always) static func sample(_ words: StreamWords, _ p: Parameters) -> Floats {
    sample(low: Words(truncatingIfNeeded: words), high: Words(truncatingIfNeeded: words &>> 32), p)
  }

  /// The same from the low and the high halves of the stream words.
  @inline(__always) static func sample(low: Words, high: Words, _ p: Parameters) -> Floats {
    let sign = low & 0x8000_0000
    // (m + ½)·2⁻³² and (j + ½)·2⁻³¹ rounded once, as (m + ½) rounded then scaled exactly.
    let d = fma(float(low & 0x7FFF_FFFF), Floats(repeating: 0x1p-32), Floats(repeating: 0x1p-33))
    let a = p.alpha * (0.5 - d)
    let complement = fma(Floats(repeating: p.alpha), d, Floats(repeating: p.oneMinusHalfAlpha))
    let angle = a.replacing(with: complement, where: a .> 0.5)
    let b = fma(Floats(repeating: p.c), d, Floats(repeating: p.halfOneMinusC))
    let uniform = fma(float(high &>> 1), Floats(repeating: 0x1p-31), Floats(repeating: 0x1p-32))
    let u = uniform.replacing(with: 0x1.FFFFFEp-1, where: uniform .> 0x1.FFFFFEp-1)
    let w = -log(u)
    let l = fma(
      Floats(repeating: p.minusInverseAlpha), log(sinPi(d)), p.exponent * log(sinPi(b) / w))
    let x = (sinPi(angle) * exp(l)) * p.scale
    return floats(bits(x) ^ sign)
  }
}
