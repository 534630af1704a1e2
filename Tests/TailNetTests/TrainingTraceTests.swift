import Foundation
import TailMath
import Testing

@testable import TailNet

/// `Trainer.train(config:architecture:…, trace:)`: the per-step trace of a CNN trial that
/// `scripts/reference/torch_vgg.py replay` replays in PyTorch.
@Suite struct TrainingTraceTests {
  static func traced(_ config: TrialConfig, noiseKey: UInt64 = 5, weightsAt: Set<Int> = []) -> (
    summary: TrainingSummary, network: LayerNet<Float>?, initial: LayerNet<Float>?,
    steps: [StepTrace], weights: [Int: [[Float]]]
  ) {
    var initial: LayerNet<Float>?
    var steps: [StepTrace] = []
    var weights: [Int: [[Float]]] = [:]
    let r = Trainer.train(
      config: config, architecture: LayerTrainingTests.tiny, dataset: LayerTrainingTests.quadrants,
      noiseKey: noiseKey, clock: { 0 },
      trace: LayerTrace(
        initial: { initial = $0 }, step: { steps.append($0) }, weightsAt: weightsAt,
        weights: { weights[$0] = $1.weights }))
    return (r.summary, r.network, initial, steps, weights)
  }

  @Test func tracingChangesNothing() {
    BLASThreads.set(1)
    let c = LayerTrainingTests.config(sigma: 0.01, iterations: 30)
    let plain = Trainer.train(
      config: c, architecture: LayerTrainingTests.tiny, dataset: LayerTrainingTests.quadrants,
      noiseKey: 5, clock: { 0 })
    let t = Self.traced(c)
    #expect(t.summary == plain.summary)
    #expect(t.network?.weights == plain.network?.weights)
    #expect(t.steps.map(\.iteration) == Array(1...30))
  }

  /// The trace is complete: from its initial weights, its mini-batches and its noise values,
  /// the Swift step alone reproduces the trial's trained weights bit for bit; and its losses
  /// and norms are those of the replay.
  @Test func aTraceReplaysTheTrialBitForBit() throws {
    BLASThreads.set(1)
    let c = LayerTrainingTests.config(sigma: 0.01, iterations: 30)
    let t = Self.traced(c, weightsAt: [3, 30])
    #expect(Set(t.weights.keys) == [3, 30])
    let initial = try #require(t.initial)
    let trained = try #require(t.network)
    let train = LayerTrainingTests.quadrants.train
    // 256 examples, batches of 32: every epoch of 8 batches visits each example once.
    for e in 0..<3 {
      let epoch = t.steps[(8 * e)..<min(8 * e + 8, t.steps.count)].flatMap(\.batch)
      #expect(Set(epoch).count == epoch.count)
      if epoch.count == 256 { #expect(Set(epoch) == Set(0..<256)) }
    }
    let step = LayerSGDStep(network: initial, train: train, batch: 32, eta: Float(c.eta))
    for s in t.steps {
      s.batch.withBase { step.gather(order: $0, rows: s.batch.count) }
      #expect(step.gradientStep(rows: s.batch.count))
      #expect(step.lastLossSum / Double(s.batch.count) == s.loss)
      // The saved weights are those after the gradient step, before the noise.
      if let w = t.weights[s.iteration] { #expect(step.network.weights == w) }
      #expect(step.network.weights.map(TracingLayerStep.norm) == s.weightNorms)
      let noise = try #require(s.noise ?? (s.iteration == t.steps.count ? [] : nil))
      for (i, w) in step.network.prunableIndices.enumerated() where !noise.isEmpty {
        let columns = step.network.weightLayers[w].columns
        #expect(noise[i].count == step.network.weightLayers[w].rows)
        for (r, v) in noise[i].enumerated() {
          for j in 0..<columns { step.network.weights[w][r * columns + j] += v }
        }
      }
      if let n = s.noisyWeightNorms {
        #expect(step.network.weights.map(TracingLayerStep.norm) == n)
      }
    }
    #expect(step.network.weights == trained.weights)
    // The last step (the cap) has no noise after it; the others have one value per filter of
    // convolutions 2…8 and none for the first convolution or the output layer.
    #expect(t.steps.last?.noise == nil)
    #expect(t.steps.first?.noise?.map(\.count) == [4, 8, 8, 16, 16, 16, 16])
  }

  /// The gradient norms are those of `lossAndGradient` (Double) at the first step, to the
  /// rounding of the Float weight difference they are measured from: |ΔW| ≤ 2⁻²⁴·|W| per
  /// weight, so a relative 10⁻³ for gradients of this size (η·|∇W| ≈ 10⁻³…10⁻² against
  /// |W| ≈ 0.1–1).
  @Test func gradientNormsAreThoseOfTheFirstStep() throws {
    BLASThreads.set(1)
    let t = Self.traced(LayerTrainingTests.config(sigma: 0, iterations: 1))
    let initial = try #require(t.initial)
    let s = try #require(t.steps.first)
    let train = LayerTrainingTests.quadrants.train
    var x: [Double] = []
    var labels: [Int32] = []
    train.features.withUnsafeValues { v in
      for i in s.batch {
        x += (0..<64).map { Double(v[Int(i) * 64 + $0]) }
      }
    }
    train.labels.withBase { l in labels = s.batch.map { l[Int($0)] } }
    var net = LayerNet<Double>(architecture: initial.architecture)
    net.weights = initial.weights.map { $0.map(Double.init) }
    let (loss, gradient) = net.lossAndGradient(x, labels: labels)
    #expect(abs(loss - s.loss) < 1e-5 * loss)
    for (g, n) in zip(gradient, s.gradientNorms) {
      let exact = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
      #expect(abs(n - exact) <= 1e-3 * exact, "\(n) against \(exact)")
    }
  }
}
