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
  /// Any other SQLite failure.
  case database(path: String, message: String)

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
    case .database(let path, let message):
      return "SQLite error on \(path): \(message)"
    }
  }
}
