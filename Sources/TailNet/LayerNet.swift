import Foundation
import TailMath

/// A network built from an `Architecture` (a list of layers): convolutions, pooling and linear
/// layers, no biases, NCHW Float32 (or Double for gradient checks). The weights of weight layer
/// w are `weights[w]`, a row-major `rows × columns` matrix with one row per unit (filter or
/// neuron), as `architecture.weightLayers[w]` describes.
public struct LayerNet<Scalar: BLASScalar>: Sendable {
  public let architecture: Architecture
  /// The weight layers (`architecture.weightLayers`, cached).
  public let weightLayers: [Architecture.WeightLayer]
  /// Output shape of each layer (`architecture.shapes`, cached).
  public let shapes: [TensorShape]
  /// One weight matrix per weight layer.
  public var weights: [[Scalar]]
  /// For each layer, its index in `weights` (nil for layers without weights).
  let weightIndex: [Int?]
  /// Indices in `weights` of the prunable layers (noise and pruning apply to these).
  public let prunableIndices: [Int]

  /// A network with all weights zero.
  public init(architecture: Architecture) {
    precondition(architecture.problems().isEmpty, "\(architecture.problems())")
    self.architecture = architecture
    weightLayers = architecture.weightLayers
    shapes = architecture.shapes
    weights = weightLayers.map { [Scalar](repeating: 0, count: $0.rows * $0.columns) }
    var index = [Int?](repeating: nil, count: architecture.layers.count)
    for (w, l) in weightLayers.enumerated() { index[l.layer] = w }
    weightIndex = index
    let layers = architecture.weightLayers
    prunableIndices = layers.indices.filter { layers[$0].isPrunable }
  }

  /// The input shape of layer `i` (from the cached shapes: no allocation).
  func inputShape(of i: Int) -> TensorShape { i == 0 ? architecture.input : shapes[i - 1] }

  /// Input values per example.
  public var inputs: Int { architecture.input.count }
  /// Output units (classes).
  public var classes: Int { shapes[shapes.count - 1].count }

  /// The method doc's initialisation, weight layers in order: convolutions N(0, 2/(9·out))
  /// (standard deviation √(2/(k²·out_channels)), k = 3, one `nextNormal` per weight in row-major
  /// order); linear layers uniform in [−1/√fan_in, +1/√fan_in] (one `nextUnit` per weight, as
  /// `Network.initialized`, so a fully connected description starts from the same weights).
  public static func initialized(architecture: Architecture, rng: inout Xoshiro256) -> LayerNet {
    var net = LayerNet(architecture: architecture)
    for (w, l) in net.weightLayers.enumerated() {
      if l.isConvolution {
        let std = (2 / Double(9 * l.rows)).squareRoot()
        for i in net.weights[w].indices { net.weights[w][i] = Scalar(std * rng.nextNormal()) }
      } else {
        let bound = 1 / Double(l.columns).squareRoot()
        for i in net.weights[w].indices {
          net.weights[w][i] = Scalar((2 * rng.nextUnit() - 1) * bound)
        }
      }
    }
    return net
  }

  /// Parameters of the prunable layers.
  public var prunableParameterCount: Int { prunableIndices.reduce(0) { $0 + weights[$1].count } }

  /// Whether every weight is finite.
  public var isFinite: Bool { weights.allSatisfy { w in w.allSatisfy { $0.isFinite } } }
}

/// Buffers for one forward (and backward) pass of a `LayerNet` over up to `capacity` examples,
/// allocated once (per trial for training, per evaluator for evaluation) and reused.
final class LayerWorkspace<Scalar: BLASScalar> {
  let capacity: Int
  /// Each layer's output (capacity × shape.count, NCHW); the last holds the logits, which
  /// `SoftmaxCrossEntropy` may overwrite with dL/dlogits.
  let outputs: [UnsafeMutablePointer<Scalar>]
  /// dL/d(output) of each layer but the last (backward workspaces only).
  let deltas: [UnsafeMutablePointer<Scalar>]
  /// Argmax of each pooling layer's outputs (nil for other layers).
  let argmax: [UnsafeMutablePointer<Int32>?]
  /// im2col matrix, its gradient, and the gemm-layout output of the largest convolution.
  let col: UnsafeMutablePointer<Scalar>
  let dcol: UnsafeMutablePointer<Scalar>
  let tmp: UnsafeMutablePointer<Scalar>
  /// For each convolution of a backward workspace, its own im2col matrix, which the forward
  /// pass fills and the weight gradient reuses; nil (recompute into `col`) for other layers,
  /// forward-only workspaces, or when all of them would exceed the budget of values.
  let keptCols: [UnsafeMutablePointer<Scalar>?]
  /// For each convolution on planes narrower than `ConvKernels.gatherBelowWidth`, its
  /// `ConvKernels.gatherTable` (nil otherwise).
  let tables: [UnsafeMutablePointer<Int32>?]
  private var owned: [UnsafeMutableRawPointer] = []

  /// Values of the kept im2col matrices of one workspace, at most, by default (2²⁶ floats:
  /// 256 MiB).
  static var defaultKeptColumnBudget: Int { 1 << 26 }

  init(
    architecture a: Architecture, capacity: Int, backward: Bool,
    keptColumnBudget: Int = defaultKeptColumnBudget
  ) {
    self.capacity = capacity
    var owned: [UnsafeMutableRawPointer] = []
    func buffer(_ count: Int) -> UnsafeMutablePointer<Scalar> {
      let p = UnsafeMutablePointer<Scalar>.allocate(capacity: max(count, 1))
      p.initialize(repeating: 0, count: max(count, 1))
      owned.append(UnsafeMutableRawPointer(p))
      return p
    }
    let shapes = a.shapes
    outputs = shapes.map { buffer(capacity * $0.count) }
    deltas = backward ? shapes.dropLast().map { buffer(capacity * $0.count) } : []
    argmax = a.layers.enumerated().map { i, l in
      guard case .maxPool2 = l else { return nil }
      let n = max(capacity * shapes[i].count, 1)
      let p = UnsafeMutablePointer<Int32>.allocate(capacity: n)
      p.initialize(repeating: 0, count: n)
      owned.append(UnsafeMutableRawPointer(p))
      return p
    }
    var colSize = 0
    var tmpSize = 0
    for (i, l) in a.layers.enumerated() {
      guard case .conv3x3(let o) = l else { continue }
      let s = a.inputShape(of: i)
      colSize = max(colSize, s.channels * 9 * capacity * s.plane)
      tmpSize = max(tmpSize, o * capacity * s.plane)
    }
    col = buffer(colSize)
    dcol = buffer(backward ? colSize : 0)
    tmp = buffer(tmpSize)
    let colSizes: [Int] = a.layers.indices.map { i in
      guard case .conv3x3 = a.layers[i] else { return 0 }
      let s = a.inputShape(of: i)
      return s.channels * 9 * capacity * s.plane
    }
    let keep = backward && colSizes.reduce(0, +) <= keptColumnBudget
    keptCols = colSizes.map { keep && $0 > 0 ? buffer($0) : nil }
    tables = a.layers.indices.map { i in
      guard case .conv3x3 = a.layers[i] else { return nil }
      let s = a.inputShape(of: i)
      guard s.width < ConvKernels.gatherBelowWidth else { return nil }
      let table = ConvKernels.gatherTable(height: s.height, width: s.width)
      let p = UnsafeMutablePointer<Int32>.allocate(capacity: table.count)
      p.initialize(from: table, count: table.count)
      owned.append(UnsafeMutableRawPointer(p))
      return p
    }
    self.owned = owned
  }

  /// im2col of convolution layer `layer`'s input `x` (`rows` examples of `shape`) into `col`.
  func im2col(
    layer: Int, _ x: UnsafePointer<Scalar>, rows: Int, shape s: TensorShape,
    into col: UnsafeMutablePointer<Scalar>
  ) {
    if let table = tables[layer] {
      ConvKernels.im2colByTable(
        x, batch: rows, channels: s.channels, plane: s.plane, table: table, into: col)
    } else {
      ConvKernels.im2col(
        x, batch: rows, channels: s.channels, height: s.height, width: s.width, into: col)
    }
  }

  /// The adjoint of `im2col(layer:…)`: `dcol` back into `dx`.
  func col2im(
    layer: Int, _ dcol: UnsafePointer<Scalar>, rows: Int, shape s: TensorShape,
    into dx: UnsafeMutablePointer<Scalar>
  ) {
    if let table = tables[layer] {
      ConvKernels.col2imByTable(
        dcol, batch: rows, channels: s.channels, plane: s.plane, table: table, into: dx)
    } else {
      ConvKernels.col2im(
        dcol, batch: rows, channels: s.channels, height: s.height, width: s.width, into: dx)
    }
  }

  deinit {
    for p in owned { p.deallocate() }
  }
}

/// Softmax cross-entropy of a batch of logits, shared by `Network` and `LayerNet`.
enum SoftmaxCrossEntropy {
  /// Softmax cross-entropy of `rows` rows of logits (row-major, `classes` per row) against
  /// `labels`. The loss is summed over the rows in order, in Double. When `gradient` is true,
  /// overwrites each logit in place with dL/dlogit of the *mean* loss over the `rows`, and
  /// returns the largest |dL/dlogit| in `maxGradient`.
  static func apply<Scalar: BLASScalar>(
    logits: UnsafeMutablePointer<Scalar>, labels: UnsafePointer<Int32>, rows: Int, classes c: Int,
    gradient: Bool, maxGradient: inout Double
  ) -> BatchLoss {
    var lossSum = 0.0
    var correct = 0
    var maxDelta = 0.0
    let invB = 1 / Double(rows)
    for r in 0..<rows {
      let row = logits + r * c
      var maxV = Double(row[0])
      var arg = 0
      for k in 1..<max(c, 1) where Double(row[k]) > maxV {
        maxV = Double(row[k])
        arg = k
      }
      var sum = 0.0
      for k in 0..<c { sum += exp(Double(row[k]) - maxV) }
      let logSum = log(sum) + maxV
      let y = Int(labels[r])
      lossSum += logSum - Double(row[y])
      if arg == y && maxV.isFinite { correct += 1 }
      if gradient {
        for k in 0..<c {
          let p = exp(Double(row[k]) - logSum)
          let d = Scalar((p - (k == y ? 1 : 0)) * invB)
          row[k] = d
          let m = Double(d).magnitude
          if !(m <= maxDelta) { maxDelta = m.isNaN ? .infinity : m }
        }
      }
    }
    maxGradient = maxDelta
    return BatchLoss(lossSum: lossSum, correct: correct)
  }
}

extension LayerNet {
  /// Forward pass of `rows` examples (NCHW, `inputs` values each) into `ws.outputs`.
  func forward(_ x: UnsafePointer<Scalar>, rows: Int, workspace ws: LayerWorkspace<Scalar>) {
    precondition(rows <= ws.capacity)
    var input = x
    for (i, layer) in architecture.layers.enumerated() {
      let inShape = inputShape(of: i)
      let out = ws.outputs[i]
      switch layer {
      case .conv3x3(let o):
        let w = weightIndex[i] ?? 0
        let n = rows * inShape.plane
        let k = inShape.channels * 9
        let col = ws.keptCols[i] ?? ws.col
        ws.im2col(layer: i, input, rows: rows, shape: inShape, into: col)
        weights[w].withBase { wp in
          Scalar.gemm(
            transA: false, transB: false, m: o, n: n, k: k, alpha: 1, a: wp, lda: k,
            b: col, ldb: n, beta: 0, c: ws.tmp, ldc: n)
        }
        ConvKernels.toNCHWReLU(
          ws.tmp, outChannels: o, batch: rows, plane: inShape.plane, into: out)
      case .maxPool2:
        guard let am = ws.argmax[i] else { preconditionFailure("pooling layer without argmax") }
        ConvKernels.maxPool(
          input, planes: rows * inShape.channels, height: inShape.height, width: inShape.width,
          into: out, argmax: am)
      case .globalAveragePool:
        ConvKernels.globalAveragePool(
          input, planes: rows * inShape.channels, plane: inShape.plane, into: out)
      case .linear(let o, let relu):
        let w = weightIndex[i] ?? 0
        let k = inShape.count
        weights[w].withBase { wp in
          Scalar.gemm(
            transA: false, transB: true, m: rows, n: o, k: k, alpha: 1, a: input, lda: k,
            b: wp, ldb: k, beta: 0, c: out, ldc: o)
        }
        if relu { _ = Scalar.reluInPlace(out, count: rows * o) }
      }
      input = UnsafePointer(out)
    }
  }

  /// Back-propagates dL/dlogits (left in the last output by `SoftmaxCrossEntropy` with
  /// `gradient: true`) after a `forward` of the same batch with the same workspace (whose kept
  /// im2col matrices it reuses). Each weight layer first passes the
  /// gradient to its input with its current weights, then either takes an SGD step fused into
  /// the gemm (`eta` given: W ← W − η·∂L/∂W) or writes ∂L/∂W into `gradients[w]`.
  mutating func backward(
    _ x: UnsafePointer<Scalar>, rows: Int, workspace ws: LayerWorkspace<Scalar>, eta: Scalar?,
    gradients: inout [[Scalar]]
  ) {
    precondition(ws.deltas.count == architecture.layers.count - 1, "forward-only workspace")
    let last = architecture.layers.count - 1
    for i in stride(from: last, through: 0, by: -1) {
      let inShape = inputShape(of: i)
      let input = i == 0 ? x : UnsafePointer(ws.outputs[i - 1])
      let dOut = i == last ? ws.outputs[i] : ws.deltas[i]
      let dIn: UnsafeMutablePointer<Scalar>? = i == 0 ? nil : ws.deltas[i - 1]
      switch architecture.layers[i] {
      case .conv3x3(let o):
        let w = weightIndex[i] ?? 0
        let n = rows * inShape.plane
        let k = inShape.channels * 9
        ConvKernels.fromNCHWMasked(
          dOut, mask: ws.outputs[i], outChannels: o, batch: rows, plane: inShape.plane,
          into: ws.tmp)
        if let dIn {
          weights[w].withBase { wp in
            Scalar.gemm(
              transA: true, transB: false, m: k, n: n, k: o, alpha: 1, a: wp, lda: k,
              b: ws.tmp, ldb: n, beta: 0, c: ws.dcol, ldc: n)
          }
          ws.col2im(layer: i, ws.dcol, rows: rows, shape: inShape, into: dIn)
        }
        // The forward pass of this batch left the layer's im2col matrix in its kept buffer.
        let col = ws.keptCols[i] ?? ws.col
        if ws.keptCols[i] == nil {
          ws.im2col(layer: i, input, rows: rows, shape: inShape, into: col)
        }
        weightGradient(w, eta: eta, gradients: &gradients) { target, alpha, beta in
          Scalar.gemm(
            transA: false, transB: true, m: o, n: k, k: n, alpha: alpha, a: ws.tmp, lda: n,
            b: col, ldb: n, beta: beta, c: target, ldc: k)
        }
      case .maxPool2:
        guard let dIn, let am = ws.argmax[i] else { continue }
        ConvKernels.maxPoolBackward(
          dOut, argmax: am, planes: rows * inShape.channels, height: inShape.height,
          width: inShape.width, into: dIn)
      case .globalAveragePool:
        guard let dIn else { continue }
        ConvKernels.globalAveragePoolBackward(
          dOut, planes: rows * inShape.channels, plane: inShape.plane, into: dIn)
      case .linear(let o, let relu):
        let w = weightIndex[i] ?? 0
        let k = inShape.count
        if relu { _ = Scalar.maskInPlace(dOut, by: ws.outputs[i], count: rows * o) }
        if let dIn {
          weights[w].withBase { wp in
            Scalar.gemm(
              transA: false, transB: false, m: rows, n: k, k: o, alpha: 1, a: dOut, lda: o,
              b: wp, ldb: k, beta: 0, c: dIn, ldc: k)
          }
        }
        weightGradient(w, eta: eta, gradients: &gradients) { target, alpha, beta in
          Scalar.gemm(
            transA: true, transB: false, m: o, n: k, k: rows, alpha: alpha, a: dOut, lda: o,
            b: input, ldb: k, beta: beta, c: target, ldc: k)
        }
      }
    }
  }

  /// Runs `gemm(target, alpha, beta)` either on the weights (SGD step: alpha −η, beta 1) or on
  /// the gradient buffer (alpha 1, beta 0).
  private mutating func weightGradient(
    _ w: Int, eta: Scalar?, gradients: inout [[Scalar]],
    _ gemm: (UnsafeMutablePointer<Scalar>, Scalar, Scalar) -> Void
  ) {
    if let eta {
      weights[w].withMutableBase { gemm($0, -eta, 1) }
    } else {
      gradients[w].withMutableBase { gemm($0, 1, 0) }
    }
  }

  /// Mean loss and the gradient of every weight layer for one batch (gradient checks).
  public func lossAndGradient(_ x: [Scalar], labels: [Int32]) -> (
    loss: Double, gradient: [[Scalar]]
  ) {
    lossAndGradient(
      x, labels: labels, keptColumnBudget: LayerWorkspace<Scalar>.defaultKeptColumnBudget)
  }

  /// `lossAndGradient(_:labels:)` with `LayerWorkspace`'s `keptColumnBudget`.
  func lossAndGradient(_ x: [Scalar], labels: [Int32], keptColumnBudget: Int) -> (
    loss: Double, gradient: [[Scalar]]
  ) {
    let rows = labels.count
    let ws = LayerWorkspace<Scalar>(
      architecture: architecture, capacity: rows, backward: true,
      keptColumnBudget: keptColumnBudget)
    var grads = weights.map { [Scalar](repeating: 0, count: $0.count) }
    var copy = self
    var loss = 0.0
    var unused = 0.0
    x.withBase { xp in
      labels.withBase { lp in
        copy.forward(xp, rows: rows, workspace: ws)
        loss =
          SoftmaxCrossEntropy.apply(
            logits: ws.outputs[ws.outputs.count - 1], labels: lp, rows: rows, classes: classes,
            gradient: true, maxGradient: &unused
          ).lossSum / Double(rows)
        copy.backward(xp, rows: rows, workspace: ws, eta: nil, gradients: &grads)
      }
    }
    return (loss, grads)
  }

  /// Mean loss of one batch (forward only).
  public func loss(_ x: [Scalar], labels: [Int32]) -> Double {
    let rows = labels.count
    let ws = LayerWorkspace<Scalar>(architecture: architecture, capacity: rows, backward: false)
    var unused = 0.0
    return x.withBase { xp in
      labels.withBase { lp in
        forward(xp, rows: rows, workspace: ws)
        return SoftmaxCrossEntropy.apply(
          logits: ws.outputs[ws.outputs.count - 1], labels: lp, rows: rows, classes: classes,
          gradient: false, maxGradient: &unused
        ).lossSum / Double(rows)
      }
    }
  }

  /// The logits of one batch (tests).
  public func logits(_ x: [Scalar], rows: Int) -> [Scalar] {
    let ws = LayerWorkspace<Scalar>(architecture: architecture, capacity: rows, backward: false)
    x.withBase { forward($0, rows: rows, workspace: ws) }
    return Array(
      UnsafeBufferPointer(start: ws.outputs[ws.outputs.count - 1], count: rows * classes))
  }
}

/// Buffers to evaluate a `LayerNet` on whole splits, allocated once per trial. Chunks are as
/// large as a memory budget allows (at most 1024 rows): `chunkRows(for:)`.
public final class LayerEvaluator {
  let rows: Int
  let workspace: LayerWorkspace<Float>

  /// Values of the forward buffers of one chunk, at most (2²⁵ floats: 128 MiB).
  static let budget = 1 << 25

  /// Rows per evaluation chunk for `architecture`: 1024, or fewer so that the forward buffers
  /// (every layer's output and the im2col matrix) stay within `budget` values. A function of
  /// the architecture only, so a trial's numbers do not depend on the split sizes.
  public static func chunkRows(for a: Architecture) -> Int {
    var perExample = a.shapes.reduce(0) { $0 + $1.count }
    var col = 0
    for (i, l) in a.layers.enumerated() {
      if case .conv3x3(let o) = l {
        let s = a.inputShape(of: i)
        col = max(col, s.channels * 9 * s.plane + o * s.plane)
      }
    }
    perExample += col
    return max(1, min(1024, budget / max(perExample, 1)))
  }

  public init(architecture: Architecture) {
    rows = Self.chunkRows(for: architecture)
    workspace = LayerWorkspace<Float>(architecture: architecture, capacity: rows, backward: false)
  }
}

extension LayerNet where Scalar == Float {
  /// Mean softmax cross-entropy and accuracy over a whole split, in chunks of
  /// `LayerEvaluator.chunkRows` rows; the loss summed in Double per example in order.
  public func evaluate(_ split: DataSplit) -> (loss: Double, accuracy: Double) {
    evaluate(split, with: LayerEvaluator(architecture: architecture))
  }

  /// `evaluate(_:)` with the buffers of `evaluator` (made for this architecture).
  public func evaluate(_ split: DataSplit, with evaluator: LayerEvaluator) -> (
    loss: Double, accuracy: Double
  ) {
    let ws = evaluator.workspace
    var lossSum = 0.0
    var correct = 0
    var start = 0
    var unused = 0.0
    if split.count > 0 {
      split.features.withUnsafeValues { features in
        split.labels.withBase { labels in
          guard let x = features.baseAddress else { return }
          while start < split.count {
            let rows = min(evaluator.rows, split.count - start)
            forward(x + start * inputs, rows: rows, workspace: ws)
            let bl = SoftmaxCrossEntropy.apply(
              logits: ws.outputs[ws.outputs.count - 1], labels: labels + start, rows: rows,
              classes: classes, gradient: false, maxGradient: &unused)
            lossSum += bl.lossSum
            correct += bl.correct
            start += rows
          }
        }
      }
    }
    let n = Double(max(split.count, 1))
    return (lossSum / n, Double(correct) / n)
  }
}
