public import DroverCore

/// What one alert is about: its kind and its subject (a pool name, a job id as text, or nil
/// for the whole supervisor, as the error rate is).
public struct AlertKey: Sendable, Hashable, CustomStringConvertible {
  /// Which condition.
  public var kind: AlertKind
  /// The pool name, the job id as text, or nil (the error rate).
  public var subject: String?
  /// The key of `kind` about `subject`.
  public init(_ kind: AlertKind, _ subject: String? = nil) {
    self.kind = kind
    self.subject = subject
  }
  /// `backlog[email]`, `error_rate`.
  public var description: String { kind.rawValue + (subject.map { "[\($0)]" } ?? "") }
}

/// One measurement of a condition at a tick: its value, its threshold and whether it is
/// breached now. `pool` and `job` go into the webhook body as they are.
public struct AlertMeasurement: Sendable, Hashable {
  /// What was measured.
  public var key: AlertKey
  /// Whether the value is past its threshold now.
  public var breached: Bool
  /// The body's `value`: a count, seconds, a fraction or a flag.
  public var value: JSONValue
  /// The body's `threshold` (null when the alert has none).
  public var threshold: JSONValue
  /// The body's `pool` (null for the error rate).
  public var pool: String?
  /// The job as `jobs show --json` renders it, for job alerts.
  public var job: JSONValue?
  public init(
    key: AlertKey, breached: Bool, value: JSONValue, threshold: JSONValue,
    pool: String? = nil, job: JSONValue? = nil
  ) {
    self.key = key
    self.breached = breached
    self.value = value
    self.threshold = threshold
    self.pool = pool
    self.job = job
  }
}

/// An alert to send: a condition started (`firing`) or cleared (`resolved`).
public struct AlertTransition: Sendable, Hashable {
  /// The body's `state`.
  public enum State: String, Sendable, Hashable { case firing, resolved }
  /// Started or cleared.
  public var state: State
  /// The alert's id in the history, once recorded (the body's `"id"`).
  public var id: Int64?
  /// A reminder of an alert still firing and not acknowledged (the body's `"reminder"`).
  public var reminder = false
  /// The measurement that made the transition (or the last one of a vanished subject).
  public var measurement: AlertMeasurement
  /// A transition to `state` shown by `measurement`.
  public init(_ state: State, _ measurement: AlertMeasurement) {
    self.state = state
    self.measurement = measurement
  }
}

/// Which alerts are firing, and the transitions a new round of measurements makes: each
/// condition fires once when it starts and resolves once when it clears, however many ticks it
/// stays as it is. Pure: no clock, no I/O.
///
/// A round names the kinds it measured (`kinds`). A firing alert of such a kind that the round
/// does not measure at all (its job finished, its pool was removed by a reload, its threshold
/// was removed) resolves with its last measurement. Kinds the round does not name (their source
/// could not be read this tick) keep their state.
///
/// A kind may need several breached rounds in a row before it fires (`confirm`): workers below
/// min are normal for the moment a worker is being replaced, and only a pool that stays short
/// is worth a page. Clearing resolves at once.
public struct AlertStateMachine: Sendable {
  /// The firing alerts and the measurement that last showed each breached.
  public private(set) var firing: [AlertKey: AlertMeasurement] = [:]
  /// Breached rounds in a row of the alerts not firing yet.
  private var streak: [AlertKey: Int] = [:]
  /// Rounds in a row a kind must be breached before it fires (1 when absent).
  public let confirm: [AlertKind: Int]

  /// Nothing firing; `confirm` as above.
  public init(confirm: [AlertKind: Int] = [:]) { self.confirm = confirm }

  /// Takes an alert as firing already (the history says a previous run sent it): it does not
  /// fire again while it stays breached, and resolves when it clears.
  public mutating func assumeFiring(_ m: AlertMeasurement) {
    firing[m.key] = m
    streak[m.key] = nil
  }

  /// Applies one round of measurements; returns the transitions in a stable order (kind, then
  /// subject), firing and resolved alike.
  public mutating func update(kinds: Set<AlertKind>, _ measurements: [AlertMeasurement])
    -> [AlertTransition]
  {
    var out: [AlertTransition] = []
    var seen: Set<AlertKey> = []
    for m in measurements where kinds.contains(m.key.kind) {
      guard seen.insert(m.key).inserted else { continue }
      let wasFiring = firing[m.key] != nil
      if m.breached {
        if wasFiring {
          firing[m.key] = m
          continue
        }
        let n = (streak[m.key] ?? 0) + 1
        if n >= (confirm[m.key.kind] ?? 1) {
          streak[m.key] = nil
          firing[m.key] = m
          out.append(AlertTransition(.firing, m))
        } else {
          streak[m.key] = n
        }
      } else if wasFiring {
        firing[m.key] = nil
        out.append(AlertTransition(.resolved, m))
      } else {
        streak[m.key] = nil
      }
    }
    streak = streak.filter { kinds.contains($0.key.kind) ? seen.contains($0.key) : true }
    for (key, last) in firing where kinds.contains(key.kind) && !seen.contains(key) {
      firing[key] = nil
      out.append(AlertTransition(.resolved, last))
    }
    return out.sorted { a, b in
      let ka = a.measurement.key
      let kb = b.measurement.key
      if ka.kind != kb.kind {
        return AlertKind.allCases.firstIndex(of: ka.kind)! < AlertKind.allCases.firstIndex(
          of: kb.kind)!
      }
      return (ka.subject ?? "") < (kb.subject ?? "")
    }
  }
}
