import Foundation
import TailNet
import Testing

@testable import SweepSpec

@Suite struct TrialIDTests {
  let fx: Fixtures
  init() throws { fx = try Fixtures() }

  func ids(_ name: String, _ text: String) throws -> [TrialID] {
    try fx.load(name, text).trials.map(\.id).sorted()
  }

  @Test func keyOrderDoesNotChangeTheId() throws {
    let a = try ids(
      "a.yaml",
      """
      description: a
      dataset: {name: mnist, trainLimit: 1000, testLimit: 100}
      train: {eta: 0.1, batchSize: 100, depth: 1}
      grid: {width: [8, 16], alpha: [1.5, 2]}
      """)
    let b = try ids(
      "b.yaml",
      """
      grid: {alpha: [2, 1.5], width: [16, 8]}
      train: {depth: 1, batchSize: 100, eta: 0.1}
      dataset: {testLimit: 100, trainLimit: 1000, name: mnist}
      description: b
      """)
    #expect(a.count == 4)
    #expect(a == b)
  }

  @Test func equivalentNumberSpellingsGiveTheSameId() throws {
    let a = try ids(
      "a.yaml", head + "train: {width: 8, batchSize: 10, eta: 0.01, sigma: 100, alpha: 2}\n")
    let b = try ids(
      "b.yaml", head + "train: {width: 8, batchSize: 10, eta: 1e-2, sigma: 1e2, alpha: 2.0}\n")
    let c = try ids(
      "c.yaml", head + "train: {width: 8, batchSize: 10, eta: 0.010, sigma: 100.0, alpha: 2.00}\n")
    #expect(a == b)
    #expect(a == c)
  }

  @Test func explicitDefaultsEqualOmittedOnes() throws {
    let omitted = try ids(
      "a.yaml",
      """
      description: a
      dataset: synthetic
      train: {width: 8, batchSize: 10, eta: 0.1}
      """)
    let explicit = try ids(
      "b.yaml",
      """
      description: b
      dataset: {name: synthetic, inputs: 20, classes: 2, trainSize: 2000, testSize: 1000,
                teacherWidth: 10, dataSeed: 0}
      train: {width: 8, batchSize: 10, eta: 0.1, depth: 1, alpha: 1.75, sigma: 0,
              noiseType: neuron, targetAccuracy: 0.95, maxIterations: 10000, evalEvery: 100,
              budget: 0.1}
      seeds: [1]
      """)
    #expect(omitted == explicit)
  }

  @Test func normalisationFillsSyntheticDefaultsAndDropsIrrelevantFields() {
    let plain = TrialConfig(dataset: DatasetSpec(name: "mnist"), width: 8, eta: 0.1, batchSize: 10)
    var noisy = plain
    noisy.dataset = DatasetSpec(name: "MNIST", dataSeed: 7, inputs: 3, teacherWidth: 2)
    #expect(TrialID(config: plain) == TrialID(config: noisy))
    var resplit = plain
    resplit.dataset = DatasetSpec(name: "mnist", resplit: 500)
    var resplitSeed0 = resplit
    resplitSeed0.dataset.dataSeed = 0
    #expect(TrialID(config: resplit) == TrialID(config: resplitSeed0))
    resplitSeed0.dataset.dataSeed = 1
    #expect(TrialID(config: resplit) != TrialID(config: resplitSeed0))
    var synthetic = plain
    synthetic.dataset = DatasetSpec(name: "synthetic")
    var syntheticFull = plain
    syntheticFull.dataset = DatasetSpec(
      name: "synthetic", dataSeed: 0, inputs: 20, classes: 2, trainSize: 2000, testSize: 1000,
      teacherWidth: 10)
    #expect(TrialID(config: synthetic) == TrialID(config: syntheticFull))
    var negativeZero = plain
    negativeZero.sigma = -0.0
    #expect(TrialID(config: plain) == TrialID(config: negativeZero))
  }

  @Test func theSamePointInTwoFilesHasTheSameId() throws {
    let wide = try fx.load(
      "wide.yaml",
      header + """
        grid:
          width: [64, 128, 256]
          sigma: [0, 0.01]
        seeds: 2
        """)
    let single = try fx.load(
      "single.yaml",
      """
      # a different file, a different layout, one of the points above
      description: one point
      train:
        sigma: 1e-2
        width: 128
        batchSize: 100
        eta: 0.1
      dataset: {name: mnist}
      seeds: [2]
      """)
    let id = try #require(single.trials.first?.id)
    #expect(wide.trials.contains { $0.id == id })
  }

  @Test func aDifferentSeedOrValueGivesADifferentId() {
    let a = TrialConfig(dataset: DatasetSpec(name: "mnist"), width: 8, eta: 0.1, batchSize: 10)
    var b = a
    b.seed = 2
    var c = a
    c.eta = 0.1000001
    #expect(TrialID(config: a) != TrialID(config: b))
    #expect(TrialID(config: a) != TrialID(config: c))
    #expect(TrialID(config: a) != TrialID(config: a, semanticsVersion: trialSemanticsVersion + 1))
  }

  /// Pins the canonical form: changing it silently would orphan every stored result.
  @Test func canonicalTextIsPinned() throws {
    let config = TrialConfig(
      dataset: DatasetSpec(name: "mnist", trainLimit: 1000), width: 64, eta: 0.01,
      batchSize: 100, alpha: 2, sigma: 0)
    let text = TrialID.canonicalText(config, semanticsVersion: 1)
    #expect(
      text == "tailsweep-trial/v1\n"
        + #"{"alpha":2.0,"batchSize":100,"budget":0.1,"dataset":{"name":"mnist","trainLimit":1000},"#
        + #""depth":1,"eta":0.01,"evalEvery":100,"maxIterations":10000,"noiseType":1,"seed":1,"#
        + #""sigma":0.0,"targetAccuracy":0.95,"width":64}"#)
    let id = TrialID(config: config, semanticsVersion: 1)
    #expect(id.hex.count == 64)
    #expect(TrialID(hex: id.hex) == id)
    let json = try JSONEncoder().encode(id)
    #expect(try JSONDecoder().decode(TrialID.self, from: json) == id)
  }

  @Test func canonicalJSONEscapesStrings() throws {
    var c = TrialConfig(dataset: DatasetSpec(name: "ucr/A\"b\\c"), width: 1, eta: 1, batchSize: 1)
    c.dataset.binarize = "x\ny"
    let text = TrialID.canonicalText(c, semanticsVersion: 1)
    #expect(text.contains(#""binarize":"x\ny""#))
    #expect(text.contains(#""name":"ucr/A\"b\\c""#))
  }
}
