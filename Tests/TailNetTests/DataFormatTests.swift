import Foundation
import TailSweepTestSupport
import Testing

@testable import TailNet

/// Readers on small files the tests write: malformed input gives a DataError naming the file and
/// the problem; CIFAR; the cache; the spec's cuts.
@Suite struct DataFormatTests {
  typealias S = DataTestSupport

  // MARK: IDX

  @Test func smallIDXSetLoadsAndIsCachedAndMapped() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let catalog = DataCatalog(directory: dir)
    let a = try catalog.load(DatasetSpec(name: "mnist"))
    #expect(a.train.count == 6 && a.test.count == 4 && a.inputs == 784)
    #expect(a.train.labels == [0, 1, 2, 3, 4, 5] && a.test.labels == [9, 8, 7, 6])
    let pixel = Float(UInt8((2 * 7 + 5) % 256))
    #expect(a.train.features.row(2)[5] == (pixel / 255 - 0.1307) / 0.3081)
    let cache = dir.appendingPathComponent("cache/mnist.train.f32").path
    #expect(a.train.features.mappedPath == cache)
    let b = try catalog.load(DatasetSpec(name: "mnist"))
    #expect(b.train.features.mappedPath == cache)
    #expect(a.train.features.toArray() == b.train.features.toArray())
    #expect(a.sourceHash != nil && a.sourceHash == b.sourceHash)
    // Changing a source (size and time) rebuilds the cache with the new contents.
    try S.writeSmallIDXSet(in: dir, train: 8, test: 4)
    let c = try catalog.load(DatasetSpec(name: "mnist"))
    #expect(c.train.count == 8 && c.train.features.mappedPath == cache)
    #expect(c.sourceHash != a.sourceHash)
    // The old mapping stays valid (the file was replaced by rename, not overwritten).
    #expect(a.train.features.row(5)[0] == b.train.features.row(5)[0])
  }

  @Test func concurrentFirstLoadsConvertOnceAndAgree() async throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir, name: "fashion-mnist", train: 20, test: 5)
    let catalog = DataCatalog(directory: dir)
    let sums = try await withThrowingTaskGroup(of: Float.self) { group in
      for _ in 0..<4 {
        group.addTask {
          try catalog.load(DatasetSpec(name: "fashion-mnist")).train.features.toArray().reduce(0, +)
        }
      }
      var out: [Float] = []
      for try await s in group { out.append(s) }
      return out
    }
    #expect(Set(sums).count == 1)
    let leftovers = try FileManager.default.contentsOfDirectory(
      atPath: dir.appendingPathComponent("cache").path
    )
    .filter { $0.contains(".tmp-") }
    #expect(leftovers.isEmpty)
  }

  @Test func truncatedIDXNamesFileAndProblem() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let f = dir.appendingPathComponent("mnist/train-images-idx3-ubyte")
    let full = try [UInt8](Data(contentsOf: f))
    try S.write(Array(full.prefix(full.count - 100)), to: f)
    let message = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(message.contains(f.path) && message.contains("truncated"), "\(message)")
    // A file too short for a header.
    try S.write([0, 0, 8], to: f)
    let short = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(short.contains(f.path) && short.contains("truncated"), "\(short)")
  }

  @Test func wrongIDXMagicNamesFileAndProblem() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let f = dir.appendingPathComponent("mnist/t10k-labels-idx1-ubyte")
    try S.write(S.be32(0x803) + S.be32(4) + [1, 2, 3, 4], to: f)
    let message = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(
      message.contains(f.path) && message.contains("wrong magic number 0x00000803"), "\(message)")
  }

  @Test func imageLabelCountMismatchNamesFileAndProblem() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let f = dir.appendingPathComponent("mnist/train-labels-idx1-ubyte")
    try S.write(S.idxLabels([1, 2, 3, 4, 5]), to: f)
    let message = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(
      message.contains(f.path)
        && message.contains("has 5 labels but train-images-idx3-ubyte has 6 images"), "\(message)")
  }

  @Test func idxLabelOutOfRangeNamesFileAndProblem() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let f = dir.appendingPathComponent("mnist/train-labels-idx1-ubyte")
    try S.write(S.idxLabels([1, 2, 3, 12, 5, 6]), to: f)
    let message = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(
      message.contains(f.path) && message.contains("label 12 at index 3 is out of range 0...9"),
      "\(message)")
  }

  @Test func extraIDXBytesAreRefused() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    try S.writeSmallIDXSet(in: dir)
    let f = dir.appendingPathComponent("mnist/t10k-images-idx3-ubyte")
    try S.write(S.idxImages(n: 4) { _, _ in 0 } + [7], to: f)
    let message = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "mnist"))
    #expect(message.contains(f.path) && message.contains("more than the"), "\(message)")
  }

  @Test func missingFilesSayToRunSetup() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let catalog = DataCatalog(directory: dir)
    let m = S.loadError(catalog, DatasetSpec(name: "mnist"))
    #expect(
      m.contains("train-images-idx3-ubyte") && m.contains("make setup")
        && m.contains("tailsweep data fetch mnist"), "\(m)")
    let u = S.loadError(catalog, DatasetSpec(name: "ucr/GunPoint"))
    #expect(u.contains("GunPoint_TRAIN") && u.contains("make setup"), "\(u)")
    let c = S.loadError(catalog, DatasetSpec(name: "cifar10"))
    #expect(c.contains("data_batch_1.bin") && c.contains("not shipped"), "\(c)")
    let x = S.loadError(catalog, DatasetSpec(name: "imagenet"))
    #expect(x.contains("unknown data set 'imagenet'"), "\(x)")
  }

  // MARK: UCR

  @Test func ucrTextFormatWithMixedSeparatorsAndNumericLabels() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ucr/Toy")
    try S.write(
      "1.0000000e+00,1,2,3\n-1\t3\t2\t1\n10  1 1 2\n\n",
      to: folder.appendingPathComponent("Toy_TRAIN.tsv"))
    try S.write("-1,0,0,0\n1 4 5 6\n", to: folder.appendingPathComponent("Toy_TEST.tsv"))
    let ds = try DataCatalog(directory: dir).load(DatasetSpec(name: "ucr/Toy"))
    // Labels sorted numerically: -1 → 0, 1 → 1, 10 → 2 (not as strings, where "10" < "1"... ).
    #expect(ds.classLabels == ["-1", "1", "10"])
    #expect(ds.train.labels == [1, 0, 2] && ds.test.labels == [0, 1])
    #expect(ds.inputs == 3)
    // z-normalised: (1,2,3) → (−√1.5, 0, √1.5); a constant series is only centred.
    let s = Float(1.5).squareRoot()
    #expect(
      ds.train.features.row(0).enumerated().allSatisfy {
        abs($0.element - [-s, 0, s][$0.offset]) < 1e-6
      })
    #expect(ds.test.features.row(0) == [0, 0, 0])
    let bin = try DataCatalog(directory: dir).load(DatasetSpec(name: "ucr/Toy", binarize: "1.0"))
    #expect(bin.classLabels == ["1", "not 1"] && bin.train.labels == [0, 1, 1])
    let missing = S.loadError(
      DataCatalog(directory: dir), DatasetSpec(name: "ucr/Toy", binarize: "7"))
    #expect(missing.contains("binarize: label '7' is not a class"), "\(missing)")
  }

  @Test func raggedUCRRowsNameFileAndLine() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ucr/Rag")
    let train = folder.appendingPathComponent("Rag_TRAIN.tsv")
    try S.write("1\t1\t2\t3\n2\t1\t2\n", to: train)
    try S.write("1\t1\t2\t3\n", to: folder.appendingPathComponent("Rag_TEST.tsv"))
    let m = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Rag"))
    #expect(
      m.contains(train.path) && m.contains("line 2: ragged row: 2 values, expected 3"), "\(m)")
    let ts = folder.appendingPathComponent("Rag2_TRAIN.ts")
    try S.write("@problemName Rag2\n@classLabel true a b\n@data\n1,2,3:a\n1,2:b\n", to: ts)
    try S.write(
      "@classLabel true a b\n@data\n1,2,3:a\n", to: folder.appendingPathComponent("Rag2_TEST.ts"))
    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("ucr/Rag2"), withIntermediateDirectories: true)
    try FileManager.default.moveItem(
      at: ts, to: dir.appendingPathComponent("ucr/Rag2/Rag2_TRAIN.ts"))
    try FileManager.default.moveItem(
      at: folder.appendingPathComponent("Rag2_TEST.ts"),
      to: dir.appendingPathComponent("ucr/Rag2/Rag2_TEST.ts"))
    let m2 = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Rag2"))
    #expect(m2.contains("Rag2_TRAIN.ts") && m2.contains("line 5: ragged row"), "\(m2)")
  }

  @Test func nonNumericAndMissingUCRValuesNameFileAndValue() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ucr/Bad")
    let train = folder.appendingPathComponent("Bad_TRAIN.ts")
    try S.write("@classLabel true 1 2\n@data\n1.5,abc,3:1\n", to: train)
    try S.write(
      "@classLabel true 1 2\n@data\n1,2,3:2\n", to: folder.appendingPathComponent("Bad_TEST.ts"))
    let m = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Bad"))
    #expect(m.contains(train.path) && m.contains("line 3: non-numeric value 'abc'"), "\(m)")
    try S.write("@classLabel true 1 2\n@data\n1.5,?,3:1\n", to: train)
    let q = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Bad"))
    #expect(q.contains(train.path) && q.contains("missing value '?'"), "\(q)")
    let tsv = dir.appendingPathComponent("ucr/Txt_TRAIN.txt")
    try S.write("1 2 x 4\n", to: tsv)
    try S.write("1 2 3 4\n", to: dir.appendingPathComponent("ucr/Txt_TEST.txt"))
    let t = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Txt"))
    #expect(t.contains(tsv.path) && t.contains("non-numeric value 'x'"), "\(t)")
  }

  @Test func undeclaredTSLabelIsOutOfRange() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ucr/Lab")
    try S.write(
      "@classLabel true 1 2\n@data\n1,2,3:1\n", to: folder.appendingPathComponent("Lab_TRAIN.ts"))
    let test = folder.appendingPathComponent("Lab_TEST.ts")
    try S.write("@classLabel true 1 2\n@data\n1,2,3:3\n", to: test)
    let m = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "ucr/Lab"))
    #expect(m.contains(test.path) && m.contains("label '3' is out of range"), "\(m)")
  }

  // MARK: CIFAR

  /// A CIFAR record: label byte(s) then 3072 pixels (R, G, B planes).
  func cifarRecord(_ labels: [UInt8], seed: Int) -> [UInt8] {
    labels + (0..<3072).map { UInt8((seed * 31 + $0 * 7) % 256) }
  }

  @Test func cifar10ReaderOnGeneratedFiles() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("cifar10")
    try S.write(
      (0..<3).flatMap { cifarRecord([UInt8($0)], seed: $0) },
      to: folder.appendingPathComponent("data_batch_1.bin"))
    try S.write(
      (3..<5).flatMap { cifarRecord([UInt8($0)], seed: $0) },
      to: folder.appendingPathComponent("data_batch_2.bin"))
    try S.write(cifarRecord([9], seed: 9), to: folder.appendingPathComponent("test_batch.bin"))
    let ds = try DataCatalog(directory: dir).load(DatasetSpec(name: "cifar10"))
    #expect(ds.train.count == 5 && ds.test.count == 1 && ds.inputs == 3072 && ds.classes == 10)
    #expect(ds.train.labels == [0, 1, 2, 3, 4] && ds.test.labels == [9])
    #expect(ds.train.features.mappedPath != nil)
    // Per channel with the public code's constants (method.md § 7), the same for every split:
    // (x/255 − mean_c)/std_c, computed in Double and rounded once to Float.
    let mean = [0.491, 0.482, 0.447]
    let std = [0.247, 0.243, 0.262]
    for (split, seeds) in [(ds.train, [0, 1, 2, 3, 4]), (ds.test, [9])] {
      for (i, seed) in seeds.enumerated() {
        let bytes = cifarRecord([0], seed: seed).dropFirst()
        let expected = bytes.enumerated().map { j, b in
          Float((Double(b) / 255 - mean[j / 1024]) / std[j / 1024])
        }
        let row = Array(split.features.row(i))
        #expect(row.count == 3072 && zip(row, expected).filter { $0 != $1 }.count == 0)
      }
    }
    #expect(ds.normalization.contains("0.491") && ds.normalization.contains("0.262"))
    // Pixel order is kept: equal bytes give equal values within a channel.
    let row = ds.train.features.row(0)
    #expect(row[0] == row[256])  // bytes (0*7)%256 and (256*7)%256 are both 0
  }

  @Test func cifar100UsesFineLabels() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("cifar-100-binary")
    try S.write(
      cifarRecord([3, 57], seed: 1) + cifarRecord([19, 99], seed: 2),
      to: folder.appendingPathComponent("train.bin"))
    try S.write(cifarRecord([0, 5], seed: 3), to: folder.appendingPathComponent("test.bin"))
    let ds = try DataCatalog(directory: dir).load(DatasetSpec(name: "cifar100"))
    #expect(ds.train.labels == [57, 99] && ds.test.labels == [5] && ds.classes == 100)
    // CIFAR-100's own constants (method.md § 7): the first red and blue pixels of record 1.
    let bytes = cifarRecord([3, 57], seed: 1).dropFirst(2).map(Double.init)
    #expect(ds.train.features.row(0)[0] == Float((bytes[0] / 255 - 0.5071) / 0.2675))
    #expect(ds.train.features.row(0)[2048] == Float((bytes[2048] / 255 - 0.4408) / 0.2761))
  }

  @Test func badCIFARSizeAndLabelNameFileAndProblem() throws {
    let dir = try TestFiles.temporaryDirectory("tailsweep-data")
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("cifar10")
    let train = folder.appendingPathComponent("data_batch_1.bin")
    try S.write(cifarRecord([1], seed: 0) + [1, 2, 3], to: train)
    try S.write(cifarRecord([9], seed: 9), to: folder.appendingPathComponent("test_batch.bin"))
    let m = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "cifar10"))
    #expect(
      m.contains(train.path)
        && m.contains("bad size: 3076 bytes is not a positive multiple of the 3073-byte"), "\(m)")
    try S.write(cifarRecord([1], seed: 0) + cifarRecord([10], seed: 1), to: train)
    let l = S.loadError(DataCatalog(directory: dir), DatasetSpec(name: "cifar10"))
    #expect(
      l.contains(train.path) && l.contains("label 10 of record 1 is out of range 0...9"), "\(l)")
  }

  // MARK: Synthetic and cuts

  @Test func syntheticIsBitIdenticalForASeedAndBalanced() throws {
    let catalog = DataCatalog(directory: URL(fileURLWithPath: "/nonexistent"))
    let a = try catalog.load(DatasetSpec(name: "synthetic"))
    let b = try catalog.load(DatasetSpec(name: "synthetic"))
    #expect(a.train.count == 2000 && a.test.count == 1000 && a.inputs == 20 && a.classes == 2)
    #expect(
      a.train.features.toArray().map(\.bitPattern) == b.train.features.toArray().map(\.bitPattern))
    #expect(a.train.labels == b.train.labels && a.test.labels == b.test.labels)
    #expect(a.sourceHash == nil)
    let c = try catalog.load(DatasetSpec(name: "synthetic", dataSeed: 1))
    #expect(
      c.train.features.toArray().map(\.bitPattern) != a.train.features.toArray().map(\.bitPattern))
    // Balanced teacher: over train+test the counts differ by at most 5 % of an equal share;
    // the training part alone is a random 2/3 of it, so allow 45–55 % (±5 σ of sampling).
    for ds in [a, c] {
      let ones = ds.train.labels.filter { $0 == 1 }.count
      #expect(ones > 900 && ones < 1100, "class 1 has \(ones) of 2000")
    }
    let m = try catalog.load(
      DatasetSpec(
        name: "synthetic", dataSeed: 3, inputs: 5, classes: 4, trainSize: 400, testSize: 100,
        teacherWidth: 3))
    #expect(m.inputs == 5 && m.classes == 4 && m.train.count == 400 && m.test.count == 100)
    var counts = [Int](repeating: 0, count: 4)
    for l in m.train.labels { counts[Int(l)] += 1 }
    // Equal share 100 of 400 training examples; ±35 covers the 5 % balance slack plus sampling.
    #expect(counts.allSatisfy { $0 >= 65 && $0 <= 135 }, "class counts \(counts)")
  }

  @Test func syntheticResplitIsDeterministicAndLimitsApplyLast() throws {
    let catalog = DataCatalog(directory: URL(fileURLWithPath: "/nonexistent"))
    let spec = DatasetSpec(
      name: "synthetic", trainLimit: 50, testLimit: 20, resplit: 300, dataSeed: 5, trainSize: 200,
      testSize: 200)
    let a = try catalog.load(spec)
    let b = try catalog.load(spec)
    #expect(a.train.count == 50 && a.test.count == 20)
    #expect(a.train.labels == b.train.labels)
    #expect(
      a.train.features.toArray().map(\.bitPattern) == b.train.features.toArray().map(\.bitPattern))
    // The pooled examples are a permutation: every resplit row is a row of the original.
    let full = try catalog.load(
      DatasetSpec(name: "synthetic", resplit: 300, dataSeed: 5, trainSize: 200, testSize: 200))
    #expect(full.train.count == 300 && full.test.count == 100)
    let original = try catalog.load(
      DatasetSpec(name: "synthetic", dataSeed: 5, trainSize: 200, testSize: 200))
    var rows = Set<[UInt32]>()
    for s in [original.train, original.test] {
      for i in 0..<s.count { rows.insert(s.features.row(i).map(\.bitPattern)) }
    }
    for s in [full.train, full.test] {
      for i in 0..<s.count { #expect(rows.contains(s.features.row(i).map(\.bitPattern))) }
    }
  }

  @Test func invalidCutsAreRefused() throws {
    let catalog = DataCatalog(directory: URL(fileURLWithPath: "/nonexistent"))
    let t = S.loadError(catalog, DatasetSpec(name: "synthetic", trainLimit: 5000))
    #expect(t.contains("trainLimit 5000 must be in 1...2000"), "\(t)")
    let u = S.loadError(catalog, DatasetSpec(name: "synthetic", testLimit: 1001))
    #expect(u.contains("testLimit 1001 must be in 0...1000"), "\(u)")
    let r = S.loadError(catalog, DatasetSpec(name: "synthetic", resplit: 3000))
    #expect(r.contains("resplit 3000 must be in 1..<3000"), "\(r)")
    let c = S.loadError(catalog, DatasetSpec(name: "synthetic", classes: 1))
    #expect(c.contains("classes must be ≥ 2"), "\(c)")
  }

  @Test func sourceHashCombinesPerFileSHA256() throws {
    // "abc" has the FIPS 180-2 test-vector digest; the source hash is the SHA-256 of the
    // sha256sum-style lines of the files.
    let catalog = DataCatalog(directory: FileManager.default.temporaryDirectory)
    #expect(
      catalog.sha256Hex(Array("abc".utf8))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      catalog.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }
}
