import Testing

@testable import DroverCore

@Suite struct LeasePolicyTests {
  let period = Duration.milliseconds(300)

  @Test func renewsAtItsPeriodAndRescuesWhenDue() {
    let d = LeasePolicy.duties(
      renewalDue: true, rescueDue: false, sinceRenewal: .milliseconds(300), period: period)
    #expect(d == LeasePolicy.Duties(renew: true, rescueAfterRenewal: false))
    // A rescue due between renewals, with a fresh lease: no extra renewal.
    let r = LeasePolicy.duties(
      renewalDue: false, rescueDue: true, sinceRenewal: .milliseconds(100), period: period)
    #expect(r == LeasePolicy.Duties(renew: false, rescueAfterRenewal: true))
    #expect(LeasePolicy.mayRescue(sinceRenewal: .milliseconds(100), period: period))
  }

  /// The store was unreachable past the lease: our own row looks expired there. The due rescue
  /// forces a renewal first, and runs only once that renewal made the lease fresh.
  @Test func afterAnOutageTheRescueWaitsForOurOwnRenewal() {
    let outage = Duration.seconds(5)
    let d = LeasePolicy.duties(
      renewalDue: false, rescueDue: true, sinceRenewal: outage, period: period)
    #expect(d.renew)
    #expect(d.rescueAfterRenewal)
    // The renewal failed (still unreachable): no rescue.
    #expect(!LeasePolicy.mayRescue(sinceRenewal: outage, period: period))
    // It succeeded: the lease is fresh, the rescue may run (and will not find our jobs).
    #expect(LeasePolicy.mayRescue(sinceRenewal: .zero, period: period))
  }

  @Test func nothingDueNothingDone() {
    let d = LeasePolicy.duties(
      renewalDue: false, rescueDue: false, sinceRenewal: .seconds(60), period: period)
    #expect(d == LeasePolicy.Duties(renew: false, rescueAfterRenewal: false))
  }
}
