import CBLAS

/// A floating-point type with a BLAS matrix product: Float (training) or Double (gradient
/// checks).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
  /// C = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
    a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
    c: UnsafeMutablePointer<Self>, ldc: Int)

  /// ReLU in place on `count` values (`v > 0 ? v : 0`, so NaN and −0 become +0). Returns the
  /// largest result (+∞ if one is +∞).
  static func reluInPlace(_ p: UnsafeMutablePointer<Self>, count: Int) -> Double

  /// The ReLU derivative mask in place: `d[i] = h[i] > 0 ? d[i] : 0`. Returns the largest
  /// magnitude of the result, or +∞ if a result is not finite.
  static func maskInPlace(_ d: UnsafeMutablePointer<Self>, by h: UnsafePointer<Self>, count: Int)
    -> Double

  /// The largest magnitude of `count` values, or +∞ if one of them is not finite.
  static func maxMagnitude(_ p: UnsafePointer<Self>, count: Int) -> Double
}

// Float: magnitudes compared as bit patterns (`bits & 0x7fff_ffff` orders non-negative floats
// like their values, and every NaN or ∞ has a pattern ≥ 0x7f80_0000), so the loops are integer
// max reductions that vectorise and see NaN too.
private let floatMagnitudeMask: UInt32 = 0x7fff_ffff
private let floatInfinityBits: UInt32 = 0x7f80_0000

/// The value of a maximum magnitude bit pattern: the float, or +∞ for ∞ and NaN patterns.
@inline(__always) private func magnitudeValue(bits: UInt32) -> Double {
  bits >= floatInfinityBits ? .infinity : Double(Float(bitPattern: bits))
}

extension Float: BLASScalar {
  @inlinable public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
      blasint(ldc))
  }

  public static func reluInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) -> Double {
    var m: UInt32 = 0
    for i in 0..<count {
      let v = p[i]
      let r: Float = v > 0 ? v : 0
      p[i] = r
      m = Swift.max(m, r.bitPattern)
    }
    return magnitudeValue(bits: m)
  }

  public static func maskInPlace(
    _ d: UnsafeMutablePointer<Float>, by h: UnsafePointer<Float>, count: Int
  ) -> Double {
    var m: UInt32 = 0
    for i in 0..<count {
      let r: Float = h[i] > 0 ? d[i] : 0
      d[i] = r
      m = Swift.max(m, r.bitPattern & floatMagnitudeMask)
    }
    return magnitudeValue(bits: m)
  }

  public static func maxMagnitude(_ p: UnsafePointer<Float>, count: Int) -> Double {
    var m: UInt32 = 0
    for i in 0..<count { m = Swift.max(m, p[i].bitPattern & floatMagnitudeMask) }
    return magnitudeValue(bits: m)
  }
}

extension Double: BLASScalar {
  @inlinable public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
    a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double,
    c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    cblas_dgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
      blasint(ldc))
  }

  public static func reluInPlace(_ p: UnsafeMutablePointer<Double>, count: Int) -> Double {
    var m = 0.0
    for i in 0..<count {
      let r = p[i] > 0 ? p[i] : 0
      p[i] = r
      if !(r <= m) { m = r }
    }
    return m
  }

  public static func maskInPlace(
    _ d: UnsafeMutablePointer<Double>, by h: UnsafePointer<Double>, count: Int
  ) -> Double {
    var m = 0.0
    for i in 0..<count {
      let r = h[i] > 0 ? d[i] : 0
      d[i] = r
      if !r.isFinite { m = .infinity } else if r.magnitude > m { m = r.magnitude }
    }
    return m
  }

  public static func maxMagnitude(_ p: UnsafePointer<Double>, count: Int) -> Double {
    var m = 0.0
    for i in 0..<count {
      if !p[i].isFinite { return .infinity }
      m = Swift.max(m, p[i].magnitude)
    }
    return m
  }
}

/// OpenBLAS threading. Workers run one process per core with one BLAS thread each.
public enum BLASThreads {
  /// Sets the number of OpenBLAS threads of this process.
  public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
  /// The number of OpenBLAS threads in use.
  public static var current: Int { Int(openblas_get_num_threads()) }
  /// OpenBLAS's build configuration string (core type, threading), for provenance.
  public static var configuration: String {
    guard let c = openblas_get_config() else { return "unknown" }
    return String(cString: c)
  }
}
