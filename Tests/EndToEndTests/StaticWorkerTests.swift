import Foundation
import SweepStore
import TailSweepTestSupport
import Testing

/// A worker binary built with `--static-swift-stdlib` (scripts/static-worker.sh) runs on a host
/// without the Swift toolchain: host `w1` of the namespace harness (cluster/netns/hosts.sh), in
/// a mount namespace of its own where an empty tmpfs covers the toolchain and the environment is
/// reset (`LD_LIBRARY_PATH` empty). There it serves a real coordinator (the debug binary, in host
/// `coordinator`) until the sweep is done. Root only (mount and network namespaces). The script
/// builds a release binary: minutes on a cold build folder (`.build-static`), seconds after.
@Suite(
  .serialized,
  .enabled(if: ClusterSupport.isRoot, "needs root: mount and network namespaces"),
  .enabled(if: Processes.hasProgram("unshare"), "needs unshare (util-linux)")
)
struct StaticWorkerTests {
  /// The root of the toolchain whose Swift runtime the debug binary loads
  /// (`ROOT/usr/lib/swift/linux/libswiftCore.so`, from `ldd`), e.g. `/opt/swift`.
  static func toolchainRoot() throws -> URL {
    let ldd = try ClusterSupport.run("/usr/bin/ldd", [Binary.path])
    let core = libraries(ldd.stdout).first { $0.name == "libswiftCore.so" }
    let library = try #require(core?.path, "the debug binary loads no libswiftCore.so")
    var url = URL(fileURLWithPath: library).resolvingSymlinksInPath()
    for _ in 0..<5 { url = url.deletingLastPathComponent() }
    return url
  }

  /// Runs `command…` with the toolchain hidden: called as `unshare --mount --propagation private
  /// sh THIS HIDE command…`, it mounts an empty read-only tmpfs over HIDE (in that namespace
  /// only) and starts the command with nothing but PATH, an empty LD_LIBRARY_PATH and one
  /// OpenBLAS thread in its environment. `exec` all the way: the PID is the command's.
  static let hideToolchain = """
    # Written by StaticWorkerTests: runs a command where the Swift toolchain is absent.
    set -eu
    hide="$1"
    shift
    mount -t tmpfs -o ro,size=4k tmpfs "$hide"
    if [ -n "$(ls -A "$hide")" ]; then echo "hide: $hide is not empty" >&2; exit 97; fi
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
      LD_LIBRARY_PATH= OPENBLAS_NUM_THREADS=1 "$@"

    """

  /// `soname => path` (or a bare name: the vDSO, the loader) for each line of `ldd`'s output.
  static func libraries(_ ldd: String) -> [(name: String, path: String?)] {
    ldd.split(separator: "\n").compactMap { line in
      let f = line.split(separator: " ").map(String.init)
      guard let name = f.first?.trimmingCharacters(in: .whitespaces) else { return nil }
      return (name, f.count >= 3 && f[1] == "=>" ? f[2] : nil)
    }
  }

  @Test(.timeLimit(.minutes(40)))
  func staticWorkerFinishesASweepOnAHostWithoutTheToolchain() throws {
    let dir = try TestFiles.temporaryDirectory("static-worker")
    let prefix = "s\(String(UInt16.random(in: 0x1000...0xffff), radix: 16))-"
    let env = ["TSW_PREFIX": prefix, "TSW_SUBNET": "10.231.9"]
    let hosts = ClusterSupport.script("netns/hosts.sh")
    var processes: [BackgroundProcess] = []
    defer {
      for p in processes { p.stop(grace: 3) }
      _ = try? ClusterSupport.run(hosts, ["down"], environment: env)
      try? FileManager.default.removeItem(at: dir)
    }

    // 1. The static binary. `nice`: the release build yields the cores to tests that run
    // meanwhile and depend on timing.
    let staticBinary = dir.appendingPathComponent("bin/tailsweep").path
    let script = TestFiles.repositoryRoot.appendingPathComponent("scripts/static-worker.sh").path
    let started = Date()
    let build = try ClusterSupport.run(
      "/usr/bin/nice", ["-n", "10", script, staticBinary], timeout: 35 * 60)
    try #require(build.status == 0, "static-worker.sh failed:\n\(build.stderr)")
    print(
      "static-worker.sh: \(Int(Date().timeIntervalSince(started))) s\n\(build.stdout)",
      terminator: "")
    #expect(build.stdout.hasPrefix(staticBinary + "\n"), "\(build.stdout)")

    // 2. A host without the toolchain: w1 of the namespace network, plus a mount namespace.
    let toolchain = try Self.toolchainRoot()
    // A toolchain installed into /usr cannot be covered whole: then only its runtime is hidden.
    let hide =
      ["/", "/usr"].contains(toolchain.path)
      ? toolchain.appendingPathComponent("usr/lib/swift").path : toolchain.path
    let wrapper = dir.appendingPathComponent("hide-toolchain.sh")
    try Self.hideToolchain.write(to: wrapper, atomically: true, encoding: .utf8)
    let up = try ClusterSupport.run(hosts, ["up", "1"], environment: env)
    try #require(up.status == 0, "\(up.stderr)")
    let withoutToolchain = ["exec", "w1", "unshare", "--mount", "--propagation", "private"]
    func onBareHost(_ command: [String]) throws -> Binary.Output {
      try ClusterSupport.run(
        hosts, withoutToolchain + ["/bin/sh", wrapper.path, hide] + command, environment: env)
    }

    // Control: there, the debug binary (dynamically linked to the Swift runtime) cannot start.
    let debugLdd = try onBareHost(["ldd", Binary.path])
    #expect(debugLdd.stdout.contains("libswiftCore.so => not found"), "\(debugLdd.stdout)")
    let debugRun = try onBareHost([Binary.path, "--help"])
    #expect(debugRun.status != 0)
    #expect(
      debugRun.stderr.contains("error while loading shared libraries: libswift"),
      "\(debugRun.stderr)")
    let noSwift = try onBareHost(["sh", "-c", "command -v swift || echo none"])
    #expect(noSwift.stdout == "none\n", "swift is still on the bare host: \(noSwift.stdout)")

    // The static binary needs only system libraries, all found there.
    let ldd = try onBareHost(["ldd", staticBinary])
    try #require(ldd.status == 0, "\(ldd.stderr)")
    let libs = Self.libraries(ldd.stdout)
    for lib in libs {
      for swiftOnly in ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocks"] {
        #expect(!lib.name.hasPrefix(swiftOnly), "\(lib.name) is linked dynamically")
      }
      #expect(lib.path != "not", "\(lib.name) not found on the bare host")
      #expect(!(lib.path ?? "").hasPrefix(toolchain.path + "/"), "\(lib.name) from the toolchain")
    }
    for system in [
      "libzmq.so.5", "libopenblas.so.0", "libcrypto.so.3", "libsqlite3.so.0", "libc.so.6",
    ] {
      #expect(libs.contains { $0.name == system }, "\(system) missing from:\n\(ldd.stdout)")
    }
    let help = try onBareHost([staticBinary, "worker", "--help"])
    #expect(help.status == 0, "\(help.stderr)")

    // 3. A real sweep: the debug coordinator in host `coordinator`, the static worker in `w1`.
    let coordinatorIP = try ClusterSupport.run(hosts, ["addr", "coordinator"], environment: env)
      .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let trials = 3
    let sweep = try ClusterSupport.writeSweep(
      in: dir, name: "static-worker", trials: trials, maxIterations: 2000, evalEvery: 2000)
    let results = dir.appendingPathComponent("results")
    let coordinator = try BackgroundProcess(
      hosts,
      [
        "exec", "coordinator", Binary.path, "coordinator", sweep, "--bind", "tcp://*:5555",
        "--results", results.path, "--insecure", "--progress", "plain",
      ], log: dir.appendingPathComponent("coordinator.log"), environment: env)
    processes.append(coordinator)
    let worker = try BackgroundProcess(
      hosts,
      withoutToolchain + [
        "/bin/sh", wrapper.path, hide, staticBinary, "worker", "--connect",
        "tcp://\(coordinatorIP):5555", "--id", "static-w1", "--insecure",
        "--coordinator-timeout", "60",
      ], log: dir.appendingPathComponent("w1.log"), environment: env)
    processes.append(worker)

    // The coordinator exits 0 once every trial is done and shuts the worker down.
    let coordinatorStatus = coordinator.wait(timeout: 180)
    #expect(coordinatorStatus == 0, "coordinator:\n\(coordinator.output)\nw1:\n\(worker.output)")
    #expect(worker.wait(timeout: 15) == 0, "w1:\n\(worker.output)")

    let sweepFolder = results.appendingPathComponent("static-worker")
    let store = try SweepStore(
      readOnlyPath: sweepFolder.appendingPathComponent("sweep.sqlite").path)
    defer { try? store.close() }
    let rows = try store.rows(sweepID: nil)
    #expect(rows.count == trials)
    for row in rows {
      #expect(row.state == .done, "trial \(row.id.short): \(row.state)")
      #expect(row.result != nil, "trial \(row.id.short) has no result")
    }
    let s = try store.status(sweepID: nil)
    #expect(s.count(.done) == trials)
    #expect(s.workers.map(\.worker) == ["static-w1"], "\(s.workers)")
    #expect(s.workers.first?.committed == trials, "\(s.workers)")
    let status = try Binary.run(["status", sweepFolder.path])
    #expect(status.status == 0, "\(status.stderr)")
  }
}
