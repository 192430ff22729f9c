public import DroverCore

/// `oldestReady`: a pool's job types and the time that makes scheduled jobs due.
public struct OldestReadyParams: Sendable, Hashable {
  public var types: [String]
  public var now: Timestamp
  public init(types: [String], now: Timestamp) {
    self.types = types
    self.now = now
  }
}
