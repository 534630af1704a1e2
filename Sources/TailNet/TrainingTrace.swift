import Foundation
import TailMath

/// What one SGD step of a layer-list (CNN) trial did, for replaying the trial step by step in
/// another implementation (`scripts/reference/torch_vgg.py replay`): the mini-batch, the batch
/// loss, the noise drawn, and per-layer norms to compare against.
public struct StepTrace: Codable, Hashable, Sendable {
  /// The iteration k (1-based).
  public var iteration: Int
  /// Indices into the training split of the mini-batch's examples, in order.
  public var batch: [Int32]
  /// Mean cross-entropy of the mini-batch before the step (not finite if the trial diverged
  /// at this step's forward pass).
  public var loss: Double
  /// Per weight layer: ‖W_before − W_after‖₂ / η, the Frobenius norm of the gradient as the
  /// fused update applied it (the difference of Float weights, so within about
  /// 2⁻²⁴·‖W‖/η of the exact gradient's norm).
  public var gradientNorms: [Double]
  /// Per weight layer: ‖W‖₂ after the gradient step.
  public var weightNorms: [Double]
  /// Per weight layer: max |W| after the gradient step.
  public var weightMaxima: [Double]
  /// Noise type 1: per prunable layer (`LayerNet.prunableIndices` order), the Float value added
  /// to every weight of each unit (filter or neuron). Nil when no noise followed the step (plain
  /// SGD, the last step, a step that stopped training) or for noise types 2 and 3.
  public var noise: [[Float]]?
  /// Per weight layer: ‖W‖₂ after the noise (nil when no noise followed the step).
  public var noisyWeightNorms: [Double]?
  /// Per weight layer: max |W| after the noise (nil when no noise followed the step).
  public var noisyWeightMaxima: [Double]?
}

/// Receivers of a traced CNN trial (`Trainer.train(config:architecture:…, trace:)`).
public struct LayerTrace {
  /// Called once with the initial network, before the first step.
  public var initial: (LayerNet<Float>) -> Void
  /// Called once per step, in order, after the step's noise (if any).
  public var step: (StepTrace) -> Void
  /// Called with the iteration and the network after that iteration's gradient step (before
  /// its noise), for the iterations in `weightsAt`.
  public var weights: (Int, LayerNet<Float>) -> Void
  public var weightsAt: Set<Int>

  public init(
    initial: @escaping (LayerNet<Float>) -> Void, step: @escaping (StepTrace) -> Void,
    weightsAt: Set<Int> = [], weights: @escaping (Int, LayerNet<Float>) -> Void = { _, _ in }
  ) {
    self.initial = initial
    self.step = step
    self.weightsAt = weightsAt
    self.weights = weights
  }
}

/// A `LayerSGDStep` that reports every step to a `LayerTrace`. It calls the wrapped step
/// unchanged and only reads its state (and a copy of the noise stream), so a traced trial's
/// numbers are bit-identical to an untraced one's.
final class TracingLayerStep: TrainingStep {
  let inner: LayerSGDStep
  let trace: LayerTrace
  private var batch: [Int32] = []
  private var iteration = 0
  private var pending: StepTrace?

  init(_ inner: LayerSGDStep, trace: LayerTrace) {
    self.inner = inner
    self.trace = trace
    trace.initial(inner.network)
  }

  var miniBatch: MiniBatch { inner.miniBatch }

  func gather(order: UnsafePointer<Int32>, rows: Int) {
    batch = Array(UnsafeBufferPointer(start: order, count: rows))
    inner.gather(order: order, rows: rows)
  }

  func gradientStep(rows: Int) -> Bool {
    flush()
    let before = inner.network.weights
    let finite = inner.gradientStep(rows: rows)
    iteration += 1
    if trace.weightsAt.contains(iteration) { trace.weights(iteration, inner.network) }
    let after = inner.network.weights
    let eta = Double(inner.eta)
    pending = StepTrace(
      iteration: iteration, batch: batch, loss: inner.lastLossSum / Double(rows),
      gradientNorms: zip(before, after).map { b, a in
        var s = 0.0
        for i in b.indices {
          let d = Double(b[i]) - Double(a[i])
          s += d * d
        }
        return s.squareRoot() / eta
      },
      weightNorms: after.map(Self.norm), weightMaxima: after.map(Self.maxMagnitude))
    return finite
  }

  func addNoise(type: NoiseType, alpha: Double, scale: Double, rng: inout Xoshiro256) -> Bool {
    var values: [[Float]]? = nil
    if type == .perNeuron {
      // The same draws `NoiseInjection.add(type: .perNeuron, …)` makes, from a copy.
      var replay = rng
      values = inner.network.prunableIndices.map { w in
        (0..<inner.network.weightLayers[w].rows).map { _ in
          Float(scale * replay.nextSymmetricStable(alpha: alpha))
        }
      }
    }
    let finite = inner.addNoise(type: type, alpha: alpha, scale: scale, rng: &rng)
    pending?.noise = values
    pending?.noisyWeightNorms = inner.network.weights.map(Self.norm)
    pending?.noisyWeightMaxima = inner.network.weights.map(Self.maxMagnitude)
    flush()
    return finite
  }

  /// Reports the last step if it has not been reported yet (training ended after it).
  func flush() {
    if let p = pending { trace.step(p) }
    pending = nil
  }

  static func norm(_ w: [Float]) -> Double {
    w.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
  }

  /// Largest |w| (NaN if an entry is NaN).
  static func maxMagnitude(_ w: [Float]) -> Double {
    var m = 0.0
    for x in w {
      if x.isNaN { return .nan }
      m = Swift.max(m, Double(x.magnitude))
    }
    return m
  }
}
