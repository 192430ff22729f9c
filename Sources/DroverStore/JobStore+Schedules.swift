public import DroverCore

/// One slot of a schedule to record: its job (nil: the slot is recorded as passed over, e.g.
/// a missed slot that `catch_up` does not run, or an overlapping one that `overlap = "skip"`
/// skips).
public struct SlotFire: Sendable, Hashable {
  public var schedule: String
  /// The slot's UTC instant.
  public var slot: Timestamp
  public var job: EnqueueParams?
  public init(schedule: String, slot: Timestamp, job: EnqueueParams?) {
    self.schedule = schedule
    self.slot = slot
    self.job = job
  }
}

/// What recording a slot did.
public struct SlotResult: Sendable, Hashable {
  public var schedule: String
  public var slot: Timestamp
  /// The job enqueued for it now, or (when `fresh` is false) the one enqueued the first time.
  public var job: JobID?
  /// False when the slot was recorded before: nothing was enqueued now.
  public var fresh: Bool
  public init(schedule: String, slot: Timestamp, job: JobID?, fresh: Bool) {
    self.schedule = schedule
    self.slot = slot
    self.job = job
    self.fresh = fresh
  }
}

/// A schedule's newest recorded slot and the job it enqueued (nil when it was passed over).
public struct LastSlot: Sendable, Hashable {
  public var slot: Timestamp
  public var job: JobID?
  public init(slot: Timestamp, job: JobID?) {
    self.slot = slot
    self.job = job
  }
}
