import FlyingFox
import FlyingSocks
import Foundation
import SweepSpec
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Where and how the live view listens.
public struct ServeOptions: Sendable {
  /// `HOST:PORT` (port 0: any free port). IPv4 or a bracketed IPv6 address (`[::1]:8321`).
  public var address: String
  /// Allow an address that is not loopback (needs `token`).
  public var allowRemote: Bool
  /// Access token: when set, every request must carry it (`Authorization: Bearer T`, a
  /// `tailsweep_token` cookie, or `?token=T`, which also sets the cookie).
  public var token: String?

  /// The default address: loopback only.
  public static let defaultAddress = "127.0.0.1:8321"

  public init(
    address: String = ServeOptions.defaultAddress, allowRemote: Bool = false, token: String? = nil
  ) {
    self.address = address
    self.allowRemote = allowRemote
    self.token = token
  }

  /// The host and port of `address`; throws `ServeError.badAddress`.
  public func parsed() throws(ServeError) -> (host: String, port: UInt16) {
    let text = address
    var host: String
    var portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]") else { throw .badAddress(text) }
      host = String(text[text.index(after: text.startIndex)..<close])
      let rest = text[text.index(after: close)...]
      guard rest.hasPrefix(":") else { throw .badAddress(text) }
      portText = rest.dropFirst()
    } else {
      guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text) }
      host = String(text[..<colon])
      portText = text[text.index(after: colon)...]
    }
    if host == "localhost" { host = "127.0.0.1" }
    guard let port = UInt16(portText), !host.isEmpty else { throw .badAddress(text) }
    var v4 = in_addr()
    var v6 = in6_addr()
    guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else {
      throw .badAddress(text)
    }
    return (host, port)
  }

  /// Whether `host` is a loopback address (127.0.0.0/8 or ::1).
  public static func isLoopback(_ host: String) -> Bool {
    host.hasPrefix("127.") || host == "::1"
  }

  /// Checks the combination of flags: a non-loopback address needs `allowRemote` and a token.
  public func validate() throws(ServeError) {
    let (host, _) = try parsed()
    if let token, token.utf8.count < 16 { throw .weakToken }
    if !Self.isLoopback(host) {
      guard allowRemote else { throw .remoteNotAllowed(address) }
      guard token != nil else { throw .tokenRequired(address) }
    }
  }
}

/// Why the live view cannot start.
public enum ServeError: Error, CustomStringConvertible, Sendable {
  case badAddress(String)
  case remoteNotAllowed(String)
  case tokenRequired(String)
  case weakToken
  case cannotListen(String, String)

  public var description: String {
    switch self {
    case .badAddress(let a):
      return
        "--http: '\(a)' is not HOST:PORT with a numeric IPv4 or [IPv6] address, e.g. 127.0.0.1:8321"
    case .remoteNotAllowed(let a):
      return "--http \(a) is not loopback: the live view binds loopback only unless "
        + "--http-allow-remote is given (with --http-token)"
    case .tokenRequired(let a):
      return "--http \(a) is not loopback: give an access token with --http-token "
        + "(or $TAILSWEEP_HTTP_TOKEN), at least 16 characters"
    case .weakToken:
      return "--http-token: use at least 16 characters (e.g. `openssl rand -hex 16`)"
    case .cannotListen(let a, let why):
      return "cannot listen on \(a): \(why)"
    }
  }
}

/// A running live view: an HTTP server (FlyingFox) on its own Swift concurrency tasks, reading
/// the store through `LiveView`'s read-only connection. It shares no lock, thread or connection
/// with a coordinator in the same process.
public final class LiveServer: Sendable {
  public let view: LiveView
  /// The address it listens on, as a URL (`http://127.0.0.1:8321/`).
  public let url: String
  private let server: HTTPServer
  private let task: Task<Void, Never>

  /// Starts listening (returns once the socket is bound) and serves in the background.
  public init(results folder: String, options: ServeOptions) throws {
    try options.validate()
    let (host, port) = try options.parsed()
    view = LiveView(results: folder)
    let handler = Handler(
      view: view, token: options.token, loopbackOnly: ServeOptions.isLoopback(host))
    let server: HTTPServer
    do {
      if host.contains(":") {
        server = HTTPServer(
          address: try .inet6(ip6: host, port: port), timeout: 30, logger: .disabled,
          handler: handler)
      } else {
        server = HTTPServer(
          address: try .inet(ip4: host, port: port), timeout: 30, logger: .disabled,
          handler: handler)
      }
    } catch {
      throw ServeError.cannotListen(options.address, "\(error)")
    }
    self.server = server
    let failure = Failure()
    // Signalled when the socket listens or the server failed (a port in use fails at once).
    let ready = DispatchSemaphore(value: 0)
    task = Task.detached {
      do { try await server.run() } catch {
        failure.set("\(error)")
        ready.signal()
      }
    }
    // Wait on the caller's thread, which is not part of the concurrency pool.
    let listening = Failure()
    Task.detached {
      do {
        try await server.waitUntilListening(timeout: 10)
        if let a = await server.listeningAddress { listening.set(Self.describe(a)) }
      } catch {
        listening.set("")
      }
      ready.signal()
    }
    ready.wait()
    guard let bound = listening.value, !bound.isEmpty else {
      task.cancel()
      throw ServeError.cannotListen(options.address, failure.value ?? "not listening after 10 s")
    }
    url = "http://\(bound)/"
  }

  /// Stops listening and closes the store connection.
  public func stop() {
    let done = DispatchSemaphore(value: 0)
    let server = self.server
    Task.detached {
      await server.stop(timeout: 1)
      done.signal()
    }
    _ = done.wait(timeout: .now() + 3)
    task.cancel()
    view.close()
  }

  static func describe(_ a: Socket.Address) -> String {
    switch a {
    case .ip4(let ip, let port): return "\(ip):\(port)"
    case .ip6(let ip, let port): return "[\(ip)]:\(port)"
    case .unix(let path): return path
    }
  }
}

/// A string set once from another task.
final class Failure: Sendable {
  private let box = Mutex<String?>(nil)
  func set(_ s: String) { box.withLock { $0 = s } }
  var value: String? { box.withLock { $0 } }
}

/// Routes requests: checks the token (and, on loopback without one, the Host header against
/// DNS rebinding), then answers from the `LiveView`. Only GET and HEAD.
struct Handler: HTTPHandler {
  let view: LiveView
  let token: String?
  let loopbackOnly: Bool

  func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
    guard request.method == .GET || request.method == .HEAD else {
      return text(.methodNotAllowed, "only GET\n")
    }
    if let refusal = authorize(request) { return refusal }
    var response = route(request)
    if let token, request.query.first(where: { $0.name == "token" })?.value == token {
      response.headers[.setCookie] = "tailsweep_token=\(token); Path=/; HttpOnly; SameSite=Strict"
    }
    response.headers[.cacheControl] = "no-store"
    response.headers[HTTPHeader("X-Content-Type-Options")] = "nosniff"
    return response
  }

  func authorize(_ request: HTTPRequest) -> HTTPResponse? {
    if let token {
      var offered: [String] = []
      if let a = request.headers[.authorization], a.hasPrefix("Bearer ") {
        offered.append(String(a.dropFirst(7)))
      }
      if let q = request.query.first(where: { $0.name == "token" }) { offered.append(q.value) }
      for cookie in request.headers.values(for: .cookie).flatMap({ $0.split(separator: ";") }) {
        let kv = cookie.trimmingCharacters(in: .whitespaces)
        if kv.hasPrefix("tailsweep_token=") { offered.append(String(kv.dropFirst(16))) }
      }
      guard offered.contains(where: { constantTimeEqual($0, token) }) else {
        return text(.unauthorized, "access token required (?token=… or Authorization: Bearer …)\n")
      }
      return nil
    }
    if loopbackOnly {
      // Without a token only loopback names may reach us: a page of another site that
      // resolves its own name to 127.0.0.1 (DNS rebinding) gets 403.
      let host = request.headers[.host] ?? ""
      let name: Substring
      if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
        name = host[host.index(after: host.startIndex)..<close]
      } else {
        name = host.split(separator: ":", maxSplits: 1).first ?? ""
      }
      guard name == "localhost" || name.hasPrefix("127.") || name == "::1" else {
        return text(.forbidden, "Host '\(host)' is not a loopback name\n")
      }
    }
    return nil
  }

  func route(_ request: HTTPRequest) -> HTTPResponse {
    let path = request.path
    switch path {
    case "/", "/index.html":
      return html(Pages.index(view.snapshot()))
    case "/api/status":
      return json(API.encode(API.status(view.snapshot())))
    case "/api/tables":
      return json(API.encode(API.tables(view.snapshot())))
    default:
      break
    }
    if path.hasPrefix("/figures/"), path.hasSuffix(".svg") {
      let name = String(path.dropFirst("/figures/".count).dropLast(4))
      guard let f = view.snapshot().figures.first(where: { $0.name == name }) else {
        return text(.notFound, "no figure \(name)\n")
      }
      return HTTPResponse(
        statusCode: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
        body: Data(f.svg.utf8))
    }
    for (prefix, isJSON) in [("/api/trial/", true), ("/trial/", false)] where path.hasPrefix(prefix)
    {
      let hex = String(path.dropFirst(prefix.count))
      guard let id = TrialID(hex: hex) else { return text(.badRequest, "not a trial id: \(hex)\n") }
      guard let d = view.trial(id) else { return text(.notFound, "no trial \(hex) in the store\n") }
      return isJSON ? json(API.encode(API.trial(d))) : html(Pages.trial(d))
    }
    return text(.notFound, "not found: \(path)\n")
  }

  func html(_ s: String) -> HTTPResponse {
    HTTPResponse(
      statusCode: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: Data(s.utf8))
  }
  func json(_ d: Data) -> HTTPResponse {
    HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: d)
  }
  func text(_ code: HTTPStatusCode, _ s: String) -> HTTPResponse {
    HTTPResponse(
      statusCode: code, headers: [.contentType: "text/plain; charset=utf-8"], body: Data(s.utf8))
  }
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
  let x = Array(a.utf8)
  let y = Array(b.utf8)
  var diff = UInt8(x.count == y.count ? 0 : 1)
  for i in 0..<max(x.count, y.count) {
    diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
  }
  return diff == 0
}
