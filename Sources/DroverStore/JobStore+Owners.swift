public import DroverCore

/// A supervisor instance that holds leases on running jobs: assigned by `openSession`.
public typealias OwnerID = Int64

/// `openSession`: who is registering.
public struct SessionParams: Sendable, Hashable {
  /// A name for humans: `host:pid`.
  public var name: String
  public var pid: Int32
  /// How long the lease lasts without a renewal.
  public var lease: Duration
  public var now: Timestamp
  public init(name: String, pid: Int32, lease: Duration, now: Timestamp = .now()) {
    self.name = name
    self.pid = pid
    self.lease = lease
    self.now = now
  }
}

/// `renewLease`.
public struct LeaseParams: Sendable, Hashable {
  public var owner: OwnerID
  public var lease: Duration
  public var now: Timestamp
  public init(owner: OwnerID, lease: Duration, now: Timestamp = .now()) {
    self.owner = owner
    self.lease = lease
    self.now = now
  }
}

/// `acquireLeadership`.
public struct LeadershipParams: Sendable, Hashable {
  public var name: String
  public var owner: OwnerID
  public var lease: Duration
  public var now: Timestamp
  public init(name: String, owner: OwnerID, lease: Duration, now: Timestamp = .now()) {
    self.name = name
    self.owner = owner
    self.lease = lease
    self.now = now
  }
}

/// A job `rescueExpired` took back from a dead owner.
public struct RescuedJob: Sendable, Hashable {
  public var id: JobID
  public var type: String
  /// `queued`, or `cancelled` when its cancel had been requested.
  public var state: JobState
  /// The attempt that was interrupted (not counted).
  public var attempt: Int
  public init(id: JobID, type: String, state: JobState, attempt: Int) {
    self.id = id
    self.type = type
    self.state = state
    self.attempt = attempt
  }
}
