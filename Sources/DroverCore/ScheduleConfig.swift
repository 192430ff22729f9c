/// `[schedules.NAME]`: a job enqueued on a cron schedule or at a fixed interval.
public struct ScheduleConfig: Sendable, Equatable {
  /// When it fires.
  public enum When: Sendable, Equatable {
    case cron(CronExpression)
    case every(Duration)
  }
  /// Which slots missed while nothing ran are enqueued when the schedule runs again.
  public enum CatchUp: String, Sendable, Equatable, CaseIterable { case none, latest, all }
  /// What a slot does while the previous slot's job still runs.
  public enum Overlap: String, Sendable, Equatable, CaseIterable { case allow, skip }
  /// A local time skipped by spring-forward: fired at the gap's end, or not at all.
  public enum OnGap: String, Sendable, Equatable, CaseIterable { case shift, skip }
  /// A local time repeated by fall-back: fired at its first occurrence, or at both.
  public enum OnRepeat: String, Sendable, Equatable, CaseIterable { case first, both }

  public var name: String
  public var when: When
  /// IANA zone name; `UTC` by default.
  public var timezone: String
  /// The job's type and payload (a JSON object's text).
  public var type: String
  public var payload: JSONValue
  public var priority: Int
  public var onGap: OnGap
  public var onRepeat: OnRepeat
  public var catchUp: CatchUp
  /// With `catch_up = "all"`, at most this many missed slots (the newest).
  public var catchUpLimit: Int
  public var overlap: Overlap

  public init(
    name: String, when: When, timezone: String = "UTC", type: String,
    payload: JSONValue = .object([]), priority: Int = 0, onGap: OnGap = .shift,
    onRepeat: OnRepeat = .first, catchUp: CatchUp = .latest, catchUpLimit: Int = 100,
    overlap: Overlap = .allow
  ) {
    self.name = name
    self.when = when
    self.timezone = timezone
    self.type = type
    self.payload = payload
    self.priority = priority
    self.onGap = onGap
    self.onRepeat = onRepeat
    self.catchUp = catchUp
    self.catchUpLimit = catchUpLimit
    self.overlap = overlap
  }
}
