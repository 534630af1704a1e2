import Foundation

/// Everything that can go wrong in the store. Each message names the file and says what to do.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file could not be opened or created.
  case cannotOpen(path: String, reason: String)
  /// A read-only open found no store at the path.
  case missing(path: String)
  /// The file is an SQLite database but not a TailSweep store.
  case notAStore(path: String)
  /// The file was migrated by a newer tailsweep (schema steps this build does not know).
  case futureSchema(path: String, unknownSteps: [String])
  /// A read-only open found a store that still needs migrating.
  case olderSchema(path: String)
  /// A write was asked of a store opened with `init(readOnlyPath:)`.
  case readOnly(path: String)
  /// The trial is not in the store (no sweep containing it was begun).
  case unknownTrial(TrialIDText)
  /// No sweep has this id.
  case unknownSweep(Int64)
  /// A result whose training was cancelled is not a scientific result.
  case cancelledResult(TrialIDText)
  /// Stored data could not be decoded.
  case corrupt(path: String, detail: String)
  /// Another process holds the store's writer lock (`<path>.lock`): only one coordinator may
  /// write a store. `holderPID` and `holderHost` are what the holder recorded in the lock file
  /// (nil when it recorded nothing readable, e.g. a holder that is not tailsweep).
  case locked(path: String, holderPID: Int32?, holderHost: String?)
  /// The store cannot take writes now (disk full, read-only, locked by another process, I/O
  /// error). The failed change was rolled back; what was committed before is intact, and
  /// rerunning the same command resumes where it stopped. It is no fault of the trial or its
  /// result: the coordinator should not count it against the trial (nor acknowledge the result).
  case unavailable(path: String, kind: UnavailableKind, message: String)
  /// A result of the dispatch benchmark (`datasetHash == "null-trial"`) sent to a store that
  /// holds real results (only stores opened with `allowNullResults` take them).
  case nullResult(path: String, trial: TrialIDText)
  /// The result's configuration does not hash to the trial it is committed for.
  case configMismatch(trial: TrialIDText, resultTrial: TrialIDText)
  /// The result holds values that are not possible measurements
  /// (`TrialResult.validationProblems()`).
  case invalidResult(trial: TrialIDText, problems: [String])
  /// Any other SQLite failure.
  case database(path: String, message: String)

  /// Why a store cannot take writes now (`StoreError.unavailable`).
  public enum UnavailableKind: String, Sendable, Hashable, CaseIterable {
    /// The disk or the file system quota is full (SQLITE_FULL, or an I/O error with ENOSPC).
    case full
    /// The file, its folder or its file system is read-only (SQLITE_READONLY, or an I/O error
    /// with EROFS, EACCES or EPERM).
    case readOnly
    /// Another connection held SQLite's write lock for longer than the busy timeout
    /// (SQLITE_BUSY, SQLITE_LOCKED).
    case busy
    /// Any other I/O error (SQLITE_IOERR).
    case io
  }

  /// The kind when the store cannot take writes now (`.unavailable`), else nil.
  public var unavailableKind: UnavailableKind? {
    if case .unavailable(_, let kind, _) = self { return kind }
    return nil
  }

  /// A trial id as text (kept as a string so the error stays a plain value).
  public typealias TrialIDText = String

  /// What went wrong and what to do about it.
  public var description: String {
    switch self {
    case .cannotOpen(let path, let reason):
      return "cannot open the store \(path): \(reason); check the path and its permissions"
    case .missing(let path):
      return
        "no store at \(path): pass a results folder that contains sweep.sqlite (or the .sqlite file itself), or run a sweep first"
    case .notAStore(let path):
      return
        "\(path) is an SQLite file but not a TailSweep store: pass a results folder's sweep.sqlite"
    case .futureSchema(let path, let steps):
      return
        "\(path) was written by a newer tailsweep (schema steps unknown here: \(steps.joined(separator: ", "))): use that newer tailsweep to read or extend it"
    case .olderSchema(let path):
      return
        "\(path) uses an older store schema: open it once for writing (e.g. resume the sweep with `tailsweep run`) to migrate it, then retry"
    case .readOnly(let path):
      return
        "the store \(path) was opened read-only: open it with SweepStore(path:) to write (only the coordinator writes)"
    case .unknownTrial(let id):
      return
        "trial \(id) is not in the store: begin a sweep that contains it (beginSweep) before leasing or committing it"
    case .unknownSweep(let id):
      return
        "no sweep with id \(id) in the store: use the id beginSweep returned (see `tailsweep status`)"
    case .cancelledResult(let id):
      return
        "trial \(id): a cancelled training run is not a result; record the attempt with attemptEnded(outcome: .failed or .timedOut) instead"
    case .corrupt(let path, let detail):
      return
        "the store \(path) holds unreadable data (\(detail)): restore it from a copy, or export what is readable and start a new results folder"
    case .locked(let path, let pid, let host):
      let holder: String
      if let pid, let host {
        holder = "another coordinator (pid \(pid) on host \(host))"
      } else if let pid {
        holder = "another coordinator (pid \(pid))"
      } else {
        holder = "another process (it recorded no pid or host)"
      }
      return
        "the store \(path) is in use by \(holder), which holds its writer lock \(path).lock: only one coordinator may write a store; stop that coordinator first (or wait until it finishes), then run the command again; `tailsweep status` can read the store meanwhile"
    case .unavailable(let path, let kind, let message):
      let what: String
      switch kind {
      case .full:
        what =
          "the disk (or the file system quota) is full (\(message)); free space on that file system"
      case .readOnly:
        what =
          "the file, its folder or its file system is read-only (\(message)); fix the permissions of the store and its folder, or remount the file system read-write"
      case .busy:
        what =
          "another process held SQLite's write lock on it for longer than the busy timeout (\(message)); stop the other process that writes to it"
      case .io:
        what =
          "an I/O error occurred (\(message)); check the disk and the file system (e.g. `dmesg`), or move the results folder to a healthy disk"
      }
      return
        "the store \(path) cannot take writes now: \(what). The failed change was rolled back and everything committed before is intact: run the same command again to resume, nothing is lost"
    case .nullResult(let path, let id):
      return
        "trial \(id): refused a null-trial result (dispatch benchmark, dataset hash 'null-trial') in \(path), which holds real results: null trials are not measurements and go to null-trials.sqlite (`tailsweep run --null-trials`)"
    case .configMismatch(let id, let other):
      return
        "refused a result for trial \(id): its configuration is that of trial \(other) (it does not hash to \(id)); the worker ran another configuration, so the trial stays to run"
    case .invalidResult(let id, let problems):
      return
        "refused the result of trial \(id): it holds values that are not possible measurements: \(problems.joined(separator: "; ")); the trial stays to run (check the worker's build)"
    case .database(let path, let message):
      return "SQLite error on \(path): \(message)"
    }
  }
}
