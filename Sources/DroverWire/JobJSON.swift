public import DroverCore

/// The contract's JSON shapes of jobs (CONTRACT.md, `jobs show --json`, `jobs stats --json`):
/// one renderer for the CLI, the control socket and the HTTP API.
public enum JobJSON {
  /// A job as `jobs show --json` prints it. Contract keys first, in the contract's order, then
  /// extras (`unique_key`, `worker_pid`, `cancel_requested`, `snoozes`, `backoff`,
  /// `on_parent_failure`, `parents` and `children` as `{"id", "state"}` objects ascending by
  /// id, `why`: what holds a waiting job, or null, and `cpu_seconds`, `peak_rss_bytes`: what
  /// its last reporting attempt used, null when unknown). `payload` is embedded
  /// as JSON; a stored payload that does not parse (never written by Drover) is shown as a
  /// string rather than hidden.
  public static func job(_ job: Job) -> JSONValue {
    let payload = (try? JSONValue.parse(job.payload)) ?? .string(job.payload)
    let errors: [JSONValue] = job.errors.map { e in
      [
        "attempt": .int(Int64(e.attempt)),
        "message": .string(e.message),
        "at": .string(e.at.rfc3339),
        "worker_pid": .optional(e.workerPID),
      ]
    }
    let backoff: JSONValue =
      job.backoff.map {
        [
          "base": .string(DurationText.format($0.base)),
          "cap": .string(DurationText.format($0.cap)),
        ]
      } ?? .null
    return [
      "id": .int(job.id),
      "type": .string(job.type),
      "state": .string(job.state.name),
      "priority": .int(Int64(job.priority)),
      "attempts": .int(Int64(job.attempts)),
      "max_attempts": .int(Int64(job.maxAttempts)),
      "payload": payload,
      "progress": .int(Int64(job.progress)),
      "errors": .array(errors),
      "created_at": .string(job.createdAt.rfc3339),
      "run_at": .string(job.runAt.rfc3339),
      "started_at": .optional(job.startedAt?.rfc3339),
      "finished_at": .optional(job.finishedAt?.rfc3339),
      "unique_key": .optional(job.uniqueKey),
      "worker_pid": .optional(job.workerPID),
      "cancel_requested": .bool(job.cancelRequested),
      "snoozes": .int(Int64(job.snoozes)),
      "backoff": backoff,
      "on_parent_failure": .string(job.onParentFailure.name),
      "limit_key": .optional(job.limitKey),
      "traceparent": .optional(job.traceparent),
      "result": job.result.flatMap { try? JSONValue.parse($0) } ?? .null,
      "held": .bool(job.held),
      "parents": .array(job.parents.map(link)),
      "children": .array(job.children.map(link)),
      "why": .optional(DependencyHold.text(state: job.state, parents: job.parents)),
      "cpu_seconds": job.cpuSeconds.map { .double($0) } ?? .null,
      "peak_rss_bytes": .optional(job.peakRSS),
    ]
  }

  /// One end of a dependency: `{"id", "state"}`, the state null for a pruned job.
  static func link(_ l: JobLink) -> JSONValue {
    ["id": .int(l.id), "state": .optional(l.state?.name)]
  }

  /// `jobs stats --json`: every state, in lifecycle order (absent states count 0).
  public static func stats(_ stats: [JobState: Int]) -> JSONValue {
    .object(JobState.allCases.map { JSONField($0.name, .int(Int64(stats[$0] ?? 0))) })
  }
}
