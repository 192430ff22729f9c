public import DroverCore

extension ScheduleRule {
  /// The rule a `[schedules.NAME]` table describes.
  public init(_ s: ScheduleConfig) throws(UnknownZone) {
    let kind: Kind
    switch s.when {
    case .cron(let c): kind = .cron(c)
    case .every(let d): kind = .every(d)
    }
    try self.init(
      kind, timeZone: s.timezone, onGap: s.onGap == .shift ? .shift : .skip,
      onRepeat: s.onRepeat == .first ? .first : .both)
  }
}
