import Foundation
import SweepSpec
import TailNet

/// Runs one trial inside a worker: loads (and keeps) the data set, trains, measures. The same
/// code serves `tailsweep train`, so a trial gives the same numbers from the command line and
/// from a sweep.
public final class TrialExecutor: @unchecked Sendable {
  /// Where converted data sets live.
  public let dataDirectory: URL
  private let catalog: DataCatalog
  private let lock = NSLock()
  private var cache: [DatasetSpec: Dataset] = [:]

  public init(dataDirectory: URL) {
    self.dataDirectory = dataDirectory
    catalog = DataCatalog(directory: dataDirectory)
  }

  /// The data set of `spec`, loaded once per process (memory-mapped where large).
  public func dataset(_ spec: DatasetSpec) throws -> Dataset {
    lock.lock()
    defer { lock.unlock() }
    if let d = cache[spec] { return d }
    let d = try catalog.load(spec)
    // Keep a handful: a worker usually serves one data set, sometimes a few.
    if cache.count >= 4 { cache.removeAll() }
    cache[spec] = d
    return d
  }

  /// Trains and measures `config`; `progress` is called now and then from the calling thread
  /// and returning false cancels the trial (the result then has stop reason `cancelled` and no
  /// compression report). Throws only for infrastructure problems (missing data, invalid
  /// configuration); a diverged trial is a result.
  public func run(
    id: TrialID, config: TrialConfig, progress: (TrainingProgress) -> Bool
  ) throws -> TrialResult {
    try runKeepingNetwork(id: id, config: config, progress: progress).result
  }

  /// `run`, also returning the trained network (nil when it diverged or was cancelled).
  /// `trace` receives every step of a CNN trial (ignored for the fully connected network).
  public func runKeepingNetwork(
    id: TrialID, config: TrialConfig, trace: LayerTrace? = nil,
    progress: (TrainingProgress) -> Bool
  ) throws -> (result: TrialResult, network: TrainedNetwork?) {
    if let p = config.problems().first {
      throw ExecutorError.invalidConfiguration("\(p.key): \(p.message)")
    }
    let data = try dataset(config.dataset)
    var compression: CompressionReport? = nil
    func measured(_ summary: TrainingSummary) -> Bool {
      summary.stopReason == .reachedTarget || summary.stopReason == .maxIterations
    }
    let summary: TrainingSummary
    let network: TrainedNetwork?
    switch config.modelKind {
    case .fcn:
      let trained = withoutActuallyEscaping(progress) { progress in
        Trainer.train(
          config: config, dataset: data, noiseKey: id.rngKey, clock: monotonicSeconds,
          progress: progress)
      }
      summary = trained.summary
      network = trained.network.map { .fullyConnected($0) }
      if let network = trained.network, measured(summary) {
        compression = Compression.measure(
          network: network, dataset: data, budget: config.budget, unpruned: summary.final,
          iteration: summary.iterations)
      }
    case .vgg11:
      guard let architecture = config.architecture(classes: data.classes),
        architecture.input.count == data.inputs
      else {
        throw ExecutorError.invalidConfiguration(
          "model vgg11 needs image data; \(config.dataset.name) has \(data.inputs) inputs")
      }
      let trained = withoutActuallyEscaping(progress) { progress in
        Trainer.train(
          config: config, architecture: architecture, dataset: data, noiseKey: id.rngKey,
          clock: monotonicSeconds, progress: progress, trace: trace)
      }
      summary = trained.summary
      network = trained.network.map { .layers($0) }
      if let net = trained.network, measured(summary) {
        compression = Compression.measure(
          network: net, dataset: data, budget: config.budget, unpruned: summary.final,
          iteration: summary.iterations)
      }
    }
    let result = TrialResult(
      config: config, training: summary, compression: compression,
      datasetHash: data.sourceHash)
    return (result, summary.stopReason == .cancelled ? nil : network)
  }
}

/// A trained network: the fully connected `Network` or a `LayerNet` (CNN).
public enum TrainedNetwork: Sendable {
  case fullyConnected(Network<Float>)
  case layers(LayerNet<Float>)
}

/// Problems that stop a trial from running at all (not scientific outcomes).
public enum ExecutorError: Error, CustomStringConvertible {
  case invalidConfiguration(String)
  public var description: String {
    switch self {
    case .invalidConfiguration(let m): return "invalid trial configuration: \(m)"
    }
  }
}

/// Seconds of a monotonic clock (CLOCK_MONOTONIC), for durations only.
public func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
