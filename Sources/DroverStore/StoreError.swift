public import DroverCore

/// Store failures, driver-neutral: each case says what kind of trouble it is, with the driver's
/// own detail (SQLite's or PostgreSQL's message and code) as text.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file exists but is not a Drover database (or is from a newer Drover). It was not
  /// modified.
  case notADroverDatabase(path: String, reason: String)
  /// The store could not be opened or created.
  case cannotOpen(path: String, reason: String)
  /// No job has this id (not found).
  case noSuchJob(JobID)
  /// No alert of the history has this id (not found).
  case noSuchAlert(Int64)
  /// The job's state forbids the operation, e.g. retry of a completed job (a conflict).
  case invalidState(id: JobID, state: JobState, operation: String, allowed: [JobState])
  /// A bad input value (empty type, payload not an object, limit out of range …).
  case invalidInput(String)
  /// Requeueing would make two live jobs share a unique key (a conflict).
  case uniqueKeyTaken(id: JobID, key: String, holder: JobID)
  /// Another party holds what was asked for: a second supervisor on one SQLite file, a lease
  /// that was lost, a constraint the database enforced.
  case conflict(String)
  /// Another writer held the store past the busy timeout; retrying later may succeed.
  case busy(String)
  /// The disk (or the database's quota) is full.
  case full(String)
  /// The store's data is damaged (or holds what no Drover wrote).
  case corrupt(String)
  /// The store can be read but not written (permissions, a read-only mount or connection).
  case readOnly(String)
  /// The store cannot be reached or failed for another reason (I/O error, lost connection).
  case unavailable(String)

  /// The kind of failure, for callers that act on it (retry a busy store, alert on a full one).
  public enum Kind: String, Sendable, Hashable {
    case busy, full, corrupt, readOnly = "read-only", unavailable, invalidInput = "invalid input"
    case notFound = "not found", conflict
  }

  public var kind: Kind {
    switch self {
    case .notADroverDatabase: .corrupt
    case .cannotOpen, .unavailable: .unavailable
    case .noSuchJob, .noSuchAlert: .notFound
    case .invalidState, .uniqueKeyTaken, .conflict: .conflict
    case .invalidInput: .invalidInput
    case .busy: .busy
    case .full: .full
    case .corrupt: .corrupt
    case .readOnly: .readOnly
    }
  }

  public var description: String {
    switch self {
    case .notADroverDatabase(let path, let reason):
      "\(path) is not a Drover database (\(reason)); it was left untouched"
    case .cannotOpen(let path, let reason): "cannot open store \(path): \(reason)"
    case .noSuchJob(let id): "no job with id \(id)"
    case .noSuchAlert(let id): "no alert with id \(id)"
    case .invalidState(let id, let state, let op, let allowed):
      "cannot \(op) job \(id): it is \(state.name) (only "
        + allowed.map(\.name).joined(separator: " or ") + " jobs can be)"
    case .invalidInput(let m): m
    case .uniqueKeyTaken(let id, let key, let holder):
      "cannot requeue job \(id): unique key \"\(key)\" is held by live job \(holder)"
    case .conflict(let m): m
    case .busy(let m): "store busy: \(m)"
    case .full(let m): "store full: \(m)"
    case .corrupt(let m): "store corrupt: \(m)"
    case .readOnly(let m): "store read-only: \(m)"
    case .unavailable(let m): "store unavailable: \(m)"
    }
  }
}
