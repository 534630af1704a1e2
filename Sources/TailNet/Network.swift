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

/// Buffers for one forward/backward pass over a batch of up to `capacity` rows, reused between
/// iterations so the training loop allocates nothing.
final class Workspace<Scalar: BLASScalar> {
  let capacity: Int
  /// Post-activation outputs of each hidden layer (capacity × width), then logits
  /// (capacity × classes).
  var activations: [[Scalar]]
  /// Gradient buffers of the same shapes (reused as dL/dz going down).
  var deltas: [[Scalar]]

  init(capacity: Int, width: Int, depth: Int, classes: Int) {
    self.capacity = capacity
    activations = (0..<depth).map { _ in [Scalar](repeating: 0, count: capacity * width) }
    activations.append([Scalar](repeating: 0, count: capacity * classes))
    deltas = activations
  }
}

/// Cross-entropy loss and correct count of one batch, from the logits.
struct BatchLoss {
  var lossSum: Double
  var correct: Int
}

extension Network {
  /// Forward pass of `rows` inputs (row-major rows × inputs) into the workspace. Returns
  /// nothing; logits are in `ws.activations[depth]`.
  func forward(_ x: UnsafePointer<Scalar>, rows: Int, workspace ws: Workspace<Scalar>) {
    precondition(rows <= ws.capacity)
    for l in 0...depth {
      let (outDim, inDim) = shape(layer: l)
      let isHidden = l < depth
      layers[l].withBase { w in
        if l == 0 {
          ws.activations[0].withMutableBase { out in
            Scalar.gemm(
              transA: false, transB: true, m: rows, n: outDim, k: inDim, alpha: 1, a: x,
              lda: inDim, b: w, ldb: inDim, beta: 0, c: out,
              ldc: outDim)
          }
        } else {
          let input = ws.activations[l - 1]
          input.withBase { inp in
            ws.activations[l].withMutableBase { out in
              Scalar.gemm(
                transA: false, transB: true, m: rows, n: outDim, k: inDim, alpha: 1,
                a: inp, lda: inDim, b: w, ldb: inDim, beta: 0,
                c: out, ldc: outDim)
            }
          }
        }
      }
      if isHidden {
        ws.activations[l].withMutableBase { out in
          let n = rows * outDim
          for i in 0..<n where !(out[i] > 0) { out[i] = 0 }
        }
      }
    }
  }

  /// Softmax cross-entropy of the logits in the workspace against `labels`. When `gradient`
  /// is true, writes dL/dlogits of the *mean* loss over the batch into `ws.deltas[depth]`.
  func crossEntropy(
    labels: UnsafePointer<Int32>, rows: Int, workspace ws: Workspace<Scalar>, gradient: Bool
  ) -> BatchLoss {
    var lossSum = 0.0
    var correct = 0
    let c = classes
    let invB = 1 / Double(rows)
    ws.activations[depth].withBase { logits in
      ws.deltas[depth].withMutableBase { delta in
        for r in 0..<rows {
          let base = r * c
          var maxV = Double(logits[base])
          var arg = 0
          for k in 1..<max(c, 1) where Double(logits[base + k]) > maxV {
            maxV = Double(logits[base + k])
            arg = k
          }
          var sum = 0.0
          for k in 0..<c { sum += exp(Double(logits[base + k]) - maxV) }
          let logSum = log(sum) + maxV
          let y = Int(labels[r])
          lossSum += logSum - Double(logits[base + y])
          if arg == y && maxV.isFinite { correct += 1 }
          if gradient {
            for k in 0..<c {
              let p = exp(Double(logits[base + k]) - logSum)
              delta[base + k] = Scalar((p - (k == y ? 1 : 0)) * invB)
            }
          }
        }
      }
    }
    return BatchLoss(lossSum: lossSum, correct: correct)
  }

  /// Back-propagates `ws.deltas[depth]` (dL/dlogits) after a `forward` of the same batch.
  /// For each layer from the top it first computes the gradient flowing to the layer below
  /// (with the current weights), then calls `apply(l, dZ, input)` which receives dL/dz of the
  /// layer's outputs (rows × out) and the layer's input (rows × in); `apply` typically
  /// performs W_l ← W_l − η dZᵀ·input in one gemm.
  mutating func backward(
    _ x: UnsafePointer<Scalar>, rows: Int, workspace ws: Workspace<Scalar>,
    apply: (inout Network, Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>) -> Void
  ) {
    for l in stride(from: depth, through: 0, by: -1) {
      let (outDim, inDim) = shape(layer: l)
      // Gradient to the layer below: dH_{l-1} = dZ_l · W_l, masked by ReLU'.
      if l > 0 {
        let dZ = ws.deltas[l]
        let below = l - 1
        layers[l].withBase { w in
          dZ.withBase { dz in
            ws.deltas[below].withMutableBase { dh in
              Scalar.gemm(
                transA: false, transB: false, m: rows, n: inDim, k: outDim, alpha: 1,
                a: dz, lda: outDim, b: w, ldb: inDim, beta: 0,
                c: dh, ldc: inDim)
            }
          }
        }
        ws.activations[below].withBase { h in
          ws.deltas[below].withMutableBase { dh in
            for i in 0..<(rows * inDim) where !(h[i] > 0) { dh[i] = 0 }
          }
        }
      }
      let dZ = ws.deltas[l]
      dZ.withBase { dz in
        if l == 0 {
          apply(&self, l, dz, x)
        } else {
          ws.activations[l - 1].withBase { inp in
            apply(&self, l, dz, inp)
          }
        }
      }
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
    let ws = Workspace<Scalar>(capacity: rows, width: width, depth: depth, classes: classes)
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
