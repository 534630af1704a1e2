import CBLAS

/// A floating-point type with a BLAS matrix product: Float (training) or Double (gradient
/// checks).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
  /// C = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
    a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
    c: UnsafeMutablePointer<Self>, ldc: Int)
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
