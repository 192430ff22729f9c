public import DroverCore

/// Filters for `list`.
public struct ListParams: Sendable, Hashable {
  public var state: JobState?
  public var type: String?
  /// At most this many jobs; at least 1.
  public var limit: Int
  /// Keyset cursor: only jobs with an id below this one (the last id of the previous page,
  /// since lists go newest first). A page costs the same at any depth: a walk down the
  /// primary key from the cursor, never an OFFSET.
  public var beforeID: JobID?
  /// Priority at least / at most.
  public var priorityMin: Int?
  public var priorityMax: Int?
  /// `created_at` in `[createdFrom, createdTo)`.
  public var createdFrom: Timestamp?
  public var createdTo: Timestamp?
  /// `finished_at` in `[finishedFrom, finishedTo)` (jobs not finished never match).
  public var finishedFrom: Timestamp?
  public var finishedTo: Timestamp?
  /// Payload field match: the payload's value at `path` (a JSON path such as `$.account_id`)
  /// rendered as compact JSON text equals `json` (`42`, `"bob"`, `true`).
  public var payloadMatch: PayloadMatch?
  /// Payload text: the payload's JSON text contains this (case-sensitive, as stored; the
  /// dashboard's free-text search). A scan of the walk, bounded by `limit` like the rest.
  public var payloadContains: String?

  /// One payload field and the JSON text its value must equal.
  public struct PayloadMatch: Sendable, Hashable {
    public var path: String
    public var json: String
    public init(path: String, json: String) {
      self.path = path
      self.json = json
    }
  }

  public init(
    state: JobState? = nil, type: String? = nil, limit: Int = 100, beforeID: JobID? = nil,
    priorityMin: Int? = nil, priorityMax: Int? = nil, createdFrom: Timestamp? = nil,
    createdTo: Timestamp? = nil, finishedFrom: Timestamp? = nil, finishedTo: Timestamp? = nil,
    payloadMatch: PayloadMatch? = nil, payloadContains: String? = nil
  ) {
    self.payloadContains = payloadContains
    self.state = state
    self.type = type
    self.limit = limit
    self.beforeID = beforeID
    self.priorityMin = priorityMin
    self.priorityMax = priorityMax
    self.createdFrom = createdFrom
    self.createdTo = createdTo
    self.finishedFrom = finishedFrom
    self.finishedTo = finishedTo
    self.payloadMatch = payloadMatch
  }
}

/// `jobs cancel`.
public struct CancelParams: Sendable, Hashable {
  public var id: JobID
  public var now: Timestamp
  /// Also cancel every waiting descendant (children of children), whatever their
  /// `on_parent_failure`.
  public var cascade: Bool
  public init(id: JobID, now: Timestamp = .now(), cascade: Bool = false) {
    self.id = id
    self.now = now
    self.cascade = cascade
  }
}

/// What a cancel did.
public enum CancelResult: Sendable, Hashable {
  /// The job was waiting, scheduled or queued and is now `cancelled`.
  case cancelled
  /// The job is running; a cancel is requested and the supervisor will stop it.
  case requested
}

/// `jobs delete`.
public struct DeleteParams: Sendable, Hashable {
  public var id: JobID
  public init(id: JobID) { self.id = id }
}

/// The states a job may be deleted in: all but `running`.
public let deletableStates: [JobState] = [
  .waiting, .scheduled, .queued, .completed, .cancelled, .dead,
]

/// The refusal for a job other jobs wait on (see `JobStore.delete`): deleting it would leave
/// them waiting for ever.
func waitedOn(_ id: JobID, child: JobID) -> StoreError {
  .conflict(
    "job \(id) has jobs waiting on it (#\(child) at least): cancel it instead (they follow "
      + "their on_parent_failure), or delete them first")
}

/// The refusal for the newest job (see `JobStore.delete`).
func newestJobKept(_ id: JobID) -> StoreError {
  .conflict(
    "job \(id) is the newest job in the store and stays: its row keeps its id from being given "
      + "to the next job (delete it once a newer job exists)")
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
  /// Per-minute stats buckets (`windowStats`) older than this go too; nil keeps them all.
  public var statsBefore: Timestamp?
  public init(
    completedBefore: Timestamp, deadBefore: Timestamp, limit: Int = 1000,
    statsBefore: Timestamp? = nil
  ) {
    self.completedBefore = completedBefore
    self.deadBefore = deadBefore
    self.limit = limit
    self.statsBefore = statsBefore
  }
}
