public import DroverCore

/// One thing that happened, published by the supervisor only after it is durable (job events
/// after their commit). Consumed by `drover events`, tests, and later metrics and webhooks.
public struct LifecycleEvent: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    /// A job was stored (`queued` or `scheduled`).
    case created(id: JobID, type: String, state: JobState, runAt: Timestamp)
    /// A worker took the job (claimed for the pool; `attempt` is the attempt now starting).
    /// `runAt` is when the job became due: `drover_job_wait_seconds` is `at - runAt`.
    case started(
      id: JobID, type: String, attempt: Int, pool: String, workerPID: Int32, runAt: Timestamp)
    case progress(id: JobID, type: String, percent: Int)
    case completed(id: JobID, type: String, attempt: Int, pool: String, workerPID: Int32)
    /// An attempt failed and the job runs again at `retryAt`.
    case failed(
      id: JobID, type: String, attempt: Int, pool: String, workerPID: Int32, error: String,
      retryAt: Timestamp?)
    /// Asked to run again later without spending an attempt.
    case snoozed(id: JobID, type: String, retryAt: Timestamp?)
    /// Failed for good: in the dead-letter queue.
    case dead(id: JobID, type: String, attempt: Int, pool: String, workerPID: Int32, error: String)
    case cancelled(id: JobID, type: String)
    /// Taken back from an owner that died (lease expired) and queued again (or cancelled).
    case rescued(id: JobID, type: String, state: JobState)
    case workerSpawned(pool: String, pid: Int32)
    /// `cause` is the exit status as text ("exited on signal 9"); `expected` for retirements.
    case workerExited(pool: String, pid: Int32, cause: String, expected: Bool)
    case poolCrashLooping(pool: String)
    case poolRecovered(pool: String)
    /// Only in a subscriber's stream: this many events were dropped because it fell behind.
    case lost(count: Int)
  }

  public var at: Timestamp
  public var kind: Kind
  /// The W3C trace context the job was enqueued with, on its `started` event (for tracing).
  public var traceparent: String?

  public init(at: Timestamp, _ kind: Kind, traceparent: String? = nil) {
    self.at = at
    self.kind = kind
    self.traceparent = traceparent
  }

  /// The event's name: `job_created`, `job_started`, …, `worker_exited`, `pool_crash_looping`,
  /// `events_lost`.
  public var name: String {
    switch kind {
    case .created: "job_created"
    case .started: "job_started"
    case .progress: "job_progress"
    case .completed: "job_completed"
    case .failed: "job_failed"
    case .snoozed: "job_snoozed"
    case .dead: "job_dead"
    case .cancelled: "job_cancelled"
    case .rescued: "job_rescued"
    case .workerSpawned: "worker_spawned"
    case .workerExited: "worker_exited"
    case .poolCrashLooping: "pool_crash_looping"
    case .poolRecovered: "pool_recovered"
    case .lost: "events_lost"
    }
  }

  /// The events every job makes on its way (created, started, progress, completed, snoozed):
  /// sent to live subscribers only, not kept in the supervisor's history, and not even built
  /// while nobody subscribes (they cost the hot path). The rest (failures, dead, cancelled,
  /// rescued, workers, pools) are always published and kept.
  public var isRoutine: Bool {
    switch kind {
    case .created, .started, .progress, .completed, .snoozed: true
    default: false
    }
  }

  /// The job type the event is about, if it is a job event.
  public var jobType: String? {
    switch kind {
    case .created(_, let t, _, _), .started(_, let t, _, _, _, _), .progress(_, let t, _),
      .completed(_, let t, _, _, _), .failed(_, let t, _, _, _, _, _), .snoozed(_, let t, _),
      .dead(_, let t, _, _, _, _), .cancelled(_, let t), .rescued(_, let t, _):
      t
    default: nil
    }
  }

  /// One JSON object: `{"event", "at", …fields}`.
  public var json: JSONValue {
    var f: [JSONField] = [JSONField("event", .string(name)), JSONField("at", .string(at.rfc3339))]
    func add(_ k: String, _ v: JSONValue) { f.append(JSONField(k, v)) }
    func job(_ id: JobID, _ type: String) {
      add("id", .int(id))
      add("type", .string(type))
    }
    func worker(_ attempt: Int, _ pool: String, _ pid: Int32) {
      add("attempt", .int(Int64(attempt)))
      add("pool", .string(pool))
      add("worker_pid", .int(Int64(pid)))
    }
    switch kind {
    case .created(let id, let type, let state, let runAt):
      job(id, type)
      add("state", .string(state.name))
      add("run_at", .string(runAt.rfc3339))
    case .started(let id, let type, let attempt, let pool, let pid, let runAt):
      job(id, type)
      worker(attempt, pool, pid)
      add("run_at", .string(runAt.rfc3339))
    case .completed(let id, let type, let attempt, let pool, let pid):
      job(id, type)
      worker(attempt, pool, pid)
    case .progress(let id, let type, let pct):
      job(id, type)
      add("progress", .int(Int64(pct)))
    case .failed(let id, let type, let attempt, let pool, let pid, let error, let retryAt):
      job(id, type)
      worker(attempt, pool, pid)
      add("error", .string(error))
      add("retry_at", retryAt.map { .string($0.rfc3339) } ?? .null)
    case .snoozed(let id, let type, let retryAt):
      job(id, type)
      add("retry_at", retryAt.map { .string($0.rfc3339) } ?? .null)
    case .dead(let id, let type, let attempt, let pool, let pid, let error):
      job(id, type)
      worker(attempt, pool, pid)
      add("error", .string(error))
    case .cancelled(let id, let type):
      job(id, type)
    case .rescued(let id, let type, let state):
      job(id, type)
      add("state", .string(state.name))
    case .workerSpawned(let pool, let pid):
      add("pool", .string(pool))
      add("worker_pid", .int(Int64(pid)))
    case .workerExited(let pool, let pid, let cause, let expected):
      add("pool", .string(pool))
      add("worker_pid", .int(Int64(pid)))
      add("cause", .string(cause))
      add("expected", .bool(expected))
    case .poolCrashLooping(let pool), .poolRecovered(let pool):
      add("pool", .string(pool))
    case .lost(let n):
      add("count", .int(Int64(n)))
    }
    return .object(f)
  }

  /// One human line: `2026-…Z  job_completed  id=12  type=email  attempt=1 …`.
  public var line: String { Self.line(json) }

  /// The human line of an event's JSON object (as `drover events` receives it).
  public static func line(_ v: JSONValue) -> String {
    var parts = [v["at"]?.stringValue ?? "-", v["event"]?.stringValue ?? "?"]
    for f in v.objectValue ?? [] where f.key != "event" && f.key != "at" {
      let s: String =
        switch f.value {
        case .string(let s): s.contains(" ") ? "\"\(s)\"" : s
        case .null: "-"
        default: f.value.render()
        }
      parts.append("\(f.key)=\(s)")
    }
    return parts.joined(separator: "  ")
  }
}
