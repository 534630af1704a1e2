import Foundation
import GRDB
import TailMath
import TailNet
import TailSweepTestSupport
import Testing

@testable import SweepStore

// The store's hand-written texts on the commit path (StoreText.swift) against what they replace.

@Test func datesAreTheTextGRDBStores() {
  var d = SimRandom(state: 0xDA7E)
  var dates = [
    Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0005),
    Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
    Date(timeIntervalSince1970: 4_107_542_399.999),  // 2100-02-28 23:59:59.999
    Date(timeIntervalSince1970: 1_796_256_000.9996), Date(),
  ]
  // Whole milliseconds and arbitrary instants from 1900 to 2200.
  for i in 0..<3000 {
    let seconds = -2_208_988_800 + d.unit() * 9_467_280_000
    dates.append(
      Date(timeIntervalSince1970: i % 2 == 0 ? (seconds * 1000).rounded() / 1000 : seconds))
  }
  var mismatches: [String] = []
  for date in dates {
    let grdb = String.fromDatabaseValue(date.databaseValue)
    let mine = StoreDate.text(date)
    if grdb != mine { mismatches.append("\(date.timeIntervalSince1970): \(grdb ?? "-") \(mine)") }
  }
  let count = mismatches.count
  #expect(count == 0, "\(mismatches.prefix(5))")
}

@Test func trainingJSONDecodesToTheSameSummaryAsJSONEncoderText() throws {
  var d = SimRandom(state: 0x7A1)
  func number() -> Double {
    switch d.next() % 10 {
    case 0: return .infinity
    case 1: return -.infinity
    case 2: return -0.0
    case 3: return 1e-300 * d.unit()
    case 4: return Double(Int64(bitPattern: d.next() >> 8))
    default:
      return Double(bitPattern: d.next() & 0x7FEF_FFFF_FFFF_FFFF) * (d.next() & 1 == 0 ? 1 : -1)
    }
  }
  func point() -> EvalPoint {
    EvalPoint(
      iteration: Int(d.next() % 100_000), trainLoss: number(), trainAccuracy: d.unit(),
      testLoss: number(), testAccuracy: d.unit())
  }
  let stops: [StopReason] = [.reachedTarget, .maxIterations, .diverged, .cancelled]
  for _ in 0..<500 {
    let t = TrainingSummary(
      stopReason: stops[Int(d.next() % 4)], iterations: Int(d.next() % 1_000_000),
      divergedAt: d.next() & 1 == 0 ? nil : Int(d.next() % 1000), wallSeconds: number(),
      final: d.next() & 1 == 0 ? nil : point(),
      history: (0..<Int(d.next() % 5)).map { _ in point() })
    let text = StoreJSON.training(t)
    let decoded = try StoreJSON.decode(TrainingSummary.self, text, path: "-", what: "test")
    let reference = try StoreJSON.decode(
      TrainingSummary.self, try StoreJSON.encode(t), path: "-", what: "test")
    #expect(decoded == t)
    #expect(decoded == reference)
  }
  // NaN (never equal to itself) is the string "nan", as JSONEncoder writes it.
  var nan = TrainingSummary(
    stopReason: .diverged, iterations: 3, divergedAt: 3, wallSeconds: 0.5,
    final: EvalPoint(
      iteration: 3, trainLoss: .nan, trainAccuracy: 0.1, testLoss: .nan, testAccuracy: 0.1),
    history: [])
  let text = StoreJSON.training(nan)
  #expect(text.contains("\"trainLoss\":\"nan\""))
  let back = try StoreJSON.decode(TrainingSummary.self, text, path: "-", what: "test")
  #expect(back.final?.trainLoss.isNaN == true && back.final?.testLoss.isNaN == true)
  nan.final = nil
  #expect(!StoreJSON.training(nan).contains("final"))
}

@Test func configJSONDecodesToTheSameConfig() throws {
  var d = SimRandom(state: 0xC0F)
  func maybe<T>(_ v: T) -> T? { d.next() & 1 == 0 ? nil : v }
  let names = ["synthetic", "mnist", "ucr/ECG5000", "a\"b\\c/d\n\u{1}é✗"]
  for i in 0..<400 {
    let spec = DatasetSpec(
      name: names[i % names.count], trainLimit: maybe(Int(d.next() % 60_000)),
      testLimit: maybe(Int(d.next() % 10_000)), binarize: maybe(names[Int(d.next() % 4)]),
      resplit: maybe(Int(d.next() % 5000)), dataSeed: maybe(d.next()),
      inputs: maybe(Int(d.next() % 100)), classes: maybe(Int(d.next() % 10)),
      trainSize: maybe(Int(d.next() % 5000)), testSize: maybe(Int(d.next() % 5000)),
      teacherWidth: maybe(Int(d.next() % 50)))
    let c = TrialConfig(
      dataset: spec, width: Int(d.next() % 4096) + 1, depth: Int(d.next() % 4) + 1,
      eta: d.unit() * 1e-3, batchSize: Int(d.next() % 512) + 1, alpha: 2 * d.unit(),
      sigma: d.unit() * 100, noiseType: NoiseType.allCases[Int(d.next() % 4)],
      targetAccuracy: d.unit(), maxIterations: Int(d.next() % 1_000_000),
      evalEvery: Int(d.next() % 1000) + 1, budget: d.unit(), seed: d.next(),
      model: maybe(ModelKind.allCases[Int(d.next() % 2)]), channels: maybe(4 * d.unit()))
    let text = StoreJSON.config(c)
    #expect(try StoreJSON.decode(TrialConfig.self, text, path: "-", what: "test") == c)
    #expect(
      try StoreJSON.decode(TrialConfig.self, try StoreJSON.encode(c), path: "-", what: "test")
        == StoreJSON.decode(TrialConfig.self, text, path: "-", what: "test"))
  }
}
