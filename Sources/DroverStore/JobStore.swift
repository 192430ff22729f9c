public import DroverCore

/// The one narrow door to durable job state. No SQL lives outside a driver.
///
/// A store object is used from one thread at a time (the supervisor's loop, or one CLI
/// command); several processes may open the same store at once. Every method is one
/// transaction: it either happens whole or not at all, and returns only once durable (to the
/// level `[store].synchronous` promises).
public protocol JobStore: AnyObject {
  // MARK: Jobs

  /// Enqueues every job in `jobs` in one transaction: all or none. A job whose unique key is
  /// live (scheduled, queued or running) is not inserted; its result names the existing job.
  func enqueue(_ jobs: [EnqueueParams]) throws(StoreError) -> [EnqueueResult]

  /// The supervisor's group commit: settles finished attempts, records progress, promotes due
  /// scheduled jobs and claims new ones, all in one transaction. With `batch.owner` set, claims
  /// are leased to that owner and finishes, progress and start times are accepted only for
  /// jobs that owner holds (fencing: a job rescued from an owner whose lease ran out cannot be
  /// settled by it any more).
  func apply(_ batch: StoreBatch) throws(StoreError) -> BatchResult

  /// One job with its errors, or nil.
  func job(_ id: JobID) throws(StoreError) -> Job?

  /// The ids among `ids` that name no job (pruned or never created), ascending: what an
  /// enqueue's parents are checked against before they join a shared commit.
  func missingJobs(_ ids: [JobID]) throws(StoreError) -> [JobID]

  /// Jobs matching `filter`, newest id first.
  func list(_ filter: ListParams) throws(StoreError) -> [Job]

  /// Count of jobs in each state (every state present, zero when none). O(types): read from
  /// counters kept in the same transactions that change states, never a scan.
  func stats() throws(StoreError) -> [JobState: Int]

  /// `stats` per job type: types with no job at all are absent; a present type has every state.
  func counts() throws(StoreError) -> [String: [JobState: Int]]

  /// Count of ready (`queued`, and `scheduled` already due at `now`) jobs for each type.
  func backlog(now: Timestamp) throws(StoreError) -> [String: Int]

  /// The earliest `run_at` among the ready jobs (`queued`, and `scheduled` already due at
  /// `p.now`) of `p.types`, or nil when none is ready. Seeks per distinct priority on the ready
  /// index; never a scan of the backlog.
  func oldestReady(_ p: OldestReadyParams) throws(StoreError) -> Timestamp?

  /// Queued jobs of `p.types` ahead of the given place in claim order, counted up to `p.cap`
  /// (a walk of the ready index, bounded by the cap).
  func readyAhead(_ p: ReadyAheadParams) throws(StoreError) -> Int

  /// The earliest `run_at` among scheduled jobs, or nil when none.
  func nextScheduled() throws(StoreError) -> Timestamp?

  /// A key's limit state in a pool with limits: its running jobs, its bucket (refilled to
  /// `now`), its block, and how many of its jobs are held, counted up to `cap`.
  func limitState(_ limits: PoolLimits, key: String, now: Timestamp, cap: Int) throws(StoreError)
    -> LimitKeyState

  /// Cancels a job: waiting/scheduled/queued become `cancelled` at once; a running one is
  /// marked cancel-requested (the supervisor stops it). Final states are refused. A job
  /// cancelled now applies its waiting children's `on_parent_failure`; with `p.cascade` its
  /// whole waiting subtree is cancelled whatever their policy (also under a running job).
  func cancel(_ p: CancelParams) throws(StoreError) -> CancelResult

  /// Puts a dead or cancelled job back to `queued`, keeping attempts and errors and granting
  /// its attempt budget again on top of the attempts used. Other states are refused.
  func retry(_ p: RetryParams) throws(StoreError) -> Job

  /// Deletes a job that is not running, with its errors (its unique key is free again). A
  /// running job is refused (`.invalidState`: cancel it first). The newest job in the store is
  /// refused too (`.conflict`): its row is what keeps SQLite from giving its id to the next
  /// job, and both drivers keep one rule, as `prune` does; and so is a job that waiting jobs
  /// depend on (`.conflict`: they would wait for ever).
  func delete(_ p: DeleteParams) throws(StoreError)

  /// `retry` for every dead job (or the given ones); returns how many were requeued.
  ///
  /// Without ids, dead jobs whose unique key another live job holds stay dead. With ids the call
  /// is all or nothing: an unknown id (`.noSuchJob`), a job that is not dead (`.invalidState`)
  /// or a taken key (`.uniqueKeyTaken`) throws and nothing is requeued.
  func requeueDead(_ p: RequeueDeadParams) throws(StoreError) -> Int

  /// Ids of running jobs with a pending cancel request.
  func cancelRequested() throws(StoreError) -> [JobID]

  /// Deletes finished jobs older than the retention, at most `p.limit` of them (the caller
  /// calls again while a call returns `p.limit`); returns how many were deleted.
  func prune(_ p: PruneParams) throws(StoreError) -> Int

  /// A window's finished attempts from the per-minute aggregates the group commit keeps (no
  /// scan of `jobs`), the newest finish, and the running jobs past their stuck threshold (read
  /// from the running set).
  func windowStats(_ p: WindowStatsParams) throws(StoreError) -> WindowStats

  /// The per-minute aggregates `windowStats` sums, as a time series (the dashboard's charts):
  /// one point per bucket that had a finish, oldest first. O(minutes × types) rows read.
  func minuteSeries(_ p: MinuteSeriesParams) throws(StoreError) -> [MinutePoint]

  // MARK: Audit log

  /// Appends one dashboard action to the audit log; returns its id.
  func recordAudit(_ entry: AuditEntry) throws(StoreError) -> Int64

  /// The audit log, newest first: at most `limit` entries with an id below `beforeID`.
  func auditEntries(limit: Int, beforeID: Int64?) throws(StoreError) -> [AuditEntry]

  // MARK: Owners, leases, leadership

  /// Registers a supervisor instance as an owner of leases and returns its id. Its lease runs
  /// until `p.now + p.lease`; `renewLease` extends it.
  ///
  /// The SQLite driver allows one owner per file: it takes an exclusive lock on `PATH.lock`
  /// (held until `closeSession` or the process dies) and fails with `.conflict` naming the
  /// holder's pid when another supervisor has it. Holding that lock proves every other owner
  /// recorded in the file is dead, so their leases end at once (a restart rescues their jobs
  /// without waiting out the lease).
  func openSession(_ p: SessionParams) throws(StoreError) -> OwnerID

  /// Extends `p.owner`'s lease to `p.now + p.lease`.
  ///
  /// - Throws: `.conflict` when the owner is no longer registered (its lease ran out and a
  ///   peer rescued its jobs): the caller must stop settling jobs and start over.
  func renewLease(_ p: LeaseParams) throws(StoreError)

  /// Ends an owner: its row goes (any job it still holds becomes rescuable at once) and, for
  /// SQLite, the file lock is released. Harmless for an unknown owner.
  func closeSession(_ owner: OwnerID) throws(StoreError)

  /// Returns to `queued` every running job whose owner is unknown or whose owner's lease ended
  /// before `p.now`, without spending an attempt, recording `p.message` as the interrupted
  /// attempt's error; a job whose cancel was requested becomes `cancelled` instead. Expired
  /// owners are forgotten. A live owner's jobs are never touched.
  func rescueExpired(_ p: RescueParams) throws(StoreError) -> [RescuedJob]

  /// Takes or keeps the leadership called `p.name` (cron, maintenance: one holder among many
  /// supervisors) for `p.owner` until `p.now + p.lease`. True when `p.owner` holds it now:
  /// it was free, expired, or already this owner's.
  func acquireLeadership(_ p: LeadershipParams) throws(StoreError) -> Bool

  // MARK: Change notification

  /// Records schedule slots, each `(schedule, slot)` at most once ever (independently of job
  /// retention), enqueueing the job of each slot recorded now, in one transaction. A slot
  /// recorded before enqueues nothing and answers with the job it enqueued then.
  func fireSlots(_ slots: [SlotFire]) throws(StoreError) -> [SlotResult]

  /// Each schedule's newest recorded slot.
  func lastSlots() throws(StoreError) -> [String: LastSlot]

  /// Pauses (or resumes) a schedule: a paused schedule's slots pass without a job.
  func setSchedulePaused(_ name: String, _ paused: Bool) throws(StoreError)

  /// The schedules paused now.
  func pausedSchedules() throws(StoreError) -> Set<String>

  // MARK: Alert history

  /// Records alerts that fired, in one transaction; returns their ids in order.
  func recordAlerts(_ alerts: [NewAlert]) throws(StoreError) -> [Int64]
  /// Marks a firing alert resolved at `at` (an already resolved one keeps its time).
  func resolveAlert(_ id: Int64, at: Timestamp) throws(StoreError)
  /// Records that an alert was notified again at `at`.
  func noteAlertNotified(_ id: Int64, at: Timestamp) throws(StoreError)
  /// Acknowledges an alert (`by` whom, at `at`); an alert that never resolves by itself
  /// (`job_dead`) is resolved by its acknowledgement. Acknowledging twice keeps the first.
  ///
  /// - Throws: `.noSuchAlert`.
  func ackAlert(_ id: Int64, by: String, at: Timestamp) throws(StoreError) -> AlertRecord
  /// The history, newest first: every alert, or only the open (unresolved) ones.
  func alerts(open: Bool, limit: Int) throws(StoreError) -> [AlertRecord]

  /// True when a writer other than this store object committed since the previous call (the
  /// first call answers true). The supervisor calls it every tick so a job that reached the
  /// store by any path (a CLI that could not reach the socket, a script) is picked up without
  /// a nudge. SQLite: `PRAGMA data_version`; a network driver: its own notifications.
  func othersWrote() throws(StoreError) -> Bool

  /// A descriptor that becomes readable when `othersWrote` may have news, for the caller's
  /// epoll set, or nil when the driver has none (SQLite: the caller polls `othersWrote`).
  /// PostgreSQL: its connection's socket, where notifications arrive. It changes when the
  /// driver reconnects: compare the whole value (its generation too) after each call.
  var wakeSource: StoreWakeSource? { get }

  /// For the one long-lived writer (the supervisor's loop): moves the driver's housekeeping
  /// I/O off the calling thread where it can (SQLite: WAL checkpoints go to a thread of their
  /// own, see `SQLiteCheckpointer`). A driver with none does nothing.
  func checkpointInBackground()

  // MARK: Health

  /// Cheap (the supervisor calls it every tick): throws when the store this object opened can
  /// no longer be reached as it was. SQLite: the path no longer names the open file (it was
  /// deleted, or replaced by another file: writes would go to a file nobody will read again),
  /// or the lock file was; one `stat` each. A network driver would check its connection.
  ///
  /// - Throws: `.unavailable` saying what happened ("… was deleted or replaced …").
  func checkStorage() throws(StoreError)

  /// A bounded check of the stored data, for start-up: a store that fails it must not be
  /// served. SQLite: `PRAGMA quick_check` of the whole file up to a size limit; above it, of the
  /// small tables, every entry of the indexes the hot path reads, and a sample of pages spread
  /// over the big tables (see `SQLiteStore.checkIntegrity`).
  ///
  /// - Throws: `.corrupt` naming the store and what was found damaged.
  func checkIntegrity() throws(StoreError)
}

/// See `JobStore.wakeSource`.
public struct StoreWakeSource: Sendable, Hashable {
  /// The descriptor to watch for readability.
  public var fd: Int32
  /// Grows with every new connection: a new connection may get the old descriptor's number.
  public var generation: Int
  public init(fd: Int32, generation: Int) {
    self.fd = fd
    self.generation = generation
  }
}

extension JobStore {
  /// No descriptor: the caller polls `othersWrote` (the SQLite driver).
  public var wakeSource: StoreWakeSource? { nil }
  public func checkpointInBackground() {}
}

/// One job to enqueue.
public struct EnqueueParams: Sendable, Hashable {
  public var type: String
  /// A JSON object, as text. The store checks only that its first non-blank character is `{`
  /// (full JSON validation is the caller's job).
  public var payload: String
  public var priority: Int
  /// Due time; at or before `now` means `queued`, later means `scheduled`.
  public var runAt: Timestamp
  public var maxAttempts: Int
  public var uniqueKey: String?
  /// Overrides the pool's backoff for this job.
  public var backoff: BackoffPolicy?
  /// Enqueue time (`created_at`).
  public var now: Timestamp
  /// The largest payload `validate` accepts, in bytes of its text: the config's
  /// `store.max_payload` (default 1 MiB), so that every enqueue path enforces it here.
  public var maxPayload: Int
  /// The jobs this one waits on: it is `waiting` until every one is `completed`. An id must
  /// name an existing job; a `.batch` position names another job of the same call.
  public var parents: [JobParentRef]
  /// What a dead or cancelled parent does to this job.
  public var onParentFailure: ParentFailurePolicy
  /// The key its pool's limits count it under (`--key`), overriding the payload field the
  /// pool names.
  public var limitKey: String?
  /// The W3C trace context it was enqueued with (`TraceParent` checked it).
  public var traceparent: String?

  public init(
    type: String, payload: String = "{}", priority: Int = 0, runAt: Timestamp? = nil,
    maxAttempts: Int = 20, uniqueKey: String? = nil, backoff: BackoffPolicy? = nil,
    now: Timestamp = .now(), maxPayload: Int = ConfigLimits.defaultMaxPayload,
    parents: [JobParentRef] = [], onParentFailure: ParentFailurePolicy = .cancel,
    limitKey: String? = nil, traceparent: String? = nil
  ) {
    self.limitKey = limitKey
    self.traceparent = traceparent
    self.maxPayload = maxPayload
    self.parents = parents
    self.onParentFailure = onParentFailure
    self.type = type
    self.payload = payload
    self.priority = priority
    self.runAt = runAt ?? now
    self.maxAttempts = maxAttempts
    self.uniqueKey = uniqueKey
    self.backoff = backoff
    self.now = now
  }
}

extension EnqueueParams {
  /// The checks every driver applies before inserting: a type, a payload that is a JSON
  /// object's text (first non-blank character `{`) of at most `maxPayload` bytes, at least one
  /// attempt, no negative backoff.
  /// `index`/`count` name the job's place in a batch in the message.
  public func validate(index: Int = 0, of count: Int = 1, maxPayload: Int = .max)
    throws(StoreError)
  {
    let which = count == 1 ? "job" : "job \(index + 1) of \(count)"
    guard !type.isEmpty else { throw .invalidInput("\(which): the type is empty") }
    let first = payload.utf8.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
    guard first == UInt8(ascii: "{") else {
      throw .invalidInput("\(which) (\(type)): the payload must be a JSON object")
    }
    let size = payload.utf8.count
    let maxPayload = min(maxPayload, self.maxPayload)
    guard size <= maxPayload else {
      throw .invalidInput(
        "\(which) (\(type)): the payload is \(size) bytes, more than max_payload "
          + "(\(maxPayload) bytes)")
    }
    guard maxAttempts >= 1 else {
      throw .invalidInput("\(which) (\(type)): max_attempts must be at least 1")
    }
    if let b = backoff, b.base < .zero || b.cap < .zero {
      throw .invalidInput("\(which) (\(type)): backoff durations must not be negative")
    }
    if let k = limitKey, k.utf8.count > 1024 || k.utf8.contains(0) {
      throw .invalidInput(
        "\(which) (\(type)): the limit key must be at most 1024 bytes, without NUL characters")
    }
  }
}

/// What one enqueue did.
public struct EnqueueResult: Sendable, Hashable {
  public var id: JobID
  /// True when a live job with the same unique key already existed and `id` names it.
  public var existed: Bool
  public init(id: JobID, existed: Bool) {
    self.id = id
    self.existed = existed
  }
}

/// A claim for one pool: up to `limit` ready jobs of `types`, in claim order.
public struct ClaimParams: Sendable, Hashable {
  public var types: [String]
  public var limit: Int
  /// Recorded as the job's worker, when the caller already knows it (else nil).
  public var workerPID: Int32?
  /// The worker each claimed job goes to, in claim order (the i-th job claimed is recorded as
  /// run by `workers[i]`), so the store names a running job's worker from its claim on. When
  /// set, `limit` is its count and `workerPID` is not used.
  public var workers: [Int32]
  /// The pool's limits: a job whose key is full, out of tokens or blocked is held in the store
  /// (it stays `queued`, out of the claim order) instead of claimed.
  public var limits: PoolLimits?
  public init(types: [String], limit: Int, workerPID: Int32? = nil) {
    self.types = types
    self.limit = limit
    self.workerPID = workerPID
    self.workers = []
  }
  /// A claim of `workers.count` jobs, the i-th for `workers[i]`.
  public init(types: [String], workers: [Int32], limits: PoolLimits? = nil) {
    self.types = types
    self.limit = workers.count
    self.workerPID = nil
    self.workers = workers
    self.limits = limits
  }
  /// The worker recorded for the `i`-th job claimed.
  public func worker(at i: Int) -> Int32? { i < workers.count ? workers[i] : workerPID }
}

/// A claimed job, as handed to a worker.
public struct ClaimedJob: Sendable, Hashable {
  public var id: JobID
  public var type: String
  public var payload: String
  /// The attempt now starting (1-based): attempts used + 1.
  public var attempt: Int
  public var maxAttempts: Int
  public var priority: Int
  /// When the job became due (its `run_at`), for pick-up latency.
  public var runAt: Timestamp
  /// How many times the job was snoozed so far (snoozes spend no attempt).
  public var snoozes: Int
  /// The W3C trace context it was enqueued with.
  public var traceparent: String?
  public init(
    id: JobID, type: String, payload: String, attempt: Int, maxAttempts: Int, priority: Int,
    runAt: Timestamp, snoozes: Int = 0, traceparent: String? = nil
  ) {
    self.traceparent = traceparent
    self.snoozes = snoozes
    self.id = id
    self.type = type
    self.payload = payload
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.priority = priority
    self.runAt = runAt
  }
}

/// One settled attempt of a running job.
public struct FinishParams: Sendable, Hashable {
  public var id: JobID
  public var settlement: Settlement
  /// The pool's backoff; the job's own override wins when set.
  public var backoff: BackoffPolicy
  /// Injected random draw in `0 ..< 1` for the backoff's jitter.
  public var jitter: Double
  public var workerPID: Int32?
  /// When the attempt's handler began, as its worker reported: the job's `started_at` from
  /// now on. nil: keep the one recorded at the claim (a job whose worker died, or released).
  public var startedAt: Timestamp?
  /// The handler's result (JSON text), kept when the attempt completes.
  public var result: String?
  /// What the attempt used, as its worker reported: stored on the job (`cpu_seconds`,
  /// `peak_rss`). nil (a worker that died, a released job) keeps the figures already there.
  public var usage: JobUsage?
  public init(
    id: JobID, settlement: Settlement, backoff: BackoffPolicy = .standard, jitter: Double = 0.5,
    workerPID: Int32? = nil, startedAt: Timestamp? = nil, result: String? = nil,
    usage: JobUsage? = nil
  ) {
    self.result = result
    self.id = id
    self.usage = usage
    self.startedAt = startedAt
    self.settlement = settlement
    self.backoff = backoff
    self.jitter = jitter
    self.workerPID = workerPID
  }
}

/// What one finish did to its job.
public struct FinishResult: Sendable, Hashable {
  public var id: JobID
  /// The job's new state; nil when the job was not running (unknown id, or already settled:
  /// the finish was ignored).
  public var state: JobState?
  /// The attempt number that was settled; 0 when the finish was ignored.
  public var attempt: Int
  /// The job's type ("" when the finish was ignored).
  public var type: String
  /// When the job runs again, for a job that went back to `scheduled` or `queued`.
  public var retryAt: Timestamp?
  /// The error recorded for this attempt, if any.
  public var error: String?
  public init(
    id: JobID, state: JobState?, attempt: Int, type: String = "", retryAt: Timestamp? = nil,
    error: String? = nil
  ) {
    self.id = id
    self.state = state
    self.attempt = attempt
    self.type = type
    self.retryAt = retryAt
    self.error = error
  }
}

/// The supervisor's per-turn group commit.
public struct StoreBatch: Sendable {
  /// New jobs, inserted first (so this batch's claims can take them). They must already be
  /// valid (`EnqueueParams.validate`); an invalid one fails the whole batch.
  public var enqueues: [EnqueueParams]
  public var finishes: [FinishParams]
  /// Progress reports of running jobs: (job, 0-100). Ignored for jobs not running.
  public var progress: [(JobID, Int)]
  /// Actual start times of running jobs that waited on their worker after the claim
  /// (prefetched): `started_at` becomes this. Ignored for jobs not running.
  public var started: [(JobID, Timestamp)]
  /// Move scheduled jobs whose run_at ≤ now to queued first.
  public var promoteDue: Bool
  public var claims: [ClaimParams]
  /// The time of this turn: finish times, start times, due checks.
  public var now: Timestamp
  /// The owner claims are leased to, and the only one whose jobs finishes, progress and start
  /// times may touch. nil: no lease, no fencing (single-process tools and tests).
  public var owner: OwnerID?
  /// Every pool with limits (the config's). When not empty, the commit releases held jobs
  /// whose key can start one again: keys of the jobs this batch settles, and keys whose
  /// bucket refilled or block ended by `now`; with `sweepLimits`, every key holding jobs (a
  /// key of a pool no longer limited lets its jobs go).
  public var limits: [PoolLimits] = []
  public var sweepLimits = false
  public init(
    enqueues: [EnqueueParams] = [], finishes: [FinishParams] = [], progress: [(JobID, Int)] = [],
    started: [(JobID, Timestamp)] = [], promoteDue: Bool = true, claims: [ClaimParams] = [],
    now: Timestamp = .now(), owner: OwnerID? = nil
  ) {
    self.owner = owner
    self.enqueues = enqueues
    self.finishes = finishes
    self.progress = progress
    self.started = started
    self.promoteDue = promoteDue
    self.claims = claims
    self.now = now
  }

  /// True when there is nothing to write or read.
  public var isEmpty: Bool {
    enqueues.isEmpty && finishes.isEmpty && progress.isEmpty && started.isEmpty && !promoteDue
      && !sweepLimits && claims.allSatisfy { $0.limit <= 0 }
  }
}

/// What a group commit did.
public struct BatchResult: Sendable {
  /// One per enqueue, in order.
  public var enqueued: [EnqueueResult] = []
  /// One per finish, in order.
  public var finished: [FinishResult]
  /// One array per claim, in order; jobs are now `running`.
  public var claimed: [[ClaimedJob]]
  /// How many scheduled jobs became queued.
  public var promoted: Int
  /// Types of the waiting jobs this commit released (one entry per job), whose pools have work
  /// now; a released job may also have become `scheduled` (a `run_at` still ahead), which
  /// `released` does not list.
  public var released: [String] = []
  /// True when a released job became `scheduled` (the next due time may be earlier now).
  public var releasedScheduled = false
  /// Waiting jobs this commit cancelled because a parent is dead or cancelled (their own
  /// waiting children included), for their `cancelled` events.
  public var cancelledWaiting: [SettledChild] = []
  /// Pools whose held jobs this commit released, or whose limited claim stopped before its
  /// end (it holds a bounded number of jobs per claim): they may have work.
  public var limitWork: Set<String> = []
  /// The earliest instant a key holding jobs may start one without a finish (a refill, the
  /// end of a block), when `batch.limits` was set: the supervisor commits again then.
  public var nextLimitAt: Timestamp?
  public init(finished: [FinishResult] = [], claimed: [[ClaimedJob]] = [], promoted: Int = 0) {
    self.finished = finished
    self.claimed = claimed
    self.promoted = promoted
  }
}
