import Foundation
import Testing

@testable import SweepSpec

/// Malformed sweep files: each error names the file, the line and the key.
@Suite struct ErrorTests {
  let fx: Fixtures
  init() throws { fx = try Fixtures() }

  @Test func unknownKeySuggestsTheConfigName() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        width: 64
        lr: 0.1
        batchSize: 10
      """, line: 5, key: "lr", message: "unknown key (did you mean 'eta'?)")
  }

  @Test func misspelledKeySuggestsTheNearestName() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {width: 64, eta: 0.1, batchSize: 10}
      grid:
        alpah: [1.5, 2]
      """, line: 5, key: "alpah", message: "did you mean 'alpha'?")
  }

  @Test func unknownTopLevelKey() throws {
    try fx.expectError(
      header + """
        grid: {width: [1, 2]}
        seed: 3
        """, line: 5, key: "seed", message: "did you mean 'seeds'?")
  }

  @Test func wrongTypeForAnInteger() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        eta: 0.1
        batchSize: 10
        width: wide
      """, line: 6, key: "width", message: "expected an integer, got the string 'wide'")
  }

  @Test func integerKeysRejectDecimals() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        seeds:
          - 1
          - 2.0
        """, line: 7, key: "seeds", message: "expected an integer, got '2.0'")
  }

  @Test func alphaOutOfRangeInAList() throws {
    try fx.expectError(
      header + """
        grid:
          width: [8]
          alpha:
            - 1.5
            - 2.5
        """, line: 8, key: "alpha", message: "alpha must be in (0, 2]")
  }

  @Test func nonPositiveWidth() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {eta: 0.1, batchSize: 10}
      grid:
        width: [0, 16]
      """, line: 5, key: "width", message: "width must be ≥ 1, got 0")
  }

  @Test func emptyAxis() throws {
    try fx.expectError(
      header + """
        grid:
          width: []
        """, line: 5, key: "width", message: "empty list")
  }

  @Test func emptyGrid() throws {
    try fx.expectError(
      header + """
        train2: 1
        """, line: 4, key: "train2", message: "unknown key")
    try fx.expectError(
      header + """
        grid: {}
        """, line: 4, key: "grid", message: "empty grid")
  }

  @Test func duplicateValueInAnAxis() throws {
    try fx.expectError(
      header + """
        grid:
          width:
            - 64
            - 128
            - 64
        """, line: 8, key: "width", message: "duplicate value 64 in the axis (first on line 6)")
  }

  @Test func equivalentSpellingsAreDuplicates() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {width: 8, batchSize: 10}
      grid:
        eta: [0.01, 1e-2]
      """, line: 5, key: "eta", message: "duplicate value 0.01")
  }

  @Test func keyBothFixedAndSwept() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        eta: 0.1
        batchSize: 10
      grid:
        width: [8]
        eta: [0.1, 0.2]
      """, line: 8, key: "eta", message: "given twice: fixed in train (line 4) and swept in grid")
  }

  @Test func zipLengthsMustMatch() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {width: 8}
      zip:
        - eta: [0.1, 0.05]
          batchSize: [100, 50, 10]
      """, line: 6, key: "batchSize", message: "'batchSize' has 3 values, 'eta' has 2")
  }

  @Test func missingDescription() throws {
    try fx.expectError(
      """
      dataset: mnist
      train: {width: 8, eta: 0.1, batchSize: 10}
      """, line: 1, key: "description", message: "missing required key")
  }

  @Test func missingRequiredConfigKey() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {eta: 0.1, batchSize: 10}
      """, line: 1, key: "width", message: "missing required key")
  }

  @Test func yamlSyntaxError() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {eta: 0.1, batchSize: 10
      grid:
        width: [1]
      """, line: 4, key: nil, message: "YAML syntax error")
  }

  @Test func duplicateKeyInAMapping() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train:
        eta: 0.1
        eta: 0.2
      """, line: 4, key: "eta", message: "more than once")
  }

  @Test func errorsInAnIncludedFileNameThatFile() throws {
    let base = try fx.write(
      "base.yaml",
      """
      # base
      train:
        eta: 0.1
        batchsize: 10
      """)
    let (error, _) = try fx.failure(
      "child.yaml", "description: d\ninclude: base.yaml\ndataset: mnist\ngrid: {width: [1]}\n")
    #expect(error.file == base)
    #expect(error.line == 4)
    #expect(error.key == "batchsize")
    #expect(
      error.description == "\(base):4: key 'batchsize': unknown key (did you mean 'batchSize'?)")
  }

  @Test func includeCycle() throws {
    let a = try fx.write("a.yaml", "description: a\ninclude: b.yaml\n")
    try fx.write("b.yaml", "dataset: mnist\ninclude: a.yaml\n")
    let (error, _) = try fx.failure("a.yaml", try String(contentsOfFile: a, encoding: .utf8))
    #expect(error.file.hasSuffix("b.yaml"))
    #expect(error.line == 2)
    #expect(error.key == "include")
    #expect(error.message.contains("include cycle"))
  }

  @Test func missingIncludedFile() throws {
    try fx.expectError(
      "description: d\n\ninclude: nowhere.yaml\n", line: 3, key: "include",
      message: "no such file")
  }

  @Test func unknownDatasetNameWithSuggestion() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnsit
      train: {width: 8, eta: 0.1, batchSize: 10}
      """, line: 2, key: "dataset", message: "unknown data set 'mnsit' (did you mean 'mnist'?)")
  }

  @Test func syntheticOnlyFieldsOnOtherData() throws {
    try fx.expectError(
      """
      description: d
      dataset:
        name: mnist
        inputs: 10
      train: {width: 8, eta: 0.1, batchSize: 10}
      """, line: 4, key: "inputs", message: "only the synthetic data set")
  }

  @Test func dataSeedWithoutResplit() throws {
    try fx.expectError(
      """
      description: d
      dataset: {name: mnist,
        dataSeed: 3}
      train: {width: 8, eta: 0.1, batchSize: 10}
      """, line: 3, key: "dataSeed", message: "only with 'resplit'")
  }

  @Test func overrideThatNeverMatches() throws {
    try fx.expectError(
      header + """
        grid: {width: [8], sigma: [0.1, 0.2]}
        overrides:
          - when: {sigma: 0}
            set: {alpha: 2}
        """, line: 6, key: "when", message: "matches no point")
  }

  @Test func overrideCannotChangeTheSeed() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        overrides:
          - when: {width: 8}
            set:
              seed: 4
        """, line: 8, key: "seed", message: "cannot change the seed")
  }

  @Test func overrideValueOutOfRange() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        overrides:
          - when: {width: 8}
            set: {sigma: -1}
        """, line: 7, key: "sigma", message: "sigma must be ≥ 0")
  }

  @Test func rangeWithBothStepAndCount() throws {
    try fx.expectError(
      header + """
        grid:
          width: {from: 1, to: 8, step: 1, count: 8}
        """, line: 5, key: "width", message: "exactly one of 'step' and 'count'")
  }

  @Test func rangeUnknownKey() throws {
    try fx.expectError(
      header + """
        grid:
          width:
            from: 1
            stop: 8
            step: 1
        """, line: 7, key: "stop", message: "did you mean 'to'?")
  }

  @Test func logRangeNeedsPositiveBounds() throws {
    try fx.expectError(
      head + """
        train: {width: 8, batchSize: 10}
        grid:
          eta: {from: 0, to: 1, count: 3, log: true}
        """, line: 5, key: "eta", message: "needs 'from' and 'to' > 0")
  }

  @Test func integerLogRangeThatRepeatsAfterRounding() throws {
    try fx.expectError(
      header + """
        grid:
          width: {from: 1, to: 4, count: 10, log: true}
        """, line: 5, key: "width", message: "twice after rounding")
  }

  @Test func emptyStepRange() throws {
    try fx.expectError(
      header + """
        grid:
          width: {from: 8, to: 1, step: 1}
        """, line: 5, key: "width", message: "empty range")
  }

  @Test func noiseTypeOutOfRange() throws {
    try fx.expectError(
      head + """
        train: {width: 8, eta: 0.1, batchSize: 10,
          noiseType: 5}
        """, line: 4, key: "noiseType", message: "noiseType must be 0–3")
  }

  @Test func seedInGridPointsToSeeds() throws {
    try fx.expectError(
      header + """
        grid:
          width: [8]
          seed: [1, 2]
        """, line: 6, key: "seed", message: "top-level 'seeds'")
  }

  @Test func runSettingsAreChecked() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run:
          retries: -1
        """, line: 6, key: "retries", message: "retries must be ≥ 0")
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {timeout: 5}
        """, line: 5, key: "timeout", message: "did you mean 'trialTimeout'?")
  }

  @Test func retriesHaveAnUpperBound() throws {
    // Int.max used to load and then overflow at run time (retries + 1 attempts).
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run:
          trialTimeout: 60
          retries: 9223372036854775807
        """, line: 7, key: "retries",
      message: "retries must be at most 100, got 9223372036854775807")
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {retries: 101}
        """, line: 5, key: "retries", message: "retries must be at most 100, got 101")
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {retries: 9223372036854775808}
        """, line: 5, key: "retries", message: "expected an integer")
  }

  @Test func trialTimeoutMustBePositive() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {trialTimeout: 0}
        """, line: 5, key: "trialTimeout", message: "trialTimeout must be > 0 seconds, got 0")
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run:
          trialTimeout: -5
        """, line: 6, key: "trialTimeout", message: "trialTimeout must be > 0 seconds, got -5")
  }

  @Test func trialTimeoutMustBeFinite() throws {
    for text in [".inf", "-.inf", ".nan", "1e400"] {
      try fx.expectError(
        header + """
          grid: {width: [8]}
          run: {trialTimeout: \(text)}
          """, line: 5, key: "trialTimeout", message: "expected a finite decimal number")
    }
  }

  @Test func trialTimeoutHasAnUpperBound() throws {
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {trialTimeout: 2592001}
        """, line: 5, key: "trialTimeout",
      message: "trialTimeout must be at most 2592000 seconds (30 days), got 2592001")
    try fx.expectError(
      header + """
        grid: {width: [8]}
        run: {trialTimeout: 1e300}
        """, line: 5, key: "trialTimeout", message: "trialTimeout must be at most 2592000 seconds")
  }

  @Test func runSettingsBoundsThemselvesLoad() throws {
    let high = try fx.load(
      "high.yaml", header + "grid: {width: [8]}\nrun: {retries: 100, trialTimeout: 2592000}\n")
    #expect(high.settings == SweepSettings(retries: 100, trialTimeout: 2_592_000))
    let low = try fx.load(
      "low.yaml", header + "grid: {width: [8]}\nrun: {retries: 0, trialTimeout: 0.001}\n")
    #expect(low.settings == SweepSettings(retries: 0, trialTimeout: 0.001))
  }

  @Test func topLevelMustBeAMapping() throws {
    try fx.expectError("- 1\n- 2\n", line: 1, key: nil, message: "must be a mapping")
    try fx.expectError("# only a comment\n", line: 1, key: nil, message: "the file is empty")
  }

  @Test func quotedNumbersAreStrings() throws {
    try fx.expectError(
      header + """
        grid:
          width: ["8"]
        """, line: 5, key: "width", message: "expected an integer, got the string '8'")
  }

  @Test func duplicatePointInAZipGroup() throws {
    try fx.expectError(
      head + """
        train: {width: 8}
        zip:
          - eta: [0.1, 0.2, 0.1]
            batchSize: [10, 20, 10]
        """, line: 5, key: "eta",
      message: "duplicate point in zip group (eta 0.1, batchSize 10): rows 1 and 3")
  }

  @Test func unreadableFile() throws {
    let path = fx.directory.appendingPathComponent("missing.yaml").path
    do {
      _ = try SweepLoader.load(path: path)
      Issue.record("expected an error")
    } catch {
      #expect(error.line == 0)
      #expect(error.description == "\(path): no such file")
    }
  }

  @Test func datasetBothFixedAndSwept() throws {
    try fx.expectError(
      """
      description: d
      dataset: mnist
      train: {width: 8, eta: 0.1, batchSize: 10}
      grid:
        dataset: [mnist, fashion-mnist]
      """, line: 5, key: "dataset",
      message: "given twice: fixed in the top-level 'dataset' (line 2) and swept in grid")
  }

  @Test func descriptionIsNotInherited() throws {
    try fx.write("with-description.yaml", "description: base\ndataset: mnist\n")
    try fx.expectError(
      "include: with-description.yaml\ntrain: {width: 8, eta: 0.1, batchSize: 10}\n",
      line: 1, key: "description", message: "missing required key")
  }
}
