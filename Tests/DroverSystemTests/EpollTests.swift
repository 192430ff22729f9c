import Foundation
import Testing

@testable import DroverSystem

@Suite struct EpollTests {
  @Test func eventFDFromAnotherThreadWakesTheWait() throws {
    let wake = try EventFD()
    defer { wake.close() }
    let epoll = try Epoll()
    try epoll.add(wake.fd, interest: .readable)
    let start = Monotonic.now()
    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
      try? wake.signal()
      try? wake.signal()
    }
    var seen: [Int32] = []
    let count = try epoll.wait(timeout: .seconds(10)) { fd, events in
      #expect(events.contains(.readable))
      seen.append(fd)
    }
    let elapsed = Monotonic.now() - start
    #expect(count == 1)
    #expect(seen == [wake.fd])
    #expect(elapsed >= .milliseconds(40))
    #expect(elapsed < .seconds(5))
    // Let the second signal land too; they coalesce into the counter.
    usleep(20_000)
    #expect(try wake.drain() == 2)
    #expect(try wake.drain() == 0)
    #expect(try epoll.wait(timeout: .zero).isEmpty)
  }

  @Test func timerFDFiresNoEarlierThanArmed() throws {
    let timer = try TimerFD()
    defer { timer.close() }
    let epoll = try Epoll()
    try epoll.add(timer.fd, interest: .readable)
    let start = Monotonic.now()
    try timer.arm(after: .milliseconds(50))
    let ready = try epoll.wait(timeout: .seconds(10))
    let elapsed = Monotonic.now() - start
    #expect(ready.map(\.fd) == [timer.fd])
    #expect(elapsed >= .milliseconds(50))
    #expect(elapsed < .seconds(5))
    #expect(try timer.expirations() == 1)
    #expect(try timer.expirations() == 0)
  }

  @Test func disarmedTimerStaysQuietAndZeroDelayFires() throws {
    let timer = try TimerFD()
    defer { timer.close() }
    let epoll = try Epoll()
    try epoll.add(timer.fd, interest: .readable)
    try timer.arm(after: .milliseconds(20))
    try timer.disarm()
    #expect(try epoll.wait(timeout: .milliseconds(80)).isEmpty)
    try timer.arm(after: .zero)  // must fire, not disarm
    #expect(try epoll.wait(timeout: .seconds(10)).map(\.fd) == [timer.fd])
    #expect(try timer.expirations() == 1)
  }

  @Test func timeoutWithNothingReady() throws {
    let epoll = try Epoll()
    let start = Monotonic.now()
    #expect(try epoll.wait(timeout: .milliseconds(30)).isEmpty)
    #expect(Monotonic.now() - start >= .milliseconds(30))
  }

  @Test func writableModifyRemoveAndHangup() throws {
    let (a, b) = try SocketPair.make()
    defer { FD.close(a) }
    let epoll = try Epoll(maxEvents: 4)
    try epoll.add(a, interest: .readable)
    #expect(try epoll.wait(timeout: .zero).isEmpty)
    try epoll.modify(a, interest: [.readable, .writable])
    #expect(try epoll.wait(timeout: .zero).first?.events == .writable)
    try epoll.modify(a, interest: .readable, trigger: .edge)

    FD.close(b)
    let ready = try epoll.wait(timeout: .seconds(5))
    try #require(ready.count == 1)
    #expect(ready[0].events.contains(.readable))
    #expect(ready[0].events.contains(.readHangup))
    #expect(ready[0].events.contains(.hangup))
    // Edge-triggered: reported once until something changes.
    #expect(try epoll.wait(timeout: .zero).isEmpty)

    try epoll.remove(a)
    let error = #expect(throws: SystemError.self) { try epoll.remove(a) }
    #expect(error?.code == ENOENT)
    #expect(throws: SystemError.self) { try epoll.modify(a, interest: .readable) }
  }

  @Test func addingTwiceFails() throws {
    let wake = try EventFD()
    defer { wake.close() }
    let epoll = try Epoll()
    try epoll.add(wake.fd, interest: .readable)
    let error = #expect(throws: SystemError.self) {
      try epoll.add(wake.fd, interest: .readable)
    }
    #expect(error?.code == EEXIST)
  }

  @Test func eventsDescription() {
    #expect(Epoll.Events([.readable, .hangup]).description == "[readable, hangup]")
  }

  @Test(arguments: [
    (Duration?.none, Int32(-1)), (.zero, 0), (.nanoseconds(1), 1), (.milliseconds(5), 5),
    (.microseconds(5_001), 6), (.seconds(-3), 0), (.seconds(Int64.max), Int32.max),
  ])
  func timeoutsRoundUpToMilliseconds(duration: Duration?, milliseconds: Int32) {
    #expect(Int32(milliseconds: duration) == milliseconds)
  }
}
