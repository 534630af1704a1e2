import Foundation

/// The shape of one example as it flows through a network: channels × height × width (NCHW
/// without the batch). A vector of n features is n × 1 × 1.
public struct TensorShape: Hashable, Sendable, Codable, CustomStringConvertible {
  public var channels: Int
  public var height: Int
  public var width: Int

  public init(channels: Int, height: Int = 1, width: Int = 1) {
    self.channels = channels
    self.height = height
    self.width = width
  }

  /// Values per example.
  public var count: Int { channels * height * width }
  /// Pixels per channel.
  public var plane: Int { height * width }

  public var description: String { "\(channels)×\(height)×\(width)" }
}

/// One layer of a network description (method doc §2 and §7). No layer has a bias.
public enum LayerKind: Hashable, Sendable {
  /// 3×3 convolution, padding 1, stride 1, then ReLU. Weights: outChannels × (in·3·3), one row
  /// per output filter (the filter's in·3·3 weights in (channel, ky, kx) order, PyTorch's).
  case conv3x3(outChannels: Int)
  /// 2×2 max-pooling with stride 2. An odd height or width keeps its last row or column as a
  /// partial window (PyTorch's `ceil_mode=True`), so 28×28 images pool 28→14→7→4→2→1; on even
  /// sizes (CIFAR's 32×32) this is the usual floor-mode pooling.
  case maxPool2
  /// Average over each channel's plane, to channels × 1 × 1.
  case globalAveragePool
  /// Fully connected layer on the flattened input, optionally followed by ReLU. Weights:
  /// outputs × inputs, one row per output unit.
  case linear(outputs: Int, relu: Bool)

  /// Whether the layer has a weight matrix (convolutions and linear layers).
  public var hasWeights: Bool {
    switch self {
    case .conv3x3, .linear: return true
    case .maxPool2, .globalAveragePool: return false
    }
  }
}

/// A network as a list of layers: the one description from which both the fully connected
/// network and VGG-11 are built. Noise, pruning and tail indices see only its *prunable layers*:
/// the weight layers other than the output layer and the first convolution, each a matrix
/// with one row per unit (a neuron or a filter).
public struct Architecture: Hashable, Sendable {
  /// Shape of one input example.
  public var input: TensorShape
  /// The layers in order; the last is the output layer (a linear layer without ReLU).
  public var layers: [LayerKind]

  public init(input: TensorShape, layers: [LayerKind]) {
    self.input = input
    self.layers = layers
  }

  /// The method doc's §2 network: `depth` hidden linear layers of `width` with ReLU, then the
  /// linear output layer, on `inputs` features.
  public static func fullyConnected(inputs: Int, width: Int, depth: Int, classes: Int)
    -> Architecture
  {
    Architecture(
      input: TensorShape(channels: inputs),
      layers: Array(repeating: .linear(outputs: width, relu: true), count: depth)
        + [.linear(outputs: classes, relu: false)])
  }

  /// The public code's VGG-11 configuration `Awide` (method doc §7): channels
  /// [128, M, 256, M, 512, 512, M, 1024, 1024, M, 1024, 1024, M], each count c becoming
  /// ⌈multiplier·c⌉; global average pooling; one linear layer to `classes`.
  public static let vgg11Plan: [Int?] = [
    128, nil, 256, nil, 512, 512, nil, 1024, 1024, nil, 1024, 1024, nil,
  ]

  /// VGG-11-wide with channel multiplier `multiplier` (1 is the paper's network).
  public static func vgg11(multiplier: Double, input: TensorShape, classes: Int) -> Architecture {
    var layers: [LayerKind] = []
    for c in vgg11Plan {
      if let c {
        layers.append(.conv3x3(outChannels: scaledChannels(c, multiplier: multiplier)))
      } else {
        layers.append(.maxPool2)
      }
    }
    layers.append(.globalAveragePool)
    layers.append(.linear(outputs: classes, relu: false))
    return Architecture(input: input, layers: layers)
  }

  /// ⌈m·c⌉, at least 1. The product is rounded to 12 significant digits first, so that
  /// multipliers written in decimal (0.1 · 1024 = 102.40000000000001) do not gain a channel.
  public static func scaledChannels(_ c: Int, multiplier m: Double) -> Int {
    let x = (m * Double(c) * 1e9).rounded() / 1e9
    return max(1, Int(x.rounded(.up)))
  }

  /// The shape after each layer (`shapes[i]` is layer i's output).
  public var shapes: [TensorShape] {
    var s = input
    var out: [TensorShape] = []
    for l in layers {
      switch l {
      case .conv3x3(let o): s = TensorShape(channels: o, height: s.height, width: s.width)
      case .maxPool2:
        s = TensorShape(channels: s.channels, height: (s.height + 1) / 2, width: (s.width + 1) / 2)
      case .globalAveragePool: s = TensorShape(channels: s.channels)
      case .linear(let o, _): s = TensorShape(channels: o)
      }
      out.append(s)
    }
    return out
  }

  /// The input shape of layer `i`.
  public func inputShape(of i: Int) -> TensorShape { i == 0 ? input : shapes[i - 1] }

  /// One weight matrix of the network.
  public struct WeightLayer: Hashable, Sendable {
    /// Index of the layer in `layers`.
    public var layer: Int
    /// Units (filters or neurons): the rows of the matrix.
    public var rows: Int
    /// Weights per unit: in·3·3 for a convolution, the fan-in for a linear layer.
    public var columns: Int
    /// Whether it is a convolution (else a linear layer).
    public var isConvolution: Bool
    /// Whether noise is injected into it and it is pruned: every weight layer except the
    /// output layer and the first convolution.
    public var isPrunable: Bool
  }

  /// The weight layers, input side first.
  public var weightLayers: [WeightLayer] {
    var out: [WeightLayer] = []
    var firstConvolutionSeen = false
    let lastWeight = layers.lastIndex { $0.hasWeights }
    for (i, l) in layers.enumerated() {
      let inShape = inputShape(of: i)
      switch l {
      case .conv3x3(let o):
        out.append(
          WeightLayer(
            layer: i, rows: o, columns: inShape.channels * 9, isConvolution: true,
            isPrunable: firstConvolutionSeen && i != lastWeight))
        firstConvolutionSeen = true
      case .linear(let o, _):
        out.append(
          WeightLayer(
            layer: i, rows: o, columns: inShape.count, isConvolution: false,
            isPrunable: i != lastWeight))
      case .maxPool2, .globalAveragePool:
        continue
      }
    }
    return out
  }

  /// Problems with the description, empty when it can be built and trained.
  public func problems() -> [String] {
    var p: [String] = []
    if input.count < 1 { p.append("empty input shape \(input)") }
    guard case .linear(_, false)? = layers.last else {
      return p + ["the last layer must be a linear output layer without ReLU"]
    }
    var s = input
    for (i, l) in layers.enumerated() {
      switch l {
      case .conv3x3(let o): if o < 1 { p.append("layer \(i): \(o) output channels") }
      case .linear(let o, _): if o < 1 { p.append("layer \(i): \(o) outputs") }
      case .maxPool2, .globalAveragePool: break
      }
      s = shapes[i]
      if s.count < 1 { p.append("layer \(i) has an empty output \(s)") }
    }
    return p
  }

  /// Multiply-adds of one example's forward pass (convolutions and linear layers).
  public var forwardMultiplyAdds: Double {
    weightLayers.reduce(0.0) { sum, w in
      let plane = Double(shapes[w.layer].plane)
      return sum + Double(w.rows) * Double(w.columns) * plane
    }
  }
}

extension DatasetSpec {
  /// The shape of one example as an image: 1×28×28 for MNIST and Fashion-MNIST, 3×32×32 for
  /// CIFAR-10/100 (their files are stored in this NCHW order); nil for other data.
  public var imageShape: TensorShape? {
    switch name.lowercased() {
    case "mnist", "fashion-mnist": return TensorShape(channels: 1, height: 28, width: 28)
    case "cifar10", "cifar100": return TensorShape(channels: 3, height: 32, width: 32)
    default: return nil
    }
  }
}
