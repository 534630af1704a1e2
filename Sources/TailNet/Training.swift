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
    var net = Network<Float>.initialized(
      inputs: dataset.inputs, width: config.width, depth: config.depth,
      classes: dataset.classes, rng: &initRNG)
    let train = dataset.train
    let d = dataset.inputs
    let batch = min(config.batchSize, train.count)
    let ws = Workspace<Float>(
      capacity: batch, width: config.width, depth: config.depth, classes: dataset.classes)
    var xBatch = [Float](repeating: 0, count: batch * d)
    var yBatch = [Int32](repeating: 0, count: batch)
    var order = [Int32](0..<Int32(train.count))
    var cursor = order.count  // forces a shuffle before the first batch
    let eta = Float(config.eta)
    let noisy = config.isNoisy
    let scale = NoiseInjection.stepScale(
      sigma: config.sigma, eta: config.eta, alpha: config.alpha)

    var history: [EvalPoint] = []
    func evaluateNow(_ iteration: Int) -> EvalPoint {
      let tr = net.evaluate(train)
      let te = net.evaluate(dataset.test)
      let p = EvalPoint(
        iteration: iteration, trainLoss: tr.loss, trainAccuracy: tr.accuracy,
        testLoss: te.loss, testAccuracy: te.accuracy)
      history.append(p)
      return p
    }
    func finish(_ reason: StopReason, _ iterations: Int, divergedAt: Int? = nil) -> (
      TrainingSummary, Network<Float>?
    ) {
      let summary = TrainingSummary(
        stopReason: reason, iterations: iterations, divergedAt: divergedAt,
        wallSeconds: clock() - start, final: history.last,
        history: history)
      return (summary, reason == .diverged ? nil : net)
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
      xBatch.withMutableBase { xb in
        for r in 0..<rows {
          let src = train.features.pointer + Int(order[cursor + r]) * d
          (xb + r * d).update(from: src, count: d)
          yBatch[r] = train.labels[Int(order[cursor + r])]
        }
      }
      cursor += rows

      // Gradient step on every layer, fused into the gemm: W ← W − η·dZᵀ·input.
      let batchLoss: BatchLoss = xBatch.withBase { xb in
        net.forward(xb, rows: rows, workspace: ws)
        let bl = yBatch.withBase { yb in
          net.crossEntropy(labels: yb, rows: rows, workspace: ws, gradient: true)
        }
        guard bl.lossSum.isFinite else { return bl }
        net.backward(xb, rows: rows, workspace: ws) { n, l, dz, input in
          let (o, i) = n.shape(layer: l)
          n.layers[l].withMutableBase { w in
            Float.gemm(
              transA: true, transB: false, m: o, n: i, k: rows, alpha: -eta, a: dz, lda: o,
              b: input, ldb: i, beta: 1, c: w, ldc: i)
          }
        }
        return bl
      }
      if !batchLoss.lossSum.isFinite || !net.isFinite { return finish(.diverged, k, divergedAt: k) }

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
      // Noise on every hidden layer (never the output layer), after the gradient step.
      if noisy {
        for l in 0..<config.depth {
          let (r, c) = net.shape(layer: l)
          NoiseInjection.add(
            type: config.noiseType, alpha: config.alpha, scale: scale, to: &net.layers[l],
            rows: r, columns: c, rng: &noiseRNG)
        }
        if !net.isFinite { return finish(.diverged, k, divergedAt: k) }
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

extension Network where Scalar == Float {
  /// Mean softmax cross-entropy and accuracy over a whole split, in chunks of 1024 rows.
  public func evaluate(_ split: DataSplit) -> (loss: Double, accuracy: Double) {
    let chunk = min(1024, max(split.count, 1))
    let ws = Workspace<Float>(capacity: chunk, width: width, depth: depth, classes: classes)
    var lossSum = 0.0
    var correct = 0
    var start = 0
    while start < split.count {
      let rows = min(chunk, split.count - start)
      forward(split.features.pointer + start * inputs, rows: rows, workspace: ws)
      let bl = split.labels.withBase { lp in
        crossEntropy(labels: lp + start, rows: rows, workspace: ws, gradient: false)
      }
      lossSum += bl.lossSum
      correct += bl.correct
      start += rows
    }
    let n = Double(max(split.count, 1))
    return (lossSum / n, Double(correct) / n)
  }
}
