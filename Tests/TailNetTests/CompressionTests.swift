import Foundation
import TailMath
import Testing

@testable import TailNet

@Suite struct CompressionTests {
  func trained(sigma: Double, depth: Int = 1) throws -> (Network<Float>, Dataset, TrainingSummary) {
    let data = try smallSynthetic()
    let r = Trainer.train(
      config: config(sigma: sigma, width: 40, depth: depth, maxIterations: 200), dataset: data,
      noiseKey: 3, clock: clock)
    return (try #require(r.network), data, r.summary)
  }

  @Test func reportIsConsistentWithItsLayers() throws {
    let (net, data, summary) = try trained(sigma: 0.5, depth: 2)
    let c = Compression.measure(network: net, dataset: data, budget: 0.1, unpruned: summary.final)
    #expect(c.layers.count == 2)
    let removed = c.layers.reduce(0) { $0 + $1.prunedRows * $1.columns }
    #expect(c.pruningRatio == Double(removed) / Double(net.hiddenParameterCount))
    for l in c.layers {
      #expect(l.squaredRelativeError <= 0.1 + 1e-12)
      #expect(l.errorCurve.map(\.kept) == Compression.keptFractions)
      // Keeping more rows never increases the error.
      let errs = l.errorCurve.map(\.relativeError)
      #expect(zip(errs, errs.dropFirst()).allSatisfy { $0 >= $1 })
    }
    #expect(c.fixedRatioCurve.map(\.pruned) == Compression.prunedFractions)
    // q = 0 prunes nothing: the unpruned test accuracy.
    #expect(c.fixedRatioCurve[0].testAccuracy == c.unpruned.testAccuracy)
  }

  @Test func prunedAccuracyIsThatOfTheZeroedNetwork() throws {
    let (net, data, _) = try trained(sigma: 0.5)
    let c = Compression.measure(network: net, dataset: data, budget: 0.2)
    let sq = Compression.squaredRowNorms(net.layers[0], rows: net.width, columns: net.inputs)
    let order = Pruning.smallestFirst(squaredNorms: sq)
    let zeroed = Compression.zeroingRows(net, rows: [Array(order.prefix(c.layers[0].prunedRows))])
    let te = zeroed.evaluate(data.test)
    #expect(te.accuracy == c.pruned.testAccuracy)
    #expect(te.loss == c.pruned.testLoss)
  }

  @Test func zeroBudgetPrunesNothing() throws {
    let (net, data, _) = try trained(sigma: 0)
    let c = Compression.measure(network: net, dataset: data, budget: 0)
    #expect(c.pruningRatio == 0)
    #expect(c.pruned.testAccuracy == c.unpruned.testAccuracy)
  }

  @Test func noiseMakesTheTrainedNetworkMoreCompressible() throws {
    // Per-neuron α-stable noise with a large σ dominates the row norms; plain SGD keeps the
    // near-uniform initial norms (ratio ≈ 0.1). Deterministic (fixed seeds and keys).
    let (plain, data, _) = try trained(sigma: 0)
    let (noisy, _, _) = try trained(sigma: 0.5)
    let a = Compression.measure(network: plain, dataset: data, budget: 0.1).pruningRatio
    let b = Compression.measure(network: noisy, dataset: data, budget: 0.1).pruningRatio
    #expect(b > a + 0.2, "plain \(a), noisy \(b)")
  }
}
