import Testing

@testable import DroverCore

@Suite struct MonotonicInstantTests {
  @Test func arithmeticSaturatesInsteadOfTrapping() {
    let t = MonotonicInstant(nanoseconds: 1_000)
    #expect((t + .seconds(1)).nanoseconds == 1_000_001_000)
    #expect((t + .seconds(Int64.max)) == .distantFuture)
    #expect((t - .seconds(Int64.max)).nanoseconds == .min + 1000)
    #expect(MonotonicInstant.distantFuture - MonotonicInstant(nanoseconds: -5) > .seconds(1 << 32))
    #expect(t + .seconds(2) - t == .seconds(2))
    #expect(Duration.seconds(Int64.max).saturatingNanoseconds == .max)
  }

  @Test func periodicIsDueOncePerInterval() {
    var p = Periodic(every: .milliseconds(100))
    let t0 = MonotonicInstant(nanoseconds: 0)
    let answers = [0, 50, 100, 150, 10_000].map { p.due(t0 + .milliseconds($0)) }
    #expect(answers == [true, false, true, false, true])
  }
}
