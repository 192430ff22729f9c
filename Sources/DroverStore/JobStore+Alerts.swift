public import DroverCore

/// `oldestReady`: a pool's job types and the time that makes scheduled jobs due.
public struct OldestReadyParams: Sendable, Hashable {
  /// The pool's job types.
  public var types: [String]
  /// Scheduled jobs with `run_at` up to this are ready.
  public var now: Timestamp
  /// The oldest ready job of `types` at `now`.
  public init(types: [String], now: Timestamp) {
    self.types = types
    self.now = now
  }
}

/// `readyAhead`: how many ready jobs are ahead of one in its pool's claim order.
public struct ReadyAheadParams: Sendable, Hashable {
  /// The pool's job types.
  public var types: [String]
  /// The job's place in claim order: priority descending, then run_at, then id.
  public var priority: Int
  public var runAt: Timestamp
  public var id: JobID
  /// Counting stops here (a deep backlog is "more than N", never a long count).
  public var cap: Int
  public init(types: [String], priority: Int, runAt: Timestamp, id: JobID, cap: Int = 10_000) {
    self.types = types
    self.priority = priority
    self.runAt = runAt
    self.id = id
    self.cap = cap
  }
}
