import Foundation
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepSpec

@Suite struct FeatureTests {
  let fx: Fixtures
  init() throws { fx = try Fixtures() }

  @Test func listsFormACartesianProduct() throws {
    let s = try fx.load(
      "lists.yaml",
      header + """
        grid:
          width: [64, 256, 1024]
          alpha: [1.75, 2.0]
        """)
    #expect(s.trials.count == 6)
    #expect(s.values("width") == ["64", "256", "1024"])
    #expect(s.values("alpha") == ["1.75", "2"])
    #expect(s.mergedDuplicates == 0)
    #expect(s.name == "lists")
    #expect(s.description == "test sweep")
    #expect(Set(s.trials.map(\.id)).count == 6)
  }

  @Test func stepRangesIncludeTheEndAndRoundToWrittenDecimals() throws {
    let s = try fx.load(
      "range.yaml",
      head + """
        train: {eta: 0.1, batchSize: 100, width: 8}
        grid:
          alpha: {from: 1, to: 2, step: 0.25}
          sigma: {from: 0.1, to: 0.3, step: 0.1}
        """)
    #expect(s.values("alpha") == ["1", "1.25", "1.5", "1.75", "2"])
    // 0.1 + 2 × 0.1 is 0.30000000000000004 in binary; the range gives 0.3 as written.
    #expect(s.values("sigma") == ["0.1", "0.2", "0.3"])
    #expect(s.trials.count == 15)
  }

  @Test func integerStepRanges() throws {
    let s = try fx.load(
      "irange.yaml",
      header + """
        grid:
          width: {from: 10, to: 40, step: 10}
        """)
    #expect(s.values("width") == ["10", "20", "30", "40"])
  }

  @Test func logRangesRoundForIntegerKeys() throws {
    let s = try fx.load(
      "log.yaml",
      head + """
        grid:
          width: {from: 100, to: 10000, count: 5, log: true}
          eta: {from: 0.001, to: 0.1, count: 3, log: true}
        train: {batchSize: 100}
        """)
    #expect(s.values("width") == ["100", "316", "1000", "3162", "10000"])
    #expect(s.values("eta") == ["0.001", "0.01", "0.1"])
    #expect(s.trials.count == 15)
  }

  @Test func linearCountRanges() throws {
    let s = try fx.load(
      "count.yaml",
      head + """
        train: {eta: 0.1, batchSize: 100, width: 8}
        grid:
          sigma: {from: 0, to: 1, count: 5}
        """)
    #expect(s.values("sigma") == ["0", "0.25", "0.5", "0.75", "1"])
  }

  @Test func zipGroupsMoveTogetherAndCrossTheGrid() throws {
    let s = try fx.load(
      "zip.yaml",
      """
      description: zip
      dataset: mnist
      train: {width: 16}
      grid:
        alpha: [1.5, 2.0]
      zip:
        - {eta: [0.1, 0.05, 0.01], batchSize: [100, 50, 10]}
      """)
    #expect(s.trials.count == 6)
    let pairs = Set(s.trials.map { "\($0.config.eta)/\($0.config.batchSize)" })
    #expect(pairs == ["0.1/100", "0.05/50", "0.01/10"])
  }

  @Test func seedsAsListCountAndRange() throws {
    let list = try fx.load(
      "s1.yaml", head + "train: {width: 8, eta: 0.1, batchSize: 10}\nseeds: [3, 7]\n")
    #expect(list.values("seed") == ["3", "7"])
    let count = try fx.load(
      "s2.yaml", head + "train: {width: 8, eta: 0.1, batchSize: 10}\nseeds: 3\n")
    #expect(count.values("seed") == ["1", "2", "3"])
    let range = try fx.load(
      "s3.yaml",
      head + "train: {width: 8, eta: 0.1, batchSize: 10}\nseeds: {from: 10, to: 12, step: 1}\n")
    #expect(range.values("seed") == ["10", "11", "12"])
    let none = try fx.load("s4.yaml", head + "train: {width: 8, eta: 0.1, batchSize: 10}\n")
    #expect(none.values("seed") == ["1"])
  }

  @Test func overridesCollapseAlphaForNoiseFreePointsAndCountTheMerge() throws {
    let s = try fx.load(
      "over.yaml",
      header + """
        grid:
          width: [64, 256]
          alpha: [1.5, 1.75, 2.0]
          sigma: [0, 0.01]
        seeds: 2
        overrides:
          - when: {sigma: 0}
            set: {alpha: 2.0, noiseType: none}
        """)
    // Per width and seed: 1 noise-free point + 3 noisy ones.
    #expect(s.trials.count == 2 * 2 * 4)
    #expect(s.mergedDuplicates == 2 * 2 * 3 - 2 * 2)
    let plain = s.trials.filter { $0.config.sigma == 0 }
    #expect(plain.count == 4)
    #expect(plain.allSatisfy { $0.config.alpha == 2 && $0.config.noiseType == .none })
    #expect(
      s.trials.filter { $0.config.sigma > 0 }.allSatisfy { $0.config.noiseType == .perNeuron })
  }

  @Test func overridesApplyInOrderAndMatchListsAndDefaults() throws {
    let s = try fx.load(
      "over2.yaml",
      header + """
        grid:
          width: [16, 32, 64]
        overrides:
          - when: {width: [16, 32], depth: 1}
            set: {maxIterations: 50}
          - when: {maxIterations: 50}
            set: {evalEvery: 10}
        """)
    let byWidth = Dictionary(uniqueKeysWithValues: s.trials.map { ($0.config.width, $0.config) })
    #expect(byWidth[16]?.maxIterations == 50)
    #expect(byWidth[16]?.evalEvery == 10)
    #expect(byWidth[32]?.evalEvery == 10)
    #expect(byWidth[64]?.maxIterations == 10_000)
    #expect(byWidth[64]?.evalEvery == 100)
  }

  @Test func includeGivesDefaultsAndNestedMapsMerge() throws {
    try fx.write(
      "shared/base.yaml",
      """
      # shared settings
      dataset: {name: mnist, trainLimit: 1000, testLimit: 500}
      train:
        eta: 0.1
        batchSize: 100
        maxIterations: 500
      grid:
        width: [64, 128]
        alpha: [1.5, 2.0]
      run: {retries: 5, trialTimeout: 60}
      """)
    let s = try fx.load(
      "child.yaml",
      """
      description: child
      include: shared/base.yaml
      dataset: {trainLimit: 2000}
      train: {eta: 0.05}
      grid:
        width: [256]
      run: {retries: 1}
      """)
    #expect(s.trials.count == 2)
    #expect(s.values("width") == ["256"])
    #expect(s.values("alpha") == ["1.5", "2"])
    for t in s.trials {
      #expect(t.config.eta == 0.05)
      #expect(t.config.batchSize == 100)
      #expect(t.config.maxIterations == 500)
      #expect(t.config.dataset == DatasetSpec(name: "mnist", trainLimit: 2000, testLimit: 500))
    }
    #expect(s.settings == SweepSettings(retries: 1, trialTimeout: 60))
    #expect(s.name == "child")
    #expect(
      s.sources.map { URL(fileURLWithPath: $0.path).lastPathComponent } == [
        "child.yaml", "base.yaml",
      ])
  }

  @Test func anIncludingFileMayFixWhatItsBaseSweeps() throws {
    try fx.write(
      "base.yaml",
      "train: {eta: 0.1, batchSize: 10}\ngrid:\n  width: [8, 16]\n  alpha: [1.5, 2.0]\n")
    let s = try fx.load(
      "fix.yaml", "description: fix\ninclude: base.yaml\ndataset: mnist\ntrain: {width: 32}\n")
    #expect(s.values("width") == ["32"])
    #expect(s.trials.count == 2)
  }

  @Test func includesNest() throws {
    try fx.write("a.yaml", "dataset: mnist\ntrain: {eta: 0.1}\n")
    try fx.write("b.yaml", "include: a.yaml\ntrain: {batchSize: 10, width: 4}\n")
    let s = try fx.load("c.yaml", "description: nested\ninclude: [b.yaml]\n")
    #expect(s.trials.count == 1)
    #expect(s.trials[0].config.eta == 0.1)
    #expect(s.trials[0].config.width == 4)
  }

  @Test func jsonIsAcceptedAsYAML() throws {
    let s = try fx.load(
      "sweep.json",
      """
      {
        "description": "json sweep",
        "name": "js",
        "dataset": {"name": "synthetic", "inputs": 5},
        "train": {"eta": 0.5, "batchSize": 32, "noiseType": 2},
        "grid": {"width": [4, 8], "sigma": {"from": 0, "to": 0.2, "step": 0.1}},
        "seeds": [1, 2],
        "overrides": [{"when": {"sigma": 0}, "set": {"noiseType": 0}}],
        "run": {"retries": 0, "trialTimeout": 10.5}
      }
      """)
    #expect(s.name == "js")
    #expect(s.trials.count == 12)
    #expect(s.settings == SweepSettings(retries: 0, trialTimeout: 10.5))
    #expect(
      s.trials.allSatisfy { $0.config.dataset.inputs == 5 && $0.config.dataset.trainSize == 2000 })
  }

  @Test func datasetAxis() throws {
    let s = try fx.load(
      "datasets.yaml",
      """
      description: datasets
      train: {eta: 0.1, batchSize: 10, width: 8}
      grid:
        dataset:
          - mnist
          - {name: fashion-mnist, trainLimit: 500}
          - {name: synthetic, inputs: 10, classes: 3}
      """)
    #expect(s.trials.count == 3)
    #expect(s.values("dataset") == ["mnist", "fashion-mnist", "synthetic"])
    // Cost uses the data set's shape: MNIST (784 inputs) costs more than 10-input synthetic.
    #expect(s.trials.first?.config.dataset.name != "synthetic")
    #expect(s.trials.last?.config.dataset.name == "synthetic")
    #expect(s.trials.last?.relativeCost == 1)
  }

  @Test func noiseTypeByNameOrNumber() throws {
    let s = try fx.load(
      "noise.yaml",
      head
        + "train: {eta: 0.1, batchSize: 10, width: 4}\ngrid:\n  noiseType: [none, neuron, 2, isotropic]\n"
    )
    #expect(s.values("noiseType") == ["0", "1", "2", "3"])
  }

  @Test func relativeCostIsNormalisedAndSortsTheTrials() throws {
    let s = try fx.load(
      "cost.yaml",
      header + """
        grid:
          width: [10, 20]
          depth: [1, 2]
        """)
    let costs = s.trials.map(\.relativeCost)
    #expect(costs == costs.sorted(by: >))
    #expect(costs.min() == 1)
    // depth 1: 784·n + n·10; depth 2 adds n². Exact ratios (integers, no rounding involved).
    let w10d1 = 784.0 * 10 + 100
    let w20d2 = 784.0 * 20 + 400 + 200
    #expect(s.trials.first?.config.width == 20)
    #expect(s.trials.first?.config.depth == 2)
    #expect(costs.first == w20d2 / w10d1)
  }

  @Test func nameDefaultsToTheFileNameWithoutExtension() throws {
    let s = try fx.load("my-sweep.v2.yaml", head + "train: {width: 4, eta: 0.1, batchSize: 10}\n")
    #expect(s.name == "my-sweep.v2")
  }

  @Test func plannedConfigsAreNormalisedAndHashToTheirIds() throws {
    let s = try fx.load(
      "norm.yaml",
      """
      description: norm
      dataset: {name: Synthetic}
      train: {eta: 0.1, batchSize: 10, width: 4}
      """)
    let t = try #require(s.trials.first)
    #expect(t.config.dataset.name == "synthetic")
    #expect(t.config.dataset.teacherWidth == 10)
    #expect(TrialID(config: t.config) == t.id)
    #expect(s.text.contains("description: norm"))
    #expect(s.path.hasSuffix("norm.yaml"))
  }

  @Test func theRepositorySweepsAreValid() throws {
    let dir = TestFiles.repositoryRoot.appendingPathComponent("sweeps")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
      .filter { $0.hasSuffix(".yaml") }
    #expect(files.contains("quickstart.yaml"))
    for f in files {
      let path = dir.appendingPathComponent(f).path
      let text = try String(contentsOfFile: path, encoding: .utf8)
      #expect(text.hasPrefix("#"), "\(f) must start with its header comment")
      #expect(throws: Never.self, "\(f)") { _ = try SweepLoader.load(path: path) }
    }
    let quick = try SweepLoader.load(path: dir.appendingPathComponent("quickstart.yaml").path)
    #expect(quick.trials.count == 60)
    #expect(quick.mergedDuplicates == 20)
  }

  @Test func parseResolvesIncludesFromTheBaseDirectory() throws {
    try fx.write(
      "defaults.yaml", "dataset: {name: synthetic, inputs: 4}\ntrain: {eta: 0.5, batchSize: 8}\n")
    let s = try SweepLoader.parse(
      text: "description: in memory\ninclude: defaults.yaml\ngrid: {width: [2, 4]}\n",
      file: "memory.yaml", baseDirectory: fx.directory.path)
    #expect(s.name == "memory")
    #expect(s.path == "memory.yaml")
    #expect(s.trials.count == 2)
    #expect(s.trials.allSatisfy { $0.config.dataset.inputs == 4 && $0.config.eta == 0.5 })
    #expect(s.sources.count == 2)
    #expect(s.sources[1].text.contains("synthetic"))
  }
}
