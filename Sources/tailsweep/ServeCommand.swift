import ArgumentParser
import Foundation
import SweepRuntime

#if TAILSWEEP_SERVE
  import SweepServe
#endif

/// The commands of the live view: none in a build without it (TAILSWEEP_NO_SERVE=1, the static
/// worker; Package.swift defines TAILSWEEP_SERVE otherwise).
var serveCommands: [any ParsableCommand.Type] {
  #if TAILSWEEP_SERVE
    [Serve.self]
  #else
    []
  #endif
}

/// A running live view, stopped when the command ends.
struct LiveHandle {
  let stop: () -> Void
}

/// The live web view's flags, shared by `serve`, `run` and `coordinator`.
struct HTTPOptions: ParsableArguments {
  @Flag(
    name: .customLong("http-allow-remote"),
    help: "Allow --http on an address that is not loopback (needs --http-token).")
  var allowRemote = false
  @Option(
    name: .customLong("http-token"),
    help: """
      Access token every request must carry (?token=…, then a cookie; or Authorization: Bearer); \
      default $TAILSWEEP_HTTP_TOKEN. Needed off loopback.
      """)
  var token: String?

  /// Checks the flags before anything starts (usage errors exit 2).
  func validate(address: String?) throws {
    guard let address else {
      if allowRemote || token != nil {
        throw ValidationError("--http-allow-remote and --http-token need --http ADDR")
      }
      return
    }
    #if TAILSWEEP_SERVE
      do { try serveOptions(address: address).validate() } catch {
        throw ValidationError(error.description)
      }
    #else
      throw ValidationError(
        "--http: this tailsweep was built without the live view (TAILSWEEP_NO_SERVE=1, e.g. the "
          + "static worker build); use a regular build")
    #endif
  }

  #if TAILSWEEP_SERVE
    func serveOptions(address: String) -> ServeOptions {
      let env = ProcessInfo.processInfo.environment["TAILSWEEP_HTTP_TOKEN"].flatMap {
        $0.isEmpty ? nil : $0
      }
      return ServeOptions(address: address, allowRemote: allowRemote, token: token ?? env)
    }

    /// Starts the live view of `folder` on `address` and says where, on standard output.
    func start(folder: String, address: String) throws -> LiveHandle {
      let server: LiveServer
      do { server = try LiveServer(results: folder, options: serveOptions(address: address)) } catch
      {
        throw UsageError("\(error)")
      }
      let tokenNote = serveOptions(address: address).token == nil ? "" : " (token required)"
      // Unbuffered: scripts and tests read the URL while the process runs.
      FileHandle.standardOutput.write(
        Data(
          "live view: \(server.url)\(tokenNote) reading \(server.view.storePath) read-only\n".utf8))
      return LiveHandle(stop: server.stop)
    }
  #else
    func start(folder: String, address: String) throws -> LiveHandle {
      throw UsageError("--http: this tailsweep was built without the live view")
    }
  #endif
}

#if TAILSWEEP_SERVE
  struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "A live web view of a results folder: progress, workers, failures, tables, figures.",
      discussion: """
        Reads RESULTS/sweep.sqlite read-only (a WAL reader: it never blocks or slows the \
        coordinator, and never writes), also while a sweep runs or before it has started. Open the \
        printed URL in a browser; the page updates every second. JSON: /api/status, /api/tables, \
        /api/trial/ID; a page per trial: /trial/ID. Loopback only unless --http-allow-remote and \
        --http-token are given. Ctrl-C stops.
        """)

    @Argument(
      help: "Results folder (holding sweep.sqlite, or where it will be), or the .sqlite file.")
    var results: String
    @Option(help: "Address to listen on, HOST:PORT (port 0: any free port).")
    var http: String = ServeOptions.defaultAddress
    @OptionGroup var httpOptions: HTTPOptions

    func validate() throws { try httpOptions.validate(address: http) }

    func run() throws {
      installStopSignals()
      let live = try httpOptions.start(folder: results, address: http)
      while stopSignal == nil { usleep(100_000) }
      live.stop()
    }
  }
#endif
