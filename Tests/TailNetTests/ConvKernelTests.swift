import TailMath
import Testing

@testable import TailNet

/// The two ways of moving data around a convolution's gemm give the same bits: the table
/// kernels (narrow planes) against the row-copy kernels, and a backward pass that reuses the
/// forward pass's im2col matrices against one that recomputes them.
@Suite struct ConvKernelTests {
  /// Random values with exact zeros, negative zeros and repeated values mixed in.
  func values(_ count: Int, rng: inout Xoshiro256) -> [Float] {
    (0..<count).map { _ in
      switch rng.nextInt(below: 8) {
      case 0: return 0
      case 1: return -0.0
      case 2: return 1.5
      default: return Float(rng.nextNormal())
      }
    }
  }

  @Test func tableKernelsEqualTheRowKernelsBitForBit() {
    var rng = Xoshiro256(seed: 17)
    for height in 1...9 {
      for width in [1, 2, 3, 4, 5, 7, 8, 9] {
        let (batch, channels) = (3, 2)
        let plane = height * width
        let x = values(batch * channels * plane, rng: &rng)
        let n = channels * 9 * batch * plane
        var rows = [Float](repeating: .nan, count: n)
        var byTable = [Float](repeating: .nan, count: n)
        let table = ConvKernels.gatherTable(height: height, width: width)
        x.withBase { xp in
          rows.withMutableBase {
            ConvKernels.im2col(
              xp, batch: batch, channels: channels, height: height, width: width, into: $0)
          }
          table.withBase { tp in
            byTable.withMutableBase {
              ConvKernels.im2colByTable(
                xp, batch: batch, channels: channels, plane: plane, table: tp, into: $0)
            }
          }
        }
        #expect(rows.map(\.bitPattern) == byTable.map(\.bitPattern), "im2col \(height)×\(width)")

        let col = values(n, rng: &rng)
        var dx = [Float](repeating: .nan, count: batch * channels * plane)
        var dxByTable = dx
        col.withBase { cp in
          dx.withMutableBase {
            ConvKernels.col2im(
              cp, batch: batch, channels: channels, height: height, width: width, into: $0)
          }
          table.withBase { tp in
            dxByTable.withMutableBase {
              ConvKernels.col2imByTable(
                cp, batch: batch, channels: channels, plane: plane, table: tp, into: $0)
            }
          }
        }
        #expect(dx.map(\.bitPattern) == dxByTable.map(\.bitPattern), "col2im \(height)×\(width)")
      }
    }
  }

  /// A VGG-11 on 28×28 images has convolutions on 28×28 and 14×14 planes (row kernels) and on
  /// 7×7, 4×4 and 2×2 planes (table kernels).
  @Test func keptColumnsGiveTheSameGradientsAsRecomputedOnes() {
    let a = Architecture.vgg11(
      multiplier: 1.0 / 64, input: TensorShape(channels: 1, height: 28, width: 28), classes: 10)
    var rng = Xoshiro256(seed: 5)
    let net = LayerNet<Float>.initialized(architecture: a, rng: &rng)
    let x = (0..<(4 * a.input.count)).map { _ in Float(rng.nextNormal()) }
    let y: [Int32] = [3, 1, 4, 1]
    let kept = net.lossAndGradient(x, labels: y)
    let recomputed = net.lossAndGradient(x, labels: y, keptColumnBudget: 0)
    #expect(kept.loss.bitPattern == recomputed.loss.bitPattern)
    #expect(
      kept.gradient.map { $0.map(\.bitPattern) } == recomputed.gradient.map { $0.map(\.bitPattern) }
    )
    #expect(kept.gradient.joined().contains { $0 != 0 })
  }

  /// 2×2 max-pooling against a direct loop over each (possibly partial) window in row-major
  /// order with a strict `>`: the same maxima and the same argmax on ties (the values repeat
  /// 0, −0 and 1.5 often) and with NaN, for every plane size up to 9×9.
  @Test func maxPoolEqualsADirectLoopOnTiesAndNaN() {
    var rng = Xoshiro256(seed: 23)
    for height in 1...9 {
      for width in 1...9 {
        let planes = 3
        var x = values(planes * height * width, rng: &rng)
        x[rng.nextInt(below: x.count)] = .nan
        let (oh, ow) = ((height + 1) / 2, (width + 1) / 2)
        var y = [Float](repeating: 7, count: planes * oh * ow)
        var am = [Int32](repeating: -1, count: y.count)
        x.withBase { xp in
          y.withMutableBase { yp in
            am.withMutableBase {
              ConvKernels.maxPool(
                xp, planes: planes, height: height, width: width, into: yp, argmax: $0)
            }
          }
        }
        var expected: [Float] = []
        var expectedArgmax: [Int32] = []
        for pl in 0..<planes {
          for oy in 0..<oh {
            for ox in 0..<ow {
              var best = (index: 2 * oy * width + 2 * ox, value: Float.nan)
              best.value = x[pl * height * width + best.index]
              for dy in 0..<2 where 2 * oy + dy < height {
                for dx in 0..<2 where 2 * ox + dx < width {
                  let i = (2 * oy + dy) * width + 2 * ox + dx
                  if x[pl * height * width + i] > best.value {
                    best = (i, x[pl * height * width + i])
                  }
                }
              }
              expected.append(best.value)
              expectedArgmax.append(Int32(best.index))
            }
          }
        }
        #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(height)×\(width)")
        #expect(am == expectedArgmax, "\(height)×\(width)")
      }
    }
  }
}
