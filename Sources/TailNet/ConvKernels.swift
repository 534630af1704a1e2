/// The data-movement kernels of the convolutional layers (method doc §7), on NCHW tensors:
/// im2col and its adjoint for 3×3 convolutions with padding 1 and stride 1 (the arithmetic is one
/// sgemm per layer and direction), 2×2 max-pooling with its argmax, global average pooling.
/// Every loop runs in a fixed order, so results are bit-reproducible.
enum ConvKernels {
  /// im2col of a 3×3, padding 1, stride 1 convolution: `x` is batch × channels × height × width
  /// (NCHW); `col` receives the (channels·9) × (batch·height·width) row-major matrix whose row
  /// (c·3 + ky)·3 + kx holds, for every output position (b, y, x), the input value
  /// x[b, c, y + ky − 1, x + kx − 1] (0 outside the image).
  static func im2col<S: BLASScalar>(
    _ x: UnsafePointer<S>, batch: Int, channels: Int, height: Int, width: Int,
    into col: UnsafeMutablePointer<S>
  ) {
    let plane = height * width
    let n = batch * plane
    for c in 0..<channels {
      for ky in 0..<3 {
        let dy = ky - 1
        for kx in 0..<3 {
          let dx = kx - 1
          let row = col + ((c * 3 + ky) * 3 + kx) * n
          // Output columns whose input column x + dx is inside the image.
          let x0 = max(0, -dx)
          let x1 = min(width, width - dx)
          for b in 0..<batch {
            let src = x + (b * channels + c) * plane
            let dst = row + b * plane
            for oy in 0..<height {
              let iy = oy + dy
              let d = dst + oy * width
              if iy < 0 || iy >= height {
                d.update(repeating: 0, count: width)
                continue
              }
              if x0 > 0 { d[0] = 0 }
              if x1 < width { d[width - 1] = 0 }
              if x1 > x0 { (d + x0).update(from: src + iy * width + x0 + dx, count: x1 - x0) }
            }
          }
        }
      }
    }
  }

  /// Planes narrower than this use the gather kernels (`im2colByTable`, `col2imByTable`): on
  /// short rows the row copies of `im2col` and `col2im` cost more per value than a table.
  static let gatherBelowWidth = 8

  /// For a 3×3, padding 1 convolution on height × width planes: for each tap t = ky·3 + kx and
  /// output position p = oy·width + ox, the input position (oy + ky − 1)·width + ox + kx − 1, or
  /// −1 where that lies outside the plane. 9·height·width entries.
  static func gatherTable(height: Int, width: Int) -> [Int32] {
    var table = [Int32](repeating: -1, count: 9 * height * width)
    for ky in 0..<3 {
      for kx in 0..<3 {
        for oy in 0..<height {
          for ox in 0..<width {
            let iy = oy + ky - 1
            let ix = ox + kx - 1
            guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
            table[((ky * 3 + kx) * height + oy) * width + ox] = Int32(iy * width + ix)
          }
        }
      }
    }
    return table
  }

  /// `im2col` through `gatherTable(height:width:)` (`table`): the same matrix, bit for bit.
  static func im2colByTable<S: BLASScalar>(
    _ x: UnsafePointer<S>, batch: Int, channels: Int, plane: Int, table: UnsafePointer<Int32>,
    into col: UnsafeMutablePointer<S>
  ) {
    let n = batch * plane
    for c in 0..<channels {
      for t in 0..<9 {
        let row = col + (c * 9 + t) * n
        let tap = table + t * plane
        for b in 0..<batch {
          let src = x + (b * channels + c) * plane
          let dst = row + b * plane
          for p in 0..<plane {
            let i = Int(tap[p])
            dst[p] = i < 0 ? 0 : src[i]
          }
        }
      }
    }
  }

  /// `col2im` through `gatherTable(height:width:)` (`table`): each input value is the sum, from
  /// 0 and in tap order, of the entries `im2col` copied it to (every tap copies a value at most
  /// once), so the result equals `col2im`'s bit for bit.
  static func col2imByTable<S: BLASScalar>(
    _ col: UnsafePointer<S>, batch: Int, channels: Int, plane: Int, table: UnsafePointer<Int32>,
    into dx: UnsafeMutablePointer<S>
  ) {
    let n = batch * plane
    dx.update(repeating: 0, count: batch * channels * plane)
    for c in 0..<channels {
      for t in 0..<9 {
        let row = col + (c * 9 + t) * n
        let tap = table + t * plane
        for b in 0..<batch {
          let dst = dx + (b * channels + c) * plane
          let src = row + b * plane
          for p in 0..<plane {
            let i = Int(tap[p])
            if i >= 0 { dst[i] += src[p] }
          }
        }
      }
    }
  }

  /// The adjoint of `im2col`: `dx` (batch × channels × height × width) is set to the sum, over
  /// the entries of `col` that `im2col` would have copied from each input value, of those
  /// entries. Accumulated in (c, ky, kx, b, y, x) order.
  static func col2im<S: BLASScalar>(
    _ col: UnsafePointer<S>, batch: Int, channels: Int, height: Int, width: Int,
    into dx: UnsafeMutablePointer<S>
  ) {
    let plane = height * width
    let n = batch * plane
    dx.update(repeating: 0, count: batch * channels * plane)
    for c in 0..<channels {
      for ky in 0..<3 {
        let dy = ky - 1
        for kx in 0..<3 {
          let ddx = kx - 1
          let row = col + ((c * 3 + ky) * 3 + kx) * n
          let x0 = max(0, -ddx)
          let x1 = min(width, width - ddx)
          guard x1 > x0 else { continue }
          for b in 0..<batch {
            let dst = dx + (b * channels + c) * plane
            let src = row + b * plane
            for oy in 0..<height {
              let iy = oy + dy
              if iy < 0 || iy >= height { continue }
              let s = src + oy * width
              let d = dst + iy * width + ddx
              for ox in x0..<x1 { d[ox] += s[ox] }
            }
          }
        }
      }
    }
  }

  /// ReLU of the gemm result `tmp` (outChannels × (batch·plane)) written into NCHW `y`
  /// (batch × outChannels × plane): `y[b, o, p] = max(tmp[o, b·plane + p], 0)` (NaN and −0
  /// become +0, as `reluInPlace`).
  static func toNCHWReLU<S: BLASScalar>(
    _ tmp: UnsafePointer<S>, outChannels: Int, batch: Int, plane: Int,
    into y: UnsafeMutablePointer<S>
  ) {
    let n = batch * plane
    for o in 0..<outChannels {
      for b in 0..<batch {
        let src = tmp + o * n + b * plane
        let dst = y + (b * outChannels + o) * plane
        for p in 0..<plane {
          let v = src[p]
          dst[p] = v > 0 ? v : 0
        }
      }
    }
  }

  /// The ReLU-masked gradient in gemm layout: `dtmp[o, b·plane + p] = y[b, o, p] > 0 ?
  /// dy[b, o, p] : 0` (NCHW `dy` and `y`, batch × outChannels × plane).
  static func fromNCHWMasked<S: BLASScalar>(
    _ dy: UnsafePointer<S>, mask y: UnsafePointer<S>, outChannels: Int, batch: Int, plane: Int,
    into dtmp: UnsafeMutablePointer<S>
  ) {
    let n = batch * plane
    for o in 0..<outChannels {
      for b in 0..<batch {
        let offset = (b * outChannels + o) * plane
        let d = dtmp + o * n + b * plane
        let g = dy + offset
        let h = y + offset
        for p in 0..<plane { d[p] = h[p] > 0 ? g[p] : 0 }
      }
    }
  }

  /// 2×2 max-pooling with stride 2 over `planes` planes of height × width (partial windows at
  /// an odd last row or column). Writes the maxima to `y` ((height+1)/2 × (width+1)/2 per plane)
  /// and, in `argmax`, the index within its input plane of each maximum (the first in row-major
  /// window order on ties).
  static func maxPool<S: BLASScalar>(
    _ x: UnsafePointer<S>, planes: Int, height: Int, width: Int, into y: UnsafeMutablePointer<S>,
    argmax: UnsafeMutablePointer<Int32>
  ) {
    let oh = (height + 1) / 2
    let ow = (width + 1) / 2
    for pl in 0..<planes {
      let src = x + pl * height * width
      let dst = y + pl * oh * ow
      let am = argmax + pl * oh * ow
      for oy in 0..<oh {
        let y0 = 2 * oy
        let rows = min(2, height - y0)
        // Whole windows: the same comparisons, in the same order, unrolled.
        let whole = rows == 2 ? width / 2 : 0
        for ox in 0..<whole {
          let i = y0 * width + 2 * ox
          var bestIndex = i
          var best = src[i]
          if src[i + 1] > best {
            best = src[i + 1]
            bestIndex = i + 1
          }
          if src[i + width] > best {
            best = src[i + width]
            bestIndex = i + width
          }
          if src[i + width + 1] > best {
            best = src[i + width + 1]
            bestIndex = i + width + 1
          }
          dst[oy * ow + ox] = best
          am[oy * ow + ox] = Int32(bestIndex)
        }
        for ox in whole..<ow {
          let x0 = 2 * ox
          let cols = min(2, width - x0)
          var bestIndex = y0 * width + x0
          var best = src[bestIndex]
          for dy in 0..<rows {
            for dx in 0..<cols {
              let i = (y0 + dy) * width + x0 + dx
              if src[i] > best {
                best = src[i]
                bestIndex = i
              }
            }
          }
          dst[oy * ow + ox] = best
          am[oy * ow + ox] = Int32(bestIndex)
        }
      }
    }
  }

  /// The gradient of `maxPool`: each output's gradient goes to its argmax, the rest is 0.
  static func maxPoolBackward<S: BLASScalar>(
    _ dy: UnsafePointer<S>, argmax: UnsafePointer<Int32>, planes: Int, height: Int, width: Int,
    into dx: UnsafeMutablePointer<S>
  ) {
    let plane = height * width
    let outPlane = ((height + 1) / 2) * ((width + 1) / 2)
    dx.update(repeating: 0, count: planes * plane)
    for pl in 0..<planes {
      let d = dx + pl * plane
      for i in 0..<outPlane {
        d[Int(argmax[pl * outPlane + i])] += dy[pl * outPlane + i]
      }
    }
  }

  /// Mean of each of `planes` planes of `plane` values (summed in order, then divided).
  static func globalAveragePool<S: BLASScalar>(
    _ x: UnsafePointer<S>, planes: Int, plane: Int, into y: UnsafeMutablePointer<S>
  ) {
    let inv = 1 / S(plane)
    for pl in 0..<planes {
      var s: S = 0
      let src = x + pl * plane
      for i in 0..<plane { s += src[i] }
      y[pl] = s * inv
    }
  }

  /// The gradient of `globalAveragePool`: dy/plane to every value of the plane.
  static func globalAveragePoolBackward<S: BLASScalar>(
    _ dy: UnsafePointer<S>, planes: Int, plane: Int, into dx: UnsafeMutablePointer<S>
  ) {
    let inv = 1 / S(plane)
    for pl in 0..<planes {
      let v = dy[pl] * inv
      (dx + pl * plane).update(repeating: v, count: plane)
    }
  }
}
