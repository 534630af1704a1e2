import Foundation
import SweepSpec
import TailNet

/// Checks every trial of a sweep before anything is dispatched: its data set is present and
/// loads, its limits (`trainLimit`, `testLimit`, `resplit`, `binarize`) fit the data, and its
/// network fits in this machine's memory. Used by `plan`, `run` and `coordinator` through
/// `SweepLoader.load(path:check:)`, so a problem is reported as `file:line: key 'k': message`
/// and exits with status 2 before a store is opened or a worker started.
///
/// Each distinct data set is loaded once (memory-mapped where large, as a worker would).
public final class PreDispatchCheck: @unchecked Sendable {
  /// What to do about a data set whose files are not in this host's data folder.
  public enum Missing: Sendable {
    /// A problem (`run`, `plan`: local workers read the same folder).
    case fail
    /// Not checked here (`coordinator`: remote workers have their own data folders); named in
    /// `unchecked`.
    case skip
  }

  /// The data folder.
  public let dataDirectory: URL
  let missing: Missing
  let catalog: DataCatalog
  let memoryBytes: Double
  private var shapes: [DatasetSpec: Result<Shape, Problem>] = [:]
  /// Data sets not checked because their files are not here (with `Missing.skip`).
  public private(set) var unchecked: Set<String> = []

  struct Shape {
    var inputs: Int
    var classes: Int
  }

  struct Problem: Error {
    var key: String
    var message: String
  }

  /// A check against the data folder `dataDirectory`.
  public init(dataDirectory: URL, missing: Missing = .fail, memoryBytes: UInt64? = nil) {
    self.dataDirectory = dataDirectory
    self.missing = missing
    catalog = DataCatalog(directory: dataDirectory)
    self.memoryBytes = Double(memoryBytes ?? ProcessInfo.processInfo.physicalMemory)
  }

  /// The first problem of `config`, nil when it can run (the `SweepLoader.TrialCheck`).
  public func problem(_ config: TrialConfig) -> (key: String, message: String)? {
    let spec = config.dataset.normalized()
    let shape: Shape
    switch dataset(spec) {
    case .failure(let p): return (p.key, p.message)
    case .success(let s): shape = s
    }
    // Weights, gradients and a working copy (Float32), plus the activations of a batch; a
    // trial that cannot fit in memory on this machine would crash every worker it reaches.
    let n = Double(config.width)
    let params =
      Double(shape.inputs) * n + Double(config.depth - 1) * n * n + n * Double(shape.classes)
    let activations = Double(config.batchSize) * n * Double(config.depth) * 2
    let bytes = 4 * (3 * params + activations)
    if bytes > memoryBytes {
      let gb = { (x: Double) in String(format: "%.1f GB", x / 1e9) }
      return (
        "width",
        "a network of width \(config.width) and depth \(config.depth) on \(spec.name) needs about "
          + "\(gb(bytes)) (weights, gradients, activations); this machine has \(gb(memoryBytes))"
      )
    }
    return nil
  }

  /// A `SweepLoader.TrialCheck` calling `problem(_:)`.
  public var trialCheck: SweepLoader.TrialCheck { { [self] in self.problem($0) } }

  private func dataset(_ spec: DatasetSpec) -> Result<Shape, Problem> {
    if let known = shapes[spec] { return known }
    let result: Result<Shape, Problem>
    do {
      let d = try catalog.load(spec)
      result = .success(Shape(inputs: d.inputs, classes: d.classes))
    } catch let e as DataError {
      if e.file != nil && missing == .skip {
        unchecked.insert(spec.name)
        result = .success(Shape(inputs: 0, classes: 0))
      } else {
        result = .failure(Self.problem(e, spec: spec, dataDirectory: dataDirectory))
      }
    } catch {
      result = .failure(Problem(key: "dataset", message: "data set \(spec.name): \(error)"))
    }
    shapes[spec] = result
    return result
  }

  /// The key a data error concerns: a limit or cut of the data set, else the data set itself.
  static func problem(_ e: DataError, spec: DatasetSpec, dataDirectory: URL) -> Problem {
    if e.file == nil {
      for key in ["trainLimit", "testLimit", "resplit", "binarize"]
      where e.problem.hasPrefix(key) {
        return Problem(key: key, message: e.problem)
      }
      return Problem(key: "dataset", message: "data set \(spec.name): \(e.problem)")
    }
    return Problem(
      key: "dataset",
      message: "data set \(spec.name) is not in the data folder \(dataDirectory.path) "
        + "(--data or $TAILSWEEP_DATA): \(e.description)")
  }
}
