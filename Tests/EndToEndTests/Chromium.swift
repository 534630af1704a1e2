import Foundation
import TailSweepTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Headless Chromium driven over the DevTools protocol (a small WebSocket client on a plain
/// socket), for the browser tests of the live view and the static report.
///
/// `scripts/setup.sh test` installs Debian's `chromium`. Where it cannot run, the tests that need
/// it are skipped with that reason, except under `make test` or CI (`required`), where they run
/// and fail.
final class Chromium {
  /// The browser executable, if one is installed.
  static let executable: String? = {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
      for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
      }
    }
    return nil
  }()

  /// Whether the tests must run (`make test`, which CI runs, sets TAILSWEEP_REQUIRE_BROWSER=1;
  /// or `$CI` is set): then a browser that cannot run is a failure, not a skip.
  static let required: Bool = {
    let env = ProcessInfo.processInfo.environment
    return env["TAILSWEEP_REQUIRE_BROWSER"] == "1" || !(env["CI"] ?? "").isEmpty
  }()

  /// Whether a browser test should run: Chromium starts here, or CI requires it.
  static let enabled: Bool = {
    if required { return true }
    guard let exe = executable else { return false }
    // It must start, not only exist (a broken install, no shared libraries).
    guard
      let out = try? Binary.runProcess(
        exe, ["--version"], in: URL(fileURLWithPath: "/"), timeout: 60)
    else { return false }
    return out.status == 0
  }()

  static let skipReason =
    "chromium cannot run here (run `scripts/setup.sh test` to install Debian's chromium)"

  private let process: Process
  private let profile: URL
  private var ws: WebSocket
  private var nextID = 1
  /// The DevTools port (its HTTP endpoints list targets).
  let port: Int

  /// Starts headless Chromium with a fresh profile and attaches to its first page.
  init(width: Int = 1280, height: Int = 1000) throws {
    guard let exe = Self.executable else {
      throw BrowserError("no chromium executable: \(Self.skipReason)")
    }
    profile = try TestFiles.temporaryDirectory("chromium-profile")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--no-first-run", "--no-default-browser-check", "--disable-extensions",
      "--hide-scrollbars", "--remote-debugging-port=0", "--user-data-dir=\(profile.path)",
      "--window-size=\(width),\(height)", "about:blank",
    ]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    process = p
    // Chromium writes the port it picked into the profile once DevTools listens.
    let portFile = profile.appendingPathComponent("DevToolsActivePort")
    let deadline = Date().addingTimeInterval(60)
    var found: Int?
    while found == nil && Date() < deadline && p.isRunning {
      if let text = try? String(contentsOf: portFile, encoding: .utf8),
        let first = text.split(separator: "\n").first, let n = Int(first)
      {
        found = n
      } else {
        usleep(50_000)
      }
    }
    guard let port = found else {
      p.terminate()
      throw BrowserError("chromium did not open its DevTools port within 60 s")
    }
    self.port = port
    let list = try HTTP.get(port: port, path: "/json/list")
    guard
      let targets = try JSONSerialization.jsonObject(with: Data(list.body.utf8))
        as? [[String: Any]],
      let page = targets.first(where: { $0["type"] as? String == "page" }),
      let wsURL = page["webSocketDebuggerUrl"] as? String,
      let path = URL(string: wsURL)?.path
    else {
      p.terminate()
      throw BrowserError("no page target in DevTools' /json/list: \(list.body)")
    }
    ws = try WebSocket(port: port, path: path)
    _ = try call("Page.enable")
    _ = try call("Runtime.enable")
  }

  deinit {
    ws.close()
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: profile)
  }

  /// Sends one DevTools command and returns its `result` (events in between are dropped).
  @discardableResult
  func call(_ method: String, _ params: [String: Any] = [:]) throws -> [String: Any] {
    let id = nextID
    nextID += 1
    let message: [String: Any] = ["id": id, "method": method, "params": params]
    try ws.send(
      String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self))
    while true {
      let text = try ws.receive()
      guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
      else { continue }
      guard obj["id"] as? Int == id else { continue }
      if let error = obj["error"] { throw BrowserError("\(method) failed: \(error)") }
      return obj["result"] as? [String: Any] ?? [:]
    }
  }

  /// Opens `url` and waits until the document has loaded.
  func navigate(_ url: String) throws {
    try call("Page.navigate", ["url": url])
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      if (try? evaluate("document.readyState")) as? String == "complete" { return }
      usleep(50_000)
    }
    throw BrowserError("\(url) did not finish loading within 30 s")
  }

  /// Evaluates a JavaScript expression in the page and returns its value (JSON types).
  func evaluate(_ expression: String) throws -> Any? {
    let r = try call(
      "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
    if let e = r["exceptionDetails"] { throw BrowserError("script failed: \(e)") }
    return (r["result"] as? [String: Any])?["value"]
  }

  /// The expression's value as a string ("" for null).
  func string(_ expression: String) throws -> String {
    let v = try evaluate(expression)
    if let s = v as? String { return s }
    if let n = v as? NSNumber { return n.stringValue }
    return ""
  }

  /// A PNG of the whole page (beyond the window), written to `file`.
  func screenshot(to file: URL) throws {
    let r = try call(
      "Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
    guard let b64 = r["data"] as? String, let data = Data(base64Encoded: b64) else {
      throw BrowserError("no screenshot data")
    }
    try FileManager.default.createDirectory(
      at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: file)
  }
}

struct BrowserError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// A blocking TCP connection to 127.0.0.1 with a receive timeout.
final class TCPConnection {
  let fd: Int32
  init(port: Int, timeout: Int = 30) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BrowserError("socket() failed") }
    var tv = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    guard ok else {
      Glibc.close(fd)
      throw BrowserError("cannot connect to 127.0.0.1:\(port)")
    }
  }
  func write(_ bytes: [UInt8]) throws {
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes {
        send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
      }
      guard n > 0 else { throw BrowserError("send failed") }
      sent += n
    }
  }
  /// Up to `max` bytes; empty at EOF.
  func read(max: Int = 65536) throws -> [UInt8] {
    var buf = [UInt8](repeating: 0, count: max)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
    guard n >= 0 else { throw BrowserError("recv failed or timed out (errno \(errno))") }
    return Array(buf[0..<n])
  }
  func close() { Glibc.close(fd) }
}

/// Plain HTTP/1.1 requests to 127.0.0.1 (the test controls every header, e.g. Host).
enum HTTP {
  struct Response {
    var status: Int
    var headers: [String: String]
    var body: String
  }

  static func get(port: Int, path: String, headers: [String: String] = [:]) throws -> Response {
    let c = try TCPConnection(port: port)
    defer { c.close() }
    var req = "GET \(path) HTTP/1.1\r\n"
    var h = headers
    if h["Host"] == nil { h["Host"] = "127.0.0.1:\(port)" }
    h["Connection"] = "close"
    for (k, v) in h.sorted(by: { $0.key < $1.key }) { req += "\(k): \(v)\r\n" }
    req += "\r\n"
    try c.write(Array(req.utf8))
    var data: [UInt8] = []
    // Until EOF, or until Content-Length bytes of body arrived (DevTools keeps the connection).
    while true {
      let chunk = try c.read()
      if chunk.isEmpty { break }
      data += chunk
      if let end = data.firstRange(of: [13, 10, 13, 10]) {
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }
        ),
          let n = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)),
          data.count - end.upperBound >= n
        {
          break
        }
      }
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else {
      throw BrowserError("malformed HTTP response: \(text.prefix(200))")
    }
    let head = text[..<split.lowerBound].split(separator: "\r\n")
    let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    var fields: [String: String] = [:]
    for line in head.dropFirst() {
      if let colon = line.firstIndex(of: ":") {
        fields[line[..<colon].lowercased()] = line[line.index(after: colon)...]
          .trimmingCharacters(in: .whitespaces)
      }
    }
    var body = String(text[split.upperBound...])
    if fields["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
    return Response(status: status, headers: fields, body: body)
  }

  static func dechunk(_ s: String) -> String {
    var rest = Array(s.utf8)[...]
    var out: [UInt8] = []
    while let nl = rest.firstIndex(of: 13), rest.index(after: nl) < rest.endIndex,
      let n = Int(String(decoding: rest[..<nl], as: UTF8.self), radix: 16), n > 0
    {
      let start = nl + 2
      let end = min(start + n, rest.endIndex)
      out += rest[start..<end]
      rest = rest[min(end + 2, rest.endIndex)...]
    }
    return String(decoding: out, as: UTF8.self)
  }
}

/// A minimal WebSocket client (RFC 6455): text messages, masked client frames.
final class WebSocket {
  private let conn: TCPConnection
  private var buffer: [UInt8] = []

  init(port: Int, path: String) throws {
    conn = try TCPConnection(port: port, timeout: 60)
    let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    let req =
      "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\n"
      + "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
    try conn.write(Array(req.utf8))
    while true {
      if let end = find([13, 10, 13, 10]) {
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        guard head.hasPrefix("HTTP/1.1 101") else {
          throw BrowserError("WebSocket upgrade refused: \(head)")
        }
        return
      }
      let chunk = try conn.read()
      if chunk.isEmpty { throw BrowserError("WebSocket closed during the handshake") }
      buffer += chunk
    }
  }

  private func find(_ pattern: [UInt8]) -> Int? {
    guard buffer.count >= pattern.count else { return nil }
    for i in 0...(buffer.count - pattern.count)
    where Array(buffer[i..<i + pattern.count]) == pattern {
      return i
    }
    return nil
  }

  private func take(_ n: Int) throws -> [UInt8] {
    while buffer.count < n {
      let chunk = try conn.read(max: max(65536, n - buffer.count))
      if chunk.isEmpty { throw BrowserError("WebSocket closed") }
      buffer += chunk
    }
    let out = Array(buffer[0..<n])
    buffer.removeFirst(n)
    return out
  }

  func send(_ text: String) throws {
    let payload = Array(text.utf8)
    var frame: [UInt8] = [0x81]
    if payload.count < 126 {
      frame.append(0x80 | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
      frame.append(0x80 | 126)
      frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
      frame.append(0x80 | 127)
      frame += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
    }
    let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
    frame += mask
    frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    try conn.write(frame)
  }

  /// The next text message (fragments joined; pings answered).
  func receive() throws -> String {
    var message: [UInt8] = []
    while true {
      let h = try take(2)
      let fin = h[0] & 0x80 != 0
      let opcode = h[0] & 0x0F
      var length = Int(h[1] & 0x7F)
      if length == 126 {
        let b = try take(2)
        length = Int(b[0]) << 8 | Int(b[1])
      } else if length == 127 {
        length = try take(8).reduce(0) { $0 << 8 | Int($1) }
      }
      let masked = h[1] & 0x80 != 0
      let mask = masked ? try take(4) : []
      var payload = try take(length)
      if masked { payload = payload.enumerated().map { $0.element ^ mask[$0.offset % 4] } }
      switch opcode {
      case 0x8: throw BrowserError("WebSocket closed by the browser")
      case 0x9:
        // Ping: answer with a masked pong carrying the same payload.
        var frame: [UInt8] = [0x8A, 0x80 | UInt8(payload.count)]
        let m = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += m + payload.enumerated().map { $0.element ^ m[$0.offset % 4] }
        try conn.write(frame)
        continue
      case 0xA: continue
      default: message += payload
      }
      if fin { return String(decoding: message, as: UTF8.self) }
    }
  }

  func close() { conn.close() }
}
