import Foundation
import TailMath

/// One SGD step of a `LayerNet` on its own buffers (allocated once per trial): gather the
/// batch, forward, softmax cross-entropy, backward with the update fused into the weight
/// gemms, then a scan of the weights for divergence. The scan is a pass over the weights,
/// small next to a convolution's arithmetic.
final class LayerSGDStep: TrainingStep {
  var network: LayerNet<Float>
  let train: DataSplit
  let batch: Int
  let eta: Float
  let workspace: LayerWorkspace<Float>
  let miniBatch: MiniBatch
  var xBatch: UnsafeMutablePointer<Float> { miniBatch.features }
  var yBatch: UnsafeMutablePointer<Int32> { miniBatch.labels }
  private var noGradients: [[Float]] = []
  /// The summed loss of the last `gradientStep`'s batch (for traces).
  private(set) var lastLossSum = 0.0

  init(network: LayerNet<Float>, train: DataSplit, batch: Int, eta: Float) {
    self.network = network
    self.train = train
    self.batch = batch
    self.eta = eta
    workspace = LayerWorkspace<Float>(
      architecture: network.architecture, capacity: batch, backward: true)
    miniBatch = MiniBatch(train: train, capacity: batch)
  }

  /// Forward, loss and backward with the fused update on the first `rows` examples of the
  /// batch. Returns false if the batch loss or a weight is not finite (diverged); the weights
  /// are not updated when the loss is not finite.
  func gradientStep(rows: Int) -> Bool {
    let ws = workspace
    network.forward(xBatch, rows: rows, workspace: ws)
    var unused = 0.0
    let bl = SoftmaxCrossEntropy.apply(
      logits: ws.outputs[ws.outputs.count - 1], labels: yBatch, rows: rows,
      classes: network.classes, gradient: true, maxGradient: &unused)
    lastLossSum = bl.lossSum
    guard bl.lossSum.isFinite else { return false }
    network.backward(xBatch, rows: rows, workspace: ws, eta: eta, gradients: &noGradients)
    return weightsAreFinite(network.weights.indices)
  }

  func weightsAreFinite(_ layers: some Sequence<Int>) -> Bool {
    for w in layers {
      let m = network.weights[w].withBase {
        Float.maxMagnitude($0, count: network.weights[w].count)
      }
      if !(m < .infinity) { return false }
    }
    return true
  }

  /// One draw of noise on every prunable layer (`NoiseInjection.add` on its units × weights
  /// matrix: type 1 one value per filter or neuron, 2 per entry, 3 an isotropic vector per
  /// unit), input side first. Returns false if a weight is not finite afterwards.
  func addNoise(type: NoiseType, alpha: Double, scale: Double, rng: inout Xoshiro256) -> Bool {
    guard type != .none else { return true }
    let layers = network.prunableIndices
    for w in layers {
      let l = network.weightLayers[w]
      NoiseInjection.add(
        type: type, alpha: alpha, scale: scale, to: &network.weights[w], rows: l.rows,
        columns: l.columns, rng: &rng)
    }
    return weightsAreFinite(layers)
  }
}

extension Trainer {
  /// Heavy-tailed SGD training of a network described by `architecture` (method doc §2 and
  /// §7): the same loop, random streams and stopping rules as `train(config:…)` for the fully
  /// connected network; noise on the prunable layers only (never the first convolution or the
  /// output layer). With `trace`, every step is also reported to it (the numbers do not change).
  public static func train(
    config: TrialConfig, architecture: Architecture, dataset: Dataset, noiseKey: UInt64,
    clock: () -> Double, progress: ((TrainingProgress) -> Bool)? = nil, trace: LayerTrace? = nil
  ) -> (summary: TrainingSummary, network: LayerNet<Float>?) {
    let start = clock()
    var initRNG = Xoshiro256(key: config.seed, stream: TrialStream.initialization.rawValue)
    var orderRNG = Xoshiro256(key: config.seed, stream: TrialStream.dataOrder.rawValue)
    var noiseRNG = Xoshiro256(key: noiseKey, stream: TrialStream.noise.rawValue)
    let train = dataset.train
    let batch = min(config.batchSize, train.count)
    let step = LayerSGDStep(
      network: LayerNet<Float>.initialized(architecture: architecture, rng: &initRNG),
      train: train, batch: batch, eta: Float(config.eta))
    let evaluator = LayerEvaluator(architecture: architecture)
    func runSteps<S: TrainingStep>(_ s: S) -> (TrainingSummary, LayerNet<Float>?) {
      run(
        config: config, step: s, trainCount: train.count, batch: batch, orderRNG: &orderRNG,
        noiseRNG: &noiseRNG, start: start, clock: clock, progress: progress,
        evaluate: {
          (
            step.network.evaluate(train, with: evaluator),
            step.network.evaluate(dataset.test, with: evaluator)
          )
        }, network: { step.network })
    }
    guard let trace else { return runSteps(step) }
    let traced = TracingLayerStep(step, trace: trace)
    defer { traced.flush() }
    return runSteps(traced)
  }
}
