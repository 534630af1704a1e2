import Foundation
import Testing

@testable import TailNet

/// A valid hand-made result: 400 of at most 1000 iterations, evaluations every 100.
private func sample(stop: StopReason = .reachedTarget) -> TrialResult {
  let config = TrialConfig(
    dataset: DatasetSpec(name: "synthetic"), width: 16, eta: 0.1, batchSize: 8,
    maxIterations: 1000, seed: 1)
  let history = (0...4).map { (i: Int) -> EvalPoint in
    let x = Double(i)
    return EvalPoint(
      iteration: i * 100, trainLoss: 1 / (x + 1), trainAccuracy: 0.5 + 0.1 * x,
      testLoss: 1.2 / (x + 1), testAccuracy: 0.45 + 0.1 * x)
  }
  let tail = TailIndexEstimate(hill: 1.6, hillK: 4, other: 1.7, otherName: "moment")
  let compression = CompressionReport(
    budget: 0.1, pruningRatio: 0.25,
    layers: [
      LayerCompression(
        rows: 16, columns: 10, prunedRows: 4, squaredRelativeError: 0.08,
        errorCurve: [ErrorCurvePoint(kept: 0.5, relativeError: 0.3)], tailIndexNorms: tail,
        tailIndexEntries: tail)
    ],
    unpruned: history[4],
    pruned: EvalPoint(
      iteration: 400, trainLoss: 0.3, trainAccuracy: 0.85, testLoss: 0.4, testAccuracy: 0.8),
    fixedRatioCurve: [
      FixedRatioPoint(pruned: 0, testAccuracy: 0.85, testLoss: 0.3),
      FixedRatioPoint(pruned: 1, testAccuracy: 0.5, testLoss: 0.69),
    ])
  return TrialResult(
    config: config,
    training: TrainingSummary(
      stopReason: stop, iterations: 400, divergedAt: stop == .diverged ? 400 : nil,
      wallSeconds: 0.5, final: history[4], history: history),
    compression: stop == .diverged ? nil : compression, datasetHash: "00ff")
}

/// The problems of `sample()` after `change`.
private func problems(
  stop: StopReason = .reachedTarget, _ change: (inout TrialResult) -> Void
) -> [String] {
  var r = sample(stop: stop)
  change(&r)
  return r.validationProblems()
}

@Suite struct ResultValidationTests {
  @Test func handMadeResultsAreValid() {
    #expect(sample().validationProblems() == [])
    #expect(sample(stop: .maxIterations).validationProblems() == [])
    #expect(sample(stop: .diverged).validationProblems() == [])
  }

  @Test func wallSecondsMustBeFiniteAndNonNegative() {
    #expect(
      problems { $0.training.wallSeconds = .nan }.first?.hasPrefix(
        "training.wallSeconds is nan") == true)
    #expect(problems { $0.training.wallSeconds = .infinity }.count == 1)
    #expect(
      problems { $0.training.wallSeconds = -1 }.first?.hasPrefix(
        "training.wallSeconds is -1.0") == true)
    #expect(problems { $0.training.wallSeconds = 0 } == [])
  }

  @Test func iterationsMustBeBetweenZeroAndMaxIterations() {
    let negative = problems {
      $0.training.iterations = -1
      $0.training.history = []
    }
    #expect(negative == ["training.iterations is -1 (must be ≥ 0)"])
    let over = problems { $0.training.iterations = 1001 }
    #expect(over == ["training.iterations is 1001 (more than config.maxIterations = 1000)"])
    #expect(problems { $0.training.iterations = 1000 } == [])
  }

  @Test func divergedAtIsThereExactlyWhenTheRunDivergedAndWithinIterations() {
    #expect(
      problems { $0.training.divergedAt = 300 }.first?.hasPrefix(
        "training.divergedAt is 300 (only a diverged run") == true)
    #expect(
      problems(stop: .diverged) { $0.training.divergedAt = nil }.first?.hasPrefix(
        "training.divergedAt is nil") == true)
    #expect(
      problems(stop: .diverged) { $0.training.divergedAt = 401 }.first?.hasPrefix(
        "training.divergedAt is 401") == true)
    #expect(problems(stop: .diverged) { $0.training.divergedAt = -1 }.count == 1)
    #expect(problems(stop: .diverged) { $0.training.divergedAt = 0 } == [])
  }

  @Test func accuraciesMustBeInTheUnitInterval() {
    #expect(
      problems { $0.training.final?.testAccuracy = 1.01 } == [
        "training.final.testAccuracy is 1.01 (must be in [0, 1])"
      ])
    #expect(
      problems { $0.training.history[1].trainAccuracy = -0.1 }.first?.hasPrefix(
        "training.history[1].trainAccuracy is -0.1") == true)
    #expect(problems { $0.training.history[2].testAccuracy = .nan }.count == 1)
    #expect(
      problems { $0.compression?.unpruned.trainAccuracy = 2 }.first?.hasPrefix(
        "compression.unpruned.trainAccuracy is 2.0") == true)
    #expect(
      problems { $0.compression?.pruned.testAccuracy = .infinity }.first?.hasPrefix(
        "compression.pruned.testAccuracy is inf") == true)
    #expect(
      problems { $0.compression?.fixedRatioCurve[1].testAccuracy = 1.5 }.first?.hasPrefix(
        "compression.fixedRatioCurve[1].testAccuracy is 1.5") == true)
    // Accuracies stay in [0, 1] even when a run diverges.
    #expect(problems(stop: .diverged) { $0.training.history[4].trainAccuracy = .nan }.count == 1)
    #expect(problems { $0.training.final?.testAccuracy = 1 } == [])
  }

  @Test func lossesMustBeFiniteAndNonNegativeUnlessTheRunDiverged() {
    #expect(
      problems { $0.training.final?.trainLoss = .nan } == [
        "training.final.trainLoss is nan (must be finite unless the run diverged)"
      ])
    #expect(problems { $0.training.history[0].testLoss = .infinity }.count == 1)
    #expect(
      problems { $0.training.history[0].testLoss = -0.5 }.first?.hasPrefix(
        "training.history[0].testLoss is -0.5") == true)
    #expect(problems { $0.compression?.pruned.trainLoss = .nan }.count == 1)
    #expect(problems { $0.compression?.fixedRatioCurve[0].testLoss = -1 }.count == 1)
    // A diverged run may carry the non-finite loss that stopped it, but no negative loss.
    let diverged = problems(stop: .diverged) {
      $0.training.history[4].trainLoss = .nan
      $0.training.history[4].testLoss = .infinity
      $0.training.final = $0.training.history[4]
    }
    #expect(diverged == [])
    #expect(problems(stop: .diverged) { $0.training.history[3].trainLoss = -1 }.count == 1)
  }

  @Test func compressionFieldsMustBePossible() {
    #expect(
      problems { $0.compression?.pruningRatio = 1.2 } == [
        "compression.pruningRatio is 1.2 (must be in [0, 1])"
      ])
    #expect(problems { $0.compression?.pruningRatio = .nan }.count == 1)
    #expect(
      problems { $0.compression?.layers[0].errorCurve[0].relativeError = -0.1 }.first?
        .hasPrefix("compression.layers[0].errorCurve[0].relativeError is -0.1") == true)
    #expect(problems { $0.compression?.layers[0].errorCurve[0].relativeError = .nan }.count == 1)
    #expect(problems { $0.compression?.layers[0].prunedRows = 17 }.count == 1)
    #expect(problems { $0.compression?.layers[0].squaredRelativeError = .infinity }.count == 1)
    #expect(problems { $0.compression?.fixedRatioCurve[0].pruned = 1.1 }.count == 1)
  }

  @Test func tailIndexEstimatesMustBeFiniteOrNil() {
    #expect(
      problems { $0.compression?.layers[0].tailIndexNorms.hill = .infinity } == [
        "compression.layers[0].tailIndexNorms.hill is inf (must be finite or nil)"
      ])
    #expect(problems { $0.compression?.layers[0].tailIndexEntries.other = .nan }.count == 1)
    #expect(
      problems {
        $0.compression?.layers[0].tailIndexNorms.hill = nil
        $0.compression?.layers[0].tailIndexEntries.other = nil
      } == [])
  }

  @Test func historyIterationsAreOrderedAndWithinTheRun() {
    #expect(
      problems { $0.training.history[2].iteration = 50 } == [
        "training.history[2].iteration is 50 (before the previous point's 100)"
      ])
    #expect(
      problems { $0.training.history[4].iteration = 500 } == [
        "training.history[4].iteration is 500 (must be in 0...training.iterations = 400)"
      ])
    // Equal iterations (non-decreasing) are fine.
    #expect(problems { $0.training.history[1].iteration = 0 } == [])
  }

  @Test func historyLongerThanTheCapIsAProblemAndCapHistoryFixesIt() {
    var r = sample(stop: .maxIterations)
    r.config.maxIterations = 10_000
    r.training.iterations = 4000
    r.training.history = (0...4000).map { i in
      EvalPoint(
        iteration: i, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5)
    }
    #expect(TrialResult.maxHistoryPoints == 2000)
    #expect(
      r.validationProblems() == [
        "training.history has 4001 points (more than TrialResult.maxHistoryPoints = 2000; call capHistory() before sending)"
      ])
    r.capHistory()
    #expect(r.training.history.count == 2000)
    #expect(r.training.history.first?.iteration == 0)
    #expect(r.training.history.last?.iteration == 4000)
    let gaps = Set(
      zip(r.training.history.dropFirst(), r.training.history).map {
        $0.iteration - $1.iteration
      })
    #expect(gaps == [2, 3], "evenly thinned: 4000 steps in 1999 gaps of 2 or 3")
    #expect(r.validationProblems() == [])
  }

  @Test func capHistoryKeepsFirstAndLastAndLeavesShortHistoriesAlone() {
    var r = sample()
    let history = r.training.history
    r.capHistory(to: 10)
    #expect(r.training.history == history)
    r.capHistory(to: 3)
    #expect(r.training.history.map(\.iteration) == [0, 200, 400])
    r.training.history = history
    r.capHistory(to: 1)  // at least the first and the last point
    #expect(r.training.history.map(\.iteration) == [0, 400])
    #expect(r.training.final == history.last)
  }

  /// What real runs produce is never refused: a normal run measured like a worker does, and
  /// runs forced to diverge (a huge learning rate; huge noise).
  @Test func realRunsAreValid() throws {
    let data = try smallSynthetic()
    let normal = config(maxIterations: 300, target: 1.0)
    let trained = Trainer.train(config: normal, dataset: data, noiseKey: 1, clock: clock)
    let network = try #require(trained.network)
    #expect(trained.summary.stopReason != .diverged)
    let measured = TrialResult(
      config: normal, training: trained.summary,
      compression: Compression.measure(
        network: network, dataset: data, budget: normal.budget, unpruned: trained.summary.final,
        iteration: trained.summary.iterations),
      datasetHash: data.sourceHash)
    #expect(measured.validationProblems() == [])

    for diverging in [
      config(maxIterations: 300, eta: 1e30),
      config(sigma: 1e30, alpha: 0.5, noise: .perEntry, maxIterations: 200),
    ] {
      let run = Trainer.train(config: diverging, dataset: data, noiseKey: 1, clock: clock)
      #expect(run.summary.stopReason == .diverged)
      #expect(run.summary.divergedAt == run.summary.iterations)
      let result = TrialResult(
        config: diverging, training: run.summary, compression: nil,
        datasetHash: data.sourceHash)
      #expect(result.validationProblems() == [])
    }
  }
}
