/// When a supervisor on a shared store renews its own lease and when it rescues the running
/// jobs of owners whose lease ran out, as a pure function of what is due and how long ago its
/// own lease was last renewed.
///
/// The edge it exists for: after the store was unreachable for longer than the lease, this
/// supervisor's own row looks expired in the store too. A rescue run before a renewal would
/// take back its own running jobs (they would run twice and their finishes be refused, and the
/// supervisor would stop for a lost lease). So a rescue runs only while its own lease is
/// fresh (renewed less than one renewal period ago), and a due rescue first forces a renewal.
public enum LeasePolicy {
  /// What to do at one housekeeping tick.
  public struct Duties: Sendable, Hashable {
    /// Renew this supervisor's lease now.
    public var renew: Bool
    /// Rescue expired owners' jobs, once the renewal (if any) succeeded.
    public var rescueAfterRenewal: Bool
    public init(renew: Bool, rescueAfterRenewal: Bool) {
      self.renew = renew
      self.rescueAfterRenewal = rescueAfterRenewal
    }
  }

  /// The duties of a tick: renew when its period came, or when a rescue is due and the last
  /// renewal is a period old or more; rescue when one is due.
  public static func duties(
    renewalDue: Bool, rescueDue: Bool, sinceRenewal: Duration, period: Duration
  ) -> Duties {
    Duties(
      renew: renewalDue || (rescueDue && sinceRenewal >= period), rescueAfterRenewal: rescueDue)
  }

  /// Whether a due rescue may run now: only while this supervisor's own lease was renewed
  /// less than `period` ago (else it waits for the next tick's renewal).
  public static func mayRescue(sinceRenewal: Duration, period: Duration) -> Bool {
    sinceRenewal < period
  }
}
