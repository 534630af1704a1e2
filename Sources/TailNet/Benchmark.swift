import TailMath

/// Timing of the SGD step, for `tailsweep bench train`. Not used by training itself.
public enum StepBenchmark {
  /// Seconds per iteration, how they split, and the arithmetic rate.
  public struct Timing: Sendable {
    /// Whole iteration, the training code itself (`SGDStep`): batch gather, forward, loss,
    /// backward with fused update, noise, divergence checks.
    public var perIteration: Double
    /// The gemm calls of one iteration alone (same shapes and arguments), timed separately.
    public var gemmPerIteration: Double
    /// Noise injection alone.
    public var noisePerIteration: Double
    /// Floating-point operations of the gemm calls of one iteration (2·m·n·k each).
    public var flopsPerIteration: Double
    /// Share of an iteration spent outside gemm: 1 − gemm/total.
    public var outsideGemmShare: Double { max(0, 1 - gemmPerIteration / perIteration) }
    /// Iteration time over the time of its gemm calls alone.
    public var stepOverGemm: Double { perIteration / gemmPerIteration }
    /// GFLOP/s achieved by the whole step (its gemm flops over its time).
    public var stepGFLOPS: Double { flopsPerIteration / perIteration / 1e9 }
    /// GFLOP/s of sgemm alone on the step's gemm shapes.
    public var gemmGFLOPS: Double { flopsPerIteration / gemmPerIteration / 1e9 }
  }

  /// The gemm calls of one SGD iteration of a one-hidden-layer network, as (m, n, k):
  /// forward (2), gradient to the hidden layer (1), fused updates (2).
  public static func gemmShapes(inputs: Int, width: Int, batch: Int, classes: Int = 10)
    -> [(m: Int, n: Int, k: Int)]
  {
    [
      (batch, width, inputs), (batch, classes, width), (batch, width, classes),
      (classes, width, batch), (width, inputs, batch),
    ]
  }

  /// Times SGD steps on random inputs (N(0,1), `inputs` features, 10 classes, a training set
  /// of two batches gathered in a shuffled order) with a network of one hidden layer of
  /// `width`, mini-batches of `batch`, η = 10⁻³ and noise of `noiseType` with α = 1.75,
  /// σ = 10⁻³. Steps and gemm calls alone are timed in `rounds` alternating rounds of
  /// `iterations` each; each is the fastest round (the machine may be shared).
  public static func run(
    inputs: Int, width: Int, batch: Int, noiseType: NoiseType, iterations: Int,
    rounds: Int = 3, clock: () -> Double
  ) -> Timing {
    let classes = 10
    var rng = Xoshiro256(seed: 1)
    let net = Network<Float>.initialized(
      inputs: inputs, width: width, depth: 1, classes: classes, rng: &rng)
    let trainRows = 2 * batch
    let features = FeatureMatrix(
      rows: trainRows, columns: inputs,
      values: (0..<(trainRows * inputs)).map { _ in Float(rng.nextNormal()) })
    let labels = (0..<trainRows).map { _ in Int32(rng.nextInt(below: classes)) }
    let train = DataSplit(features: features, labels: labels)
    var order = [Int32](0..<Int32(trainRows))
    Trainer.shuffle(&order, rng: &rng)
    let sgd = SGDStep(network: net, train: train, batch: batch, eta: 1e-3)
    let scale = NoiseInjection.stepScale(sigma: 1e-3, eta: 1e-3, alpha: 1.75)
    var noiseRNG = Xoshiro256(seed: 2)
    var cursor = 0

    func step() {
      order.withBase { sgd.gather(order: $0 + cursor, rows: batch) }
      cursor = (cursor + batch) % trainRows
      _ = sgd.gradientStep(rows: batch)
      _ = sgd.addNoise(type: noiseType, alpha: 1.75, scale: scale, rng: &noiseRNG)
    }

    // The same gemm calls alone: forward (2), backward to the hidden layer (1), updates (2).
    var w0 = sgd.network.layers[0]
    var w1 = sgd.network.layers[1]
    let x = features.toArray()
    var h = [Float](repeating: 0, count: batch * width)
    var logits = [Float](repeating: 0, count: batch * classes)
    var dh = h
    func gemms() {
      x.withBase { xb in
        w0.withMutableBase { a in
          w1.withMutableBase { b in
            h.withMutableBase { hp in
              logits.withMutableBase { lp in
                dh.withMutableBase { dp in
                  Float.gemm(
                    transA: false, transB: true, m: batch, n: width, k: inputs, alpha: 1,
                    a: xb, lda: inputs, b: a, ldb: inputs, beta: 0, c: hp, ldc: width)
                  Float.gemm(
                    transA: false, transB: true, m: batch, n: classes, k: width, alpha: 1,
                    a: hp, lda: width, b: b, ldb: width, beta: 0, c: lp, ldc: classes)
                  Float.gemm(
                    transA: false, transB: false, m: batch, n: width, k: classes,
                    alpha: 1, a: lp, lda: classes, b: b, ldb: width, beta: 0, c: dp, ldc: width)
                  Float.gemm(
                    transA: true, transB: false, m: classes, n: width, k: batch,
                    alpha: -1e-12, a: lp, lda: classes, b: hp, ldb: width, beta: 1, c: b, ldc: width
                  )
                  Float.gemm(
                    transA: true, transB: false, m: width, n: inputs, k: batch,
                    alpha: -1e-12, a: dp, lda: width, b: xb, ldb: inputs, beta: 1, c: a, ldc: inputs
                  )
                }
              }
            }
          }
        }
      }
    }

    var w = sgd.network.layers[0]
    func noise() {
      NoiseInjection.add(
        type: noiseType, alpha: 1.75, scale: scale, to: &w, rows: width, columns: inputs,
        rng: &noiseRNG)
    }

    func timed(_ body: () -> Void) -> Double {
      let t0 = clock()
      for _ in 0..<iterations { body() }
      return (clock() - t0) / Double(iterations)
    }
    step()  // warm-up
    gemms()
    var total = Double.infinity
    var gemm = Double.infinity
    var noiseTime = Double.infinity
    for _ in 0..<max(1, rounds) {
      total = min(total, timed(step))
      gemm = min(gemm, timed(gemms))
      noiseTime = min(noiseTime, timed(noise))
    }
    let flops = gemmShapes(inputs: inputs, width: width, batch: batch, classes: classes)
      .reduce(0.0) { $0 + 2 * Double($1.m) * Double($1.n) * Double($1.k) }
    return Timing(
      perIteration: total, gemmPerIteration: gemm, noisePerIteration: noiseTime,
      flopsPerIteration: flops)
  }
}
