import TailMath

/// Synthetic teacher–student data. Inputs are N(0, I_d); the label of x is the argmax over classes
/// of a fixed random teacher network t(x) = W₂ ReLU(W₁ x) − m, with W₁ (teacherWidth × d) entries
/// N(0, 1/d), W₂ (classes × teacherWidth) entries N(0, 1/teacherWidth), and m the mean teacher
/// output over all generated inputs (train and test): centring the outputs keeps every class
/// reasonably frequent (without it one class can dominate, as ReLU outputs are not centred).
/// Everything comes from `Xoshiro256(key: dataSeed, stream: TrialStream.data)`, in this order:
/// W₁, W₂ (row-major), training inputs, test inputs (row-major); so a seed gives bit-identical
/// data. Inputs are not normalised further.
enum SyntheticData {
  static func generate(
    inputs d: Int, classes: Int, trainSize: Int, testSize: Int, teacherWidth h: Int, seed: UInt64
  ) -> RawData {
    var rng = Xoshiro256(key: seed, stream: TrialStream.data.rawValue)
    let s1 = 1 / Double(d).squareRoot()
    let s2 = 1 / Double(h).squareRoot()
    let w1 = (0..<(h * d)).map { _ in rng.nextNormal() * s1 }
    let w2 = (0..<(classes * h)).map { _ in rng.nextNormal() * s2 }
    let n = trainSize + testSize
    let x = (0..<(n * d)).map { _ in Float(rng.nextNormal()) }
    var out = [Double](repeating: 0, count: n * classes)
    var hidden = [Double](repeating: 0, count: h)
    for i in 0..<n {
      for j in 0..<h {
        var s = 0.0
        for k in 0..<d { s += w1[j * d + k] * Double(x[i * d + k]) }
        hidden[j] = max(0, s)
      }
      for c in 0..<classes {
        var s = 0.0
        for j in 0..<h { s += w2[c * h + j] * hidden[j] }
        out[i * classes + c] = s
      }
    }
    var mean = [Double](repeating: 0, count: classes)
    for i in 0..<n { for c in 0..<classes { mean[c] += out[i * classes + c] } }
    for c in 0..<classes { mean[c] /= Double(max(n, 1)) }
    // Balancing offsets: start at the mean output, then nudge each class's offset by its excess
    // share (a few hundred rounds of a decreasing step, deterministic).
    var scale = 0.0
    for c in 0..<classes {
      var v = 0.0
      for i in 0..<n { v += (out[i * classes + c] - mean[c]) * (out[i * classes + c] - mean[c]) }
      scale += (v / Double(max(n, 1))).squareRoot() / Double(classes)
    }
    if scale <= 0 { scale = 1 }
    var labels = [Int32](repeating: 0, count: n)
    func assign() -> [Int] {
      var counts = [Int](repeating: 0, count: classes)
      for i in 0..<n {
        var best = 0
        var bestValue = -Double.infinity
        for c in 0..<classes {
          let v = out[i * classes + c] - mean[c]
          if v > bestValue {
            bestValue = v
            best = c
          }
        }
        labels[i] = Int32(best)
        counts[best] += 1
      }
      return counts
    }
    let tolerance = max(1, n / (20 * classes))  // within 5 % of the equal share
    for round in 0..<400 {
      let counts = assign()
      if (counts.max() ?? 0) - (counts.min() ?? 0) <= tolerance { break }
      let step = scale / (1 + Double(round) / 25)
      for c in 0..<classes {
        mean[c] += step * (Double(counts[c]) / Double(n) - 1 / Double(classes))
      }
    }
    _ = assign()
    return RawData(
      columns: d, classLabels: (0..<classes).map(String.init),
      train: RawSplit(
        features: Array(x[0..<(trainSize * d)]), labels: Array(labels[0..<trainSize])),
      test: RawSplit(features: Array(x[(trainSize * d)...]), labels: Array(labels[trainSize...])),
      normalization: "none (inputs are N(0, I))")
  }
}
