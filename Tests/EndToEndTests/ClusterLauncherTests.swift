import Foundation
import TailSweepTestSupport
import Testing

/// The ssh launcher's command construction (no ssh target exists here: `--dry-run`), and the
/// SLURM submit command (`TAILSWEEP_DRY_RUN=1`). Fast, no root needed.
@Suite struct ClusterLauncherTests {
  @Test func sshDryRunPrintsOneCommandPerHostWithItsWorkerCount() throws {
    let dir = try TestFiles.temporaryDirectory("cluster-ssh")
    defer { try? FileManager.default.removeItem(at: dir) }
    let hostfile = dir.appendingPathComponent("hosts")
    try """
    # two machines
    node1 4
    alice@node2

    """.write(to: hostfile, atomically: true, encoding: .utf8)
    let out = try ClusterSupport.runScript(
      "ssh/launch-workers.sh",
      [
        hostfile.path, "tcp://10.0.0.1:5555", "--dry-run", "--bin", "/opt/ts/tailsweep",
        "--data", "/data/it's here", "--ssh", "ssh -p 2222", "--server-key", "k.pub", "--keys",
        "/opt/ts/keys", "--", "--liveness", "5",
      ])
    #expect(out.status == 0, "\(out.stderr)")
    let commands = out.stdout.split(separator: "\n").filter { $0.hasPrefix("ssh ") }
    #expect(
      commands == ["ssh -p 2222 node1 sh -s <<'EOF'", "ssh -p 2222 alice@node2 sh -s <<'EOF'"])
    // The hostfile's count wins for node1; node2 asks its own core count.
    #expect(out.stdout.contains("n=4\n"))
    #expect(out.stdout.contains("n=$(nproc)\n"))
    // One worker line per host, arguments single-quoted for the remote shell.
    let worker =
      "'env' 'OPENBLAS_NUM_THREADS=1' 'nohup' '/opt/ts/tailsweep' 'worker' '--connect' "
      + "'tcp://10.0.0.1:5555' '--data' '/data/it'\\''s here' '--server-key=k.pub' "
      + "'--keys' '/opt/ts/keys' '--liveness' '5' "
    #expect(out.stdout.components(separatedBy: worker).count == 3)
    // One folder per host by default (%h), so that hosts sharing a home folder keep apart.
    #expect(out.stdout.contains("mkdir -p '.tailsweep-workers/node1'\n"))
    #expect(out.stdout.contains("cd '.tailsweep-workers/node2'\n"))

    let stop = try ClusterSupport.runScript(
      "ssh/stop-workers.sh", [hostfile.path, "--dry-run", "--ssh", "ssh -p 2222"])
    #expect(stop.status == 0, "\(stop.stderr)")
    #expect(stop.stdout.contains("ssh -p 2222 node1 sh -s <<'EOF'"))
    #expect(stop.stdout.contains("kill -TERM $pids"))
    #expect(stop.stdout.contains("cd '.tailsweep-workers/node2' 2>/dev/null"))
  }

  @Test func sshLauncherRejectsBadArguments() throws {
    let bad = try ClusterSupport.runScript(
      "ssh/launch-workers.sh", ["/nonexistent/hosts", "tcp://h:1", "--dry-run"])
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("cannot read hostfile"))
    let dir = try TestFiles.temporaryDirectory("cluster-ssh")
    defer { try? FileManager.default.removeItem(at: dir) }
    let hostfile = dir.appendingPathComponent("hosts")
    try "node1\n".write(to: hostfile, atomically: true, encoding: .utf8)
    let address = try ClusterSupport.runScript(
      "ssh/launch-workers.sh", [hostfile.path, "node1:5555", "--dry-run"])
    #expect(address.status == 2)
    #expect(address.stderr.contains("tcp://HOST:PORT"))
    let count = try ClusterSupport.runScript(
      "ssh/launch-workers.sh", [hostfile.path, "tcp://h:1", "--per-host", "0", "--dry-run"])
    #expect(count.status == 2)
    let keys = try ClusterSupport.runScript(
      "ssh/launch-workers.sh", [hostfile.path, "tcp://h:1", "--server-key", "k.pub", "--dry-run"])
    #expect(keys.status == 2)
    #expect(keys.stderr.contains("--server-key and --keys go together"))
  }

  @Test func submitBuildsAnArrayOfNWorkerTasks() throws {
    let dir = try TestFiles.temporaryDirectory("cluster-submit")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = try ClusterSupport.runScript(
      "slurm/submit.sh", ["tcp://10.0.0.1:5555", "8", "--", "--server-key", "k.pub"],
      environment: [
        "TAILSWEEP_DRY_RUN": "1", "TAILSWEEP_LOG_DIR": dir.path,
        "TAILSWEEP_SBATCH_ARGS": "--partition=cpu --time=1:00:00",
      ])
    #expect(out.status == 0, "\(out.stderr)")
    let sbatch = ClusterSupport.script("slurm/tailsweep-workers.sbatch")
    #expect(
      out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        == "sbatch --parsable --array=0-7 --output=\(dir.path)/worker-%A_%a.log "
        + "--partition=cpu --time=1:00:00 \(sbatch) tcp://10.0.0.1:5555 --server-key k.pub")
    let bad = try ClusterSupport.runScript(
      "slurm/submit.sh", ["tcp://10.0.0.1:5555", "zero"], environment: ["TAILSWEEP_DRY_RUN": "1"])
    #expect(bad.status == 2)
  }

  @Test func everyClusterScriptStartsWithTheCommandThatRunsIt() throws {
    for name in [
      "slurm/local-slurm.sh", "slurm/submit.sh", "slurm/tailsweep-workers.sbatch",
      "ssh/launch-workers.sh", "ssh/stop-workers.sh", "netns/hosts.sh", "netns/ssh-hosts.sh",
    ] {
      let text = try String(contentsOfFile: ClusterSupport.script(name), encoding: .utf8)
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      #expect(lines.count > 2 && lines[0].hasPrefix("#!"), "\(name)")
      #expect(
        lines.count > 2 && lines[1].hasPrefix("# Run:") && lines[1].contains(name),
        "\(name) must say on line 2 how it is run")
      #expect(FileManager.default.isExecutableFile(atPath: ClusterSupport.script(name)), "\(name)")
    }
  }

  /// The ssh launcher for real, with `--ssh` replaced by a stand-in that runs the remote script
  /// on this machine (no ssh server here): workers start under nohup, finish a sweep served on
  /// 127.0.0.1 and exit when it is done; workers with no coordinator are stopped by PID.
  @Test(.timeLimit(.minutes(2)))
  func sshLauncherStartsWorkersThatFinishASweepAndStopsThemByPID() throws {
    let dir = try TestFiles.temporaryDirectory("cluster-ssh-run")
    var coordinator: BackgroundProcess?
    var launched: [Int32] = []
    defer {
      coordinator?.stop()
      for pid in launched where Self.isTailsweep(pid) { kill(pid, SIGKILL) }
      try? FileManager.default.removeItem(at: dir)
    }
    // Stand-in for ssh: drops ssh's options and the host, runs the rest (`sh -s`) here.
    let fakeSSH = dir.appendingPathComponent("fake-ssh")
    try """
    #!/bin/sh
    while [ "$#" -gt 0 ]; do case "$1" in -o|-p|-i) shift 2 ;; -*) shift ;; *) shift; break ;; esac; done
    exec "$@"

    """.write(to: fakeSSH, atomically: true, encoding: .utf8)
    chmod(fakeSSH.path, 0o755)
    let hostfile = dir.appendingPathComponent("hosts")
    try "localhost 2\n".write(to: hostfile, atomically: true, encoding: .utf8)
    let remote = dir.appendingPathComponent("remote").path
    let local = dir.appendingPathComponent("local").path
    let port = try Processes.freePort()
    let address = "tcp://127.0.0.1:\(port)"
    let options = [
      "--ssh", "\(fakeSSH.path) -o BatchMode=yes", "--bin", Binary.path, "--remote-dir", remote,
      "--local-dir", local,
    ]

    let launch = try ClusterSupport.runScript(
      "ssh/launch-workers.sh",
      [hostfile.path, address] + options + ["--", "--heartbeat-ms", "250"])
    #expect(launch.status == 0, "\(launch.stderr)")
    let pids = try String(contentsOfFile: "\(local)/localhost.pids", encoding: .utf8)
      .split(separator: "\n").compactMap { Int32($0) }
    launched += pids
    #expect(pids.count == 2)
    // Each worker execs through env and nohup: wait until every PID runs tailsweep itself.
    #expect(
      Processes.waitUntil(timeout: 10) { pids.allSatisfy(Self.isTailsweep) },
      "workers are not running: \(pids)")

    let sweepDir = dir.appendingPathComponent("sweep")
    try FileManager.default.createDirectory(at: sweepDir, withIntermediateDirectories: true)
    let sweep = try ClusterSupport.writeSweep(
      in: sweepDir, name: "cluster-ssh", trials: 4, maxIterations: 100, evalEvery: 50)
    let results = dir.appendingPathComponent("results")
    coordinator = try BackgroundProcess(
      Binary.path,
      [
        "coordinator", sweep, "--bind", address, "--results", results.path, "--progress", "none",
        "--heartbeat-ms", "250",
      ],
      log: dir.appendingPathComponent("coordinator.log"))
    let status = coordinator?.wait(timeout: 60)
    let workerLog = (try? String(contentsOfFile: "\(remote)/worker-0.log", encoding: .utf8)) ?? ""
    #expect(status == 0, "\(coordinator?.output ?? "")\nworker-0.log:\n\(workerLog)")
    let export = try Binary.run([
      "export", results.appendingPathComponent("cluster-ssh").path, "--format", "jsonl",
    ])
    #expect(export.stdout.split(separator: "\n").count == 4, "\(export.stderr)")
    // The coordinator shut the workers down when the sweep was done.
    #expect(Processes.waitUntil(timeout: 10) { !pids.contains(where: Self.isTailsweep) })

    // Workers that never find a coordinator: stop-workers kills them by PID.
    let again = try ClusterSupport.runScript(
      "ssh/launch-workers.sh",
      [hostfile.path, "tcp://127.0.0.1:\(try Processes.freePort())"] + options)
    #expect(again.status == 0, "\(again.stderr)")
    let idle = try String(contentsOfFile: "\(local)/localhost.pids", encoding: .utf8)
      .split(separator: "\n").compactMap { Int32($0) }
    launched += idle
    #expect(idle.count == 2)
    #expect(Processes.waitUntil(timeout: 10) { idle.allSatisfy(Self.isTailsweep) })
    let stop = try ClusterSupport.runScript(
      "ssh/stop-workers.sh",
      [hostfile.path, "--ssh", "\(fakeSSH.path) -o BatchMode=yes", "--remote-dir", remote])
    #expect(stop.status == 0, "\(stop.stderr)")
    #expect(stop.stderr.contains("stopped: \(idle.map(String.init).joined(separator: " "))"))
    #expect(!idle.contains(where: Self.isTailsweep))
    #expect(!FileManager.default.fileExists(atPath: "\(remote)/workers.pids"))
  }

  /// Whether `pid` runs a live (not zombie) program named tailsweep.
  private static func isTailsweep(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
      return false
    }
    return stat.contains("(tailsweep)") && !stat.contains(") Z ")
  }
}
