import Foundation
import Testing

@testable import TailNet

/// Readers on the real files that `make setup` puts in data/ (MNIST, Fashion-MNIST, UCR).
@Suite struct DataRealFilesTests {
  /// Mean and population std of all values of a matrix (in Double).
  func moments(_ m: FeatureMatrix) -> (mean: Double, std: Double) {
    var s = 0.0
    var s2 = 0.0
    for v in m.toArray() {
      s += Double(v)
      s2 += Double(v) * Double(v)
    }
    let n = Double(m.rows * m.columns)
    return (s / n, (s2 / n - (s / n) * (s / n)).squareRoot())
  }

  @Test func mnistHasOfficialShapesLabelsAndNormalisation() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "mnist/train-images-idx3-ubyte")
    let ds = try catalog.load(DatasetSpec(name: "mnist"))
    #expect(ds.train.count == 60000 && ds.test.count == 10000)
    #expect(ds.inputs == 784 && ds.classes == 10)
    #expect(ds.train.features.rows == 60000 && ds.train.features.columns == 784)
    #expect(ds.train.labels.prefix(4) == [5, 0, 4, 1])  // the well-known first digits
    #expect(ds.test.labels.prefix(4) == [7, 2, 1, 0])
    #expect(ds.train.labels.allSatisfy { (0..<10).contains($0) })
    #expect(ds.test.labels.allSatisfy { (0..<10).contains($0) })
    // Pixel 156 of the first training image is 126 (byte in the official IDX file).
    let expected = (Float(126) / 255 - 0.1307) / 0.3081
    #expect(abs(ds.train.features.row(0)[156] - expected) < 1e-6)  // float rounding only
    #expect(abs(ds.train.features[0, 0] - (0 - 0.1307) / 0.3081) < 1e-6)
    // The constants are MNIST's own mean and std of x/255 (0.13066, 0.30811), so the normalised
    // training set has mean ≈ 0 and std ≈ 1; 0.01 allows the constants' 4-digit rounding.
    let (mean, std) = moments(ds.train.features)
    #expect(abs(mean) < 0.01)
    #expect(abs(std - 1) < 0.01)
    // SHA-256 of the manifest lines of the four official files (computed independently with
    // Python's hashlib).
    #expect(ds.sourceHash == "7c26287815168c0fac70036eba3dc165746b487bd66352bc90f4b124bef22166")
  }

  @Test func mnistSecondLoadMapsTheSameCacheFile() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "mnist/train-images-idx3-ubyte")
    let a = try catalog.load(DatasetSpec(name: "mnist"))
    let b = try catalog.load(DatasetSpec(name: "mnist", trainLimit: 1000, testLimit: 10))
    let cache = catalog.directory.appendingPathComponent("cache/mnist.train.f32").path
    #expect(a.train.features.mappedPath == cache)
    #expect(b.train.features.mappedPath == cache)
    #expect(b.train.count == 1000 && b.test.count == 10)
    // The same bytes: limits share the mapping, so row 999 is identical.
    #expect(a.train.features.row(999) == b.train.features.row(999))
    #expect(
      a.test.features.mappedPath
        == catalog.directory.appendingPathComponent("cache/mnist.test.f32").path)
  }

  @Test func fashionMNISTHasOfficialShapesAndBalancedClasses() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "fashion-mnist/train-images-idx3-ubyte")
    let ds = try catalog.load(DatasetSpec(name: "fashion-mnist"))
    #expect(ds.train.count == 60000 && ds.test.count == 10000 && ds.inputs == 784)
    #expect(ds.train.labels.prefix(5) == [9, 0, 0, 3, 0])  // first labels of the official files
    #expect(ds.test.labels.prefix(4) == [9, 2, 1, 1])
    var counts = [Int](repeating: 0, count: 10)
    for l in ds.train.labels { counts[Int(l)] += 1 }
    #expect(counts == [Int](repeating: 6000, count: 10))
    // Own mean/std (0.2860, 0.3530), rounded to 4 digits: 0.01 tolerance as for MNIST.
    let (mean, std) = moments(ds.train.features)
    #expect(abs(mean) < 0.01)
    #expect(abs(std - 1) < 0.01)
    #expect(ds.sourceHash == "be89ba926475da25155ea7951d24fd661bfe46f5b93167ed88fd99ee99c65fdb")
  }

  @Test func ucrItalyPowerDemandFromTSFiles() throws {
    let catalog = try DataTestSupport.realCatalog(
      needs: "ucr/ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts")
    let ds = try catalog.load(DatasetSpec(name: "ucr/ItalyPowerDemand"))
    #expect(ds.train.count == 67 && ds.test.count == 1029)
    #expect(ds.inputs == 24 && ds.classes == 2 && ds.classLabels == ["1", "2"])
    #expect(ds.train.labels.prefix(3) == [0, 0, 1])  // labels 1, 1, 2 in the file
    #expect(ds.train.features.mappedPath == nil)  // small sets live in owned memory
    // Each series is z-normalised: mean 0, std 1 up to Float rounding (1e-4).
    for split in [ds.train, ds.test] {
      for i in 0..<split.count {
        let row = split.features.row(i).map(Double.init)
        let m = row.reduce(0, +) / 24
        let v = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 24
        #expect(abs(m) < 1e-4 && abs(v.squareRoot() - 1) < 1e-4)
      }
    }
    #expect(ds.sourceHash == "4a263475241707b05e4771ba661403ea1859adcfb3c9e5021e125d7f2882c952")
  }

  @Test func ucrShippedSetsHaveTheirPublishedSizes() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "ucr/GunPoint/GunPoint_TRAIN.ts")
    let sizes: [(String, Int, Int, Int, Int)] = [
      ("GunPoint", 50, 150, 150, 2), ("ArrowHead", 36, 175, 251, 3), ("OSULeaf", 200, 242, 427, 6),
      ("ACSF1", 100, 100, 1460, 10),
    ]
    for (name, ntr, nte, len, c) in sizes {
      let ds = try catalog.load(DatasetSpec(name: "ucr/\(name)"))
      #expect(
        ds.train.count == ntr && ds.test.count == nte && ds.inputs == len && ds.classes == c,
        "\(name)")
      #expect(ds.train.labels.allSatisfy { $0 >= 0 && Int($0) < c })
    }
  }

  @Test func resplitAndBinarizeOnARealUCRSet() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "ucr/ArrowHead/ArrowHead_TRAIN.ts")
    let spec = DatasetSpec(name: "ucr/ArrowHead", binarize: "0", resplit: 100, dataSeed: 7)
    let a = try catalog.load(spec)
    let b = try catalog.load(spec)
    #expect(a.train.count == 100 && a.test.count == 111)
    #expect(a.classes == 2 && a.classLabels == ["0", "not 0"])
    #expect(a.train.labels == b.train.labels && a.test.labels == b.test.labels)
    #expect(a.train.features.toArray() == b.train.features.toArray())
    let c = try catalog.load(
      DatasetSpec(name: "ucr/ArrowHead", binarize: "0", resplit: 100, dataSeed: 8))
    #expect(a.train.features.toArray() != c.train.features.toArray())
    // Class 0 is the original label "0", with its count preserved across the pool.
    let original = try catalog.load(DatasetSpec(name: "ucr/ArrowHead"))
    let zeros = (original.train.labels + original.test.labels).filter { $0 == 0 }.count
    #expect((a.train.labels + a.test.labels).filter { $0 == 0 }.count == zeros)
  }

  @Test func availableListsRealSets() throws {
    let catalog = try DataTestSupport.realCatalog(needs: "MANIFEST.sha256")
    let infos = catalog.available()
    let byName = Dictionary(uniqueKeysWithValues: infos.map { ($0.name, $0) })
    let mnist = try #require(byName["mnist"])
    #expect(mnist.present && mnist.trainCount == 60000 && mnist.testCount == 10000)
    #expect(mnist.sha256 == "7c26287815168c0fac70036eba3dc165746b487bd66352bc90f4b124bef22166")
    let ipd = try #require(byName["ucr/ItalyPowerDemand"])
    #expect(
      ipd.present && ipd.trainCount == 67 && ipd.testCount == 1029 && ipd.inputs == 24
        && ipd.classes == 2)
    #expect(byName["synthetic"]?.present == true)
  }
}
