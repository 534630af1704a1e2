import TailNet

/// How the runner treats the trials of a sweep (the `run:` section of a sweep file).
public struct SweepSettings: Codable, Hashable, Sendable {
  /// How many times a failed, lost or timed-out trial is tried again, ≥ 0. Default 3.
  public var retries: Int
  /// Wall-clock limit of one attempt of one trial, in seconds, > 0. Default 3600.
  public var trialTimeout: Double

  /// Creates settings; the defaults are 3 retries and one hour per attempt.
  public init(retries: Int = 3, trialTimeout: Double = 3600) {
    self.retries = retries
    self.trialTimeout = trialTimeout
  }
}

/// One expanded grid point of a sweep: what a worker runs.
public struct PlannedTrial: Codable, Hashable, Sendable {
  /// The trial's identity: SHA-256 of its canonical configuration and the semantics version.
  public var id: TrialID
  /// The full configuration, normalised (see `TrialConfig.normalized()`), so that
  /// `TrialID(config: config) == id`.
  public var config: TrialConfig
  /// Deterministic estimate of the trial's compute cost, relative to the cheapest trial of
  /// the sweep (which has 1): ∝ maxIterations × batchSize × (multiply-adds of one example).
  public var relativeCost: Double

  /// Creates a planned trial; `id` is computed from `config`.
  public init(config: TrialConfig, relativeCost: Double) {
    self.config = config.normalized()
    self.id = TrialID(config: self.config)
    self.relativeCost = relativeCost
  }

  /// Creates a planned trial whose `config` is already normalised and `id` computed from it
  /// (a store's trial rows: hashing a million configs again costs half a minute).
  public init(id: TrialID, config: TrialConfig, relativeCost: Double) {
    self.id = id
    self.config = config
    self.relativeCost = relativeCost
  }
}

/// A source file that contributed to a sweep (the sweep file itself or an included file).
public struct SweepSource: Codable, Hashable, Sendable {
  /// The path as it was named (relative paths stay relative).
  public var path: String
  /// The file's text.
  public var text: String

  /// Creates a source record.
  public init(path: String, text: String) {
    self.path = path
    self.text = text
  }
}

/// A validated, expanded sweep file.
public struct Sweep: Codable, Hashable, Sendable {
  /// The sweep's name: the `name` key, else the file name without its extension.
  public var name: String
  /// What question the sweep answers (the required `description` key).
  public var description: String
  /// The path of the sweep file as it was given to the loader.
  public var path: String
  /// The source text of the sweep file (not of its includes; see `sources`).
  public var text: String
  /// Retry and timeout settings (`run:` section).
  public var settings: SweepSettings
  /// The expanded trials, distinct by id, sorted by descending `relativeCost`, then by id.
  public var trials: [PlannedTrial]
  /// How many expanded points were identical to an earlier one (made so by `overrides`) and
  /// were merged into it.
  public var mergedDuplicates: Int
  /// Every file read, the sweep file first, then its includes in the order they were read.
  public var sources: [SweepSource]

  /// Creates a sweep; normally made by `SweepLoader`.
  public init(
    name: String, description: String, path: String, text: String, settings: SweepSettings,
    trials: [PlannedTrial], mergedDuplicates: Int = 0, sources: [SweepSource] = []
  ) {
    self.name = name
    self.description = description
    self.path = path
    self.text = text
    self.settings = settings
    self.trials = trials
    self.mergedDuplicates = mergedDuplicates
    self.sources = sources
  }
}

extension Sweep {
  /// The identity of what the sweep computes: the first 16 hex digits of SHA-256 over its
  /// trial ids, sorted, one per line. The same grid written another way (other file, comments,
  /// description, key order) has the same hash; another η or seed count has another.
  public var definitionHash: String { Self.definitionHash(trialIDs: trials.map(\.id.hex)) }

  /// `definitionHash` of a set of trial ids (hex).
  public static func definitionHash(trialIDs: [String]) -> String {
    let text = trialIDs.sorted().map { $0 + "\n" }.joined()
    return String(SHA256Digest.hex(text.utf8).prefix(16))
  }
}
