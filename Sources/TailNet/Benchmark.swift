import TailMath

/// Timing of the SGD step, for `tailsweep bench train`. Not used by training itself.
public enum StepBenchmark {
  /// Seconds per iteration and how they split.
  public struct Timing: Sendable {
    /// Whole iteration: batch gather, forward, loss, backward with fused update, noise,
    /// finiteness check.
    public var perIteration: Double
    /// The gemm calls of one iteration alone (same shapes, same data), timed separately.
    public var gemmPerIteration: Double
    /// Noise injection alone.
    public var noisePerIteration: Double
    /// Share of an iteration spent outside gemm: 1 − gemm/total.
    public var outsideGemmShare: Double { max(0, 1 - gemmPerIteration / perIteration) }
  }

  /// Times `iterations` SGD steps on random inputs (N(0,1), `inputs` features, 10 classes)
  /// with a network of one hidden layer of `width`, mini-batches of `batch`, and noise of
  /// `noiseType` with α = 1.75.
  public static func run(
    inputs: Int, width: Int, batch: Int, noiseType: NoiseType, iterations: Int,
    clock: () -> Double
  ) -> Timing {
    let classes = 10
    var rng = Xoshiro256(seed: 1)
    var net = Network<Float>.initialized(
      inputs: inputs, width: width, depth: 1, classes: classes, rng: &rng)
    let x = (0..<(batch * inputs)).map { _ in Float(rng.nextNormal()) }
    let y = (0..<batch).map { _ in Int32(rng.nextInt(below: classes)) }
    let ws = Workspace<Float>(capacity: batch, width: width, depth: 1, classes: classes)
    let scale = NoiseInjection.stepScale(sigma: 1e-3, eta: 1e-3, alpha: 1.75)
    var noiseRNG = Xoshiro256(seed: 2)
    var buffer = x

    func step() {
      buffer.withMutableBase { b in
        x.withBase { src in b.update(from: src, count: x.count) }
      }
      buffer.withBase { xb in
        net.forward(xb, rows: batch, workspace: ws)
        _ = y.withBase { net.crossEntropy(labels: $0, rows: batch, workspace: ws, gradient: true) }
        net.backward(xb, rows: batch, workspace: ws) { n, l, dz, input in
          let (o, i) = n.shape(layer: l)
          n.layers[l].withMutableBase { w in
            Float.gemm(
              transA: true, transB: false, m: o, n: i, k: batch, alpha: -1e-3, a: dz, lda: o,
              b: input, ldb: i, beta: 1, c: w, ldc: i)
          }
        }
      }
      NoiseInjection.add(
        type: noiseType, alpha: 1.75, scale: scale, to: &net.layers[0], rows: width,
        columns: inputs, rng: &noiseRNG)
      _ = net.isFinite
    }

    step()  // warm-up
    let t0 = clock()
    for _ in 0..<iterations { step() }
    let total = (clock() - t0) / Double(iterations)

    // The same gemm calls alone: forward (2), backward to the hidden layer (1), updates (2).
    var w0 = net.layers[0]
    var w1 = net.layers[1]
    var h = [Float](repeating: 0, count: batch * width)
    var logits = [Float](repeating: 0, count: batch * classes)
    var dh = h
    let g0 = clock()
    for _ in 0..<iterations {
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
    let gemm = (clock() - g0) / Double(iterations)

    var w = net.layers[0]
    let n0 = clock()
    for _ in 0..<iterations {
      NoiseInjection.add(
        type: noiseType, alpha: 1.75, scale: scale, to: &w, rows: width, columns: inputs,
        rng: &noiseRNG)
    }
    let noise = (clock() - n0) / Double(iterations)
    return Timing(perIteration: total, gemmPerIteration: gemm, noisePerIteration: noise)
  }
}
