import Foundation
import SweepSpec
import SweepStore
import TailSweepTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The live web view (`tailsweep serve`, `--http`) and the static report, in headless Chromium
/// and over plain HTTP, against real sweeps run by the built binary.
@Suite(.serialized) struct LiveViewTests {
  /// A small real sweep of plain and noisy SGD on synthetic data: 16 trials of 0.2–0.8 s each
  /// with one worker (debug build, idle machine), so results commit one by one over several
  /// seconds. σ = 1 at α = 1.75 prunes some 45 points more than plain SGD at these fixed seeds
  /// (every paired CI far above 0), so the page has a definite answer to show.
  static func writeSweep(_ dir: URL, name: String, seeds: Int = 4, iterations: Int = 6000)
    throws -> String
  {
    let text = """
      # Live view test sweep: plain vs noisy SGD, tiny synthetic trials.
      description: "live view end-to-end test"
      name: \(name)
      dataset: {name: synthetic, trainSize: 500, testSize: 200}
      train:
        eta: 0.0005
        batchSize: 25
        alpha: 1.75
        targetAccuracy: 1.0
        maxIterations: \(iterations)
        evalEvery: \(iterations / 4)
      grid:
        width: [16, 32]
        sigma: [0, 1]
      seeds: \(seeds)
      """
    let path = dir.appendingPathComponent("\(name).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// The URL a `serve` or `run --http` process printed (`live view: http://…/`).
  static func liveURL(_ p: BackgroundProcess, within seconds: Double = 60) -> URL? {
    var url: URL?
    _ = Processes.waitUntil(timeout: seconds, interval: 0.05) {
      for line in p.output.split(separator: "\n") where line.hasPrefix("live view: ") {
        let word = line.dropFirst("live view: ".count).split(separator: " ").first ?? ""
        url = URL(string: String(word))
      }
      return url != nil || !p.process.isRunning
    }
    return url
  }

  /// A coordinator of sweep `name` (one seed, `iterations` per trial) on a free port with a
  /// live view on a free loopback port; returns it, its ZeroMQ port and the view's port. The
  /// caller stops it.
  static func coordinatorWithHTTP(
    _ dir: URL, name: String, iterations: Int
  ) throws -> (process: BackgroundProcess, port: Int, http: Int) {
    let sweep = try writeSweep(dir, name: name, seeds: 1, iterations: iterations)
    let port = try Processes.freePort()
    let c = try BackgroundProcess(
      tailsweep: [
        "coordinator", sweep, "--bind", "tcp://127.0.0.1:\(port)", "--progress", "none", "--http",
        "127.0.0.1:0",
      ]
        + Dist.fastTiming, in: dir, name: "coordinator", environment: ["TAILSWEEP_DATA": dir.path])
    let http = liveURL(c)?.port
    if http == nil { c.stop(grace: 0) }
    return (c, port, try #require(http, "no live view: \(c.output)"))
  }

  /// The file descriptors of process `pid` open on `file`, with their open flags.
  static func openFlags(pid: pid_t, file: String) -> [Int] {
    let fdDir = "/proc/\(pid)/fd"
    let target = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
    var out: [Int] = []
    for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? [] {
      guard let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
        dest == target,
        let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8),
        let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
        let flags = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8)
      else { continue }
      out.append(flags)
    }
    return out
  }

  @Test(
    .enabled(if: Chromium.enabled, "\(Chromium.skipReason)"),
    // 15–40 s alone; 2 min seen with the whole suite running in parallel on 2 cores.
    .timeLimit(.minutes(6)))
  func servePageFollowsARunningSweepInChromium() throws {
    let dir = try TestFiles.temporaryDirectory("live")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Self.writeSweep(dir, name: "live")
    let folder = dir.appendingPathComponent("results/live")
    // The view starts before the sweep: it must wait for the store, then follow it.
    let serve = try BackgroundProcess(
      tailsweep: ["serve", folder.path, "--http", "127.0.0.1:0"], in: dir, name: "serve")
    defer { serve.stop(grace: 0) }
    let url = try #require(Self.liveURL(serve), "serve printed no URL:\n\(serve.output)")
    let browser = try Chromium(width: 1280, height: 900)
    try browser.navigate(url.absoluteString)
    #expect(
      try browser.string("document.getElementById('progress').textContent").hasPrefix("Waiting"))

    let run = try BackgroundProcess(
      tailsweep: ["run", sweep, "--workers", "1", "--results", "results", "--progress", "none"],
      in: dir,
      name: "run", environment: ["TAILSWEEP_DATA": dir.path])
    defer { run.stop(grace: 0) }
    let probe = """
      JSON.stringify({finished: document.getElementById('progress').dataset.finished || null,
        polls: document.body.dataset.polls || '0',
        trials: [...document.querySelectorAll('#recent tr[data-trial]')].map((e) => e.dataset.trial)})
      """
    var firstSeen: [String: Date] = [:]
    var finishedValues: [Int] = []
    var servingChecked = false
    var stopAt: Date?
    while stopAt.map({ Date() < $0 }) ?? true {
      if stopAt == nil && !run.process.isRunning { stopAt = Date().addingTimeInterval(3) }
      let text = try browser.string(probe)
      let now = Date()
      guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
      else { continue }
      if let f = (obj["finished"] as? String).flatMap(Int.init), finishedValues.last != f {
        finishedValues.append(f)
      }
      for t in obj["trials"] as? [String] ?? [] where firstSeen[t] == nil { firstSeen[t] = now }
      // While the coordinator writes, the view's every descriptor on the store is read-only.
      let store = folder.appendingPathComponent("sweep.sqlite").path
      if !servingChecked, run.process.isRunning, FileManager.default.fileExists(atPath: store) {
        let flags = Self.openFlags(pid: serve.pid, file: store)
        if !flags.isEmpty {
          #expect(
            flags.allSatisfy { $0 & Int(O_ACCMODE) == Int(O_RDONLY) },
            "serve opened the store with flags \(flags)")
          servingChecked = true
        }
      }
      usleep(100_000)
    }
    #expect(run.wait(timeout: 1) == 0, "run failed:\n\(run.output)")
    #expect(servingChecked, "the serve process never had the store open while the sweep ran")

    // Progress moved: the page showed several finished counts, ending at all 16 trials.
    #expect(finishedValues.count >= 4, "finished counts seen: \(finishedValues)")
    #expect(finishedValues.last == 16, "finished counts seen: \(finishedValues)")
    // Each result appeared within 2 s of its commit (commit time: its attempt's end in the store).
    let store = try SweepStore(readOnlyPath: folder.appendingPathComponent("sweep.sqlite").path)
    defer { try? store.close() }
    let commits = Dictionary(
      try store.attempts().filter { $0.outcome == .committed }.compactMap { a in
        a.endedAt.map { (a.trial.hex, $0) }
      }, uniquingKeysWith: { a, _ in a })
    #expect(commits.count == 16)
    var delays: [Double] = []
    for (trial, committed) in commits {
      let seen = try #require(
        firstSeen[trial], "trial \(trial.prefix(12)) never appeared on the page")
      delays.append(seen.timeIntervalSince(committed))
    }
    #expect(delays.allSatisfy { $0 <= 2.0 }, "seconds from commit to page: \(delays.sorted())")
    #expect(
      delays.filter { $0 > 0 }.count >= 8, "most results should commit while the page watches")

    // The page leads with the answer, then shows figures and tables.
    let answer = try browser.string("document.getElementById('answer').textContent")
    #expect(answer.contains("α=1.75 σ=1 is more compressible than plain SGD"), "answer: \(answer)")
    #expect(try browser.string("document.querySelectorAll('#figures img').length") != "0")
    #expect(try browser.string("document.querySelectorAll('#tables table').length") == "2")
    let shot = Self.screenshotFolder(dir).appendingPathComponent("live-view.png")
    try browser.screenshot(to: shot)
    #expect(try Data(contentsOf: shot).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))

    // A trial's page: configuration, attempts, training curve, pruning curve, err(κ).
    let first = try browser.string(
      "document.querySelector('#recent tr[data-trial] a').getAttribute('href')")
    try browser.navigate(url.appendingPathComponent(first).absoluteString)
    #expect(try browser.string("document.querySelectorAll('#config tr').length") != "0")
    #expect(
      try browser.string("document.querySelector('#attempts tbody').textContent").contains(
        "committed"))
    let titles = try browser.string(
      "[...document.querySelectorAll('figure svg')].map((s) => s.textContent).join('|')")
    for t in ["Training curve", "Pruning curve", "err(κ)"] {
      #expect(titles.contains(t), "trial page figures: \(titles.prefix(300))")
    }
    try browser.screenshot(to: Self.screenshotFolder(dir).appendingPathComponent("live-trial.png"))

    // The static report written at the end opens with the answer, figures before tables.
    let index = folder.appendingPathComponent("index.html")
    try browser.navigate(index.absoluteString)
    let order = try browser.string(
      """
      (() => { const a = document.getElementById('answer'), f = document.querySelector('figure'),
        t = document.querySelector('table');
        const before = (x, y) => !!(x.compareDocumentPosition(y) & Node.DOCUMENT_POSITION_FOLLOWING);
        return [!!a, before(a, f), before(f, t)].join(','); })()
      """)
    #expect(
      order == "true,true,true", "index.html order (answer, answer<figure, figure<table): \(order)")
    #expect(try browser.string("document.querySelectorAll('figure img').length") != "0")
    #expect(
      try browser.string(
        "[...document.querySelectorAll('figure img')].every((i) => i.complete && i.naturalWidth > 0)"
      )
        == "1", "every figure of index.html loads")
    try browser.screenshot(
      to: Self.screenshotFolder(dir).appendingPathComponent("static-report.png"))
  }

  /// Where screenshots go: `$TAILSWEEP_SCREENSHOTS` (the README's come from there), else the
  /// test's temporary folder.
  static func screenshotFolder(_ dir: URL) -> URL {
    if let d = ProcessInfo.processInfo.environment["TAILSWEEP_SCREENSHOTS"], !d.isEmpty {
      return URL(fileURLWithPath: d)
    }
    return dir
  }

  @Test(.timeLimit(.minutes(3)))
  func runWithHTTPServesTheSweepWhileItRunsAndNeverWritesTheStore() throws {
    let dir = try TestFiles.temporaryDirectory("live-http")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sweep = try Self.writeSweep(dir, name: "livehttp", seeds: 2, iterations: 4000)
    let run = try BackgroundProcess(
      tailsweep: [
        "run", sweep, "--workers", "1", "--results", "results", "--progress", "none", "--http",
        "127.0.0.1:0",
      ],
      in: dir, name: "run", environment: ["TAILSWEEP_DATA": dir.path])
    defer { run.stop(grace: 0) }
    let url = try #require(Self.liveURL(run), "run printed no live view URL:\n\(run.output)")
    let port = try #require(url.port)
    var finished: Set<Int> = []
    var answered = 0
    while run.process.isRunning {
      if let r = try? HTTP.get(port: port, path: "/api/status"), r.status == 200,
        let obj = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
      {
        answered += 1
        #expect(r.headers["content-type"] == "application/json")
        if obj["sweep"] as? String == "livehttp", let f = obj["finished"] as? Int {
          finished.insert(f)
        }
      }
      usleep(200_000)
    }
    #expect(run.wait(timeout: 5) == 0, "run failed:\n\(run.output)")
    #expect(answered > 0)
    #expect(finished.count >= 2, "finished counts seen over HTTP: \(finished.sorted())")

    // After the run: `serve` on the finished store answers every route and leaves the file as
    // it was (same bytes, same modification time).
    let file = dir.appendingPathComponent("results/livehttp/sweep.sqlite")
    let before = try Data(contentsOf: file)
    let mtime =
      try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date
    let serve = try BackgroundProcess(
      tailsweep: ["serve", file.deletingLastPathComponent().path, "--http", "127.0.0.1:0"], in: dir,
      name: "serve")
    defer { serve.stop(grace: 0) }
    let port2 = try #require(Self.liveURL(serve)?.port, "\(serve.output)")
    let status = try HTTP.get(port: port2, path: "/api/status")
    #expect(status.status == 200)
    let obj = try #require(
      try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
    #expect(obj["finished"] as? Int == 8)
    #expect(obj["total"] as? Int == 8)
    let recent = try #require(obj["recent"] as? [[String: Any]])
    let trial = try #require(recent.first?["trial"] as? String)
    for path in ["/", "/api/tables", "/api/trial/\(trial)", "/trial/\(trial)"] {
      #expect(try HTTP.get(port: port2, path: path).status == 200, "GET \(path)")
    }
    let tables = try HTTP.get(port: port2, path: "/api/tables")
    let figures = try #require(
      (try JSONSerialization.jsonObject(with: Data(tables.body.utf8)) as? [String: Any])?["figures"]
        as? [[String: Any]])
    let figURL = try #require(figures.first?["url"] as? String)
    let fig = try HTTP.get(port: port2, path: "/" + figURL)
    #expect(fig.status == 200 && fig.body.contains("<svg"))
    #expect(
      try HTTP.get(port: port2, path: "/api/trial/\(String(repeating: "0", count: 64))").status
        == 404)
    #expect(try HTTP.get(port: port2, path: "/nothing").status == 404)
    // DNS rebinding: without a token, only loopback Host names are answered.
    #expect(
      try HTTP.get(port: port2, path: "/api/status", headers: ["Host": "evil.example:80"]).status
        == 403)
    serve.signal(SIGINT)
    #expect(serve.wait(timeout: 10) == 0)
    #expect(try Data(contentsOf: file) == before)
    #expect(
      try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date
        == mtime)
  }

  @Test(.timeLimit(.minutes(3)))
  func coordinatorWithHTTPShowsItsWorkersLeasesAndProgress() throws {
    let dir = try TestFiles.temporaryDirectory("live-coord")
    defer { try? FileManager.default.removeItem(at: dir) }
    let (c, port, http) = try Self.coordinatorWithHTTP(dir, name: "livecoord", iterations: 6000)
    defer { c.stop(grace: 0) }
    let env = ["TAILSWEEP_DATA": dir.path]
    func status() -> [String: Any]? {
      guard let r = try? HTTP.get(port: http, path: "/api/status"), r.status == 200 else {
        return nil
      }
      return try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
    }
    // Before any worker: the sweep's 4 trials, none finished, no worker.
    var first: [String: Any]?
    #expect(
      Processes.waitUntil(timeout: 30, interval: 0.05) {
        first = status()
        return first?["total"] as? Int == 4
      })
    #expect(first?["finished"] as? Int == 0)
    #expect((first?["workers"] as? [Any])?.isEmpty == true)
    let w = try BackgroundProcess(
      tailsweep: [
        "worker", "--connect", "tcp://127.0.0.1:\(port)", "--id", "wlive", "--coordinator-timeout",
        "20",
      ]
        + Dist.fastTiming, in: dir, name: "wlive", environment: env)
    defer { w.stop(grace: 0) }
    var leases: Set<String> = []
    var finished: Set<Int> = []
    while c.process.isRunning {
      if let s = status() {
        if let f = s["finished"] as? Int { finished.insert(f) }
        for worker in s["workers"] as? [[String: Any]] ?? []
        where worker["worker"] as? String == "wlive" {
          for l in worker["current"] as? [[String: Any]] ?? [] {
            if let t = l["trial"] as? String { leases.insert(t) }
          }
        }
      }
      usleep(100_000)
    }
    #expect(c.wait(timeout: 5) == 0, "\(c.output)")
    // Trials take 0.2 s or more each and the view was asked every 0.1 s: it showed the worker
    // holding leases, and the count of finished trials rising.
    #expect(!leases.isEmpty, "no lease of wlive seen")
    #expect(finished.count >= 2, "finished counts seen: \(finished.sorted())")
  }

  /// Worker liveness through the store: a worker that registers while another holds every
  /// trial stays idle, and the live view (API and page) and `status --json` show its last
  /// heartbeat moving, as the coordinator records it about once a second.
  @Test(.timeLimit(.minutes(3)))
  func coordinatorWithHTTPShowsAnIdleWorkersHeartbeat() throws {
    let dir = try TestFiles.temporaryDirectory("live-idle")
    defer { try? FileManager.default.removeItem(at: dir) }
    // 4 trials of 600 000 iterations: far longer than the test (it stops the coordinator).
    let (c, port, http) = try Self.coordinatorWithHTTP(dir, name: "liveidle", iterations: 600_000)
    defer { c.stop(grace: 0) }
    let env = ["TAILSWEEP_DATA": dir.path]
    func workers() -> [String: [String: Any]] {
      guard let r = try? HTTP.get(port: http, path: "/api/status"), r.status == 200,
        let s = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
      else { return [:] }
      var out: [String: [String: Any]] = [:]
      for w in s["workers"] as? [[String: Any]] ?? [] {
        if let id = w["worker"] as? String { out[id] = w }
      }
      return out
    }
    func worker(_ id: String, slots: Int) throws -> BackgroundProcess {
      try BackgroundProcess(
        tailsweep: [
          "worker", "--connect", "tcp://127.0.0.1:\(port)", "--id", id, "--slots", "\(slots)",
          "--coordinator-timeout", "20",
        ] + Dist.fastTiming, in: dir, name: id, environment: env)
    }
    // The busy worker takes all 4 trials first.
    let busy = try worker("wbusy", slots: 4)
    defer { busy.stop(grace: 0) }
    #expect(
      Processes.waitUntil(timeout: 60, interval: 0.05) {
        (workers()["wbusy"]?["current"] as? [Any])?.count == 4
      },
      "\(c.output)")
    let idle = try worker("widle", slots: 2)
    defer { idle.stop(grace: 0) }
    var first: Date?
    var later: Date?
    let iso = ISO8601DateFormatter()
    iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    var seen: [String: Any] = [:]
    let moved = Processes.waitUntil(timeout: 30, interval: 0.05) {
      guard let w = workers()["widle"], let t = (w["lastHeartbeat"] as? String).flatMap(iso.date)
      else { return false }
      seen = w
      if first == nil { first = t }
      later = t
      return t > first!
    }
    #expect(moved, "idle worker's heartbeat did not move: \(seen)\n\(c.output)")
    // Idle all along: no lease, active, with the slots it declared.
    #expect((seen["current"] as? [Any])?.isEmpty == true && seen["state"] as? String == "active")
    #expect(seen["slots"] as? Int == 2 && seen["attempts"] as? Int == 0, "\(seen)")
    // Recorded about once a second from heartbeats every 0.2 s: a few seconds old at most.
    if let later { #expect(Date().timeIntervalSince(later) < 5) }
    #expect(workers()["wbusy"]?["lastHeartbeat"] != nil)

    // The page shows it: idle, with its last heartbeat "N s ago".
    if Chromium.enabled {
      let browser = try Chromium(width: 1280, height: 900)
      try browser.navigate("http://127.0.0.1:\(http)/")
      var row = ""
      _ = Processes.waitUntil(timeout: 10, interval: 0.05) {
        row =
          (try? browser.string(
            "(document.querySelector('#workers tr[data-worker=\"widle\"]') || {}).innerText || ''"))
          ?? ""
        return !row.isEmpty
      }
      #expect(row.contains("idle") && row.contains("active, 2 slots"), "\(row)")
      let cell =
        (try? browser.string(
          "document.querySelector('#workers tr[data-worker=\"widle\"] td.heartbeat').textContent"))
        ?? ""
      #expect(cell.range(of: #"^[0-9]+ s ago$"#, options: .regularExpression) != nil, "\(cell)")
    }

    // `status --json` reads the same record.
    let st = try Binary.run(["status", "--json"], in: dir)
    #expect(st.status == 0, "\(st.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any])
    let beats = object["heartbeats"] as? [[String: Any]] ?? []
    let entry = try #require(beats.first { $0["worker"] as? String == "widle" }, "\(st.stdout)")
    #expect(entry["state"] as? String == "active" && entry["slots"] as? Int == 2)
    #expect((entry["secondsSinceHeartbeat"] as? Double ?? 99) < 5)
  }

  @Test(.timeLimit(.minutes(2)))
  func aRemoteAddressNeedsTheFlagAndATokenAndEveryRequestCarriesIt() throws {
    let dir = try TestFiles.temporaryDirectory("live-token")
    defer { try? FileManager.default.removeItem(at: dir) }
    // Usage errors: exit 2 with a message naming the flag.
    let noFlag = try Binary.run(["serve", dir.path, "--http", "0.0.0.0:0"])
    #expect(noFlag.status == 2)
    #expect(noFlag.stderr.contains("--http-allow-remote"), "\(noFlag.stderr)")
    let noToken = try Binary.run(["serve", dir.path, "--http", "0.0.0.0:0", "--http-allow-remote"])
    #expect(noToken.status == 2)
    #expect(noToken.stderr.contains("--http-token"), "\(noToken.stderr)")
    let bad = try Binary.run(["serve", dir.path, "--http", "localhost"])
    #expect(bad.status == 2)
    let runBad = try Binary.run(["run", "sweeps/quickstart.yaml", "--http", "10.0.0.1:80"])
    #expect(runBad.status == 2, "\(runBad.stderr)")

    let token = "0123456789abcdef0123"
    let serve = try BackgroundProcess(
      tailsweep: [
        "serve", dir.path, "--http", "0.0.0.0:0", "--http-allow-remote", "--http-token", token,
      ],
      in: dir, name: "serve")
    defer { serve.stop(grace: 0) }
    let port = try #require(Self.liveURL(serve)?.port, "\(serve.output)")
    #expect(try HTTP.get(port: port, path: "/api/status").status == 401)
    #expect(try HTTP.get(port: port, path: "/api/status?token=wrong-token-wrong").status == 401)
    #expect(
      try HTTP.get(port: port, path: "/api/status", headers: ["Authorization": "Bearer \(token)"])
        .status == 200)
    let viaQuery = try HTTP.get(port: port, path: "/?token=\(token)")
    #expect(viaQuery.status == 200)
    #expect(viaQuery.headers["set-cookie"]?.hasPrefix("tailsweep_token=" + token) == true)
    #expect(
      try HTTP.get(
        port: port, path: "/api/tables", headers: ["Cookie": "a=b; tailsweep_token=\(token)"]
      )
      .status == 200)
    // A second view on the same port fails at once, saying why.
    let taken = try Binary.run(["serve", dir.path, "--http", "127.0.0.1:\(port)"])
    #expect(taken.status == 2)
    #expect(taken.stderr.contains("Address already in use"), "\(taken.stderr)")
    // No store in the folder yet: the view says so instead of failing.
    let waiting = try HTTP.get(port: port, path: "/api/status?token=\(token)")
    let noStore = #""waiting":"no store yet""#
    #expect(waiting.body.contains(noStore), "\(waiting.body)")
  }
}
