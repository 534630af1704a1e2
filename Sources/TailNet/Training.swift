import Foundation
import TailMath

/// Heavy-tailed SGD training of one trial (method doc §2). A deterministic function of the
/// configuration, the data and the random keys; the clock is a parameter and only measures.
public enum Trainer {
  /// Trains a fresh network for `config` on `dataset`.
  ///
  /// - Parameters:
  ///   - noiseKey: key of the noise stream (the trial's identity, `TrialID.rngKey`). Weight
  ///     initialisation and batch order are keyed by `config.seed` alone, so noisy and plain
  ///     SGD at the same seed start from the same weights and see the same batches.
  ///   - clock: seconds from any origin (for wall time and progress throttling).
  ///   - progress: called about every 0.25 s and after every evaluation; returning false
  ///     cancels training (stop reason `cancelled`).
  /// - Returns: the summary, and the trained network unless training diverged.
  public static func train(
    config: TrialConfig, dataset: Dataset, noiseKey: UInt64, clock: () -> Double,
    progress: ((TrainingProgress) -> Bool)? = nil
  ) -> (summary: TrainingSummary, network: Network<Float>?) {
    let start = clock()
    var initRNG = Xoshiro256(key: config.seed, stream: TrialStream.initialization.rawValue)
    var orderRNG = Xoshiro256(key: config.seed, stream: TrialStream.dataOrder.rawValue)
    var noiseRNG = Xoshiro256(key: noiseKey, stream: TrialStream.noise.rawValue)
    let train = dataset.train
    let batch = min(config.batchSize, train.count)
    // Every buffer of the trial, allocated once: the step's workspace and batch, the
    // evaluation's chunk buffers.
    let step = SGDStep(
      network: Network<Float>.initialized(
        inputs: dataset.inputs, width: config.width, depth: config.depth,
        classes: dataset.classes, rng: &initRNG),
      train: train, batch: batch, eta: Float(config.eta))
    let evaluator = Evaluator(network: step.network, rows: max(train.count, dataset.test.count))
    return run(
      config: config, step: step, trainCount: train.count, batch: batch, orderRNG: &orderRNG,
      noiseRNG: &noiseRNG, start: start, clock: clock, progress: progress,
      evaluate: {
        (
          step.network.evaluate(train, with: evaluator),
          step.network.evaluate(dataset.test, with: evaluator)
        )
      }, network: { step.network })
  }

  /// The loop every model trains with (method doc §2): evaluate before the first step, then
  /// per iteration k = 1…maxIterations: next mini-batch (reshuffled at each epoch start; the
  /// last partial batch is kept), gradient step, evaluation every `evalEvery` steps and at the
  /// last, progress, noise on the step's noisy layers after the gradient step. Stops at the
  /// target train accuracy, at a non-finite loss or weight (diverged), at the cap, or when
  /// `progress` returns false. One loop for the fully connected and the layer-list networks,
  /// so their stopping rules cannot drift apart.
  static func run<Step: TrainingStep, Net>(
    config: TrialConfig, step: Step, trainCount: Int, batch: Int,
    orderRNG: inout Xoshiro256, noiseRNG: inout Xoshiro256, start: Double,
    clock: () -> Double, progress: ((TrainingProgress) -> Bool)?,
    evaluate: () -> (
      train: (loss: Double, accuracy: Double), test: (loss: Double, accuracy: Double)
    ),
    network: () -> Net
  ) -> (summary: TrainingSummary, network: Net?) {
    var order = [Int32](0..<Int32(trainCount))
    var cursor = order.count  // forces a shuffle before the first batch
    let noisy = config.isNoisy
    let scale = NoiseInjection.stepScale(
      sigma: config.sigma, eta: config.eta, alpha: config.alpha)

    var history: [EvalPoint] = []
    func evaluateNow(_ iteration: Int) -> EvalPoint {
      let (tr, te) = evaluate()
      let p = EvalPoint(
        iteration: iteration, trainLoss: tr.loss, trainAccuracy: tr.accuracy,
        testLoss: te.loss, testAccuracy: te.accuracy)
      history.append(p)
      return p
    }
    func finish(_ reason: StopReason, _ iterations: Int, divergedAt: Int? = nil) -> (
      summary: TrainingSummary, network: Net?
    ) {
      let summary = TrainingSummary(
        stopReason: reason, iterations: iterations, divergedAt: divergedAt,
        wallSeconds: clock() - start, final: history.last,
        history: history)
      return (summary, reason == .diverged ? nil : network())
    }

    var last = evaluateNow(0)
    var lastReport = clock()
    if let progress,
      !progress(TrainingProgress(iteration: 0, maxIterations: config.maxIterations, lastEval: last))
    {
      return finish(.cancelled, 0)
    }
    if last.trainAccuracy >= config.targetAccuracy { return finish(.reachedTarget, 0) }

    for k in 1...config.maxIterations {
      // Next mini-batch; reshuffle at each epoch start; the last partial batch is kept.
      if cursor >= order.count {
        shuffle(&order, rng: &orderRNG)
        cursor = 0
      }
      let rows = min(batch, order.count - cursor)
      order.withBase { step.gather(order: $0 + cursor, rows: rows) }
      cursor += rows

      // Gradient step on every layer, fused into the gemm: W ← W − η·dZᵀ·input.
      if !step.gradientStep(rows: rows) { return finish(.diverged, k, divergedAt: k) }

      let evaluate = k % config.evalEvery == 0 || k == config.maxIterations
      if evaluate {
        last = evaluateNow(k)
        if !last.trainLoss.isFinite { return finish(.diverged, k, divergedAt: k) }
        if last.trainAccuracy >= config.targetAccuracy { return finish(.reachedTarget, k) }
        if k == config.maxIterations { return finish(.maxIterations, k) }
      }
      if let progress, evaluate || clock() - lastReport >= 0.25 {
        lastReport = clock()
        if !progress(
          TrainingProgress(iteration: k, maxIterations: config.maxIterations, lastEval: last))
        {
          return finish(.cancelled, k)
        }
      }
      // Noise on the noisy layers (never the output layer), after the gradient step.
      if noisy,
        !step.addNoise(
          type: config.noiseType, alpha: config.alpha, scale: scale, rng: &noiseRNG)
      {
        return finish(.diverged, k, divergedAt: k)
      }
    }
    return finish(.maxIterations, config.maxIterations)
  }

  /// Fisher–Yates shuffle with the trial's data-order stream.
  static func shuffle(_ a: inout [Int32], rng: inout Xoshiro256) {
    guard a.count > 1 else { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) {
      let j = rng.nextInt(below: i + 1)
      a.swapAt(i, j)
    }
  }
}

/// One SGD step of a trial on its own buffers (allocated once per trial): gather the batch,
/// forward, softmax cross-entropy, backward with the update fused into the gemm
/// (W ← W − η·dZᵀ·input), noise. Used by `Trainer` and by `StepBenchmark`, so the benchmark
/// times the training code itself.
///
/// Divergence checks without a pass over the weights: each layer carries an upper bound of its
/// largest weight magnitude. A gradient step moves a weight by at most
/// |η|·rows·max|dZ|·max|input| (rounding included with a margin), and those maxima come from
/// passes over activations that happen anyway (ReLU, its mask, the softmax) and from the
/// training inputs (once per trial). While every bound stays below 10³⁰ all weights are finite
/// (and no gemm sum can have overflowed); otherwise the weights are scanned exactly, which also
/// resets the bounds. Noise of types 1 and 2 is added in one pass that also measures the layer
/// (type 2 through the Float32 batch sampler; where it does not apply, and for type 3, the noise
/// is followed by an exact scan of the hidden layers). So a trial stops as diverged at
/// exactly the same iteration as with a full scan after every step.
extension DataSplit {
  /// Copies the examples `order[0..<rows]` (features of `inputs` values each, and labels) into
  /// `features` and `labels`: the mini-batch of an SGD step.
  func gather(
    order: UnsafePointer<Int32>, rows: Int, features: UnsafeMutablePointer<Float>,
    labels: UnsafeMutablePointer<Int32>
  ) {
    let d = self.features.columns
    self.features.withUnsafeValues { v in
      guard let base = v.baseAddress else { return }
      self.labels.withBase { source in
        for r in 0..<rows {
          let i = Int(order[r])
          (features + r * d).update(from: base + i * d, count: d)
          labels[r] = source[i]
        }
      }
    }
  }
}

/// The mini-batch buffers of an SGD step, allocated once per trial: inputs (batch × inputs)
/// and labels, filled from the training split.
final class MiniBatch {
  let train: DataSplit
  let capacity: Int
  let features: UnsafeMutablePointer<Float>
  let labels: UnsafeMutablePointer<Int32>

  init(train: DataSplit, capacity: Int) {
    self.train = train
    self.capacity = capacity
    let count = max(1, capacity * train.features.columns)
    features = .allocate(capacity: count)
    features.initialize(repeating: 0, count: count)
    labels = .allocate(capacity: max(1, capacity))
    labels.initialize(repeating: 0, count: max(1, capacity))
  }

  deinit {
    features.deallocate()
    labels.deallocate()
  }

  /// Copies the training examples `order[0..<rows]` into the buffers.
  func gather(order: UnsafePointer<Int32>, rows: Int) {
    precondition(rows <= capacity)
    train.gather(order: order, rows: rows, features: features, labels: labels)
  }
}

/// What `Trainer.run` needs of a model's SGD step (buffers allocated once per trial).
protocol TrainingStep: AnyObject {
  /// The step's mini-batch buffers (`Trainer.run` fills them before each step).
  var miniBatch: MiniBatch { get }
  /// Copies the training examples `order[0..<rows]` into the mini-batch buffers (the
  /// extension's default; a tracing step also records the indices).
  func gather(order: UnsafePointer<Int32>, rows: Int)
  /// Forward, loss, backward with the update on the batch; false when it diverged.
  func gradientStep(rows: Int) -> Bool
  /// One draw of noise on the noisy layers; false when a weight is not finite afterwards.
  func addNoise(type: NoiseType, alpha: Double, scale: Double, rng: inout Xoshiro256) -> Bool
}

extension TrainingStep {
  /// Copies the training examples `order[0..<rows]` into the mini-batch buffers.
  func gather(order: UnsafePointer<Int32>, rows: Int) { miniBatch.gather(order: order, rows: rows) }
}

final class SGDStep: TrainingStep {
  /// The network being trained.
  var network: Network<Float>
  let train: DataSplit
  let batch: Int
  let eta: Float
  let workspace: Workspace<Float>
  /// The current mini-batch: inputs (batch × inputs) and labels.
  let miniBatch: MiniBatch
  var xBatch: UnsafeMutablePointer<Float> { miniBatch.features }
  var yBatch: UnsafeMutablePointer<Int32> { miniBatch.labels }
  /// Largest |input| of the training split (+∞ if one is not finite).
  let inputMax: Double
  /// Per layer: an upper bound of the largest weight magnitude (all weights finite while it is
  /// below `boundLimit`).
  var bounds: [Double]

  /// Bounds at or above this make the step scan the weights.
  static let boundLimit = 1e30

  init(network: Network<Float>, train: DataSplit, batch: Int, eta: Float) {
    self.network = network
    self.train = train
    self.batch = batch
    self.eta = eta
    workspace = Workspace<Float>(
      capacity: batch, width: network.width, depth: network.depth, classes: network.classes)
    miniBatch = MiniBatch(train: train, capacity: batch)
    inputMax = train.features.withUnsafeValues { v in
      guard let base = v.baseAddress else { return 0 }
      return Float.maxMagnitude(base, count: v.count)
    }
    bounds = network.layers.map { w in w.withBase { Float.maxMagnitude($0, count: w.count) } }
  }

  /// Forward, loss and backward with the fused update on the first `rows` examples of the
  /// batch. Returns false if the batch loss or a weight is not finite (diverged); the weights
  /// are not updated when the loss is not finite.
  func gradientStep(rows: Int) -> Bool {
    let ws = workspace
    network.forward(xBatch, rows: rows, workspace: ws)
    let bl = network.crossEntropy(labels: yBatch, rows: rows, workspace: ws, gradient: true)
    guard bl.lossSum.isFinite else { return false }
    let eta = self.eta
    let etaMagnitude = Double(eta).magnitude
    let inputMax = self.inputMax
    let depth = network.depth
    var withinLimit = true
    network.backward(xBatch, rows: rows, workspace: ws) { n, l, dz, input in
      let (o, i) = n.shape(layer: l)
      n.layers[l].withMutableBase { w in
        Float.gemm(
          transA: true, transB: false, m: o, n: i, k: rows, alpha: -eta, a: dz, lda: o,
          b: input, ldb: i, beta: 1, c: w, ldc: i)
      }
      // |Σ_r dZ[r,j]·input[r,c]| ≤ rows·max|dZ|·max|input|; 1 % covers the rounding of the
      // sum (≤ rows·2⁻²⁴ relative), 2⁻²⁰ that of the addition to the weight.
      let sum =
        Double(rows) * (l == depth ? ws.logitDeltaMax : ws.hiddenDeltaMax[l])
        * (l == 0 ? inputMax : ws.hiddenMax[l - 1])
      let bound = (bounds[l] + etaMagnitude * sum * 1.01) * (1 + 0x1p-20)
      if sum < Self.boundLimit && bound < Self.boundLimit {
        bounds[l] = bound
      } else {
        withinLimit = false
      }
    }
    return withinLimit || scanWeights(layers: 0...depth)
  }

  /// Scans the weights of `layers` exactly; sets their bounds to the largest magnitudes.
  /// Returns whether all of them are finite.
  func scanWeights(layers: ClosedRange<Int>) -> Bool {
    var finite = true
    for l in layers {
      let m = network.layers[l].withBase { Float.maxMagnitude($0, count: network.layers[l].count) }
      bounds[l] = m
      if !(m < .infinity) { finite = false }
    }
    return finite
  }

  /// Adds one draw of noise to every hidden layer (`NoiseInjection.add`; type 1 in a pass of its
  /// own that performs the same draws and additions and measures the result). Returns false if a
  /// weight is not finite afterwards (diverged).
  func addNoise(type: NoiseType, alpha: Double, scale: Double, rng: inout Xoshiro256) -> Bool {
    var finite = true
    for l in 0..<network.depth {
      let (r, c) = network.shape(layer: l)
      switch type {
      case .none:
        continue
      case .perNeuron:
        let m = network.layers[l].withMutableBase { p in
          Self.addPerNeuronNoise(
            alpha: alpha, scale: scale, to: p, rows: r, columns: c, rng: &rng)
        }
        bounds[l] = m
        if !(m < .infinity) { finite = false }
      case .perEntry
      where Xoshiro256.batchStableAlphaRange.contains(Float(alpha)) && Float(scale).isFinite:
        // The Float32 batch sampler, as `NoiseInjection.add` uses it here, measuring the layer
        // in the same pass.
        let m = network.layers[l].withMutableBase { p in
          rng.addSymmetricStable(
            alpha: Float(alpha), scale: Float(scale),
            to: UnsafeMutableBufferPointer(start: p, count: r * c))
        }
        bounds[l] = Double(m)
        if !(m < .infinity) { finite = false }
      case .perEntry, .isotropic:
        NoiseInjection.add(
          type: type, alpha: alpha, scale: scale, to: &network.layers[l], rows: r, columns: c,
          rng: &rng)
        if !scanWeights(layers: l...l) { finite = false }
      }
    }
    return finite
  }

  /// Noise type 1 on a row-major `rows × columns` Float matrix, exactly as
  /// `NoiseInjection.add(type: .perNeuron, …)` does it (one Double draw per row, rounded to
  /// Float, added to every entry of the row), fused with the search for the largest magnitude
  /// of the result, which it returns (+∞ if an entry is not finite).
  static func addPerNeuronNoise(
    alpha: Double, scale: Double, to p: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
    rng: inout Xoshiro256
  ) -> Double {
    var m: UInt32 = 0
    for j in 0..<rows {
      let v = Float(scale * rng.nextSymmetricStable(alpha: alpha))
      let row = p + j * columns
      for i in 0..<columns {
        let w = row[i] + v
        row[i] = w
        m = max(m, w.bitPattern & 0x7fff_ffff)
      }
    }
    return m >= 0x7f80_0000 ? .infinity : Double(Float(bitPattern: m))
  }
}

/// Buffers to evaluate a network on whole splits, allocated once per trial.
///
/// Chunks stay 1024 rows, as they always were: OpenBLAS's sgemm does not give bit-identical
/// rows for different row counts m (measured with OpenBLAS 0.3.21: forwarding 3000 MNIST-shaped
/// rows through a 784→1000 layer in 2048-row instead of 1024-row calls changes 1.5 % of the
/// outputs in their last bits), so larger chunks would change every trial's evaluation numbers.
/// A 1024-row gemm already runs at sgemm's full rate.
public final class Evaluator {
  /// Rows per gemm call: 1024, or the largest split if that is smaller.
  let rows: Int
  let workspace: Workspace<Float>

  /// Rows per gemm call and per group of the loss sum.
  static let chunk = 1024

  /// Buffers for `network`'s shape and splits of up to `rows` examples (more are evaluated in
  /// several chunks).
  public init(network: Network<Float>, rows: Int) {
    self.rows = min(Self.chunk, max(rows, 1))
    workspace = Workspace<Float>(
      capacity: self.rows, width: network.width, depth: network.depth,
      classes: network.classes, backward: false)
  }
}

extension Network where Scalar == Float {
  /// Mean softmax cross-entropy and accuracy over a whole split, in chunks of 1024 rows.
  public func evaluate(_ split: DataSplit) -> (loss: Double, accuracy: Double) {
    evaluate(split, with: Evaluator(network: self, rows: split.count))
  }

  /// Mean softmax cross-entropy and accuracy over a whole split, with the buffers of
  /// `evaluator` (made for this network's shape and at least `min(split.count, 1024)` rows):
  /// one forward pass per 1024 rows; the loss summed in Double per example in order within a
  /// chunk, then over the chunks in order.
  public func evaluate(_ split: DataSplit, with evaluator: Evaluator) -> (
    loss: Double, accuracy: Double
  ) {
    let chunk = min(Evaluator.chunk, max(split.count, 1))
    precondition(evaluator.rows >= chunk, "evaluator of \(evaluator.rows) rows")
    let ws = evaluator.workspace
    var lossSum = 0.0
    var correct = 0
    var start = 0
    var unused = 0.0
    if split.count > 0 {
      split.features.withUnsafeValues { features in
        split.labels.withBase { labels in
          guard let x = features.baseAddress else { return }
          while start < split.count {
            let rows = min(chunk, split.count - start)
            forward(x + start * inputs, rows: rows, workspace: ws)
            let bl = crossEntropy(
              logits: ws.logits, labels: labels + start, rows: rows, gradient: false,
              maxGradient: &unused)
            lossSum += bl.lossSum
            correct += bl.correct
            start += rows
          }
        }
      }
    }
    let n = Double(max(split.count, 1))
    return (lossSum / n, Double(correct) / n)
  }
}
