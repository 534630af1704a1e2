import CBLAS
import TailMath

/// Timing of the SGD step of a convolutional network, for `tailsweep bench conv`: the whole
/// step (`LayerSGDStep`: gather, forward, loss, backward with fused updates, noise, divergence
/// scan) against sgemm alone on the step's gemm calls (same shapes, transposes and leading
/// dimensions). Not used by training.
public enum ConvStepBenchmark {
  /// One sgemm call: C (m×n) = op(A) · op(B), row-major.
  public struct Gemm: Sendable {
    public var transA: Bool
    public var transB: Bool
    public var m: Int
    public var n: Int
    public var k: Int
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  /// The gemm calls of one SGD step of `architecture` on `batch` examples, in the order the
  /// step makes them: per convolution a forward gemm, the gradient to its input (not for the
  /// first layer) and the fused weight update; per linear layer likewise.
  public static func gemms(_ a: Architecture, batch: Int) -> [Gemm] {
    var forward: [Gemm] = []
    var backward: [Gemm] = []
    for (i, l) in a.layers.enumerated() {
      let s = a.inputShape(of: i)
      switch l {
      case .conv3x3(let o):
        let n = batch * s.plane
        let k = s.channels * 9
        forward.append(Gemm(transA: false, transB: false, m: o, n: n, k: k))
        if i > 0 { backward.append(Gemm(transA: true, transB: false, m: k, n: n, k: o)) }
        backward.append(Gemm(transA: false, transB: true, m: o, n: k, k: n))
      case .linear(let o, _):
        let k = s.count
        forward.append(Gemm(transA: false, transB: true, m: batch, n: o, k: k))
        if i > 0 { backward.append(Gemm(transA: false, transB: false, m: batch, n: k, k: o)) }
        backward.append(Gemm(transA: true, transB: false, m: o, n: k, k: batch))
      case .maxPool2, .globalAveragePool:
        continue
      }
    }
    return forward + backward
  }

  /// Seconds per step and per its gemm calls alone, and the gemm flops of a step.
  public struct Timing: Sendable {
    public var perIteration: Double
    public var gemmPerIteration: Double
    public var flopsPerIteration: Double
    public var stepOverGemm: Double { perIteration / gemmPerIteration }
    public var stepGFLOPS: Double { flopsPerIteration / perIteration / 1e9 }
    public var gemmGFLOPS: Double { flopsPerIteration / gemmPerIteration / 1e9 }
  }

  /// Times `iterations` SGD steps (η = 10⁻³, noise of `noiseType` with α = 1.75, σ = 10⁻³) of
  /// `architecture` on random N(0, 1) images, 10 classes, and the same number of rounds of its
  /// gemm calls alone, in `rounds` alternating rounds; the fastest round of each is kept.
  public static func run(
    architecture a: Architecture, batch: Int, noiseType: NoiseType, iterations: Int,
    rounds: Int = 3, clock: () -> Double
  ) -> Timing {
    var rng = Xoshiro256(seed: 1)
    let net = LayerNet<Float>.initialized(architecture: a, rng: &rng)
    let trainRows = 2 * batch
    let d = a.input.count
    let features = FeatureMatrix(
      rows: trainRows, columns: d,
      values: (0..<(trainRows * d)).map { _ in Float(rng.nextNormal()) })
    let labels = (0..<trainRows).map { _ in Int32(rng.nextInt(below: net.classes)) }
    let step = LayerSGDStep(
      network: net, train: DataSplit(features: features, labels: labels), batch: batch, eta: 1e-3)
    var order = [Int32](0..<Int32(trainRows))
    Trainer.shuffle(&order, rng: &rng)
    let scale = NoiseInjection.stepScale(sigma: 1e-3, eta: 1e-3, alpha: 1.75)
    var noiseRNG = Xoshiro256(seed: 2)
    var cursor = 0
    func sgd() {
      order.withBase { step.gather(order: $0 + cursor, rows: batch) }
      cursor = (cursor + batch) % trainRows
      _ = step.gradientStep(rows: batch)
      _ = step.addNoise(type: noiseType, alpha: 1.75, scale: scale, rng: &noiseRNG)
    }

    let calls = gemms(a, batch: batch)
    let size = calls.map { max($0.m * $0.k, $0.k * $0.n, $0.m * $0.n) }.max() ?? 1
    var x = [Float](repeating: 0.01, count: size)
    var y = [Float](repeating: 0.01, count: size)
    var z = [Float](repeating: 0, count: size)
    func gemmsAlone() {
      x.withMutableBase { ap in
        y.withMutableBase { bp in
          z.withMutableBase { cp in
            for g in calls {
              cblas_sgemm(
                CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans,
                g.transB ? CblasTrans : CblasNoTrans, blasint(g.m), blasint(g.n), blasint(g.k), 1,
                ap, blasint(g.transA ? g.m : g.k), bp, blasint(g.transB ? g.k : g.n), 0, cp,
                blasint(g.n))
            }
          }
        }
      }
    }
    func timed(_ body: () -> Void) -> Double {
      let t0 = clock()
      for _ in 0..<iterations { body() }
      return (clock() - t0) / Double(iterations)
    }
    sgd()  // warm-up
    gemmsAlone()
    var total = Double.infinity
    var gemm = Double.infinity
    for _ in 0..<max(1, rounds) {
      total = min(total, timed(sgd))
      gemm = min(gemm, timed(gemmsAlone))
    }
    return Timing(
      perIteration: total, gemmPerIteration: gemm,
      flopsPerIteration: calls.reduce(0) { $0 + $1.flops })
  }
}
