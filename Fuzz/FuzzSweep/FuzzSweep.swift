import Foundation
import SweepSpec

// libFuzzer target: sweep-file text through `SweepLoader.parse` (the in-memory entry point of
// `SweepLoader.load(path:)`). Property: it returns a sweep or throws a `SweepError` (typed
// throws); nothing traps, nothing hangs (scripts/fuzz.sh runs it with -timeout=10). The input
// is the file's bytes (invalid UTF-8 repaired, as `String(decoding:)` does). Includes resolve
// in a scratch folder holding `base.yaml` (a valid base) and `loop.yaml` (includes itself), so
// the fuzzer can reach the include and merge code without reading the rest of the disk.

private let includeDirectory: String = {
  let dir = NSTemporaryDirectory() + "tailsweep-fuzzsweep-\(getpid())"
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  let base = """
    dataset: {name: synthetic, trainSize: 100, testSize: 50}
    train: {eta: 0.1, batchSize: 10, maxIterations: 50, evalEvery: 10}
    grid: {width: [8, 16]}
    run: {retries: 1}

    """
  _ = FileManager.default.createFile(atPath: dir + "/base.yaml", contents: Data(base.utf8))
  _ = FileManager.default.createFile(
    atPath: dir + "/loop.yaml", contents: Data("include: loop.yaml\nseeds: 1\n".utf8))
  return dir
}()

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  do {
    let sweep = try SweepLoader.parse(
      text: text, file: "fuzz.yaml", baseDirectory: includeDirectory)
    _ = sweep.trials.count
  } catch {
    _ = error.description
  }
  return 0
}

/// libFuzzer calls this once before fuzzing: creates the include folder; with
/// `TAILSWEEP_FUZZ_SEEDS=<dir>` it writes the seed corpus there and exits (Fuzz/make-corpus.sh).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutableRawPointer)
  -> CInt
{
  _ = includeDirectory
  guard let dir = ProcessInfo.processInfo.environment["TAILSWEEP_FUZZ_SEEDS"] else { return 0 }
  let seeds: [String: String] = [
    "edge-empty": "",
    "edge-not-a-mapping": "- 1\n- 2\n",
    "edge-include": "include: base.yaml\nseeds: 2\n",
    "edge-include-list": "include: [base.yaml, base.yaml]\ntrain: {width: 4}\n",
    "edge-include-cycle": "include: loop.yaml\n",
    "edge-range": """
    dataset: synthetic
    train: {width: 8, eta: 0.1, batchSize: 10}
    grid:
      alpha: {from: 1.5, to: 2.0, step: 0.1}
      sigma: {from: 0, to: 0.01, count: 3}
    seeds: [1, 2, 3]
    zip:
      - {eta: [0.1, 0.2], batchSize: [10, 20]}

    """,
    "edge-anchors": "a: &x {b: *x}\n",
    "edge-tabs": "train:\n\t eta: 0.1\n",
    "edge-big-seeds":
      "dataset: synthetic\ntrain: {width: 8, eta: 0.1, batchSize: 10}\nseeds: 99999999999999999999\n",
  ]
  for (name, text) in seeds {
    _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
  }
  exit(0)
}
