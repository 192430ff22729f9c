public import DroverCore

/// The webhook body (CONTRACT.md, "Alerts"): `{"alert", "state", "pool", "job", "value",
/// "threshold", "at"}`, keys in that order.
public enum AlertBody {
  /// The JSON object of `transition` at `at`.
  public static func json(_ transition: AlertTransition, at: Timestamp) -> JSONValue {
    let m = transition.measurement
    return .object(
      [
        JSONField("alert", .string(m.key.kind.rawValue)),
        JSONField("state", .string(transition.state.rawValue)),
        JSONField("pool", .optional(m.pool)),
        JSONField("job", m.job ?? .null),
        JSONField("value", m.value),
        JSONField("threshold", m.threshold),
        JSONField("at", .string(at.rfc3339)),
      ] + (transition.id.map { [JSONField("id", .int($0))] } ?? [])
        + (transition.reminder ? [JSONField("reminder", .bool(true))] : []))
  }
}
