import TailMath
import Testing

@testable import TailNet

/// Smoke test of the CBLAS system library: OpenBLAS sgemm/dgemm against a plain triple loop,
/// for every transpose combination and non-square shapes. Float sums of k = 37 products of
/// values in [−1, 1] carry rounding errors of order k·2⁻²⁴ ≈ 2e-6; 1e-4 leaves room.
@Suite struct BLASTests {
  func reference(
    _ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transA: Bool, transB: Bool
  ) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k {
          let x = transA ? a[p * m + i] : a[i * k + p]
          let y = transB ? b[j * k + p] : b[p * n + j]
          s += x * y
        }
        c[i * n + j] = s
      }
    }
    return c
  }

  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func gemmMatchesALoop(trans: (Bool, Bool)) {
    let (m, n, k) = (5, 7, 37)
    var rng = Xoshiro256(seed: 21)
    let a = (0..<(m * k)).map { _ in 2 * rng.nextUnit() - 1 }
    let b = (0..<(k * n)).map { _ in 2 * rng.nextUnit() - 1 }
    let expected = reference(a, b, m: m, n: n, k: k, transA: trans.0, transB: trans.1)

    var cf = [Float](repeating: 1, count: m * n)
    let af = a.map(Float.init)
    let bf = b.map(Float.init)
    af.withBase { ap in
      bf.withBase { bp in
        cf.withMutableBase { cp in
          Float.gemm(
            transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 1, a: ap,
            lda: trans.0 ? m : k, b: bp, ldb: trans.1 ? k : n, beta: 0, c: cp, ldc: n)
        }
      }
    }
    #expect(zip(cf, expected).allSatisfy { abs(Double($0) - $1) < 1e-4 })

    var cd = [Double](repeating: 0, count: m * n)
    a.withBase { ap in
      b.withBase { bp in
        cd.withMutableBase { cp in
          Double.gemm(
            transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 1, a: ap,
            lda: trans.0 ? m : k, b: bp, ldb: trans.1 ? k : n, beta: 0, c: cp, ldc: n)
        }
      }
    }
    #expect(zip(cd, expected).allSatisfy { abs($0 - $1) < 1e-12 })
  }

  @Test func threadCountCanBeSetToOne() {
    BLASThreads.set(1)
    #expect(BLASThreads.current == 1)
    #expect(BLASThreads.configuration.contains("OpenBLAS"))
  }
}
