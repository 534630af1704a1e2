import Foundation
import TailMath

/// Compressibility measurements of a trained network, without retraining (method doc §4).
/// Units are the rows (neurons) of each hidden layer; the output layer is never pruned.
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

  /// Pruning ratio: fraction of hidden-layer parameters removed (output layer excluded).
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
  public static func measure(
    network: Network<Float>, dataset: Dataset, budget: Double, unpruned: EvalPoint? = nil,
    iteration: Int = 0
  ) -> CompressionReport {
    var layers: [LayerCompression] = []
    var orders: [[Int]] = []
    for l in 0..<network.depth {
      let (r, c) = network.shape(layer: l)
      let (layer, order) = analyse(network.layers[l], rows: r, columns: c, budget: budget)
      layers.append(layer)
      orders.append(order)
    }
    let budgetRows = zip(orders, layers).map { Array($0.prefix($1.prunedRows)) }
    let base = unpruned ?? evalPoint(network, dataset, iteration: iteration)
    let prunedNet = zeroingRows(network, rows: budgetRows)
    let pruned = evalPoint(prunedNet, dataset, iteration: base.iteration)
    var curve: [FixedRatioPoint] = []
    for q in prunedFractions {
      let rows = orders.map { Array($0.prefix(Pruning.fixedCount(rows: $0.count, fraction: q))) }
      let te = zeroingRows(network, rows: rows).evaluate(dataset.test)
      curve.append(FixedRatioPoint(pruned: q, testAccuracy: te.accuracy, testLoss: te.loss))
    }
    return CompressionReport(
      budget: budget, pruningRatio: pruningRatio(layers), layers: layers, unpruned: base,
      pruned: pruned, fixedRatioCurve: curve)
  }

  static func evalPoint(_ net: Network<Float>, _ dataset: Dataset, iteration: Int) -> EvalPoint {
    let tr = net.evaluate(dataset.train)
    let te = net.evaluate(dataset.test)
    return EvalPoint(
      iteration: iteration, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss,
      testAccuracy: te.accuracy)
  }
}
