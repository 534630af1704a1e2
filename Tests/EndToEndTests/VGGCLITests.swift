import Foundation
import TailSweepTestSupport
import Testing

/// VGG-11-wide (issue 17, method doc §7) through the built binary: `tailsweep train --model
/// vgg11` on a small Fashion-MNIST subset, its usage errors, and a tiny CNN sweep with its
/// report. Real data from `make setup`.
@Suite(.serialized) struct VGGCLITests {
  static let data = TestFiles.repositoryRoot.appendingPathComponent("data").path
  static let tiny = [
    "--model", "vgg11", "--channels", "0.03125", "--dataset", "fashion-mnist", "--train-limit",
    "200", "--test-limit", "100", "--eta", "0.1", "--batch-size", "50", "--max-iterations",
    "6", "--eval-every", "3", "--target-accuracy", "1", "--data", data,
  ]

  @Test func trainReportsFilterPruning() throws {
    let r = try Binary.run(
      ["train"] + Self.tiny + ["--sigma", "0.003", "--alpha", "1.75", "--json"])
    #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
    let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let result = try #require(obj?["result"] as? [String: Any])
    let config = try #require(result["config"] as? [String: Any])
    #expect(config["model"] as? String == "vgg11")
    #expect(config["channels"] as? Double == 0.03125)
    let compression = try #require(result["compression"] as? [String: Any])
    let ratio = try #require(compression["pruningRatio"] as? Double)
    #expect(ratio >= 0 && ratio <= 1)
    // Multiplier 1/32: channels 4, 8, 16, 16, 32, 32, 32, 32; the first convolution and the
    // output layer are not prunable, so 7 layers of filters with in·3·3 weights each.
    let layers = try #require(compression["layers"] as? [[String: Any]])
    #expect(layers.compactMap { $0["rows"] as? Int } == [8, 16, 16, 32, 32, 32, 32])
    #expect(layers.compactMap { $0["columns"] as? Int } == [36, 72, 144, 144, 288, 288, 288])
    #expect((compression["fixedRatioCurve"] as? [Any])?.count == 11)
    let pruned = try #require(compression["pruned"] as? [String: Any])
    #expect(pruned["testAccuracy"] is Double)

    // The human-readable outcome names filters per convolution.
    let text = try Binary.run(
      ["train"] + Self.tiny + ["--sigma", "0.003", "--max-iterations", "1", "--test-limit", "20"])
    #expect(text.status == 0, "\(text.stderr)")
    #expect(text.stdout.contains("conv 2"), "\(text.stdout)")
    #expect(text.stdout.contains("8 filters × 36, pruned"), "\(text.stdout)")
    #expect(text.stdout.contains("pruning ratio (r=0.1)"), "\(text.stdout)")
  }

  @Test func saveWeightsWritesConvolutionsInPyTorchLayout() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = dir.appendingPathComponent("vgg.npy").path
    let r = try Binary.run(
      ["train"] + Self.tiny + ["--max-iterations", "1", "--test-limit", "20", "--save-weights", w])
    #expect(r.status == 0, "\(r.stderr)")
    // Multiplier 1/32: conv 1 is 4×1×3×3, conv 2 8×4×3×3, …, the output layer 10×32.
    func header(_ name: String) throws -> String {
      let bytes = try Data(contentsOf: dir.appendingPathComponent(name))
      return String(decoding: bytes.prefix(128), as: UTF8.self)
    }
    #expect(try header("vgg.npy").contains("(4, 1, 3, 3)"))
    #expect(try header("vgg.layer2.npy").contains("(8, 4, 3, 3)"))
    #expect(try header("vgg.layer8.npy").contains("(32, 32, 3, 3)"))
    #expect(try header("vgg.output.npy").contains("(10, 32)"))
  }

  @Test func traceWritesEveryStepAndTheInitialWeights() throws {
    let dir = try TestFiles.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("t.jsonl").path
    let r = try Binary.run(
      ["train"] + Self.tiny + [
        "--sigma", "0.003", "--test-limit", "20", "--trace", path, "--trace-weights", "2,3",
      ])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 6)  // --max-iterations 6
    let steps = try lines.map {
      try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    #expect(steps.compactMap { $0["iteration"] as? Int } == Array(1...6))
    // 200 training images in batches of 50: each epoch (4 steps) visits every index once.
    let epoch = steps.prefix(4).flatMap { ($0["batch"] as? [Int]) ?? [] }
    #expect(epoch.sorted() == Array(0..<200))
    // Type-1 noise: one value per filter of convolutions 2…8 (multiplier 1/32), none after
    // the last step; 9 weight layers of norms.
    let noise = try #require(steps[0]["noise"] as? [[Double]])
    #expect(noise.map(\.count) == [8, 16, 16, 32, 32, 32, 32])
    #expect(steps[5]["noise"] == nil)
    #expect((steps[0]["gradientNorms"] as? [Double])?.count == 9)
    #expect((steps[0]["noisyWeightNorms"] as? [Double])?.count == 9)
    // The initial weights, in --save-weights' layout.
    let first = try Data(contentsOf: URL(fileURLWithPath: path + ".init.npy"))
    #expect(String(decoding: first.prefix(128), as: UTF8.self).contains("(4, 1, 3, 3)"))
    let output = try Data(contentsOf: URL(fileURLWithPath: path + ".init.output.npy"))
    #expect(String(decoding: output.prefix(128), as: UTF8.self).contains("(10, 32)"))
    // --trace-weights 2,3: the weights after those steps, in the same layout; no others.
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(files.filter { $0.hasPrefix("t.jsonl.step") }.count == 18)
    let step3 = try Data(contentsOf: URL(fileURLWithPath: path + ".step3.layer8.npy"))
    #expect(String(decoding: step3.prefix(128), as: UTF8.self).contains("(32, 32, 3, 3)"))
  }

  @Test(arguments: [
    (["--model", "vgg11", "--channels", "0.25", "--width", "64"], "--width does not apply"),
    (["--model", "vgg11"], "needs channels"),
    (["--model", "vgg11", "--channels", "0.25", "--dataset", "synthetic"], "image data"),
    (["--model", "resnet"], "--model must be one of fcn, vgg11"),
    (["--channels", "0.25"], "channels applies only to model vgg11"),
    (["--model", "vgg11", "--channels", "9"], "(0, 4]"),
    (["--trace", "/nonexistent/t.jsonl"], "--trace applies only to --model vgg11"),
    (
      ["--model", "vgg11", "--channels", "0.25", "--trace-weights", "3"],
      "--trace-weights needs --trace"
    ),
    (
      ["--model", "vgg11", "--channels", "0.25", "--trace", "t", "--trace-weights", "0,x"],
      "comma-separated list of iterations"
    ),
  ])
  func badModelFlagsExitTwo(flags: [String], mentions: String) throws {
    let r = try Binary.run(["train"] + flags)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains(mentions), "\(r.stderr)")
  }

  @Test func tinyVGGSweepRunsAndReports() throws {
    let dir = try TestFiles.temporaryDirectory("vgg-sweep")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = """
      # Test: a tiny VGG sweep, multiplier 1/32, 200 Fashion-MNIST images, both arms, 2 seeds.
      description: "tiny VGG sweep"
      dataset: {name: fashion-mnist, trainLimit: 200, testLimit: 100}
      train: {model: vgg11, channels: 0.03125, eta: 0.1, batchSize: 50, alpha: 1.75,
              targetAccuracy: 1, maxIterations: 8, evalEvery: 4}
      grid:
        sigma: [0, 0.003]
      seeds: 2
      overrides:
        - when: {sigma: 0}
          set: {noiseType: 0}
      """
    try sweep.write(to: dir.appendingPathComponent("vgg.yaml"), atomically: true, encoding: .utf8)
    let r = try Binary.run(
      ["run", "vgg.yaml", "--workers", "2", "--progress", "plain", "--data", Self.data], in: dir)
    #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
    #expect(r.stdout.contains("done 4"), "\(r.stdout)")
    #expect(r.stdout.contains("Noisy vs plain SGD"), "\(r.stdout)")
    let folder = dir.appendingPathComponent("results/vgg")
    for file in ["sweep.sqlite", "report.md", "figures/pruning_ratio.svg"] {
      #expect(
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)")
    }
  }
}
