import Foundation
import TailMath

/// What the compressibility measurements see of a trained network: its prunable layers, each a
/// row-major matrix with one row per unit (a neuron's incoming weights, or a filter's in·3·3
/// weights), and how to evaluate it with some units zeroed. The fully connected `Network` and
/// the list-of-layers `LayerNet` both are one.
public protocol PrunableNetwork {
  /// Number of prunable layers (the hidden layers; for a CNN every convolution but the first).
  var prunableLayerCount: Int { get }
  /// Prunable layer `i` (input side first): its weights, units (rows) and weights per unit.
  func prunableLayer(_ i: Int) -> (weights: [Float], rows: Int, columns: Int)
  /// A copy with the given rows of each prunable layer set to zero.
  func zeroingRows(_ rows: [[Int]]) -> Self
  /// Mean softmax cross-entropy and accuracy over a whole split.
  func evaluate(_ split: DataSplit) -> (loss: Double, accuracy: Double)
}

extension Network: PrunableNetwork where Scalar == Float {
  public var prunableLayerCount: Int { depth }
  public func prunableLayer(_ i: Int) -> (weights: [Float], rows: Int, columns: Int) {
    let (r, c) = shape(layer: i)
    return (layers[i], r, c)
  }
  public func zeroingRows(_ rows: [[Int]]) -> Network<Float> {
    Compression.zeroingRows(self, rows: rows)
  }
}

extension LayerNet: PrunableNetwork where Scalar == Float {
  public var prunableLayerCount: Int { prunableIndices.count }
  public func prunableLayer(_ i: Int) -> (weights: [Float], rows: Int, columns: Int) {
    let w = prunableIndices[i]
    return (weights[w], weightLayers[w].rows, weightLayers[w].columns)
  }
  public func zeroingRows(_ rows: [[Int]]) -> LayerNet<Float> {
    var net = self
    let prunable = prunableIndices
    for (i, list) in rows.enumerated() where i < prunable.count {
      let w = prunable[i]
      let columns = weightLayers[w].columns
      for j in list {
        for k in 0..<columns { net.weights[w][j * columns + k] = 0 }
      }
    }
    return net
  }
}

/// Compressibility measurements of a trained network, without retraining (method doc §4 and
/// §7). Units are the rows (neurons or filters) of each prunable layer; the output layer (and a
/// CNN's first convolution) is never pruned.
public enum Compression {
  /// κ values of the error curve err(κ).
  public static let keptFractions: [Double] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
  /// q values of the fixed-ratio curve: 0, 0.1, …, 1.0.
  public static let prunedFractions: [Double] = (0...10).map { Double($0) / 10 }

  /// Squared ℓ2 norm of every row of a row-major `rows × columns` matrix, in Double.
  public static func squaredRowNorms<S: BLASScalar>(_ w: [S], rows: Int, columns: Int)
    -> [Double]
  {
    var out = [Double](repeating: 0, count: rows)
    w.withBase { p in
      for j in 0..<rows {
        var s = 0.0
        let row = p + j * columns
        for i in 0..<columns {
          let v = Double(row[i])
          s += v * v
        }
        out[j] = s
      }
    }
    return out
  }

  /// The analysis of one weight matrix that needs no data: pruning at the budget, error curve,
  /// tail indices of row norms and entries. Also returns every row, smallest norm first (the
  /// first `layer.prunedRows` of them are the ones pruned at the budget).
  public static func analyse<S: BLASScalar>(
    _ w: [S], rows: Int, columns: Int, budget: Double
  ) -> (layer: LayerCompression, smallestFirst: [Int]) {
    let sq = squaredRowNorms(w, rows: rows, columns: columns)
    let (count, err) = Pruning.budgetCount(squaredNorms: sq, budget: budget)
    let order = Pruning.smallestFirst(squaredNorms: sq)
    let curve = Pruning.errorCurve(squaredNorms: sq, kept: keptFractions)
    let norms = TailIndex.estimate(sq.map { $0.squareRoot() })
    let entries = TailIndex.estimate(w.map { Double($0) })
    let layer = LayerCompression(
      rows: rows, columns: columns, prunedRows: count, squaredRelativeError: err,
      errorCurve: zip(keptFractions, curve).map {
        ErrorCurvePoint(kept: $0.0, relativeError: $0.1)
      },
      tailIndexNorms: TailIndexEstimate(
        hill: norms.hill, hillK: norms.hillK, other: norms.other, otherName: norms.otherName),
      tailIndexEntries: TailIndexEstimate(
        hill: entries.hill, hillK: entries.hillK, other: entries.other,
        otherName: entries.otherName))
    return (layer, order)
  }

  /// A copy of `network` with the given rows of each hidden layer set to zero.
  public static func zeroingRows(_ network: Network<Float>, rows: [[Int]]) -> Network<Float> {
    var net = network
    for (l, list) in rows.enumerated() where l < net.depth {
      let columns = net.shape(layer: l).columns
      for j in list {
        for i in 0..<columns { net.layers[l][j * columns + i] = 0 }
      }
    }
    return net
  }

  /// Pruning ratio: fraction of the prunable layers' parameters removed (hidden layers of a
  /// fully connected network; a CNN's convolutions but the first).
  public static func pruningRatio(_ layers: [LayerCompression]) -> Double {
    let total = layers.reduce(0) { $0 + $1.rows * $1.columns }
    let removed = layers.reduce(0) { $0 + $1.prunedRows * $1.columns }
    return total == 0 ? 0 : Double(removed) / Double(total)
  }

  /// Every measurement of §4 for a trained network: per-layer pruning at `budget`, error
  /// curves and tail indices; train/test accuracy and loss unpruned and pruned; the
  /// fixed-ratio curve of test accuracy.
  ///
  /// - Parameter unpruned: the evaluation of `network` as it is, if already known (training
  ///   ends with one); computed when nil.
  public static func measure<N: PrunableNetwork>(
    network: N, dataset: Dataset, budget: Double, unpruned: EvalPoint? = nil,
    iteration: Int = 0
  ) -> CompressionReport {
    var layers: [LayerCompression] = []
    var orders: [[Int]] = []
    for l in 0..<network.prunableLayerCount {
      let (w, r, c) = network.prunableLayer(l)
      let (layer, order) = analyse(w, rows: r, columns: c, budget: budget)
      layers.append(layer)
      orders.append(order)
    }
    let budgetRows = zip(orders, layers).map { Array($0.prefix($1.prunedRows)) }
    let base = unpruned ?? evalPoint(network, dataset, iteration: iteration)
    let prunedNet = network.zeroingRows(budgetRows)
    let pruned = evalPoint(prunedNet, dataset, iteration: base.iteration)
    var curve: [FixedRatioPoint] = []
    for q in prunedFractions {
      let rows = orders.map { Array($0.prefix(Pruning.fixedCount(rows: $0.count, fraction: q))) }
      let te = network.zeroingRows(rows).evaluate(dataset.test)
      curve.append(FixedRatioPoint(pruned: q, testAccuracy: te.accuracy, testLoss: te.loss))
    }
    return CompressionReport(
      budget: budget, pruningRatio: pruningRatio(layers), layers: layers, unpruned: base,
      pruned: pruned, fixedRatioCurve: curve)
  }

  static func evalPoint<N: PrunableNetwork>(_ net: N, _ dataset: Dataset, iteration: Int)
    -> EvalPoint
  {
    let tr = net.evaluate(dataset.train)
    let te = net.evaluate(dataset.test)
    return EvalPoint(
      iteration: iteration, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss,
      testAccuracy: te.accuracy)
  }
}
