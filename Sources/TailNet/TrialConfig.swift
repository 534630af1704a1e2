/// The full configuration of one trial: everything that determines its numbers.
/// Names follow the paper (Wan, Barsbey, Zaidi, Şimşekli, ICML 2024).

/// How heavy-tailed noise is injected into the hidden layers after every SGD step.
public enum NoiseType: Int, Codable, Hashable, Sendable, CaseIterable {
  /// Type 0: no noise, the plain SGD baseline.
  case none = 0
  /// Type 1 (default): one SαS(α, 1) scalar per hidden neuron, added to all its incoming weights.
  case perNeuron = 1
  /// Type 2: an independent SαS(α, 1) value for every weight entry.
  case perEntry = 2
  /// Type 3: an isotropic α-stable vector per neuron (sub-Gaussian construction, SαS(α, 1)
  /// marginals).
  case isotropic = 3
}

/// Which network a trial trains (method doc §2 and §7).
public enum ModelKind: String, Codable, Hashable, Sendable, CaseIterable {
  /// The fully connected network of §2 (`width`, `depth`); the default.
  case fcn
  /// VGG-11-wide of §7 (the public code's `Awide`), scaled by the channel multiplier
  /// `channels`; image data only.
  case vgg11
}

/// Which data a trial trains on, and how it is cut.
public struct DatasetSpec: Codable, Hashable, Sendable {
  /// `mnist`, `fashion-mnist`, `cifar10`, `cifar100`, `synthetic`, or `ucr/NAME` for a UCR/UEA
  /// univariate time-series set found under the data folder (e.g. `ucr/ItalyPowerDemand`).
  public var name: String
  /// Use only the first `trainLimit` training examples (after the optional re-split); nil: all.
  public var trainLimit: Int?
  /// Use only the first `testLimit` test examples; nil: all.
  public var testLimit: Int?
  /// One class against the rest: this original label becomes class 0, every other label
  /// class 1 (the paper's ECG5000 treatment). nil: keep the original classes.
  public var binarize: String?
  /// Pool train and test, shuffle with `dataSeed`, and take this many for training (the rest is
  /// the test set). nil: keep the distributed split.
  public var resplit: Int?
  /// Seed of the re-split shuffle and of synthetic data. Default 0.
  public var dataSeed: UInt64?
  /// Synthetic teacher–student data: input dimension d (default 20).
  public var inputs: Int?
  /// Synthetic: number of classes (default 2).
  public var classes: Int?
  /// Synthetic: training set size (default 2000).
  public var trainSize: Int?
  /// Synthetic: test set size (default 1000).
  public var testSize: Int?
  /// Synthetic: hidden width of the fixed random teacher network (default 10).
  public var teacherWidth: Int?

  public init(
    name: String, trainLimit: Int? = nil, testLimit: Int? = nil, binarize: String? = nil,
    resplit: Int? = nil, dataSeed: UInt64? = nil, inputs: Int? = nil, classes: Int? = nil,
    trainSize: Int? = nil, testSize: Int? = nil, teacherWidth: Int? = nil
  ) {
    self.name = name
    self.trainLimit = trainLimit
    self.testLimit = testLimit
    self.binarize = binarize
    self.resplit = resplit
    self.dataSeed = dataSeed
    self.inputs = inputs
    self.classes = classes
    self.trainSize = trainSize
    self.testSize = testSize
    self.teacherWidth = teacherWidth
  }
}

/// One trial: a grid point of a sweep, or one `tailsweep train` run.
public struct TrialConfig: Codable, Hashable, Sendable {
  /// The data set and how it is cut.
  public var dataset: DatasetSpec
  /// n: width of every hidden layer, ≥ 1.
  public var width: Int
  /// Number of hidden layers, ≥ 1 (1 is the theory's case).
  public var depth: Int
  /// η: constant SGD step size, > 0.
  public var eta: Double
  /// b: mini-batch size, ≥ 1 (the last partial batch of an epoch is kept).
  public var batchSize: Int
  /// α: tail index of the injected noise, in (0, 2]; 2 is Gaussian.
  public var alpha: Double
  /// σ: noise scale, ≥ 0; the per-step scale is σ·η^(1/α). σ = 0 is plain SGD.
  public var sigma: Double
  /// Noise injection type (0 none, 1 per neuron, 2 per entry, 3 isotropic).
  public var noiseType: NoiseType
  /// Stop when full-train accuracy reaches this value, in (0, 1].
  public var targetAccuracy: Double
  /// Stop after this many SGD iterations at the latest, ≥ 1.
  public var maxIterations: Int
  /// Evaluate full train and test loss/accuracy every this many iterations, ≥ 1.
  public var evalEvery: Int
  /// r: error budget of pruning, the largest squared relative error allowed, in [0, 1].
  public var budget: Double
  /// Seed of the trial; with the configuration it determines every random number.
  public var seed: UInt64
  /// The network; nil means `fcn` (and keeps the canonical form, so the trial ids, of fully
  /// connected trials as they were before CNNs existed).
  public var model: ModelKind?
  /// Channel multiplier m of `vgg11` (channels ⌈m·c⌉; 1 is the paper's network), in (0, 4].
  /// nil for `fcn`.
  public var channels: Double?

  public init(
    dataset: DatasetSpec, width: Int, depth: Int = 1, eta: Double, batchSize: Int,
    alpha: Double = 1.75, sigma: Double = 0, noiseType: NoiseType = .perNeuron,
    targetAccuracy: Double = 0.95, maxIterations: Int = 10_000, evalEvery: Int = 100,
    budget: Double = 0.1, seed: UInt64 = 1, model: ModelKind? = nil, channels: Double? = nil
  ) {
    self.dataset = dataset
    self.width = width
    self.depth = depth
    self.eta = eta
    self.batchSize = batchSize
    self.alpha = alpha
    self.sigma = sigma
    self.noiseType = noiseType
    self.targetAccuracy = targetAccuracy
    self.maxIterations = maxIterations
    self.evalEvery = evalEvery
    self.budget = budget
    self.seed = seed
    self.model = model
    self.channels = channels
  }

  /// The network kind (`model`, or `fcn` when nil).
  public var modelKind: ModelKind { model ?? .fcn }

  /// The network of a convolutional trial on data with `classes` classes; nil for `fcn` (which
  /// trains `Network`) or when the data set has no image shape or no multiplier is given.
  public func architecture(classes: Int) -> Architecture? {
    guard modelKind == .vgg11, let m = channels, let shape = dataset.imageShape else {
      return nil
    }
    return Architecture.vgg11(multiplier: m, input: shape, classes: classes)
  }

  /// Whether any noise is injected (type ≠ 0 and σ > 0).
  public var isNoisy: Bool { noiseType != .none && sigma > 0 }

  /// Problems with the values, as (key, message) pairs; empty when the configuration is valid.
  public func problems() -> [(key: String, message: String)] {
    var p: [(String, String)] = []
    if !(alpha > 0 && alpha <= 2) { p.append(("alpha", "alpha must be in (0, 2], got \(alpha)")) }
    if !(sigma >= 0) || !sigma.isFinite {
      p.append(("sigma", "sigma must be ≥ 0, got \(sigma)"))
    } else if noiseType == .none && sigma != 0 {
      p.append(
        (
          "sigma",
          "sigma must be 0 with noiseType 0 (no noise), got \(sigma); "
            + "set noiseType 1–3 to inject noise"
        ))
    }
    if !(eta > 0) || !eta.isFinite { p.append(("eta", "eta must be > 0, got \(eta)")) }
    if width < 1 { p.append(("width", "width must be ≥ 1, got \(width)")) }
    if depth < 1 { p.append(("depth", "depth must be ≥ 1, got \(depth)")) }
    if batchSize < 1 { p.append(("batchSize", "batchSize must be ≥ 1, got \(batchSize)")) }
    if !(targetAccuracy > 0 && targetAccuracy <= 1) {
      p.append(("targetAccuracy", "targetAccuracy must be in (0, 1], got \(targetAccuracy)"))
    }
    if maxIterations < 1 {
      p.append(("maxIterations", "maxIterations must be ≥ 1, got \(maxIterations)"))
    }
    if evalEvery < 1 { p.append(("evalEvery", "evalEvery must be ≥ 1, got \(evalEvery)")) }
    if !(budget >= 0 && budget <= 1) {
      p.append(("budget", "budget must be in [0, 1], got \(budget)"))
    }
    if let m = channels, !(m > 0 && m <= 4) {
      p.append(("channels", "channels must be a multiplier in (0, 4], got \(m)"))
    }
    switch modelKind {
    case .fcn:
      if channels != nil {
        p.append(
          ("channels", "channels applies only to model vgg11 (model fcn is sized by width)"))
      }
    case .vgg11:
      if channels == nil {
        p.append(
          ("channels", "model vgg11 needs channels, the channel multiplier (1: the paper's)"))
      }
      if dataset.imageShape == nil {
        p.append(
          (
            "dataset",
            "model vgg11 needs image data (mnist, fashion-mnist, cifar10, cifar100), got \(dataset.name)"
          ))
      }
    }
    return p
  }
}

/// The version of the training and measurement semantics. Bump it whenever a change to the
/// code would change the numbers of some trial: it is part of every `TrialID`, so old results
/// are not mistaken for new ones.
public let trialSemanticsVersion = 1
