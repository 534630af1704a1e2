import Foundation
import TailSweepTestSupport
import Testing

/// `tailsweep train`, `compress` and `sample` through the built binary.
@Suite struct TrainCLITests {
  static let synthetic = [
    "--dataset", "synthetic", "--train-size", "600", "--test-size", "300", "--inputs", "12",
    "--width", "48", "--eta", "0.1", "--batch-size", "32", "--max-iterations", "300",
    "--eval-every", "50", "--target-accuracy", "0.99",
  ]

  /// The JSON outcome without its wall-clock fields (the only non-deterministic numbers).
  func stripWallTime(_ json: String) throws -> String {
    var object = try JSONSerialization.jsonObject(with: Data(json.utf8))
    func strip(_ value: Any) -> Any {
      if var d = value as? [String: Any] {
        d.removeValue(forKey: "wallSeconds")
        for (k, v) in d { d[k] = strip(v) }
        return d
      }
      if let a = value as? [Any] { return a.map(strip) }
      return value
    }
    object = strip(object)
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
  }

  @Test func identicalFlagsGiveIdenticalJSON() throws {
    let args = ["train"] + Self.synthetic + ["--sigma", "0.5", "--alpha", "1.75", "--json"]
    let a = try Binary.run(args)
    let b = try Binary.run(args)
    #expect(a.status == 0, "\(a.stderr)")
    #expect(b.status == 0, "\(b.stderr)")
    #expect(try stripWallTime(a.stdout) == stripWallTime(b.stdout))
    #expect(a.stdout.contains("\"pruningRatio\""))
  }

  @Test func savedWeightsGiveTheTrialsPruningRatio() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = dir.appendingPathComponent("w.npy").path
    let train = try Binary.run(
      ["train"] + Self.synthetic + ["--sigma", "0.3", "--json", "--save-weights", w])
    #expect(train.status == 0, "\(train.stderr)")
    let trial = try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any]
    let result = trial?["result"] as? [String: Any]
    let compression = result?["compression"] as? [String: Any]
    let ratio = try #require(compression?["pruningRatio"] as? Double)

    let compress = try Binary.run(["compress", w, "--json"])
    #expect(compress.status == 0, "\(compress.stderr)")
    let out = try JSONSerialization.jsonObject(with: Data(compress.stdout.utf8)) as? [String: Any]
    let again = try #require(out?["pruningRatio"] as? Double)
    #expect(ratio == again, "trial \(ratio) vs compress \(again)")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("w.output.npy").path))
  }

  @Test func mnistTrainsToNinetyPercent() throws {
    let r = try Binary.run([
      "train", "--dataset", "mnist", "--train-limit", "5000", "--test-limit", "2000",
      "--width", "64", "--eta", "0.1", "--batch-size", "100", "--target-accuracy", "0.9",
      "--max-iterations", "2000", "--eval-every", "100", "--json",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let training = (obj?["result"] as? [String: Any])?["training"] as? [String: Any]
    #expect(training?["stopReason"] as? String == "reached_target")
    let final = training?["final"] as? [String: Any]
    #expect((final?["trainAccuracy"] as? Double ?? 0) >= 0.9)
  }

  @Test(arguments: [
    (["--alpha", "2.5"], "alpha"),
    (["--alpha", "0"], "alpha"),
    (["--sigma", "-1"], "sigma"),
    (["--eta", "-0.1"], "eta"),
    (["--width", "0"], "width"),
    (["--dataset", "imagenet"], "unknown dataset"),
    (["--noise-type", "7"], "noise-type"),
    (["--no-such-flag"], "no-such-flag"),
  ])
  func badFlagsExitTwo(flags: [String], mentions: String) throws {
    let r = try Binary.run(["train"] + flags)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains(mentions), "\(r.stderr)")
  }

  @Test func sampleWritesTheNoiseLaw() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("x.npy").path
    let r = try Binary.run(["sample", "--alpha", "1.75", "--count", "1000", "--out", out])
    #expect(r.status == 0, "\(r.stderr)")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
    // 1000 float32 values (the batch sampler) plus a header that is a multiple of 64 bytes.
    #expect(bytes.count > 4000 && (bytes.count - 4000) % 64 == 0)
    #expect(bytes.prefix(6) == Data([0x93]) + Data("NUMPY".utf8))
    #expect(String(decoding: bytes.prefix(128), as: UTF8.self).contains("<f4"))
    // --precise: float64 from the per-draw Double sampler.
    let precise = try Binary.run([
      "sample", "--alpha", "1.75", "--count", "1000", "--precise", "--out", out,
    ])
    #expect(precise.status == 0, "\(precise.stderr)")
    let wide = try Data(contentsOf: URL(fileURLWithPath: out))
    #expect(wide.count > 8000 && (wide.count - 8000) % 64 == 0)
    #expect(String(decoding: wide.prefix(128), as: UTF8.self).contains("<f8"))
    let bad = try Binary.run([
      "sample", "--alpha", "0.5", "--beta", "1", "--count", "0", "--out", out,
    ])
    #expect(bad.status == 2)
  }

  /// `sample` in this (debug) binary writes the bits recorded from the release build's
  /// `tailsweep sample --alpha 1.75 --count 40 --seed 2025` (values 0–5 and 34–39; the same
  /// record as `StableBatchDeterminismTests.valuesAreTheRecordedOnes`).
  @Test func sampleWritesTheReleaseBuildsBits() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("x.npy").path
    let r = try Binary.run([
      "sample", "--alpha", "1.75", "--count", "40", "--seed", "2025", "--out", out,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
    let header = 10 + Int(bytes[8]) + Int(bytes[9]) << 8  // NPY 1.0: magic, version, length
    try #require(bytes.count == header + 160)
    let bits = (0..<40).map { i in
      (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[header + 4 * i + $1]) << (8 * $1) }
    }
    #expect(
      Array(bits[..<6] + bits[34...]) == [
        0x3F4A_1361, 0xBE0A_3F1A, 0xBEC4_E8F0, 0x3DA1_E5B4, 0xBF4C_64AC, 0xBF4A_B667,
        0xBF45_773C, 0x3ED1_C28B, 0xBF30_7F3A, 0xBF72_1DC5, 0x3E80_6B3B, 0xBFC0_95F3,
      ])
  }

  @Test func benchNoiseTimesOnTheChosenClock() throws {
    let r = try Binary.run([
      "bench", "noise", "--count", "4096", "--repeats", "1", "--clock", "cpu",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("clock cpu"))
    for row in ["Double CMS", "Float32 batch", "type-2 noise add"] {
      #expect(r.stdout.contains(row), "\(r.stdout)")
    }
    #expect(r.stdout.contains("--clock cpu"), "the reproduce line names the clock")
    let bad = try Binary.run(["bench", "noise", "--clock", "sundial"])
    #expect(bad.status == 2, "\(bad.stderr)")
  }

  /// `bench train` lists each figure the issue sets a target for, beside the target; the
  /// debug build's figures are not meaningful, only the lines are checked.
  @Test func benchTrainPrintsItsFiguresBesideTheirTargets() throws {
    let r = try Binary.run([
      "bench", "train", "--shapes", "8:20:30", "--noise-types", "0,1,2", "--iterations", "10",
      "--rounds", "1",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    let targets = try #require(lines.firstIndex(of: "targets (issue 12):"), "\(r.stdout)")
    let rows = lines[(targets + 1)...].prefix { $0.hasPrefix("  ") }
    #expect(rows.count == 3, "\(r.stdout)")
    for (row, goal) in zip(rows, ["≤ 1.10", "≤ 1.10", "< 2"]) {
      #expect(row.contains("target \(goal)") && row.hasSuffix("met"), "\(row)")
    }
    #expect(rows.last?.contains("8:20:30 type-2 step / type-1 step") == true)
  }

  @Test func compressRejectsMalformedFiles() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.npy")
    try Data("not a numpy file".utf8).write(to: bad)
    let r = try Binary.run(["compress", bad.path])
    #expect(r.status == 2)
    #expect(r.stderr.contains("bad.npy"), "\(r.stderr)")
  }
}
