import Foundation
import TailMath

/// A fully connected network without biases: x ∈ R^d → (W_l, ReLU) × depth → W_out → logits.
/// Every weight matrix is row-major with one row per output unit: hidden layer l has shape
/// width × fan-in, the output layer classes × width.
public struct Network<Scalar: BLASScalar>: Sendable {
  /// d: input dimension.
  public let inputs: Int
  /// n: width of every hidden layer.
  public let width: Int
  /// Number of hidden layers.
  public let depth: Int
  /// C: number of classes (output units).
  public let classes: Int
  /// Weight matrices: `depth` hidden layers, then the output layer.
  public var layers: [[Scalar]]

  /// A network with all weights zero.
  public init(inputs: Int, width: Int, depth: Int, classes: Int) {
    self.inputs = inputs
    self.width = width
    self.depth = depth
    self.classes = classes
    var ls: [[Scalar]] = []
    for l in 0...depth {
      let (r, c) = Network.shape(
        layer: l, inputs: inputs, width: width, depth: depth,
        classes: classes)
      ls.append([Scalar](repeating: 0, count: r * c))
    }
    layers = ls
  }

  static func shape(layer l: Int, inputs: Int, width: Int, depth: Int, classes: Int) -> (
    rows: Int, columns: Int
  ) {
    let fanIn = l == 0 ? inputs : width
    let rows = l == depth ? classes : width
    return (rows, fanIn)
  }

  /// (rows, columns) of layer `l` (0-based; `depth` is the output layer).
  public func shape(layer l: Int) -> (rows: Int, columns: Int) {
    Network.shape(layer: l, inputs: inputs, width: width, depth: depth, classes: classes)
  }

  /// The default initialisation: every weight i.i.d. uniform in [−1/√fan_in, +1/√fan_in].
  public static func initialized(
    inputs: Int, width: Int, depth: Int, classes: Int, rng: inout Xoshiro256
  ) -> Network {
    var net = Network(inputs: inputs, width: width, depth: depth, classes: classes)
    for l in 0...depth {
      let bound = 1 / Double(net.shape(layer: l).columns).squareRoot()
      for i in net.layers[l].indices {
        net.layers[l][i] = Scalar((2 * rng.nextUnit() - 1) * bound)
      }
    }
    return net
  }

  /// Number of parameters in the hidden layers (the ones that may be pruned).
  public var hiddenParameterCount: Int {
    (0..<depth).reduce(0) { $0 + layers[$1].count }
  }

  /// Whether every weight is finite.
  public var isFinite: Bool {
    layers.allSatisfy { layer in layer.allSatisfy { $0.isFinite } }
  }
}

/// Buffers for one forward (and backward) pass over a batch of up to `capacity` rows,
/// allocated once and reused between iterations, so a training step allocates nothing. Also
/// holds the largest magnitudes seen in the last pass, which bound the next weight update.
final class Workspace<Scalar: BLASScalar> {
  let capacity: Int
  /// Post-ReLU outputs of each hidden layer (capacity × width each).
  let hidden: [UnsafeMutablePointer<Scalar>]
  /// dL/dz of each hidden layer (capacity × width each); empty for a forward-only workspace.
  let hiddenDelta: [UnsafeMutablePointer<Scalar>]
  /// Logits (capacity × classes). `crossEntropy(gradient: true)` overwrites them in place with
  /// dL/dlogits.
  let logits: UnsafeMutablePointer<Scalar>
  /// Largest post-ReLU activation of each hidden layer in the last `forward` (+∞ if one is ∞).
  var hiddenMax: [Double]
  /// Largest |dL/dz| of each hidden layer in the last `backward` (+∞ if one is not finite).
  var hiddenDeltaMax: [Double]
  /// Largest |dL/dlogit| written by the last `crossEntropy(gradient: true)`.
  var logitDeltaMax = 0.0

  init(capacity: Int, width: Int, depth: Int, classes: Int, backward: Bool = true) {
    self.capacity = capacity
    func buffer(_ count: Int) -> UnsafeMutablePointer<Scalar> {
      let p = UnsafeMutablePointer<Scalar>.allocate(capacity: max(count, 1))
      p.initialize(repeating: 0, count: max(count, 1))
      return p
    }
    hidden = (0..<depth).map { _ in buffer(capacity * width) }
    hiddenDelta = backward ? (0..<depth).map { _ in buffer(capacity * width) } : []
    logits = buffer(capacity * classes)
    hiddenMax = [Double](repeating: 0, count: depth)
    hiddenDeltaMax = [Double](repeating: 0, count: depth)
  }

  deinit {
    for p in hidden { p.deallocate() }
    for p in hiddenDelta { p.deallocate() }
    logits.deallocate()
  }
}

/// Cross-entropy loss and correct count of one batch, from the logits.
struct BatchLoss {
  var lossSum: Double
  var correct: Int
}

extension Network {
  /// Forward pass of `rows` inputs (row-major rows × inputs) into the workspace: logits in
  /// `ws.logits`, post-ReLU activations in `ws.hidden` (ReLU fused with the search for their
  /// maximum, `ws.hiddenMax`).
  func forward(_ x: UnsafePointer<Scalar>, rows: Int, workspace ws: Workspace<Scalar>) {
    precondition(rows <= ws.capacity)
    var input = x
    for l in 0...depth {
      let (outDim, inDim) = shape(layer: l)
      let out = l < depth ? ws.hidden[l] : ws.logits
      layers[l].withBase { w in
        Scalar.gemm(
          transA: false, transB: true, m: rows, n: outDim, k: inDim, alpha: 1, a: input,
          lda: inDim, b: w, ldb: inDim, beta: 0, c: out, ldc: outDim)
      }
      if l < depth {
        ws.hiddenMax[l] = Scalar.reluInPlace(out, count: rows * outDim)
        input = UnsafePointer(out)
      }
    }
  }

  /// Softmax cross-entropy of `rows` rows of logits (row-major, `classes` per row) against
  /// `labels`. The loss is summed over the rows in order, in Double. When `gradient` is true,
  /// overwrites each logit in place with dL/dlogit of the *mean* loss over the `rows`, and
  /// returns the largest |dL/dlogit| in `maxGradient`.
  func crossEntropy(
    logits: UnsafeMutablePointer<Scalar>, labels: UnsafePointer<Int32>, rows: Int,
    gradient: Bool, maxGradient: inout Double
  ) -> BatchLoss {
    SoftmaxCrossEntropy.apply(
      logits: logits, labels: labels, rows: rows, classes: classes, gradient: gradient,
      maxGradient: &maxGradient)
  }

  /// Cross-entropy of the `rows` logits of the last `forward` in the workspace; with
  /// `gradient`, dL/dlogits replace them (and `ws.logitDeltaMax` is set).
  func crossEntropy(
    labels: UnsafePointer<Int32>, rows: Int, workspace ws: Workspace<Scalar>, gradient: Bool
  ) -> BatchLoss {
    var m = 0.0
    let bl = crossEntropy(
      logits: ws.logits, labels: labels, rows: rows, gradient: gradient, maxGradient: &m)
    if gradient { ws.logitDeltaMax = m }
    return bl
  }

  /// Back-propagates dL/dlogits (in `ws.logits`, from `crossEntropy(gradient: true)`) after a
  /// `forward` of the same batch. For each layer from the top it first computes the gradient
  /// flowing to the layer below (with the current weights; the ReLU mask fused with the search
  /// for its largest magnitude, `ws.hiddenDeltaMax`), then calls `apply(l, dZ, input)` which
  /// receives dL/dz of the layer's outputs (rows × out) and the layer's input (rows × in);
  /// `apply` typically performs W_l ← W_l − η dZᵀ·input in one gemm.
  mutating func backward(
    _ x: UnsafePointer<Scalar>, rows: Int, workspace ws: Workspace<Scalar>,
    apply: (inout Network, Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>) -> Void
  ) {
    precondition(ws.hiddenDelta.count == depth, "forward-only workspace")
    for l in stride(from: depth, through: 0, by: -1) {
      let (outDim, inDim) = shape(layer: l)
      let dz = UnsafePointer(l == depth ? ws.logits : ws.hiddenDelta[l])
      // Gradient to the layer below: dH_{l-1} = dZ_l · W_l, masked by ReLU'.
      if l > 0 {
        let dh = ws.hiddenDelta[l - 1]
        layers[l].withBase { w in
          Scalar.gemm(
            transA: false, transB: false, m: rows, n: inDim, k: outDim, alpha: 1,
            a: dz, lda: outDim, b: w, ldb: inDim, beta: 0, c: dh, ldc: inDim)
        }
        ws.hiddenDeltaMax[l - 1] = Scalar.maskInPlace(
          dh, by: ws.hidden[l - 1], count: rows * inDim)
      }
      apply(&self, l, dz, l == 0 ? x : UnsafePointer(ws.hidden[l - 1]))
    }
  }

  /// Mean loss and the gradient of every layer for one batch (used by gradient checks; the
  /// training loop fuses the update into the gemm instead).
  public func lossAndGradient(_ x: [Scalar], labels: [Int32]) -> (
    loss: Double, gradient: [[Scalar]]
  ) {
    let rows = labels.count
    let ws = Workspace<Scalar>(capacity: rows, width: width, depth: depth, classes: classes)
    var grads = layers.map { [Scalar](repeating: 0, count: $0.count) }
    var copy = self
    var loss = 0.0
    x.withBase { xp in
      labels.withBase { lp in
        copy.forward(xp, rows: rows, workspace: ws)
        loss =
          copy.crossEntropy(
            labels: lp, rows: rows, workspace: ws,
            gradient: true
          ).lossSum / Double(rows)
        copy.backward(xp, rows: rows, workspace: ws) { net, l, dz, input in
          let (o, i) = net.shape(layer: l)
          grads[l].withMutableBase { g in
            Scalar.gemm(
              transA: true, transB: false, m: o, n: i, k: rows, alpha: 1, a: dz, lda: o,
              b: input, ldb: i, beta: 0, c: g, ldc: i)
          }
        }
      }
    }
    return (loss, grads)
  }

  /// Mean loss of one batch (forward only).
  public func loss(_ x: [Scalar], labels: [Int32]) -> Double {
    let rows = labels.count
    let ws = Workspace<Scalar>(
      capacity: rows, width: width, depth: depth, classes: classes, backward: false)
    return x.withBase { xp in
      labels.withBase { lp in
        forward(xp, rows: rows, workspace: ws)
        return crossEntropy(labels: lp, rows: rows, workspace: ws, gradient: false)
          .lossSum / Double(rows)
      }
    }
  }
}

extension Array {
  /// The array's storage as a pointer (arrays here are never empty: shapes are ≥ 1).
  func withBase<R>(_ body: (UnsafePointer<Element>) throws -> R) rethrows -> R {
    try withUnsafeBufferPointer { buf in
      guard let base = buf.baseAddress else { preconditionFailure("empty weight buffer") }
      return try body(base)
    }
  }

  /// The array's storage as a mutable pointer (arrays here are never empty).
  mutating func withMutableBase<R>(
    _ body: (UnsafeMutablePointer<Element>) throws -> R
  ) rethrows -> R {
    try withUnsafeMutableBufferPointer { buf in
      guard let base = buf.baseAddress else { preconditionFailure("empty weight buffer") }
      return try body(base)
    }
  }
}
