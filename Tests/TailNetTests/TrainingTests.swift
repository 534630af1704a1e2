import Foundation
import TailMath
import Testing

@testable import TailNet

/// Small teacher–student data: training takes well under a second even in debug builds.
func smallSynthetic(classes: Int = 2, seed: UInt64 = 1) throws -> Dataset {
  try DataCatalog(directory: FileManager.default.temporaryDirectory).load(
    DatasetSpec(
      name: "synthetic", dataSeed: seed, inputs: 10, classes: classes, trainSize: 400,
      testSize: 200, teacherWidth: 5))
}

func config(
  sigma: Double = 0, alpha: Double = 1.75, noise: NoiseType = .perNeuron, width: Int = 32,
  depth: Int = 1, maxIterations: Int = 300, target: Double = 1.0, eta: Double = 0.1
) -> TrialConfig {
  TrialConfig(
    dataset: DatasetSpec(name: "synthetic"), width: width, depth: depth, eta: eta,
    batchSize: 32, alpha: alpha, sigma: sigma, noiseType: noise, targetAccuracy: target,
    maxIterations: maxIterations, evalEvery: 50, budget: 0.1, seed: 3)
}

func clock() -> Double { Date().timeIntervalSince1970 }

@Suite struct TrainingTests {
  @Test func sameConfigurationGivesIdenticalWeightsAndHistory() throws {
    let data = try smallSynthetic()
    let c = config(sigma: 0.3)
    let a = Trainer.train(config: c, dataset: data, noiseKey: 42, clock: clock)
    let b = Trainer.train(config: c, dataset: data, noiseKey: 42, clock: clock)
    #expect(a.summary.history == b.summary.history)
    #expect(a.network?.layers == b.network?.layers)
    let other = Trainer.train(config: c, dataset: data, noiseKey: 43, clock: clock)
    #expect(other.network?.layers != a.network?.layers, "another noise key, other noise")
  }

  @Test(arguments: NoiseType.allCases)
  func zeroSigmaEqualsNoiseFreeForEveryType(type: NoiseType) throws {
    let data = try smallSynthetic()
    let plain = Trainer.train(
      config: config(noise: .none), dataset: data, noiseKey: 1, clock: clock)
    let zero = Trainer.train(
      config: config(sigma: 0, noise: type), dataset: data, noiseKey: 99, clock: clock)
    #expect(plain.network?.layers == zero.network?.layers)
    #expect(plain.summary.history == zero.summary.history)
  }

  @Test func noiseGoesToHiddenLayersOnly() throws {
    // With η tiny the gradient step barely moves the weights, so the change of each layer is
    // the noise: hidden layers move by O(σ), the output layer only by O(η).
    let data = try smallSynthetic()
    let base = config(sigma: 0, maxIterations: 5, eta: 1e-9)
    let noisy = config(sigma: 1.0, noise: .perEntry, maxIterations: 5, eta: 1e-9)
    let a = Trainer.train(config: base, dataset: data, noiseKey: 5, clock: clock)
    let b = Trainer.train(config: noisy, dataset: data, noiseKey: 5, clock: clock)
    let na = try #require(a.network)
    let nb = try #require(b.network)
    #expect(na.layers[0] != nb.layers[0])
    let outDiff = zip(na.layers[1], nb.layers[1]).map { abs($0 - $1) }.max() ?? 0
    #expect(outDiff < 1e-6)
  }

  @Test func perNeuronNoiseShiftsWholeRows() throws {
    var w = [Float](repeating: 0, count: 6 * 4)
    var rng = Xoshiro256(seed: 9)
    NoiseInjection.add(
      type: .perNeuron, alpha: 1.5, scale: 1, to: &w, rows: 6, columns: 4, rng: &rng)
    for j in 0..<6 {
      let row = w[(j * 4)..<(j * 4 + 4)]
      #expect(Set(row).count == 1, "row \(j) gets one scalar")
    }
    #expect(Set(stride(from: 0, to: 24, by: 4).map { w[$0] }).count == 6)
  }

  @Test func learnsTheTeacher() throws {
    let data = try smallSynthetic()
    let r = Trainer.train(
      config: config(width: 64, maxIterations: 2000, target: 0.9), dataset: data,
      noiseKey: 1, clock: clock)
    #expect(r.summary.stopReason == .reachedTarget)
    #expect((r.summary.final?.trainAccuracy ?? 0) >= 0.9)
    #expect(r.summary.history.first?.iteration == 0)
  }

  @Test func hugeNoiseDivergesAsAResult() throws {
    let data = try smallSynthetic()
    let r = Trainer.train(
      config: config(sigma: 1e30, alpha: 0.5, noise: .perEntry, maxIterations: 200),
      dataset: data, noiseKey: 1, clock: clock)
    #expect(r.summary.stopReason == .diverged)
    #expect(r.summary.divergedAt != nil)
    #expect(r.network == nil)
  }

  @Test func progressCanCancel() throws {
    let data = try smallSynthetic()
    var calls = 0
    let r = Trainer.train(
      config: config(maxIterations: 100_000), dataset: data, noiseKey: 1, clock: clock
    ) { _ in
      calls += 1
      return calls < 3
    }
    #expect(r.summary.stopReason == .cancelled)
  }

  @Test func stepScaleFollowsTheLevyEulerRule() {
    // s = σ·η^(1/α): with η = 0.01, α = 2 the scale is σ·0.1; α = 1 gives σ·0.01.
    #expect(abs(NoiseInjection.stepScale(sigma: 2, eta: 0.01, alpha: 2) - 0.2) < 1e-12)
    #expect(abs(NoiseInjection.stepScale(sigma: 2, eta: 0.01, alpha: 1) - 0.02) < 1e-12)
  }
}
