import Foundation
import SweepRuntime
import TailSweepTestSupport
import Testing

@testable import SweepSpec
@testable import TailNet

/// The fully connected network must stay bit-identical while the engine learns convolutional
/// networks (issue 17): the quickstart sweep's trial ids, and the complete results of a few of
/// its trials, equal values recorded before any change for CNNs (commit 39783bd).
@Suite struct FCNIdentityTests {
  static func quickstart() throws -> Sweep {
    try SweepLoader.load(
      path: TestFiles.repositoryRoot.appendingPathComponent("sweeps/quickstart.yaml").path)
  }

  /// SHA-256 of the quickstart's 60 trial ids, sorted, one per line (recorded at 39783bd).
  static let recordedIDDigest = "b0be7b22dd80e614451f7d3a7f0bd2c9a2cc6bdc90dc8c4fde89c1d023cb327b"

  @Test func quickstartTrialIdsAreTheRecordedOnes() throws {
    let ids = try Self.quickstart().trials.map(\.id.hex).sorted()
    #expect(ids.count == 60)
    // The smallest id, for a reader comparing by hand with `tailsweep plan`.
    #expect(ids.first == "0253d30219747a201bc1378f153d4b95a9cfea36f4f1d645a332280789caa0e5")
    let digest = SHA256Digest.hex(ids.joined(separator: "\n").utf8)
    if ProcessInfo.processInfo.environment["TAILSWEEP_PRINT_GOLDEN"] != nil {
      print("GOLDEN ids \(digest) first \(ids.first ?? "")")
    }
    #expect(digest == Self.recordedIDDigest)
  }

  /// The results were recorded with OpenBLAS 0.3.21 (Zen core) and this machine's libm, with
  /// one OpenBLAS thread as workers train; elsewhere sgemm's summation order differs.
  static let recordedCore =
    BLASThreads.configuration.contains("0.3.21") && BLASThreads.configuration.contains(" Zen ")
  static let haveMNIST = FileManager.default.fileExists(
    atPath: TestFiles.dataDirectory.appendingPathComponent("mnist/train-images-idx3-ubyte").path)

  /// (width, α, σ, seed) of the quickstart trials checked → SHA-256 of the canonical JSON of
  /// the whole result (wall time zeroed), recorded at 39783bd.
  static let recordedResults: [String: String] = [
    "32-1.75-0.003-1": "9cc730de1be7422ad16acd8d1bf1a368914dbe4b7463edbf0b6394b1d7b34f72",
    "32-2.0-0.0-1": "845e8f162e21d2f1f00820b1c9477b5013cee3bc6f9b2fc25becb72ed17776aa",
    "32-2.0-0.003-2": "2a73bf67035a1a97a29867bf21b9925ecbbaba8647a27b3dec1a5e2700600bca",
  ]

  @Test(
    .enabled(if: recordedCore, "results were recorded with OpenBLAS 0.3.21, Zen core"),
    .enabled(if: haveMNIST, "needs the real MNIST files (make setup)"))
  func quickstartResultsAreTheRecordedOnes() throws {
    BLASThreads.set(1)
    let trials = try Self.quickstart().trials
    let executor = TrialExecutor(dataDirectory: TestFiles.dataDirectory)
    let picks: [(width: Int, alpha: Double, sigma: Double, seed: UInt64)] = [
      (32, 1.75, 0.003, 1), (32, 2, 0, 1), (32, 2, 0.003, 2),
    ]
    for pick in picks {
      let trial = try #require(
        trials.first {
          $0.config.width == pick.width && $0.config.alpha == pick.alpha
            && $0.config.sigma == pick.sigma && $0.config.seed == pick.seed
        })
      var result = try executor.run(id: trial.id, config: trial.config) { _ in true }
      result.training.wallSeconds = 0
      let digest = SHA256Digest.hex(try CanonicalJSON.encode(result).utf8)
      let key = "\(pick.width)-\(pick.alpha)-\(pick.sigma)-\(pick.seed)"
      if ProcessInfo.processInfo.environment["TAILSWEEP_PRINT_GOLDEN"] != nil {
        print("GOLDEN \"\(key)\": \"\(digest)\",")
      }
      #expect(Self.recordedResults[key] == digest, "\(key)")
    }
  }
}
