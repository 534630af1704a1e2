import TailMath
import Testing

@testable import TailNet

/// Analytic gradients (the gemm-based backward pass) against central finite differences, in
/// Double. Step h = 1e-6: truncation error O(h²) ≈ 1e-12 and rounding error ≈ 1e-16/h ≈ 1e-10
/// per entry. The error is measured per layer as ‖g_fd − g‖ / (‖g_fd‖ + ‖g‖) (entry-wise ratios
/// blow up on entries whose gradient is ~1e-7); agreement to 1e-6 is a strict check, a wrong
/// transpose or a missing ReLU mask gives errors of order 1.
@Suite struct GradientCheckTests {
  func maxRelativeError(inputs: Int, width: Int, depth: Int, classes: Int, batch: Int, seed: UInt64)
    -> Double
  {
    var rng = Xoshiro256(seed: seed)
    var net = Network<Double>.initialized(
      inputs: inputs, width: width, depth: depth, classes: classes, rng: &rng)
    let x = (0..<(batch * inputs)).map { _ in rng.nextNormal() }
    let y = (0..<batch).map { _ in Int32(rng.nextInt(below: classes)) }
    let (_, g) = net.lossAndGradient(x, labels: y)
    var worst = 0.0
    let h = 1e-6
    for l in 0...depth {
      var diff = 0.0
      var sumNorm = (0.0, 0.0)
      for i in net.layers[l].indices {
        let o = net.layers[l][i]
        net.layers[l][i] = o + h
        let up = net.loss(x, labels: y)
        net.layers[l][i] = o - h
        let down = net.loss(x, labels: y)
        net.layers[l][i] = o
        let numeric = (up - down) / (2 * h)
        diff += (numeric - g[l][i]) * (numeric - g[l][i])
        sumNorm.0 += numeric * numeric
        sumNorm.1 += g[l][i] * g[l][i]
      }
      let rel = diff.squareRoot() / max(1e-12, sumNorm.0.squareRoot() + sumNorm.1.squareRoot())
      worst = max(worst, rel)
    }
    return worst
  }

  @Test(arguments: [(5, 7, 1, 3, 4), (12, 9, 1, 10, 6), (6, 8, 2, 3, 5), (4, 5, 3, 2, 3)])
  func backwardMatchesFiniteDifferences(shape: (Int, Int, Int, Int, Int)) {
    let err = maxRelativeError(
      inputs: shape.0, width: shape.1, depth: shape.2, classes: shape.3, batch: shape.4, seed: 11)
    #expect(err < 1e-6, "max relative error \(err)")
  }

  @Test func initialisationIsUniformWithinFanInBound() {
    var rng = Xoshiro256(seed: 5)
    let net = Network<Float>.initialized(inputs: 784, width: 300, depth: 2, classes: 10, rng: &rng)
    for l in 0...2 {
      let bound = Float(1 / Double(net.shape(layer: l).columns).squareRoot())
      let w = net.layers[l]
      #expect(w.allSatisfy { abs($0) <= bound })
      // Uniform on [−b, b] has variance b²/3; with ≥ 3000 weights the sample variance is
      // within 10 % of it (its relative standard error is about √(0.8/N) < 2 %).
      let variance = w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)
      let expected = Double(bound) * Double(bound) / 3
      #expect(abs(variance / expected - 1) < 0.1)
    }
  }
}
