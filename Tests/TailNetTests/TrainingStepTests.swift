import Foundation
import TailMath
import Testing

@testable import TailNet

/// The optimised training step (issue 12, item 4): its fused passes compute what the plain
/// ones did, and its cheap divergence check never misses a non-finite weight.
@Suite struct TrainingStepTests {
  @Test(arguments: [0.5, 1.0, 1.75, 2.0])
  func fusedPerNeuronNoiseEqualsNoiseInjection(alpha: Double) {
    var rng = Xoshiro256(seed: 4)
    let (rows, columns) = (37, 29)
    let start = (0..<(rows * columns)).map { _ in Float(rng.nextNormal()) }
    var plain = start
    var fused = start
    var a = Xoshiro256(seed: 8)
    var b = Xoshiro256(seed: 8)
    NoiseInjection.add(
      type: .perNeuron, alpha: alpha, scale: 0.3, to: &plain, rows: rows, columns: columns,
      rng: &a)
    let m = fused.withMutableBase { p in
      SGDStep.addPerNeuronNoise(
        alpha: alpha, scale: 0.3, to: p, rows: rows, columns: columns, rng: &b)
    }
    #expect(plain.map(\.bitPattern) == fused.map(\.bitPattern))
    #expect(m == Double(fused.map(\.magnitude).max() ?? 0))
    #expect(a.next() == b.next(), "the same draws")
  }

  /// Type 2 in the step (the batch sampler measuring the layer in its pass) adds what
  /// `NoiseInjection.add` adds, and the bound it leaves is the layer's exact largest magnitude.
  @Test(arguments: [0.5, 1.0, 1.75, 2.0])
  func fusedPerEntryNoiseEqualsNoiseInjection(alpha: Double) throws {
    let data = try smallSynthetic()
    var rng = Xoshiro256(seed: 4)
    let net = Network<Float>.initialized(
      inputs: data.inputs, width: 37, depth: 2, classes: data.classes, rng: &rng)
    var plain = net.layers
    let step = SGDStep(network: net, train: data.train, batch: 16, eta: 0.1)
    var a = Xoshiro256(seed: 8)
    var b = Xoshiro256(seed: 8)
    for l in 0..<net.depth {
      let (r, c) = net.shape(layer: l)
      NoiseInjection.add(
        type: .perEntry, alpha: alpha, scale: 0.3, to: &plain[l], rows: r, columns: c, rng: &a)
    }
    #expect(step.addNoise(type: .perEntry, alpha: alpha, scale: 0.3, rng: &b))
    for l in 0...net.depth {
      #expect(step.network.layers[l].map(\.bitPattern) == plain[l].map(\.bitPattern))
    }
    for l in 0..<net.depth {
      #expect(step.bounds[l] == Double(plain[l].map(\.magnitude).max() ?? 0), "layer \(l)")
    }
    #expect(a.next() == b.next(), "the same draws")
    // A draw that overflows Float is found by the same pass.
    #expect(!step.addNoise(type: .perEntry, alpha: 0.5, scale: 1e38, rng: &b))
  }

  @Test func floatHelpersSeeNaNAndInfinity() {
    var v: [Float] = [1, -2, .nan, -0.0, 3, -.infinity]
    let reluMax = v.withMutableBase { Float.reluInPlace($0, count: 6) }
    #expect(v.map(\.bitPattern) == [1, 0, 0, 0, 3, 0].map { Float($0).bitPattern })
    #expect(reluMax == 3)
    var withInf: [Float] = [1, .infinity]
    #expect(withInf.withMutableBase { Float.reluInPlace($0, count: 2) } == .infinity)

    var d: [Float] = [5, -7, .nan, 2]
    let h: [Float] = [1, 1, 1, 0]
    let maskMax = d.withMutableBase { dp in h.withBase { Float.maskInPlace(dp, by: $0, count: 4) } }
    #expect(maskMax == .infinity, "a NaN gradient is not finite")
    #expect(d[3] == 0 && d[1] == -7)

    #expect([Float(-4), 2].withBase { Float.maxMagnitude($0, count: 2) } == 4)
    #expect([Float(1), .nan].withBase { Float.maxMagnitude($0, count: 2) } == .infinity)
    #expect([Float(1), -.infinity].withBase { Float.maxMagnitude($0, count: 2) } == .infinity)
    #expect(
      [Float.greatestFiniteMagnitude].withBase { Float.maxMagnitude($0, count: 1) }
        == Double(Float.greatestFiniteMagnitude))
  }

  @Test(arguments: NoiseType.allCases, [1, 2])
  func weightBoundsCoverTheWeightsAfterEveryStep(type: NoiseType, depth: Int) throws {
    let data = try smallSynthetic()
    var rng = Xoshiro256(seed: 6)
    let net = Network<Float>.initialized(
      inputs: data.inputs, width: 24, depth: depth, classes: data.classes, rng: &rng)
    let step = SGDStep(network: net, train: data.train, batch: 32, eta: 0.5)
    var order = [Int32](0..<Int32(data.train.count))
    var noiseRNG = Xoshiro256(seed: 7)
    for k in 0..<60 {
      let cursor = (k * 32) % (order.count - 32)
      order.withBase { step.gather(order: $0 + cursor, rows: 32) }
      #expect(step.gradientStep(rows: 32))
      for l in 0...depth {
        let exact = step.network.layers[l].map { Double($0.magnitude) }.max() ?? 0
        #expect(step.bounds[l] >= exact, "layer \(l) after step \(k)")
      }
      #expect(step.addNoise(type: type, alpha: 1.5, scale: 0.01, rng: &noiseRNG))
      for l in 0...depth {
        let exact = step.network.layers[l].map { Double($0.magnitude) }.max() ?? 0
        #expect(step.bounds[l] >= exact, "layer \(l) after noise \(k)")
      }
      Trainer.shuffle(&order, rng: &rng)
    }
  }

  @Test func nonFiniteWeightsAreFoundAtOnce() throws {
    let data = try smallSynthetic()
    var rng = Xoshiro256(seed: 6)
    let net = Network<Float>.initialized(
      inputs: data.inputs, width: 8, depth: 1, classes: data.classes, rng: &rng)
    let step = SGDStep(network: net, train: data.train, batch: 16, eta: 0.1)
    let order = [Int32](0..<16)
    order.withBase { step.gather(order: $0, rows: 16) }
    #expect(step.gradientStep(rows: 16))
    // A weight that overflows in the noise pass (type 1 adds the same value to a whole row).
    var noiseRNG = Xoshiro256(seed: 1)
    #expect(!step.addNoise(type: .perNeuron, alpha: 2, scale: 1e39, rng: &noiseRNG))
    // A weight made infinite behind the step's back is caught by the exact scan that a bound
    // beyond the limit triggers.
    step.network.layers[1][3] = .infinity
    step.bounds[1] = .infinity
    #expect(!step.gradientStep(rows: 16) || !step.scanWeights(layers: 0...1))
  }

  @Test func reusedEvaluatorGivesTheSameNumbersAsAFreshOne() throws {
    let data = try TrainingGoldenTests.mediumSynthetic()
    var rng = Xoshiro256(seed: 2)
    let net = Network<Float>.initialized(
      inputs: data.inputs, width: 16, depth: 2, classes: data.classes, rng: &rng)
    let evaluator = Evaluator(network: net, rows: max(data.train.count, data.test.count))
    for split in [data.train, data.test, data.train] {
      let a = net.evaluate(split, with: evaluator)
      let b = net.evaluate(split)
      #expect(a.loss.bitPattern == b.loss.bitPattern && a.accuracy == b.accuracy)
    }
  }
}
