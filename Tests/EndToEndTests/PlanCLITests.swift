import Foundation
import TailSweepTestSupport
import Testing

/// `tailsweep plan` through the built binary: tables, JSON, and exit status 2 with
/// `file:line: key 'k': message` on stderr for bad sweep files.
@Suite struct PlanCLITests {
  @Test func plansTheQuickstartSweep() throws {
    let r = try Binary.run(["plan", "sweeps/quickstart.yaml"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("sweep quickstart (sweeps/quickstart.yaml)"))
    #expect(r.stdout.contains("60 trials, merged 20 identical points made by overrides"))
    #expect(r.stdout.contains("fixed: dataset mnist (trainLimit 5000, testLimit 2000)"))
    // Header row plus one row per trial.
    let rows = r.stdout.split(separator: "\n").filter {
      $0.range(of: #"^[0-9a-f]{12} "#, options: .regularExpression) != nil
    }
    #expect(rows.count == 60)
    #expect(r.stderr.isEmpty)
  }

  @Test func jsonHasCountAndTrials() throws {
    let r = try Binary.run(["plan", "sweeps/quickstart.yaml", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let plan = try #require(object)
    let trials = try #require(plan["trials"] as? [[String: Any]])
    #expect(plan["count"] as? Int == trials.count)
    #expect(trials.count == 60)
    #expect(plan["mergedDuplicates"] as? Int == 20)
    let first = try #require(trials.first)
    #expect((first["id"] as? String)?.count == 64)
    #expect(first["relativeCost"] as? Double != nil)
    let config = try #require(first["config"] as? [String: Any])
    #expect(config["width"] as? Int == 2048)
    #expect(trials.compactMap { $0["relativeCost"] as? Double }.min() == 1)
  }

  /// Writes `files` into a fresh folder and runs `tailsweep plan main` there.
  private func plan(_ files: [String: String], main: String) throws -> Binary.Output {
    let dir = try TestFiles.temporaryDirectory("plan-cli")
    for (name, text) in files {
      try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    return try Binary.run(["plan", main], in: dir)
  }

  @Test func unknownKeyExitsWithStatus2AndNamesFileLineAndKey() throws {
    let r = try plan(
      [
        "a.yaml": """
        description: d
        dataset: mnist
        train:
          width: 64
          lr: 0.1
          batchSize: 10
        """
      ], main: "a.yaml")
    #expect(r.status == 2)
    #expect(
      r.stderr.contains("a.yaml:5: key 'lr': unknown key (did you mean 'eta'?)"), "\(r.stderr)")
    #expect(r.stdout.isEmpty)
  }

  @Test func valueOutOfRangeExitsWithStatus2() throws {
    let r = try plan(
      [
        "alpha.yaml": """
        description: d
        dataset: mnist
        train: {width: 8, eta: 0.1, batchSize: 10}
        grid:
          alpha: [1.5,
            2.5]
        """
      ], main: "alpha.yaml")
    #expect(r.status == 2)
    #expect(
      r.stderr.contains("alpha.yaml:6: key 'alpha': alpha must be in (0, 2], got 2.5"),
      "\(r.stderr)")
  }

  @Test func errorInAnIncludedFileNamesThatFile() throws {
    let r = try plan(
      [
        "base.yaml": "train:\n  eta: 0.1\n  batchSize: 1.5\n",
        "child.yaml": "description: d\ninclude: base.yaml\ndataset: mnist\ngrid: {width: [8]}\n",
      ], main: "child.yaml")
    #expect(r.status == 2)
    #expect(
      r.stderr.contains("base.yaml:3: key 'batchSize': expected an integer, got '1.5'"),
      "\(r.stderr)")
  }

  @Test func duplicateAxisValueExitsWithStatus2() throws {
    let r = try plan(
      [
        "dup.yaml": """
        description: d
        dataset: mnist
        train: {eta: 0.1, batchSize: 10}
        grid:
          width:
            - 64
            - 64
        """
      ], main: "dup.yaml")
    #expect(r.status == 2)
    #expect(r.stderr.contains("dup.yaml:7: key 'width': duplicate value 64"), "\(r.stderr)")
  }

  @Test func missingFileExitsWithStatus2() throws {
    let r = try plan([:], main: "nowhere.yaml")
    #expect(r.status == 2)
    #expect(r.stderr.contains("nowhere.yaml: no such file"), "\(r.stderr)")
  }
}
