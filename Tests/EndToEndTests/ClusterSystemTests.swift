import Foundation
import SweepStore
import TailSweepTestSupport
import Testing

/// The distributed path on real infrastructure of one machine: a real one-node SLURM
/// (cluster/slurm/local-slurm.sh) and hosts made of network namespaces (cluster/netns/hosts.sh).
/// Root only (daemons, namespaces); each test tears down every process, namespace and link it
/// made, by PID, even when it fails.
@Suite(
  .serialized,
  .enabled(if: ClusterSupport.isRoot, "needs root: daemons and network namespaces")
)
struct ClusterSystemTests {
  /// A private SLURM (its own folder, ports the kernel picked), so that neither a developer's
  /// cluster on the default folder and ports nor another test run is disturbed.
  private static func slurmEnvironment(_ dir: URL) throws -> [String: String] {
    let controller = try Processes.freePort()
    var node = try Processes.freePort()
    while node == controller { node = try Processes.freePort() }
    return [
      "TAILSWEEP_SLURM_DIR": dir.appendingPathComponent("slurm").path,
      "TAILSWEEP_SLURM_PORT": "\(controller)",
      "TAILSWEEP_SLURMD_PORT": "\(node)",
      "SLURM_CONF": dir.appendingPathComponent("slurm/etc/slurm.conf").path,
    ]
  }

  /// Reads the store (`RESULTS/<sweep>/sweep.sqlite`) read-only; nil while the coordinator has
  /// not created it yet.
  private static func status(_ results: URL) -> StoreStatus? {
    let path = results.appendingPathComponent("sweep.sqlite").path
    guard FileManager.default.fileExists(atPath: path),
      let store = try? SweepStore(readOnlyPath: path)
    else { return nil }
    defer { try? store.close() }
    return try? store.status(sweepID: nil)
  }

  /// Checks, through the binary's `export` and `status` and in the store, that every trial has
  /// exactly one result. `results` is the sweep's folder (`RESULTS/<sweep>`).
  private static func expectOneResultPerTrial(
    _ results: URL, trials: Int, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let export = try Binary.run(["export", results.path, "--format", "jsonl"])
    #expect(export.status == 0, "\(export.stderr)", sourceLocation: sourceLocation)
    let lines = export.stdout.split(separator: "\n")
    #expect(lines.count == trials, "\(export.stdout)", sourceLocation: sourceLocation)
    let store = try SweepStore(readOnlyPath: results.appendingPathComponent("sweep.sqlite").path)
    defer { try? store.close() }
    let rows = try store.rows(sweepID: nil)
    #expect(rows.count == trials, sourceLocation: sourceLocation)
    #expect(Set(rows.map(\.id)).count == trials, sourceLocation: sourceLocation)
    for row in rows {
      #expect(
        row.result != nil, "trial \(row.id.short) has no result", sourceLocation: sourceLocation)
      #expect(row.state == .done || row.state == .diverged, sourceLocation: sourceLocation)
    }
    let s = try store.status(sweepID: nil)
    #expect(s.count(.done) + s.count(.diverged) == trials, sourceLocation: sourceLocation)
    #expect(s.workers.map(\.committed).reduce(0, +) == trials, sourceLocation: sourceLocation)
    let statusOut = try Binary.run(["status", results.path])
    #expect(statusOut.status == 0, "\(statusOut.stderr)", sourceLocation: sourceLocation)
  }

  @Test(.timeLimit(.minutes(3)))
  func slurmArrayOfWorkersCompletesASweep() throws {
    let started = Date()
    let dir = try TestFiles.temporaryDirectory("cluster-slurm")
    let env = try Self.slurmEnvironment(dir)
    let results = dir.appendingPathComponent("results")
    let sweepFolder = results.appendingPathComponent("cluster-slurm")
    var coordinator: BackgroundProcess?
    defer {
      coordinator?.stop()
      // Cancels the jobs, stops the daemons and leftover job processes by PID.
      _ = try? ClusterSupport.runScript("slurm/local-slurm.sh", ["stop"], environment: env)
      try? FileManager.default.removeItem(at: dir)
    }
    let up = try ClusterSupport.runScript("slurm/local-slurm.sh", ["start"], environment: env)
    try #require(up.status == 0, "local SLURM did not start: \(up.stderr)")
    #expect(up.stdout.contains("export SLURM_CONF="))

    let trials = 5
    let sweep = try ClusterSupport.writeSweep(
      in: dir, name: "cluster-slurm", trials: trials, maxIterations: 100, evalEvery: 50)
    let port = try Processes.freePort()
    let address = "tcp://127.0.0.1:\(port)"

    // Workers first: the 5 tiny trials take well under a second, so a task that started after
    // the sweep ended would wait for a coordinator that is gone. With both tasks running (and
    // retrying their connection) before the coordinator binds, both are shut down at the end.
    var submitEnv = env
    submitEnv["TAILSWEEP_BIN"] = Binary.path
    submitEnv["TAILSWEEP_LOG_DIR"] = dir.appendingPathComponent("logs").path
    let submit = try ClusterSupport.runScript(
      "slurm/submit.sh", [address, "2", "--", "--coordinator-timeout", "60"],
      environment: submitEnv)
    try #require(submit.status == 0, "sbatch failed: \(submit.stderr)")
    let job = submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(Int(job) != nil, "job id: \(job)")
    let running = Processes.waitUntil(timeout: 30, interval: 0.2) {
      let q = try? ClusterSupport.run(
        "/usr/bin/squeue", ["-h", "-j", job, "-t", "RUNNING", "-o", "%i"], environment: env,
        timeout: 15)
      return q?.stdout.split(separator: "\n").count == 2
    }
    try #require(running, "the 2 array tasks did not start")

    coordinator = try BackgroundProcess(
      Binary.path,
      [
        "coordinator", sweep, "--bind", address, "--results", results.path, "--progress", "plain",
      ],
      log: dir.appendingPathComponent("coordinator.log"))

    // Bounded: 5 trials of 100 iterations take seconds; the rest is start-up and scheduling.
    let finished = Processes.waitUntil(timeout: 75, interval: 0.5) {
      guard let s = Self.status(sweepFolder) else { return false }
      return s.total == trials && s.count(.done) + s.count(.diverged) + s.count(.failed) == trials
    }
    let logs =
      (try? FileManager.default.contentsOfDirectory(
        at: dir.appendingPathComponent("logs"), includingPropertiesForKeys: nil)) ?? []
    let workerLogs = logs.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }
    try #require(
      finished,
      "sweep did not finish; coordinator:\n\(coordinator?.output ?? "")\nworkers:\n\(workerLogs.joined(separator: "\n"))"
    )
    // Both array tasks ran a worker (their logs exist and name the job).
    #expect(logs.count == 2, "\(logs.map(\.lastPathComponent))")
    #expect(workerLogs.allSatisfy { $0.contains("tailsweep-worker: job \(job) task") })
    try Self.expectOneResultPerTrial(sweepFolder, trials: trials)
    // The coordinator exits once the sweep is complete, and shuts the workers down: both array
    // tasks end by themselves, COMPLETED (exit 0), recorded by jobcomp/filetxt.
    #expect(coordinator?.wait(timeout: 10) == 0, "\(coordinator?.output ?? "")")
    let jobcomp = dir.appendingPathComponent("slurm/log/jobcomp.txt")
    let completed = Processes.waitUntil(timeout: 20, interval: 0.5) {
      let text = (try? String(contentsOf: jobcomp, encoding: .utf8)) ?? ""
      let tasks = text.split(separator: "\n").filter { $0.contains("ArrayJobId=\(job) ") }
      return tasks.count == 2 && tasks.allSatisfy { $0.contains("JobState=COMPLETED") }
    }
    #expect(
      completed,
      "array tasks did not complete: \((try? String(contentsOf: jobcomp, encoding: .utf8)) ?? "")")
    #expect(Date().timeIntervalSince(started) < 90)
  }

  /// Coordinator in host `coordinator`, workers in `w1` and `w2` (CURVE over the namespace
  /// network) and in `w3` one whose key is not on the allow-list (never served); w1 is cut off
  /// while it trains a trial. `healBeforeEnd == false`: the sweep ends
  /// without w1, then the link is healed. `true`: the link is healed as soon as w1's lease is
  /// declared lost, so w1 comes back with a stale attempt while w2 is still working; it must not
  /// produce a second result, and w1 must rejoin (it is shut down with the sweep's end).
  @Test(.timeLimit(.minutes(3)), arguments: [false, true])
  func namespaceHostsFinishASweepWhenAWorkerIsCutOff(healBeforeEnd: Bool) throws {
    let dir = try TestFiles.temporaryDirectory("cluster-netns")
    // A prefix of this run only ("t" + 4 random hex digits + "-"): a developer's harness (tsw-)
    // and a concurrent run of this test are left alone. Each harness has its own bridge, so
    // the subnet need not differ.
    let prefix = "t\(String(UInt16.random(in: 0x1000...0xffff), radix: 16))-"
    let env = ["TSW_PREFIX": prefix, "TSW_SUBNET": "10.231.8"]
    let hosts = ClusterSupport.script("netns/hosts.sh")
    var processes: [BackgroundProcess] = []
    defer {
      for p in processes { p.stop(grace: 3) }
      // Kills whatever is left in the namespaces by PID, then deletes links and namespaces.
      _ = try? ClusterSupport.run(hosts, ["down"], environment: env)
      try? FileManager.default.removeItem(at: dir)
    }
    let up = try ClusterSupport.run(hosts, ["up", "3"], environment: env)
    try #require(up.status == 0, "\(up.stderr)")
    let coordinatorIP = try ClusterSupport.run(hosts, ["addr", "coordinator"], environment: env)
      .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(coordinatorIP == "10.231.8.10")
    let address = "tcp://\(coordinatorIP):5555"

    // Trials of about 1.5 s (30000 steps), so that w1 is cut off in the middle of one; with an
    // early heal, enough of them that w2 is still busy when w1 comes back.
    let trials = healBeforeEnd ? 8 : 6
    let sweep = try ClusterSupport.writeSweep(
      in: dir, name: "cluster-netns", trials: trials, maxIterations: 30000, evalEvery: 30000)
    let results = dir.appendingPathComponent("results")
    let sweepFolder = results.appendingPathComponent("cluster-netns")
    // Fast heartbeats (250 ms × 4): a cut-off worker loses its lease after about a second.
    let timing = ["--heartbeat-ms", "250", "--liveness", "4"]
    // CURVE over the namespace network: a coordinator keypair, one worker keypair, an allow-list.
    let keys = dir.appendingPathComponent("keys")
    for who in ["coordinator", "worker", "intruder"] {
      let g = try Binary.run(["keys", "generate", "--out", keys.appendingPathComponent(who).path])
      try #require(g.status == 0, "keys generate: \(g.stderr)")
    }
    let allow = keys.appendingPathComponent("allowed-workers")
    try FileManager.default.copyItem(
      at: keys.appendingPathComponent("worker/public.key"), to: allow)
    let coordinator = try BackgroundProcess(
      hosts,
      [
        "exec", "coordinator", Binary.path, "coordinator", sweep, "--bind", "tcp://*:5555",
        "--results", results.path, "--keys", keys.appendingPathComponent("coordinator").path,
        "--allow", allow.path, "--progress", "plain",
      ] + timing, log: dir.appendingPathComponent("coordinator.log"), environment: env)
    processes.append(coordinator)
    var workers: [String: BackgroundProcess] = [:]
    for host in ["w1", "w2"] {
      let w = try BackgroundProcess(
        hosts,
        [
          "exec", host, Binary.path, "worker", "--connect", address, "--id", host,
          "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
          "--keys", keys.appendingPathComponent("worker").path,
        ] + timing,
        log: dir.appendingPathComponent("\(host).log"),
        environment: env.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 })
      workers[host] = w
      processes.append(w)
    }
    // w3 has a keypair that is not on the allow-list: it must never be served.
    let intruder = try BackgroundProcess(
      hosts,
      [
        "exec", "w3", Binary.path, "worker", "--connect", address, "--id", "w3",
        "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
        "--keys", keys.appendingPathComponent("intruder").path,
      ] + timing, log: dir.appendingPathComponent("w3.log"), environment: env)
    processes.append(intruder)

    // Cut w1 off once it holds a lease (it has taken a trial and is training it).
    let w1Busy = Processes.waitUntil(timeout: 30, interval: 0.1) {
      Self.status(sweepFolder)?.workers.contains { $0.running > 0 && $0.worker.hasPrefix("w1~") }
        ?? false
    }
    try #require(
      w1Busy, "w1 never took a trial:\n\(coordinator.output)\n\(workers["w1"]?.output ?? "")")
    let cut = try ClusterSupport.run(hosts, ["cut", "w1"], environment: env)
    #expect(cut.status == 0, "\(cut.stderr)")

    // The coordinator declares w1's lease lost (silent past 4 × 250 ms).
    let lost = Processes.waitUntil(timeout: 20, interval: 0.1) {
      Self.status(sweepFolder)?.workers.contains { $0.worker.hasPrefix("w1~") && $0.failed >= 1 }
        ?? false
    }
    #expect(lost, "w1's lease was not declared lost:\n\(coordinator.output)")
    if healBeforeEnd {
      let heal = try ClusterSupport.run(hosts, ["heal", "w1"], environment: env)
      #expect(heal.status == 0, "\(heal.stderr)")
    }

    let finished = Processes.waitUntil(timeout: 60, interval: 0.5) {
      guard let s = Self.status(sweepFolder) else { return false }
      return s.count(.done) + s.count(.diverged) + s.count(.failed) == trials
    }
    try #require(
      finished,
      "sweep did not finish after the cut:\n\(coordinator.output)\nw2:\n\(workers["w2"]?.output ?? "")"
    )
    // The coordinator exits 0 and shuts down the workers it can reach.
    #expect(coordinator.wait(timeout: 10) == 0, "\(coordinator.output)")
    #expect(workers["w2"]?.wait(timeout: 10) == 0, "\(workers["w2"]?.output ?? "")")
    if healBeforeEnd {
      // w1 reconnected after the heal and was shut down with the others.
      #expect(workers["w1"]?.wait(timeout: 10) == 0, "\(workers["w1"]?.output ?? "")")
    } else {
      // Cut off, w1 never hears of the end; it is stopped by PID at teardown.
      #expect(workers["w1"]?.isRunning == true)
      let heal = try ClusterSupport.run(hosts, ["heal", "w1"], environment: env)
      #expect(heal.status == 0, "\(heal.stderr)")
    }
    let list = try ClusterSupport.run(hosts, ["list"], environment: env)
    #expect(list.stdout.contains("w1\t\(prefix)w1\t10.231.8.11\tup"), "\(list.stdout)")
    // w1's cut-off attempt ended without a result of its own, and nothing holds a lease.
    let s = try #require(Self.status(sweepFolder))
    #expect(s.workers.allSatisfy { $0.running == 0 }, "\(s.workers)")
    #expect(
      !s.workers.contains { $0.worker.hasPrefix("w3") }, "a worker off the allow-list was served")
    // Under CURVE a worker's routing id, and so its name in the store, carries its key's tag.
    let w1 = try #require(s.workers.first { $0.worker.hasPrefix("w1~") }?.worker, "\(s.workers)")
    #expect(w1.count == "w1".count + 17)
    #expect(coordinator.output.contains("worker key refused"))
    // w1's cut-off lease: still `lost`, or, when its result came back after the heal, closed by
    // that result (kept as the trial's result when the trial had none yet, else a duplicate)
    // with the loss kept in its error. Never a second result (checked below).
    let store = try SweepStore(
      readOnlyPath: sweepFolder.appendingPathComponent("sweep.sqlite").path)
    let history = try store.attempts(worker: w1)
    try store.close()
    let cutOff = history.filter {
      $0.outcome == .lost
        || ($0.error?.hasPrefix("declared lost") ?? false
          && ($0.outcome == .committed || $0.outcome == .duplicate))
    }
    #expect(cutOff.count == 1, "\(history)\n\(coordinator.output)")
    if !healBeforeEnd { #expect(cutOff.first?.outcome == .lost, "\(history)") }
    try Self.expectOneResultPerTrial(sweepFolder, trials: trials)
  }

  /// The ssh launcher through real OpenSSH servers: sshd runs on the namespace hosts w1 and w2
  /// (cluster/netns/ssh-hosts.sh, keys made here), and the coordinator host starts the workers
  /// with cluster/ssh/launch-workers.sh over ssh. w1 is partitioned in the middle of a trial and
  /// stays cut off until the sweep has ended without it; then it is healed and
  /// cluster/ssh/stop-workers.sh, again over ssh, stops its orphaned worker by PID.
  @Test(.timeLimit(.minutes(3)))
  func sshHostsRunWorkersThroughRealSSHDAndSurviveAPartition() throws {
    try #require(
      Processes.hasProgram("/usr/sbin/sshd") && Processes.hasProgram("ssh"),
      "openssh-server and openssh-client are missing: run scripts/setup.sh test")
    let dir = try TestFiles.temporaryDirectory("cluster-ssh-netns")
    let prefix = "t\(String(UInt16.random(in: 0x1000...0xffff), radix: 16))-"
    let env = ["TSW_PREFIX": prefix, "TSW_SUBNET": "10.231.10"]
    let hosts = ClusterSupport.script("netns/hosts.sh")
    let sshDir = dir.appendingPathComponent("ssh")
    var processes: [BackgroundProcess] = []
    defer {
      for p in processes { p.stop(grace: 3) }
      _ = try? ClusterSupport.runScript(
        "netns/ssh-hosts.sh", ["stop", sshDir.path], environment: env)
      _ = try? ClusterSupport.run(hosts, ["down"], environment: env)
      try? FileManager.default.removeItem(at: dir)
    }
    let up = try ClusterSupport.run(hosts, ["up", "2"], environment: env)
    try #require(up.status == 0, "\(up.stderr)")
    let sshd = try ClusterSupport.runScript(
      "netns/ssh-hosts.sh", ["start", sshDir.path, "w1", "w2"], environment: env)
    try #require(sshd.status == 0, "\(sshd.stderr)")
    let sshCommand = "ssh -F \(sshDir.appendingPathComponent("ssh_config").path)"
    let hostfile = sshDir.appendingPathComponent("hostfile").path

    let trials = 6
    let sweep = try ClusterSupport.writeSweep(
      in: dir, name: "cluster-ssh-netns", trials: trials, maxIterations: 30000, evalEvery: 30000)
    let results = dir.appendingPathComponent("results")
    let sweepFolder = results.appendingPathComponent("cluster-ssh-netns")
    let timing = ["--heartbeat-ms", "250", "--liveness", "4"]
    let keys = dir.appendingPathComponent("keys")
    for who in ["coordinator", "worker"] {
      let g = try Binary.run(["keys", "generate", "--out", keys.appendingPathComponent(who).path])
      try #require(g.status == 0, "keys generate: \(g.stderr)")
    }
    let allow = keys.appendingPathComponent("allowed-workers")
    try FileManager.default.copyItem(
      at: keys.appendingPathComponent("worker/public.key"), to: allow)
    let coordinator = try BackgroundProcess(
      hosts,
      [
        "exec", "coordinator", Binary.path, "coordinator", sweep, "--bind", "tcp://*:5555",
        "--results", results.path, "--keys", keys.appendingPathComponent("coordinator").path,
        "--allow", allow.path, "--progress", "plain",
      ] + timing, log: dir.appendingPathComponent("coordinator.log"), environment: env)
    processes.append(coordinator)

    // From the coordinator host, over ssh: one worker on each of w1 and w2.
    let remote = dir.appendingPathComponent("remote").path
    let local = dir.appendingPathComponent("local").path
    let launch = try ClusterSupport.run(
      hosts,
      [
        "exec", "coordinator", ClusterSupport.script("ssh/launch-workers.sh"), hostfile,
        "tcp://10.231.10.10:5555", "--ssh", sshCommand, "--bin", Binary.path,
        "--remote-dir", "\(remote)/%h", "--local-dir", local,
        "--server-key", keys.appendingPathComponent("coordinator/public.key").path,
        "--keys", keys.appendingPathComponent("worker").path, "--",
      ] + timing, environment: env)
    try #require(launch.status == 0, "\(launch.stderr)")
    var pids: [String: Int32] = [:]
    for host in ["w1", "w2"] {
      let list = try String(contentsOfFile: "\(local)/\(host).pids", encoding: .utf8)
        .split(separator: "\n").compactMap { Int32($0) }
      try #require(list.count == 1, "\(host): \(list)\n\(launch.stderr)")
      pids[host] = list[0]
      // The worker runs on that host: sshd started it inside the host's namespace.
      let inHost = try ClusterSupport.run(hosts, ["pids", host], environment: env).stdout
      #expect(
        inHost.split(separator: "\n").contains("\(list[0])"),
        "worker \(list[0]) is not on \(host): \(inHost)")
      let sshLog =
        (try? String(
          contentsOfFile: sshDir.appendingPathComponent("sshd-\(host).log").path, encoding: .utf8))
        ?? ""
      #expect(sshLog.contains("Accepted publickey for root"), "\(host) sshd log:\n\(sshLog)")
    }
    let w1ID = "-\(pids["w1"]!)-"  // worker ids are host-pid-random

    let w1Busy = Processes.waitUntil(timeout: 30, interval: 0.1) {
      Self.status(sweepFolder)?.workers.contains { $0.running > 0 && $0.worker.contains(w1ID) }
        ?? false
    }
    try #require(w1Busy, "w1 never took a trial:\n\(coordinator.output)")
    let cut = try ClusterSupport.run(hosts, ["cut", "w1"], environment: env)
    #expect(cut.status == 0, "\(cut.stderr)")

    let finished = Processes.waitUntil(timeout: 90, interval: 0.5) {
      guard let s = Self.status(sweepFolder) else { return false }
      return s.count(.done) + s.count(.diverged) + s.count(.failed) == trials
    }
    try #require(finished, "sweep did not finish after the cut:\n\(coordinator.output)")
    #expect(coordinator.wait(timeout: 10) == 0, "\(coordinator.output)")
    // w2's worker was shut down with the sweep; w1's, cut off, never heard of the end.
    #expect(Processes.waitUntil(timeout: 10) { !Self.isTailsweep(pids["w2"]!) })
    #expect(Self.isTailsweep(pids["w1"]!))
    let heal = try ClusterSupport.run(hosts, ["heal", "w1"], environment: env)
    #expect(heal.status == 0, "\(heal.stderr)")

    let stop = try ClusterSupport.run(
      hosts,
      [
        "exec", "coordinator", ClusterSupport.script("ssh/stop-workers.sh"), hostfile,
        "--ssh", sshCommand, "--remote-dir", "\(remote)/%h",
      ], environment: env)
    #expect(stop.status == 0, "\(stop.stderr)")
    #expect(stop.stderr.contains("w1: stopped: \(pids["w1"]!)"), "\(stop.stderr)")
    #expect(stop.stderr.contains("w2: stopped:\n"), "\(stop.stderr)")
    #expect(!Self.isTailsweep(pids["w1"]!))
    #expect(!FileManager.default.fileExists(atPath: "\(remote)/w1/workers.pids"))

    // w1's lease was declared lost, the trial ran again on w2: one result per trial.
    let store = try SweepStore(
      readOnlyPath: sweepFolder.appendingPathComponent("sweep.sqlite").path)
    let s = try store.status(sweepID: nil)
    let w1Name = try #require(s.workers.first { $0.worker.contains(w1ID) }?.worker)
    let history = try store.attempts(worker: w1Name)
    try store.close()
    // The partition costs exactly one lease. An assignment the coordinator could not hand to
    // a not-yet-routable connection also ends `lost` ("assignment not delivered", using up no
    // attempt, docs/protocol.md); a clean-clone CI run on 2026-12-03 saw one right after w1
    // registered, so it is not counted here.
    let lost = history.filter {
      $0.outcome == .lost && !($0.error ?? "").hasPrefix("assignment not delivered")
    }
    #expect(lost.count == 1, "\(history)")
    try Self.expectOneResultPerTrial(sweepFolder, trials: trials)
  }

  /// Whether `pid` runs a live (not zombie) program named tailsweep.
  private static func isTailsweep(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
      return false
    }
    return stat.contains("(tailsweep)") && !stat.contains(") Z ")
  }
}
