import ArgumentParser
import Foundation
import SweepRuntime
import SweepSpec
import TailMath
import TailNet

/// Data set selection flags shared by commands that train.
struct DatasetOptions: ParsableArguments {
  @Option(help: "Data set: mnist, fashion-mnist, cifar10, cifar100, synthetic, or ucr/NAME.")
  var dataset: String = "mnist"
  @Option(help: "Use only the first N training examples.") var trainLimit: Int?
  @Option(help: "Use only the first N test examples.") var testLimit: Int?
  @Option(help: "One class against the rest: this original label is class 0.")
  var binarize: String?
  @Option(help: "Pool train and test, shuffle, and train on the first N.") var resplit: Int?
  @Option(help: "Seed of the re-split and of synthetic data.") var dataSeed: UInt64?
  @Option(help: "Synthetic: input dimension d.") var inputs: Int?
  @Option(help: "Synthetic: number of classes.") var classes: Int?
  @Option(help: "Synthetic: training set size.") var trainSize: Int?
  @Option(help: "Synthetic: test set size.") var testSize: Int?
  @Option(help: "Synthetic: width of the teacher network.") var teacherWidth: Int?

  static let knownNames = ["mnist", "fashion-mnist", "cifar10", "cifar100", "synthetic"]

  func validate() throws {
    if !(Self.knownNames.contains(dataset) || (dataset.hasPrefix("ucr/") && dataset.count > 4)) {
      throw ValidationError(
        "unknown dataset '\(dataset)': use one of \(Self.knownNames.joined(separator: ", ")) or ucr/NAME"
      )
    }
    for (name, v) in [
      ("train-limit", trainLimit), ("test-limit", testLimit), ("resplit", resplit),
      ("inputs", inputs), ("classes", classes), ("train-size", trainSize),
      ("test-size", testSize), ("teacher-width", teacherWidth),
    ] {
      if let v, v < 1 { throw ValidationError("--\(name) must be ≥ 1, got \(v)") }
    }
    // Flags that do not apply to the chosen data set would be ignored without a word.
    if dataset.lowercased() != "synthetic" {
      for (name, given) in [
        ("inputs", inputs != nil), ("classes", classes != nil), ("train-size", trainSize != nil),
        ("test-size", testSize != nil), ("teacher-width", teacherWidth != nil),
      ] where given {
        throw ValidationError(
          "--\(name) applies only to --dataset synthetic (this is \(dataset)); "
            + "use --train-limit/--test-limit to cut a real data set")
      }
      if dataSeed != nil && resplit == nil {
        throw ValidationError("--data-seed applies only with --resplit or to synthetic data")
      }
    }
  }

  var spec: DatasetSpec {
    var s = DatasetSpec(
      name: dataset, trainLimit: trainLimit, testLimit: testLimit, binarize: binarize,
      resplit: resplit, dataSeed: dataSeed, inputs: inputs, classes: classes,
      trainSize: trainSize, testSize: testSize, teacherWidth: teacherWidth)
    if dataset == "synthetic" {
      // The same defaults a sweep file gets, so both give the same trial id.
      s.inputs = s.inputs ?? 20
      s.classes = s.classes ?? 2
      s.trainSize = s.trainSize ?? 2000
      s.testSize = s.testSize ?? 1000
      s.teacherWidth = s.teacherWidth ?? 10
      s.dataSeed = s.dataSeed ?? 0
    }
    return s
  }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train one trial and print its outcome.",
    discussion: """
      Trains a network with SGD plus injected symmetric α-stable noise, then prunes it and \
      measures compressibility. The same flags always give the same numbers (wall time aside). \
      --model fcn (default) is the fully connected network (--width, --depth); --model vgg11 is \
      VGG-11-wide on images (--channels; filter-wise noise and filter pruning). Examples:
        tailsweep train --dataset mnist --width 256 --eta 0.1 --batch-size 100 \\
          --alpha 1.75 --sigma 0.5 --target-accuracy 0.9 --seed 1
        tailsweep train --model vgg11 --channels 0.0625 --dataset fashion-mnist \\
          --train-limit 2000 --eta 0.05 --sigma 0.003 --max-iterations 300
      """)

  @OptionGroup var data: DatasetOptions
  @OptionGroup var dataDir: DataDirOption
  @Option(help: "Network: fcn (fully connected) or vgg11 (image data only).")
  var model: String = "fcn"
  @Option(help: "vgg11: channel multiplier m in (0, 4] (channels ⌈m·c⌉; 1 is the paper's).")
  var channels: Double?
  @Option(help: "fcn: n, width of every hidden layer (≥ 1; default 256).") var width: Int?
  @Option(help: "fcn: number of hidden layers (≥ 1; default 1).") var depth: Int?
  @Option(help: "η: SGD step size (> 0).") var eta: Double = 0.1
  @Option(help: "Mini-batch size (≥ 1).") var batchSize: Int = 100
  @Option(help: "α: tail index of the noise, in (0, 2].") var alpha: Double = 1.75
  @Option(help: "σ: noise scale (≥ 0); 0 is plain SGD.") var sigma: Double = 0
  @Option(help: "Noise type: 0 none, 1 per neuron, 2 per entry, 3 isotropic.")
  var noiseType: Int = 1
  @Option(help: "Stop at this full-train accuracy, in (0, 1].") var targetAccuracy: Double = 0.95
  @Option(help: "Iteration cap (≥ 1).") var maxIterations: Int = 10_000
  @Option(help: "Evaluate every this many iterations (≥ 1).") var evalEvery: Int = 100
  @Option(help: "r: pruning error budget, in [0, 1].") var budget: Double = 0.1
  @Option(help: "Seed of the trial.") var seed: UInt64 = 1
  @Option(
    help:
      "Save the trained weights as .npy (PATH: layer 1; PATH.layerK.npy, PATH.output.npy; a VGG's convolutions as out×in×3×3)."
  )
  var saveWeights: String?
  @Option(
    help: ArgumentHelp(
      "vgg11: write a per-step trace to FILE (JSON lines) and the initial weights as FILE.init.npy (as --save-weights).",
      discussion:
        "One line per SGD step: the mini-batch's training indices, the batch loss, per weight layer the gradient's norm and the weight norm and maximum after the step, the type-1 noise value per filter, the norms after the noise. For replaying a trial in another implementation (scripts/reference/torch_vgg.py replay)."
    ))
  var trace: String?
  @Option(
    help:
      "With --trace: also save the weights after these iterations' gradient steps (before their noise) as FILE.stepK.npy (e.g. 106,107)."
  )
  var traceWeights: String?
  @Flag(help: "Print the outcome as JSON.") var json = false
  @Option(help: "OpenBLAS threads.") var threads: Int = 1

  func validate() throws {
    guard let type = NoiseType(rawValue: noiseType) else {
      throw ValidationError("--noise-type must be 0, 1, 2 or 3, got \(noiseType)")
    }
    guard let kind = ModelKind(rawValue: model) else {
      throw ValidationError(
        "--model must be one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")), got \(model)"
      )
    }
    if kind == .vgg11 {
      if width != nil { throw ValidationError("--width does not apply to --model vgg11") }
      if depth != nil { throw ValidationError("--depth does not apply to --model vgg11") }
    } else if trace != nil {
      throw ValidationError("--trace applies only to --model vgg11")
    }
    if traceWeights != nil && trace == nil {
      throw ValidationError("--trace-weights needs --trace")
    }
    if traceWeightSteps == nil {
      throw ValidationError("--trace-weights: a comma-separated list of iterations ≥ 1")
    }
    if let p = makeConfig(type).problems().first {
      throw ValidationError("--\(Self.flagName(p.key)): \(p.message)")
    }
    if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
  }

  /// The iterations of `--trace-weights` (empty without it; nil if malformed).
  var traceWeightSteps: Set<Int>? {
    guard let text = traceWeights else { return [] }
    let steps = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !steps.isEmpty, steps.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
    return Set(steps.compactMap { $0 })
  }

  static func flagName(_ key: String) -> String {
    key.reduce(into: "") { s, c in
      if c.isUppercase { s += "-" + c.lowercased() } else { s.append(c) }
    }
  }

  func makeConfig(_ type: NoiseType) -> TrialConfig {
    let kind = ModelKind(rawValue: model) ?? .fcn
    return TrialConfig(
      dataset: data.spec, width: kind == .fcn ? width ?? 256 : 1,
      depth: kind == .fcn ? depth ?? 1 : 1, eta: eta, batchSize: batchSize, alpha: alpha,
      sigma: sigma, noiseType: type, targetAccuracy: targetAccuracy,
      maxIterations: maxIterations, evalEvery: evalEvery, budget: budget, seed: seed,
      model: kind == .fcn ? nil : kind, channels: channels)
  }

  func run() throws {
    BLASThreads.set(threads)
    let config = makeConfig(NoiseType(rawValue: noiseType) ?? .perNeuron)
    let id = TrialID(config: config)
    let executor = TrialExecutor(dataDirectory: dataDir.url)
    let display = ProgressLine()
    let traceFile = try trace.map {
      try TraceFile(path: $0, weightsAt: traceWeightSteps ?? [])
    }
    let (result, network) = try executor.runKeepingNetwork(
      id: id, config: config, trace: traceFile?.receiver
    ) { p in
      display.show(p)
      return true
    }
    display.finish()
    try traceFile?.close()
    if let path = saveWeights {
      guard let network else {
        throw RuntimeFailure("no weights to save: training \(result.training.stopReason.rawValue)")
      }
      let files: [String]
      switch network {
      case .fullyConnected(let n): files = try WeightFiles.save(n, to: path)
      case .layers(let n): files = try WeightFiles.save(n, to: path)
      }
      for file in files {
        FileHandle.standardError.write(Data("saved \(file)\n".utf8))
      }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys, .prettyPrinted]
      struct Out: Encodable {
        let trialID: String
        let result: TrialResult
      }
      print(String(decoding: try enc.encode(Out(trialID: id.hex, result: result)), as: UTF8.self))
    } else {
      print(OutcomeTable.render(id: id, result: result))
    }
  }
}

/// A failure of the run itself (not of the user's input): exit status 1.
struct RuntimeFailure: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// One-line progress on a terminal (standard error), silent otherwise.
final class ProgressLine: @unchecked Sendable {
  let isTTY = isatty(2) == 1
  let start = Date()
  var shown = false

  func show(_ p: TrainingProgress) {
    guard isTTY else { return }
    var line = "iteration \(p.iteration)/\(p.maxIterations)"
    if let e = p.lastEval {
      line += String(
        format: "  train acc %.4f  test acc %.4f  train loss %.4f", e.trainAccuracy,
        e.testAccuracy, e.trainLoss)
    }
    line += String(format: "  %.1fs", Date().timeIntervalSince(start))
    FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    shown = true
  }

  func finish() {
    if shown { FileHandle.standardError.write(Data("\n".utf8)) }
  }
}

/// Human-readable outcome of one trial.
enum OutcomeTable {
  static func render(id: TrialID, result: TrialResult) -> String {
    let t = result.training
    var rows: [(String, String)] = [
      ("trial", id.short),
      ("stop reason", t.stopReason.rawValue),
      ("iterations", "\(t.iterations)"),
      ("wall time", String(format: "%.2f s", t.wallSeconds)),
    ]
    if let d = t.divergedAt { rows.append(("diverged at", "\(d)")) }
    if let f = t.final {
      rows.append(("train accuracy", String(format: "%.4f", f.trainAccuracy)))
      rows.append(("test accuracy", String(format: "%.4f", f.testAccuracy)))
      rows.append(("train loss", String(format: "%.4f", f.trainLoss)))
      rows.append(("test loss", String(format: "%.4f", f.testLoss)))
    }
    if let c = result.compression {
      rows.append(("pruning ratio (r=\(c.budget))", String(format: "%.4f", c.pruningRatio)))
      rows.append(("pruned train accuracy", String(format: "%.4f", c.pruned.trainAccuracy)))
      rows.append(("pruned test accuracy", String(format: "%.4f", c.pruned.testAccuracy)))
      let cnn = result.config.modelKind != .fcn
      for (i, l) in c.layers.enumerated() {
        rows.append(
          cnn
            ? (
              "conv \(i + 2)",
              "\(l.rows) filters × \(l.columns), pruned \(l.prunedRows) filters "
                + String(format: "(%.4f)", Double(l.prunedRows) / Double(max(l.rows, 1)))
            )
            : ("layer \(i + 1)", "\(l.rows)×\(l.columns), pruned \(l.prunedRows) rows"))
        rows.append(
          (
            "  err(κ)",
            l.errorCurve.map { String(format: "%g:%.3f", $0.kept, $0.relativeError) }.joined(
              separator: " ")
          ))
        rows.append(("  tail index of norms", TailText.describe(l.tailIndexNorms)))
        rows.append(("  tail index of entries", TailText.describe(l.tailIndexEntries)))
      }
      rows.append(
        (
          "test acc vs pruned q",
          c.fixedRatioCurve.map { String(format: "%.1f:%.3f", $0.pruned, $0.testAccuracy) }
            .joined(separator: " ")
        ))
    }
    let w = rows.map { $0.0.count }.max() ?? 0
    return rows.map { $0.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.1 }
      .joined(separator: "\n")
  }
}

enum TailText {
  static func describe(_ e: TailIndexEstimate) -> String {
    let hill = e.hill.map { String(format: "%.3f", $0) } ?? "n/a"
    let other = e.other.map { String(format: "%.3f", $0) } ?? "n/a"
    return "Hill \(hill) (k=\(e.hillK)), \(e.otherName) \(other)"
  }
}

/// Saving trained weights as .npy files numpy and PyTorch users can load.
enum WeightFiles {
  /// A CNN's weight layers: the first to `path`, the others to `<stem>.layerK.npy`, the output
  /// layer to `<stem>.output.npy`; convolutions as out × in × 3 × 3 (PyTorch's layout), linear
  /// layers as out × in. Returns the paths written.
  static func save(_ net: LayerNet<Float>, to path: String) throws -> [String] {
    let stem = path.hasSuffix(".npy") ? String(path.dropLast(4)) : path
    var written: [String] = []
    let last = net.weights.count - 1
    for (w, l) in net.weightLayers.enumerated() {
      let file =
        w == 0
        ? (path.hasSuffix(".npy") ? path : path + ".npy")
        : w == last ? "\(stem).output.npy" : "\(stem).layer\(w + 1).npy"
      let shape = l.isConvolution ? [l.rows, l.columns / 9, 3, 3] : [l.rows, l.columns]
      try Data(NPY.encode(shape: shape, float32: net.weights[w])).write(
        to: URL(fileURLWithPath: file))
      written.append(file)
    }
    return written
  }

  /// Writes layer 1 to `path`, further hidden layers to `<stem>.layerK.npy` and the output
  /// layer to `<stem>.output.npy`; returns the paths written.
  static func save(_ net: Network<Float>, to path: String) throws -> [String] {
    let stem = path.hasSuffix(".npy") ? String(path.dropLast(4)) : path
    var written: [String] = []
    for l in 0...net.depth {
      let (r, c) = net.shape(layer: l)
      let file =
        l == 0
        ? (path.hasSuffix(".npy") ? path : path + ".npy")
        : l == net.depth ? "\(stem).output.npy" : "\(stem).layer\(l + 1).npy"
      let bytes = NPY.encode(shape: [r, c], float32: net.layers[l])
      try Data(bytes).write(to: URL(fileURLWithPath: file))
      written.append(file)
    }
    return written
  }
}

struct Sample: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write samples of the noise law to a .npy file.",
    discussion: """
      --beta 0 (default): symmetric α-stable SαS(α, 1), characteristic function exp(−|t|^α), \
      sampled by Chambers–Mallows–Stuck. For α in [0.5, 2] the default is the vectorised \
      Float32 sampler that noise type 2 uses (one stream word per sample), written as float32; \
      with --precise (and always for α < 0.5) the Double sampler that noise types 1 and 3 use, \
      two stream words per sample, written as float64. --beta 1: the positive (totally skewed) \
      stable law of index α < 1 used by noise type 3 (Double sampler, float64).
      """)
  @Option(help: "α: stability index, in (0, 2] (in (0, 1) with --beta 1).") var alpha: Double
  @Option(help: "β: 0 for symmetric, 1 for positive stable.") var beta: Int = 0
  @Option(help: "Number of samples (≥ 1).") var count: Int
  @Option(help: "Seed.") var seed: UInt64 = 1
  @Flag(help: "With --beta 0: the Double per-draw sampler and a float64 file.")
  var precise = false
  @Option(help: "Output .npy file (1-D; float32, or float64 with --precise or --beta 1).")
  var out: String

  func validate() throws {
    guard beta == 0 || beta == 1 else { throw ValidationError("--beta must be 0 or 1") }
    if beta == 0, !(alpha > 0 && alpha <= 2) {
      throw ValidationError("--alpha must be in (0, 2], got \(alpha)")
    }
    if beta == 1, !(alpha > 0 && alpha < 1) {
      throw ValidationError("--alpha must be in (0, 1) with --beta 1, got \(alpha)")
    }
    if count < 1 { throw ValidationError("--count must be ≥ 1") }
  }

  /// Values filled per call of the batch sampler (the values do not depend on it).
  static let block = 1 << 20

  func run() throws {
    var rng = Xoshiro256(key: seed, stream: TrialStream.noise.rawValue)
    var bytes: [UInt8]
    let kind: String
    if beta == 0, !precise, Xoshiro256.batchStableAlphaRange.contains(Float(alpha)) {
      let xs = [Float](unsafeUninitializedCapacity: count) { all, initialized in
        for start in stride(from: 0, to: count, by: Self.block) {
          let part = all[start..<min(start + Self.block, count)]
          rng.fillSymmetricStable(
            alpha: Float(alpha), into: UnsafeMutableBufferPointer(rebasing: part))
        }
        initialized = count
      }
      bytes = NPY.encode(shape: [count], float32: xs)
      kind = "float32, batch sampler"
    } else {
      var xs = [Double](repeating: 0, count: count)
      for i in 0..<count {
        xs[i] =
          beta == 0 ? rng.nextSymmetricStable(alpha: alpha) : rng.nextPositiveStable(index: alpha)
      }
      bytes = NPY.encode(shape: [count], float64: xs)
      kind = "float64, Double sampler"
    }
    // Written without another copy of the (up to gigabytes of) bytes.
    try bytes.withUnsafeMutableBytes { raw in
      guard let base = raw.baseAddress else { return }
      try Data(bytesNoCopy: base, count: raw.count, deallocator: .none).write(
        to: URL(fileURLWithPath: out))
    }
    print("wrote \(count) samples to \(out) (\(kind))")
  }
}

struct Compress: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Analyse weight matrices saved as .npy.",
    discussion: """
      Each file is one hidden layer's weight matrix, one row per neuron (use \
      --rows-are-inputs for PyTorch-style in×out or Keras-style layouts). float32 or float64, \
      C or Fortran order. Prints the pruning ratio at the error budget, the error curve err(κ) \
      and tail indices; with several files the ratio is over all their parameters.
      """)
  @Argument(help: "Weight matrices (.npy).") var files: [String]
  @Option(help: "r: error budget, in [0, 1].") var budget: Double = 0.1
  @Flag(help: "Rows of the stored matrix are inputs (transpose before analysing).")
  var rowsAreInputs = false
  @Flag(help: "Print JSON.") var json = false

  func validate() throws {
    if files.isEmpty { throw ValidationError("give at least one .npy file") }
    if !(budget >= 0 && budget <= 1) { throw ValidationError("--budget must be in [0, 1]") }
  }

  struct FileReport: Encodable {
    let file: String
    let layer: LayerCompression
  }
  struct Out: Encodable {
    let budget: Double
    let pruningRatio: Double
    let files: [FileReport]
  }

  func run() throws {
    var reports: [FileReport] = []
    for f in files {
      let bytes: [UInt8]
      do {
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f)))
      } catch {
        throw UsageError("\(f): cannot read: \(error.localizedDescription)")
      }
      let array: NPYArray
      do { array = try NPY.decode(bytes, name: f) } catch { throw UsageError("\(error)") }
      guard array.shape.count == 2, array.shape[0] > 0, array.shape[1] > 0 else {
        throw UsageError("\(f): expected a 2-D weight matrix, got shape \(array.shape)")
      }
      var (r, c) = (array.shape[0], array.shape[1])
      var values = array.values
      if rowsAreInputs {
        var t = [Double](repeating: 0, count: values.count)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = values[i * c + j] } }
        values = t
        swap(&r, &c)
      }
      let (layer, _) = Compression.analyse(values, rows: r, columns: c, budget: budget)
      reports.append(FileReport(file: f, layer: layer))
    }
    let ratio = Compression.pruningRatio(reports.map(\.layer))
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys, .prettyPrinted]
      print(
        String(
          decoding: try enc.encode(Out(budget: budget, pruningRatio: ratio, files: reports)),
          as: UTF8.self))
      return
    }
    print(String(format: "pruning ratio at r = %g: %.4f", budget, ratio))
    for r in reports {
      let l = r.layer
      print(
        "\(r.file): \(l.rows)×\(l.columns), pruned \(l.prunedRows) rows "
          + String(
            format: "(%.4f), squared relative error %.4f", Double(l.prunedRows) / Double(l.rows),
            l.squaredRelativeError))
      print(
        "  err(κ): "
          + l.errorCurve.map { String(format: "%g:%.4f", $0.kept, $0.relativeError) }.joined(
            separator: " "))
      print("  tail index of norms:   " + TailText.describe(l.tailIndexNorms))
      print("  tail index of entries: " + TailText.describe(l.tailIndexEntries))
    }
  }
}

/// `tailsweep train --trace FILE`: the initial weights as `FILE.init.npy` (layer files as
/// `--save-weights`), then one JSON line per `StepTrace` in FILE; with `--trace-weights`, the
/// weights after those iterations' gradient steps as `FILE.stepK.npy`. Write errors are kept
/// and thrown by `close`.
final class TraceFile {
  let path: String
  let weightsAt: Set<Int>
  let handle: FileHandle
  let encoder = JSONEncoder()
  var failure: Error?

  init(path: String, weightsAt: Set<Int>) throws {
    self.path = path
    self.weightsAt = weightsAt
    guard FileManager.default.createFile(atPath: path, contents: nil) else {
      throw RuntimeFailure("cannot create the trace file \(path)")
    }
    handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  }

  var receiver: LayerTrace {
    LayerTrace(
      initial: { net in
        do { _ = try WeightFiles.save(net, to: self.path + ".init.npy") } catch {
          self.failure = self.failure ?? error
        }
      },
      step: { step in
        do { try self.handle.write(contentsOf: self.encoder.encode(step) + Data("\n".utf8)) } catch
        {
          self.failure = self.failure ?? error
        }
      }, weightsAt: weightsAt,
      weights: { k, net in
        do { _ = try WeightFiles.save(net, to: self.path + ".step\(k).npy") } catch {
          self.failure = self.failure ?? error
        }
      })
  }

  func close() throws {
    try handle.close()
    if let failure { throw failure }
  }
}
