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
