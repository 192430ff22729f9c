public import DroverCore

/// An alert that fired, as the history keeps it (`drover alerts list`, `GET /alerts`).
public struct AlertRecord: Sendable, Hashable {
  public var id: Int64
  /// `job_dead`, `backlog`, … (the webhook body's `"alert"`).
  public var kind: String
  /// `warning` or `critical`.
  public var severity: String
  public var pool: String?
  public var job: JobID?
  /// The alert's subject (a pool name, a job id), nil for the whole supervisor.
  public var subject: String?
  /// One line a person reads.
  public var message: String
  /// The webhook body of the firing, as JSON text.
  public var details: String
  public var firedAt: Timestamp
  public var resolvedAt: Timestamp?
  public var ackedAt: Timestamp?
  public var ackedBy: String?
  /// The last notification (the firing, or a reminder).
  public var notifiedAt: Timestamp
  public var notifications: Int

  public init(
    id: Int64, kind: String, severity: String, pool: String? = nil, job: JobID? = nil,
    subject: String? = nil, message: String, details: String = "{}", firedAt: Timestamp,
    resolvedAt: Timestamp? = nil, ackedAt: Timestamp? = nil, ackedBy: String? = nil,
    notifiedAt: Timestamp? = nil, notifications: Int = 1
  ) {
    self.id = id
    self.kind = kind
    self.severity = severity
    self.pool = pool
    self.job = job
    self.subject = subject
    self.message = message
    self.details = details
    self.firedAt = firedAt
    self.resolvedAt = resolvedAt
    self.ackedAt = ackedAt
    self.ackedBy = ackedBy
    self.notifiedAt = notifiedAt ?? firedAt
    self.notifications = notifications
  }

  /// `--json` and `GET /alerts`: every field, times in RFC 3339, absent ones null.
  public var json: JSONValue {
    [
      "id": .int(id), "alert": .string(kind), "severity": .string(severity),
      "state": .string(resolvedAt == nil ? "firing" : "resolved"), "pool": .optional(pool),
      "job": job.map { .int($0) } ?? .null, "subject": .optional(subject),
      "message": .string(message), "details": (try? JSONValue.parse(details)) ?? .null,
      "fired_at": .string(firedAt.rfc3339), "resolved_at": .optional(resolvedAt?.rfc3339),
      "acknowledged_at": .optional(ackedAt?.rfc3339), "acknowledged_by": .optional(ackedBy),
      "notified_at": .string(notifiedAt.rfc3339), "notifications": .int(Int64(notifications)),
    ]
  }
}

/// An alert to record as fired.
public struct NewAlert: Sendable, Hashable {
  public var kind: String
  public var severity: String
  public var pool: String?
  public var job: JobID?
  public var subject: String?
  public var message: String
  public var details: String
  public var at: Timestamp
  /// Resolves only by acknowledgement (a dead job stays dead).
  public var resolvesByAck: Bool
  public init(
    kind: String, severity: String, pool: String? = nil, job: JobID? = nil,
    subject: String? = nil, message: String, details: String = "{}", at: Timestamp,
    resolvesByAck: Bool = false
  ) {
    self.kind = kind
    self.severity = severity
    self.pool = pool
    self.job = job
    self.subject = subject
    self.message = message
    self.details = details
    self.at = at
    self.resolvesByAck = resolvesByAck
  }
}
