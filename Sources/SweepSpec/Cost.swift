import TailNet

extension DatasetSpec {
  /// Input dimension and number of classes used by the cost estimate: MNIST and Fashion-MNIST
  /// 784×10, CIFAR-10 3072×10, CIFAR-100 3072×100, synthetic from its spec (defaults 20×2);
  /// a UCR set's shape is unknown before its file is read, so it is taken as ECG5000's:
  /// 140 inputs and 5 classes. `binarize` makes any set 2 classes.
  public var estimatedShape: (inputs: Int, classes: Int) {
    let d = normalized()
    var shape: (inputs: Int, classes: Int)
    switch d.name {
    case "mnist", "fashion-mnist": shape = (784, 10)
    case "cifar10": shape = (3072, 10)
    case "cifar100": shape = (3072, 100)
    case "synthetic":
      shape = (
        d.inputs ?? DatasetSpec.syntheticDefaults.inputs,
        d.classes ?? DatasetSpec.syntheticDefaults.classes
      )
    default: shape = (140, 5)
    }
    if d.binarize != nil { shape.classes = 2 }
    return shape
  }
}

extension TrialConfig {
  /// A deterministic estimate of the trial's training work, in multiply-adds up to a constant:
  /// `maxIterations × batchSize × (inputs·width + (depth−1)·width² + width·classes)`, with the
  /// data set's shape from `DatasetSpec.estimatedShape`. Evaluation and early stopping are
  /// ignored: it ranks trials, it does not predict seconds. A VGG counts the multiply-adds of
  /// its forward pass per example instead of the bracket.
  public var estimatedWork: Double {
    let (inputs, classes) = dataset.estimatedShape
    if let a = architecture(classes: classes) {
      return Double(maxIterations) * Double(batchSize) * a.forwardMultiplyAdds
    }
    let n = Double(width)
    let perExample =
      Double(inputs) * n + Double(max(depth - 1, 0)) * n * n + n * Double(classes)
    return Double(maxIterations) * Double(batchSize) * perExample
  }
}
