public import DroverCore

/// The Slack incoming-webhook body of an alert: a `text` (the notification line, and what
/// clients without blocks show) and one attachment coloured by severity holding the blocks:
/// the title and sentence, the fields (severity, alert, state, pool, job), and the time with
/// a link into the HTTP API when there is one.
public enum SlackBody {
  /// The JSON of `text` at `at`.
  public static func json(_ text: AlertText, at: Timestamp) -> JSONValue {
    let t = text.transition
    let m = t.measurement
    let color =
      t.state == .resolved ? "#2eb886" : (text.severity == .critical ? "#d00000" : "#f2c744")
    func field(_ name: String, _ value: String) -> JSONValue {
      ["type": "mrkdwn", "text": .string("*\(name)*\n\(escape(value))")]
    }
    var fields: [JSONValue] = [
      field("Severity", text.severity.rawValue), field("Alert", m.key.kind.rawValue),
      field("State", t.state.rawValue),
    ]
    if let pool = m.pool { fields.append(field("Pool", pool)) }
    if let id = m.job?["id"]?.intValue { fields.append(field("Job", String(id))) }
    var context = at.rfc3339
    if let link = text.link { context = "<\(link)|\(escape(text.subject))> · " + context }
    let blocks: [JSONValue] = [
      [
        "type": "section",
        "text": [
          "type": "mrkdwn", "text": .string("*\(escape(text.title))*\n\(escape(text.message))"),
        ],
      ],
      ["type": "section", "fields": .array(fields)],
      ["type": "context", "elements": [["type": "mrkdwn", "text": .string(context)]]],
    ]
    return [
      "text": .string(escape("\(text.title): \(text.message)")),
      "attachments": [["color": .string(color), "blocks": .array(blocks)]],
    ]
  }

  /// Slack's three control characters of mrkdwn, escaped.
  static func escape(_ s: String) -> String {
    s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
  }
}

/// The PagerDuty Events API v2 body of an alert: a `trigger` with the payload when it fires,
/// a `resolve` with the same `dedup_key` when it clears.
public enum PagerDutyBody {
  /// `drover/[HOST/]KIND[/SUBJECT]`: the same for an alert's trigger and its resolve. A kind
  /// measured per supervisor (`AlertKind.isPerHost`) names the host, so two supervisors of
  /// one store page apart; a store-wide one does not, so they page once.
  public static func dedupKey(_ key: AlertKey, source: String) -> String {
    var parts = ["drover"]
    if key.kind.isPerHost { parts.append(source) }
    parts.append(key.kind.rawValue)
    if let s = key.subject { parts.append(s) }
    return parts.joined(separator: "/")
  }

  /// The JSON of `text` at `at` for `routingKey`, from `source`.
  public static func json(_ text: AlertText, routingKey: String, source: String, at: Timestamp)
    -> JSONValue
  {
    let t = text.transition
    let m = t.measurement
    let dedup = dedupKey(m.key, source: source)
    guard t.state == .firing else {
      return [
        "routing_key": .string(routingKey), "event_action": "resolve",
        "dedup_key": .string(dedup),
      ]
    }
    var summary = "\(text.title): \(text.message)"
    // The API's limit on the summary.
    if summary.utf8.count > 1000 { summary = String(summary.prefix(990)) + "…" }
    var payload: [JSONField] = [
      JSONField("summary", .string(summary)),
      JSONField("severity", .string(text.severity.rawValue)),
      JSONField("source", .string(source)),
      JSONField("timestamp", .string(at.rfc3339)),
      JSONField("class", .string(m.key.kind.rawValue)),
    ]
    if let pool = m.pool { payload.append(JSONField("group", .string(pool))) }
    payload.append(JSONField("custom_details", AlertBody.json(t, at: at)))
    var body: [JSONField] = [
      JSONField("routing_key", .string(routingKey)), JSONField("event_action", "trigger"),
      JSONField("dedup_key", .string(dedup)), JSONField("payload", .object(payload)),
      JSONField("client", "drover"),
    ]
    if let link = text.link {
      body.append(JSONField("client_url", .string(link)))
      body.append(JSONField("links", [["href": .string(link), "text": .string(text.subject)]]))
    }
    return .object(body)
  }
}
