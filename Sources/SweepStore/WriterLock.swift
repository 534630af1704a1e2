import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The exclusive lock that makes one process the only writer of a store: `flock(LOCK_EX |
/// LOCK_NB)` on the file `<database>.lock` next to the database, into which the holder writes
/// `pid host start` (start: UTC, ISO 8601) for the message of whoever is refused.
///
/// The kernel drops a `flock` when the last descriptor of its open file description closes, so
/// the lock dies with its process (a lock file left by a dead process does not block), and two
/// opens in one process conflict like two processes do. The descriptor is close-on-exec, so
/// worker processes started by the coordinator never inherit the lock. The lock file is never
/// deleted: unlinking it would let a second process lock a new file of the same name while the
/// first still holds the old one.
///
/// `@unchecked Sendable`: the only mutable state, the descriptor, is guarded by `mutex`.
final class WriterLock: @unchecked Sendable {
  /// The lock file.
  let path: String
  private let mutex = NSLock()
  private var fd: Int32

  /// Takes the lock of the store `database`, or throws `StoreError.locked` (held by another
  /// open file description, in this process or another) or `StoreError.unavailable` /
  /// `.cannotOpen` (the lock file cannot be created).
  init(database: String) throws {
    path = database + ".lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw Self.fileError(database: database, lockPath: path, errno: errno)
    }
    var rc: Int32
    repeat { rc = flock(fd, LOCK_EX | LOCK_NB) } while rc != 0 && errno == EINTR
    guard rc == 0 else {
      let code = errno
      let holder = Self.holder(fd: fd)
      close(fd)
      if code == EWOULDBLOCK {
        throw StoreError.locked(path: database, holderPID: holder.pid, holderHost: holder.host)
      }
      throw Self.fileError(database: database, lockPath: path, errno: code)
    }
    self.fd = fd
    let start = ISO8601DateFormatter().string(from: Date())
    let line = "\(getpid()) \(Self.hostName()) \(start)\n"
    let written = Self.replaceContents(fd: fd, with: line)
    guard written else {
      let code = errno
      close(fd)
      throw Self.fileError(database: database, lockPath: path, errno: code)
    }
  }

  deinit { release() }

  /// Releases the lock (idempotent). The file stays, emptied, so the next holder's line is the
  /// only one a refused opener can read.
  func release() {
    mutex.withLock {
      guard fd >= 0 else { return }
      _ = ftruncate(fd, 0)
      close(fd)
      fd = -1
    }
  }

  /// This machine's host name, as `uname -n` prints it.
  static func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "unknown" }
    let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? "unknown" : name
  }

  /// Parses a lock file's `pid host [start]` line; nil fields when absent or malformed.
  static func parse(_ text: String) -> (pid: Int32?, host: String?) {
    let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
    guard let first = fields.first, let pid = Int32(first), pid > 0 else { return (nil, nil) }
    return (pid, fields.count > 1 ? String(fields[1]) : nil)
  }

  /// What the holder recorded in the lock file (read through our own descriptor).
  private static func holder(fd: Int32) -> (pid: Int32?, host: String?) {
    var buf = [UInt8](repeating: 0, count: 512)
    let n = pread(fd, &buf, buf.count, 0)
    guard n > 0 else { return (nil, nil) }
    return parse(String(decoding: buf.prefix(n), as: UTF8.self))
  }

  private static func replaceContents(fd: Int32, with text: String) -> Bool {
    guard ftruncate(fd, 0) == 0 else { return false }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes {
        pwrite(fd, $0.baseAddress, $0.count, off_t(offset))
      }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return false }
      offset += n
    }
    return true
  }

  private static func fileError(database: String, lockPath: String, errno code: Int32)
    -> StoreError
  {
    let reason = "cannot create the writer lock \(lockPath): \(String(cString: strerror(code)))"
    switch code {
    case ENOSPC, EDQUOT:
      return .unavailable(path: database, kind: .full, message: reason)
    case EROFS, EACCES, EPERM:
      return .unavailable(path: database, kind: .readOnly, message: reason)
    default:
      return .cannotOpen(path: database, reason: reason)
    }
  }
}
