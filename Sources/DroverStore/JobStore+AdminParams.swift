public import DroverCore

/// Filters for `list`.
public struct ListParams: Sendable, Hashable {
  public var state: JobState?
  public var type: String?
  /// At most this many jobs; at least 1.
  public var limit: Int
  public init(state: JobState? = nil, type: String? = nil, limit: Int = 100) {
    self.state = state
    self.type = type
    self.limit = limit
  }
}

/// `jobs cancel`.
public struct CancelParams: Sendable, Hashable {
  public var id: JobID
  public var now: Timestamp
  public init(id: JobID, now: Timestamp = .now()) {
    self.id = id
    self.now = now
  }
}

/// What a cancel did.
public enum CancelResult: Sendable, Hashable {
  /// The job was scheduled or queued and is now `cancelled`.
  case cancelled
  /// The job is running; a cancel is requested and the supervisor will stop it.
  case requested
}

/// `jobs retry` / `dead requeue ID`.
public struct RetryParams: Sendable, Hashable {
  public var id: JobID
  public var now: Timestamp
  public init(id: JobID, now: Timestamp = .now()) {
    self.id = id
    self.now = now
  }
}

/// `dead requeue --all` (ids nil) or a list.
public struct RequeueDeadParams: Sendable, Hashable {
  public var ids: [JobID]?
  public var now: Timestamp
  public init(ids: [JobID]? = nil, now: Timestamp = .now()) {
    self.ids = ids
    self.now = now
  }
}

/// Rescue of dead owners' running jobs (`rescueExpired`).
public struct RescueParams: Sendable, Hashable {
  public var message: String
  public var now: Timestamp
  public init(message: String, now: Timestamp = .now()) {
    self.message = message
    self.now = now
  }
}

/// Retention pruning.
public struct PruneParams: Sendable, Hashable {
  /// Completed and cancelled jobs finished before this go.
  public var completedBefore: Timestamp
  /// Dead jobs finished before this go.
  public var deadBefore: Timestamp
  /// At most this many jobs per call (bounded work per transaction); at least 1.
  public var limit: Int
  public init(completedBefore: Timestamp, deadBefore: Timestamp, limit: Int = 1000) {
    self.completedBefore = completedBefore
    self.deadBefore = deadBefore
    self.limit = limit
  }
}
