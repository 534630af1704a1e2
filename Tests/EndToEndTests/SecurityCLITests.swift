import Foundation
import TailSweepTestSupport
import Testing

/// Key files and plain-text connections through the binary: `keys generate` writes the secret
/// key with mode 0600 and never overwrites; `worker`/`coordinator` refuse a secret key that
/// group or others may access; a worker needs `--insecure` to talk plain text to anything but
/// loopback. Usage errors exit with status 2.
@Suite struct SecurityCLITests {
  static func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require((attributes[.posixPermissions] as? NSNumber)?.intValue)
  }

  static func generate(_ dir: URL) throws -> String {
    let g = try Binary.run(["keys", "generate", "--out", dir.path])
    try #require(g.status == 0, "keys generate: \(g.stderr)")
    return g.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test func keysGenerateWritesAPrivateSecretKeyAndNothingElse() throws {
    let dir = try TestFiles.temporaryDirectory("keys")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("k")
    let publicKey = try Self.generate(out)
    #expect(publicKey.utf8.count == 40)
    let secretPath = out.appendingPathComponent("secret.key").path
    let publicPath = out.appendingPathComponent("public.key").path
    #expect(try Self.mode(secretPath) == 0o600)
    #expect(try Self.mode(publicPath) == 0o644)
    #expect(try String(contentsOfFile: publicPath, encoding: .utf8) == publicKey + "\n")
    #expect(try String(contentsOfFile: secretPath, encoding: .utf8).utf8.count == 41)
    // No temporary file is left behind.
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        == ["public.key", "secret.key"])
  }

  @Test func keysGenerateIgnoresAPermissiveUmask() throws {
    let dir = try TestFiles.temporaryDirectory("keys-umask")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("k")
    let r = try Binary.runProcess(
      "/bin/sh",
      ["-c", "umask 000 && exec \"$0\" keys generate --out \"$1\"", Binary.path, out.path],
      in: dir)
    try #require(r.status == 0, "\(r.stderr)")
    #expect(try Self.mode(out.appendingPathComponent("secret.key").path) == 0o600)
    #expect(try Self.mode(out.appendingPathComponent("public.key").path) == 0o644)
  }

  @Test func keysGenerateNeverOverwrites() throws {
    let dir = try TestFiles.temporaryDirectory("keys-exist")
    defer { try? FileManager.default.removeItem(at: dir) }
    // A second run into the same folder keeps the first keypair.
    let first = dir.appendingPathComponent("a")
    let publicKey = try Self.generate(first)
    let secret = try String(
      contentsOf: first.appendingPathComponent("secret.key"), encoding: .utf8)
    let again = try Binary.run(["keys", "generate", "--out", first.path])
    #expect(again.status == 2)
    #expect(again.stderr.contains("exists; refusing to overwrite a key"), "\(again.stderr)")
    #expect(
      try String(contentsOf: first.appendingPathComponent("secret.key"), encoding: .utf8)
        == secret)
    #expect(
      try String(contentsOf: first.appendingPathComponent("public.key"), encoding: .utf8)
        == publicKey + "\n")

    // A lone public.key is not replaced either (and no secret key appears).
    let lone = dir.appendingPathComponent("b")
    try FileManager.default.createDirectory(at: lone, withIntermediateDirectories: true)
    try "old\n".write(
      to: lone.appendingPathComponent("public.key"), atomically: true, encoding: .utf8)
    let b = try Binary.run(["keys", "generate", "--out", lone.path])
    #expect(b.status == 2)
    #expect(b.stderr.contains("public.key exists"), "\(b.stderr)")
    #expect(
      try String(contentsOf: lone.appendingPathComponent("public.key"), encoding: .utf8)
        == "old\n")
    #expect(!FileManager.default.fileExists(atPath: lone.appendingPathComponent("secret.key").path))

    // A dangling symbolic link named secret.key is not written through.
    let link = dir.appendingPathComponent("c")
    try FileManager.default.createDirectory(at: link, withIntermediateDirectories: true)
    let target = dir.appendingPathComponent("stolen.key")
    try FileManager.default.createSymbolicLink(
      atPath: link.appendingPathComponent("secret.key").path, withDestinationPath: target.path)
    let c = try Binary.run(["keys", "generate", "--out", link.path])
    #expect(c.status == 2)
    #expect(c.stderr.contains("secret.key exists"), "\(c.stderr)")
    #expect(!FileManager.default.fileExists(atPath: target.path))
  }

  @Test(arguments: [0o644, 0o640, 0o604, 0o620, 0o660, 0o700 | 0o070])
  func workerRefusesASecretKeyOthersCanAccess(mode: Int) throws {
    let dir = try TestFiles.temporaryDirectory("keys-mode")
    defer { try? FileManager.default.removeItem(at: dir) }
    let server = try Self.generate(dir.appendingPathComponent("server"))
    let keys = dir.appendingPathComponent("worker")
    _ = try Self.generate(keys)
    let secret = keys.appendingPathComponent("secret.key").path
    #expect(chmod(secret, mode_t(mode)) == 0)
    let r = try Binary.run([
      "worker", "--connect", "tcp://127.0.0.1:\(try Processes.freePort())",
      "--server-key=\(server)", "--keys", keys.path, "--coordinator-timeout", "1",
    ])
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    let octal = String(mode, radix: 8)
    #expect(r.stderr.contains("\(secret) has mode 0\(octal)"), "\(r.stderr)")
    #expect(r.stderr.contains("chmod 600 \(secret)"), "\(r.stderr)")
  }

  @Test(arguments: [0o600, 0o400])
  func workerAcceptsAPrivateSecretKey(mode: Int) throws {
    let dir = try TestFiles.temporaryDirectory("keys-private")
    defer { try? FileManager.default.removeItem(at: dir) }
    let server = try Self.generate(dir.appendingPathComponent("server"))
    let keys = dir.appendingPathComponent("worker")
    _ = try Self.generate(keys)
    #expect(chmod(keys.appendingPathComponent("secret.key").path, mode_t(mode)) == 0)
    // No coordinator: the worker starts and gives up after its coordinator timeout (exit 3).
    let r = try Binary.run([
      "worker", "--connect", "tcp://127.0.0.1:\(try Processes.freePort())",
      "--server-key=\(server)", "--keys", keys.path, "--coordinator-timeout", "0.5",
      "--heartbeat-ms", "100",
    ])
    #expect(r.status == 3, "exit \(r.status): \(r.stderr)")
    #expect(!r.stderr.contains("chmod"), "\(r.stderr)")
  }

  @Test func coordinatorRefusesASecretKeyOthersCanRead() throws {
    let dir = try TestFiles.temporaryDirectory("keys-coordinator")
    defer { try? FileManager.default.removeItem(at: dir) }
    let keys = dir.appendingPathComponent("server")
    let workerKey = try Self.generate(dir.appendingPathComponent("worker"))
    _ = try Self.generate(keys)
    try (workerKey + "\n").write(
      to: dir.appendingPathComponent("allow.txt"), atomically: true, encoding: .utf8)
    try "description: d\ndataset: mnist\ntrain: {width: 8, eta: 0.1, batchSize: 10}\n".write(
      to: dir.appendingPathComponent("s.yaml"), atomically: true, encoding: .utf8)
    let secret = keys.appendingPathComponent("secret.key").path
    #expect(chmod(secret, 0o644) == 0)
    let r = try Binary.run(
      [
        "coordinator", "s.yaml", "--bind", "tcp://127.0.0.1:0", "--keys", keys.path,
        "--allow", "allow.txt", "--results", "results", "--progress", "none",
      ], in: dir)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains("\(secret) has mode 0644"), "\(r.stderr)")
    #expect(r.stderr.contains("chmod 600 \(secret)"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results").path))
  }

  @Test func plainTextWorkerToANonLoopbackEndpointNeedsInsecure() throws {
    // 0.0.0.0 is not loopback by name (connecting to it reaches this machine, nothing leaves).
    let endpoint = "tcp://0.0.0.0:\(try Processes.freePort())"
    let refused = try Binary.run(["worker", "--connect", endpoint, "--coordinator-timeout", "0.5"])
    #expect(refused.status == 2, "exit \(refused.status): \(refused.stderr)")
    #expect(refused.stderr.contains("refusing to connect to \(endpoint) in plain text"))
    #expect(refused.stderr.contains("--server-key"), "\(refused.stderr)")
    #expect(refused.stderr.contains("--keys"), "\(refused.stderr)")
    #expect(refused.stderr.contains("--insecure"), "\(refused.stderr)")

    // With --insecure it runs (and, with no coordinator there, gives up: exit 3).
    let insecure = try Binary.run([
      "worker", "--connect", endpoint, "--insecure", "--coordinator-timeout", "0.5",
      "--heartbeat-ms", "100",
    ])
    #expect(insecure.status == 3, "exit \(insecure.status): \(insecure.stderr)")

    // Loopback needs no flag.
    let loopback = try Binary.run([
      "worker", "--connect", "tcp://127.0.0.1:\(try Processes.freePort())",
      "--coordinator-timeout", "0.5", "--heartbeat-ms", "100",
    ])
    #expect(loopback.status == 3, "exit \(loopback.status): \(loopback.stderr)")

    let help = try Binary.run(["worker", "--help"])
    #expect(help.stdout.contains("--insecure"), "\(help.stdout)")
  }

  @Test(arguments: [
    ("retries: 9223372036854775807", "key 'retries': retries must be at most 100"),
    ("trialTimeout: 1e12", "key 'trialTimeout': trialTimeout must be at most 2592000 seconds"),
  ])
  func planRejectsOutOfRangeRunSettings(setting: String, message: String) throws {
    let dir = try TestFiles.temporaryDirectory("plan-run-settings")
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    description: d
    dataset: mnist
    train: {width: 8, eta: 0.1, batchSize: 10}
    run:
      \(setting)

    """.write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
    let r = try Binary.run(["plan", "bad.yaml"], in: dir)
    #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
    #expect(r.stderr.contains("bad.yaml:5: \(message)"), "\(r.stderr)")
    #expect(r.stdout.isEmpty)
  }
}
