// swift-tools-version: 6.1
// TailSweep: heavy-tailed SGD and implicit compressibility, run as sweeps over ZeroMQ workers.
import Foundation
import PackageDescription

// Targets, dependencies point down only (see docs/architecture.md).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug))]

// The live web view (`tailsweep serve`, `--http`; target SweepServe, FlyingFox). Left out with
// TAILSWEEP_NO_SERVE=1, as scripts/static-worker.sh does: FlyingFox links FoundationNetworking,
// which a fully static binary could only have with libcurl, and a worker needs no web server.
let withServe = ProcessInfo.processInfo.environment["TAILSWEEP_NO_SERVE"] != "1"

var allTargets: [Target] = [
  .target(name: "TailMath", swiftSettings: strict),
  .systemLibrary(
    name: "CBLAS", pkgConfig: "openblas",
    providers: [.apt(["libopenblas-dev"])]),
  .systemLibrary(
    name: "CZeroMQ", pkgConfig: "libzmq",
    providers: [.apt(["libzmq3-dev"])]),
  // SHA-256 only (trial ids, data hashes), from OpenSSL's libcrypto.
  .systemLibrary(
    name: "CCrypto", pkgConfig: "libcrypto",
    providers: [.apt(["libssl-dev"])]),
  .target(
    name: "TailNet",
    dependencies: ["TailMath", "CBLAS", "CCrypto"],
    swiftSettings: strict),
  .target(
    name: "SweepSpec",
    dependencies: ["TailNet", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
  .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),
  .target(name: "SweepWire", dependencies: ["SweepSpec"], swiftSettings: strict),
  .target(
    name: "SweepStore",
    dependencies: ["SweepSpec", .product(name: "GRDB", package: "GRDB.swift")],
    swiftSettings: strict),
  .target(name: "SweepReport", dependencies: ["SweepStore", "TailMath"], swiftSettings: strict),
  .target(
    name: "SweepRuntime",
    dependencies: [
      "TailNet", "SweepSpec", "SweepWire", "ZeroMQ", "SweepStore", "SweepReport",
      .product(name: "Logging", package: "swift-log"),
    ], swiftSettings: strict),
  .executableTarget(
    name: "tailsweep",
    dependencies: [
      "SweepRuntime", "SweepReport",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ] + (withServe ? ["SweepServe"] : []),
    swiftSettings: strict + (withServe ? [.define("TAILSWEEP_SERVE")] : [])),
  .testTarget(name: "TailMathTests", dependencies: ["TailMath"], swiftSettings: strict),
  .testTarget(
    name: "TailNetTests", dependencies: ["TailNet", "TailSweepTestSupport"], swiftSettings: strict),
  .testTarget(
    name: "SweepSpecTests", dependencies: ["SweepSpec", "TailSweepTestSupport"],
    swiftSettings: strict),
  .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: strict),
  .testTarget(
    name: "SweepWireTests", dependencies: ["SweepWire", "TailSweepTestSupport"],
    swiftSettings: strict),
  .testTarget(
    name: "SweepStoreTests", dependencies: ["SweepStore", "TailSweepTestSupport"],
    swiftSettings: strict),
  .testTarget(
    name: "SweepReportTests", dependencies: ["SweepReport", "TailSweepTestSupport"],
    swiftSettings: strict),
  .testTarget(
    name: "EndToEndTests", dependencies: ["SweepStore", "SweepSpec", "TailSweepTestSupport"],
    swiftSettings: strict),
  // The fixtures of every test target, written once (Tests/TestSupport): temporary folders and
  // the repository's paths (Files.swift); running the built binary, background processes, free
  // ports, waiting with a deadline (Processes.swift); trial configurations, results and stores
  // with known numbers (Trials.swift); a seeded random source (Random.swift); and the runtime
  // tests' in-memory network, ledger and fake clock (Simulation.swift). Fixtures of one target
  // only stay in that target.
  .target(
    name: "TailSweepTestSupport",
    dependencies: [
      "SweepRuntime", "SweepWire", "SweepSpec", "SweepStore", "TailNet", "TailMath",
      .product(name: "Logging", package: "swift-log"),
    ], path: "Tests/TestSupport", swiftSettings: strict),
  .testTarget(
    name: "SweepRuntimeTests",
    dependencies: ["SweepRuntime", "SweepWire", "SweepStore", "ZeroMQ", "TailSweepTestSupport"],
    swiftSettings: strict),
]

if withServe {
  allTargets += [
    // The only target that needs an HTTP server.
    .target(
      name: "SweepServe",
      dependencies: [
        "SweepStore", "SweepReport", .product(name: "FlyingFox", package: "FlyingFox"),
        .product(name: "FlyingSocks", package: "FlyingFox"),
      ], swiftSettings: strict),
    .testTarget(
      name: "SweepServeTests",
      dependencies: ["SweepServe", "SweepStore", "SweepSpec", "TailSweepTestSupport"],
      swiftSettings: strict),
  ]
}

// Fuzzing (docs/reliability.md, scripts/fuzz.sh): libFuzzer targets, only with TAILSWEEP_FUZZ=1
// and built with `--sanitize fuzzer --sanitize address` (libFuzzer provides `main`; a normal
// build could not link them).
if ProcessInfo.processInfo.environment["TAILSWEEP_FUZZ"] == "1" {
  allTargets += [
    .executableTarget(
      name: "FuzzWire", dependencies: ["SweepWire", "SweepSpec", "TailNet"],
      path: "Fuzz/FuzzWire", swiftSettings: strict),
    .executableTarget(
      name: "FuzzSweep", dependencies: ["SweepSpec"], path: "Fuzz/FuzzSweep",
      swiftSettings: strict),
    .executableTarget(
      name: "FuzzData", dependencies: ["TailNet"], path: "Fuzz/FuzzData", swiftSettings: strict),
  ]
}

// Development aid: TAILSWEEP_ONLY=TailMath,TailNet builds just those targets (and what they
// need) so that people working on separate targets do not break each other's builds.
// Unset (CI, users): the whole package.
if let only = ProcessInfo.processInfo.environment["TAILSWEEP_ONLY"], !only.isEmpty {
  var keep = Set(only.split(separator: ",").map(String.init))
  var changed = true
  while changed {
    changed = false
    for t in allTargets where keep.contains(t.name) || keep.contains(t.name + "Tests") {
      if !keep.contains(t.name) {
        keep.insert(t.name)
        changed = true
      }
      for d in t.dependencies {
        if case .byNameItem(let n, _) = d, !keep.contains(n) {
          keep.insert(n)
          changed = true
        }
      }
    }
  }
  allTargets = allTargets.filter { keep.contains($0.name) }
}
let names = Set(allTargets.map(\.name))

let package = Package(
  name: "TailSweep",
  platforms: [.macOS(.v13)],
  products: names.contains("tailsweep")
    ? [.executable(name: "tailsweep", targets: ["tailsweep"])] : [],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
  ] + (withServe ? [.package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1")] : []),
  targets: allTargets,
  swiftLanguageModes: [.v6]
)
