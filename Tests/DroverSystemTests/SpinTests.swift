import Foundation
import Testing

@testable import DroverSystem

/// The spin before a sleep (`Spin`) and what bounds its cost (`SpinGovernor`).
@Suite struct SpinTests {
  @Test func aSpinEndsAsSoonAsTheCheckHolds() {
    var calls = 0
    let found = Spin.until(budget: .seconds(60)) {
      calls += 1
      return calls == 3
    }
    #expect(found)
    #expect(calls == 3)
  }

  @Test func aSpinThatFindsNothingGivesUpAfterItsBudgetHavingCheckedAtLeastOnce() {
    var calls = 0
    let start = Monotonic.nanoseconds()
    let found = Spin.until(budget: .microseconds(200)) {
      calls += 1
      return false
    }
    #expect(!found)
    #expect(calls >= 1)
    // Not a timing bound on the end (a loaded machine may stop the thread for long), only
    // that the spin lasted its budget.
    #expect(Monotonic.nanoseconds() - start >= 200_000)
    calls = 0
    let once = Spin.until(budget: .zero) {
      calls += 1
      return false
    }
    #expect(!once)
    #expect(calls == 1)
  }

  @Test func aSpinReadsASocketReplyThatArrivesDuringIt() throws {
    let (a, b) = try SocketPair.make()
    defer {
      FD.close(a)
      FD.close(b)
    }
    let readable = { () throws(SystemError) in try FD.waitUntilReadable(a, timeout: .zero) }
    #expect(try !Spin.until(budget: .microseconds(100), readable))
    #expect(try FD.write(b, Array("reply\n".utf8)) == 6)
    #expect(try Spin.until(budget: .seconds(60), readable))
  }

  let ms: Int64 = 1_000_000

  @Test func twoMissesInARowQuietTheSpinForAWhile() {
    var g = SpinGovernor()
    func may(_ now: Int64) -> Bool { g.maySpin(now: now) }
    #expect(may(0))
    g.spun(found: false, start: 0, end: ms / 10)
    // One miss alone: the next turn may spin.
    #expect(may(ms))
    g.spun(found: true, start: ms, end: ms + ms / 50)
    #expect(may(2 * ms))
    g.spun(found: false, start: 2 * ms, end: 2 * ms + ms / 10)
    #expect(may(3 * ms))
    g.spun(found: false, start: 3 * ms, end: 3 * ms + ms / 10)
    // Two in a row: quiet for `quiet` (10 ms) from the second's end.
    #expect(!may(4 * ms))
    #expect(!may(13 * ms))
    #expect(may(14 * ms))
  }

  @Test func missesTakeAtMostTheirShareOfEachWindow() {
    var g = SpinGovernor()
    var now: Int64 = 0
    var spins = 0
    // A miss then a hit, over and over: never two misses in a row, so only the share of the
    // window (5 ms of each 100 ms, spins of 0.1 ms) stops it.
    while now < 100 * ms {
      if g.maySpin(now: now) {
        spins += 1
        g.spun(found: spins % 2 == 0, start: now, end: now + ms / 10)
      }
      now += ms / 5
    }
    // 50 misses of 0.1 ms fill the 5 ms: the 99th spin is the 50th miss, and none follows
    // until the window ends.
    #expect(spins == 99)
    let next = g.maySpin(now: 100 * ms)
    #expect(next)
  }

  @Test func aQuietGovernorSkipsTheSpinWithoutCallingTheCheck() {
    var g = SpinGovernor()
    // Quiet for an hour: no pause of a loaded machine can end it within the test.
    g.quiet = .seconds(3600)
    var calls = 0
    #expect(
      !g.spin {
        calls += 1
        return false
      })
    #expect(
      !g.spin {
        calls += 1
        return false
      })
    let before = calls
    #expect(
      !g.spin {
        calls += 1
        return true
      })
    #expect(calls == before)
  }
}
